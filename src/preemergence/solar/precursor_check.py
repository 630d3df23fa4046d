"""The simulated precursor against what real emergence shows (docs/simulator.md,
"Precursor models and their calibration targets").

* central-box excess: mean |B| (G) of each EAR's central box (31 x 31 px, 43 Mm, the pixel
  grid's nearest odd size to Kasapis's ~41 Mm tiles) minus the median over CRs of the same
  box, per time bin (real HMI: core.paper.KASAPIS_EXCESS_G, where the excess is over each
  region's own early level instead);
* the Fig. 3 composite: the average EAR at the latest time bin after the Hale flip of
  southern regions (data/hemisphere.py), its strongest positive and negative field in the
  central box (G; paper Fig. 3 scale: core.paper.FIG3_SCALE_G).
"""

from __future__ import annotations

import numpy as np

from preemergence.core import paper
from preemergence.core.constants import PIXEL_SCALE_MM, time_bin_label
from preemergence.data.hemisphere import average_maps

BOX_MM = 41.0          # Kasapis et al. (2025): 30.66 deg patches cut into 9 x 9 tiles


def box_px() -> int:
    """Side of the central box (px): the odd size nearest BOX_MM."""
    return 2 * int(round(BOX_MM / PIXEL_SCALE_MM / 2)) + 1


def central_box(cube: np.ndarray) -> np.ndarray:
    """The central box_px() x box_px() of each map of a stack (n, h, w)."""
    half = box_px() // 2
    cy, cx = cube.shape[1] // 2, cube.shape[2] // 2
    return cube[:, cy - half:cy + half + 1, cx - half:cx + half + 1]


def precursor_stats(store) -> dict:
    """{'t-3.2h': {excess_q25_g, excess_median_g, excess_q75_g[, composite_max_g,
    composite_min_g]}, ...} of a region store with EARs and CRs."""
    kinds = np.array([r.kind for r in store.regions])
    lats = np.array([r.latitude_deg for r in store.regions])
    ear, cr = kinds == "EAR", kinds == "CR"
    if not ear.any() or not cr.any():
        raise ValueError("the precursor check needs EARs and CRs in the region store")
    latest = max(store.maps)
    out = {}
    for t in sorted(store.maps, reverse=True):
        box_mean = np.abs(central_box(store.maps[t])).mean(axis=(1, 2))
        excess = box_mean[ear] - np.median(box_mean[cr])
        q25, median, q75 = np.percentile(excess, [25, 50, 75])
        entry = {"excess_q25_g": float(q25), "excess_median_g": float(median),
                 "excess_q75_g": float(q75)}
        if t == latest:
            composite = central_box(average_maps(store.maps[t][ear], lats[ear])[None])[0]
            entry.update(composite_max_g=float(composite.max()),
                         composite_min_g=float(composite.min()))
        out[time_bin_label(t)] = entry
    return out


def markdown(stats: dict) -> list[str]:
    """The report section: ours next to real HMI per time bin, and the composite."""
    lines = ["## The precursor against real emergence", "",
             f"Mean |B| excess of the central box ({box_px()} x {box_px()} px, "
             f"{box_px() * PIXEL_SCALE_MM:.0f} Mm; EAR minus the median CR, G) against the "
             "emergence tile (~41 Mm) of 54 real ARs, whose excess is over each region's own "
             "early level (Kasapis et al. 2025, emergence at 10 % of the peak excess; HEAR's "
             "smaller regions likely lower):", "",
             "| time (h) | ours: median (quartiles) | real HMI: median (quartiles) |",
             "|---:|---:|---:|"]
    for label, entry in stats.items():
        t = float(label[1:-1])
        real = paper.KASAPIS_EXCESS_G.get(t)
        real_text = "" if real is None else (
            f"{real[0]:.1f}" + ("" if real[1] is None else f" ({real[1]:.1f} to {real[2]:.1f})"))
        lines.append(f"| {t} | {entry['excess_median_g']:.1f} ({entry['excess_q25_g']:.1f} to "
                     f"{entry['excess_q75_g']:.1f}) | {real_text} |")
    first = next(iter(stats.values()))
    lines += ["", f"Average EAR at {next(iter(stats))[1:-1]} h after the Hale flip (Fig. 3): "
              f"strongest fields {first['composite_max_g']:+.1f} G and "
              f"{first['composite_min_g']:+.1f} G in the central box (paper's Fig. 3 scale: "
              f"±{paper.FIG3_SCALE_G:.0f} G).", ""]
    return lines
