"""Checks of a region store (real or simulated), for reports/regions.md (docs/real-data.md).

* frames averaged per region and time bin (``NFRAMES`` of real maps; simulated maps have
  none) and the time bins a region lacks;
* the HEAR control criterion (Schunker et al. 2016): a CR's mean |B| over the central
  10 deg x 10 deg (the 85 x 85-px segment at the map centre, 119 Mm) within a tolerance
  (10 G) of its EAR's, per time bin; failures are named;
* the unsigned flux of the emergence box (core.constants BOX_START_PX..BOX_STOP_PX, 42 px,
  59 Mm) per region and time bin (Mx): the flux build-up of EARs against CRs;
* quiet-Sun statistics of the CRs per time bin (mean |B|, noise core width; the same
  functions as the realism stage).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core.constants import (BOX_START_PX, BOX_STOP_PX, PIXEL_AREA_CM2,
                                         SEGMENT_SIZE_PX, time_bin_label)
from preemergence.solar.realism import mean_abs_b, noise_sigma_g


def central_mean_abs_b_g(cube: np.ndarray) -> np.ndarray:
    """Mean |B| (G) over the central SEGMENT_SIZE_PX square (10 deg) of each map (n, h, w)."""
    half = SEGMENT_SIZE_PX // 2
    cy, cx = cube.shape[1] // 2, cube.shape[2] // 2
    box = cube[:, cy - half:cy + half + 1, cx - half:cx + half + 1]
    return np.abs(box).mean(axis=(1, 2))


def box_flux_mx(cube: np.ndarray) -> np.ndarray:
    """Unsigned flux (Mx) of the emergence box of each map (n, h, w)."""
    box = cube[:, BOX_START_PX:BOX_STOP_PX, BOX_START_PX:BOX_STOP_PX]
    return np.abs(box).sum(axis=(1, 2)) * PIXEL_AREA_CM2


def stores_by_bin(store_dir: Path, time_bins) -> dict:
    """{time_h: RegionStore of the regions that have that bin} (a real store may miss bins;
    bins no region has are left out). A complete store is read once; only one with missing
    bins is read bin by bin (the loader reads every file to find a bin's maps)."""
    from preemergence.core.errors import RegionStoreError
    from preemergence.data.regionstore import RegionStore, load_region_store
    try:
        whole = load_region_store(store_dir, time_bins)
        return {t: RegionStore(whole.regions, {t: whole.maps[t]}) for t in time_bins}
    except RegionStoreError:
        pass                                        # bins missing: per bin below
    stores = {}
    for t in time_bins:
        try:
            stores[t] = load_region_store(store_dir, [t], on_missing="skip")
        except RegionStoreError:
            if any(store_dir.glob(f"*/{time_bin_label(t)}.fits")):
                raise                               # maps there, but unreadable
    return stores


def flux_table(stores: dict) -> pd.DataFrame:
    """One row per region and time bin: region_id, kind, time_h, box_flux_mx, central_abs_b_g."""
    rows = []
    for t in sorted(stores, reverse=True):
        cube = stores[t].maps[t]
        flux, central = box_flux_mx(cube), central_mean_abs_b_g(cube)
        rows += [{"region_id": r.region_id, "kind": r.kind, "time_h": t,
                  "box_flux_mx": float(f), "central_abs_b_g": float(c)}
                 for r, f, c in zip(stores[t].regions, flux, central)]
    return pd.DataFrame(rows)


def control_check(table: pd.DataFrame, pairs: dict[str, str], tolerance_g: float) -> pd.DataFrame:
    """One row per (CR, time bin) whose EAR is in the table: both central mean |B| (G), their
    difference and whether it is within ``tolerance_g``."""
    by_key = table.set_index(["region_id", "time_h"])["central_abs_b_g"]
    rows = []
    for cr, ear in sorted(pairs.items()):
        for t in sorted(table.time_h.unique(), reverse=True):
            if (cr, t) in by_key.index and (ear, t) in by_key.index:
                diff = float(by_key[(cr, t)] - by_key[(ear, t)])
                rows.append({"cr": cr, "ear": ear, "time_h": t, "cr_g": float(by_key[(cr, t)]),
                             "ear_g": float(by_key[(ear, t)]), "difference_g": diff,
                             "ok": abs(diff) <= tolerance_g})
    return pd.DataFrame(rows, columns=["cr", "ear", "time_h", "cr_g", "ear_g",
                                       "difference_g", "ok"])


def simulated_pairs(table: pd.DataFrame) -> dict[str, str]:
    """CR -> EAR of a simulated store (SIM-CR-i shares SIM-EAR-i's position)."""
    ids = set(table.region_id)
    return {cr: cr.replace("-CR-", "-EAR-") for cr in sorted(ids)
            if "-CR-" in cr and cr.replace("-CR-", "-EAR-") in ids}


def frames_table(store_dir: Path, table: pd.DataFrame, time_bins) -> pd.DataFrame:
    """Frames averaged per region (rows) and time bin (columns): NaN where the map has no
    NFRAMES (simulated) or is missing."""
    from preemergence.data.regionstore import read_region_map, region_map_path
    counts = {}
    for region_id in sorted(set(table.region_id)):
        for t in time_bins:
            path = region_map_path(store_dir, region_id, t)
            frames = read_region_map(path)[0].get("NFRAMES") if path.exists() else None
            counts.setdefault(region_id, {})[time_bin_label(t)] = frames
    return pd.DataFrame.from_dict(counts, orient="index", dtype=float).sort_index()


def quiet_statistics(stores: dict) -> list[dict]:
    """Mean |B| and noise core width (G) of the CR maps per time bin."""
    out = []
    for t in sorted(stores, reverse=True):
        kinds = np.array([r.kind for r in stores[t].regions])
        if (kinds == "CR").any():
            crs = stores[t].maps[t][kinds == "CR"]
            out.append({"time_h": t, "mean_abs_b_g": mean_abs_b(crs),
                        "noise_sigma_g": noise_sigma_g(crs)})
    return out


def flux_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median and quartiles of the box flux (1e20 Mx) per kind and time bin."""
    grouped = table.groupby(["time_h", "kind"])["box_flux_mx"]
    summary = grouped.quantile([0.25, 0.5, 0.75]).unstack() / 1e20
    summary.columns = ["q25_1e20mx", "median_1e20mx", "q75_1e20mx"]
    summary["n"] = grouped.size()
    return summary.reset_index().sort_values(["time_h", "kind"], ascending=[False, True])


def plot_flux_buildup(table: pd.DataFrame, png: Path, note: str) -> Path:
    """EARs against CRs: median and quartiles of the box flux against time (figure)."""
    from preemergence.core.artifacts import save_figure
    from preemergence.core.figures import new_figure
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    summary = flux_summary(table)
    for kind, colour in (("EAR", "tab:red"), ("CR", "tab:blue")):
        rows = summary[summary.kind == kind].sort_values("time_h")
        ax.plot(rows.time_h, rows.median_1e20mx, marker="o", color=colour,
                label=f"{kind}s (median, n = {int(rows.n.max()) if len(rows) else 0})")
        ax.fill_between(rows.time_h, rows.q25_1e20mx, rows.q75_1e20mx, color=colour,
                        alpha=0.2, label=f"{kind}s (quartiles)")
    ax.set_xlabel("time relative to (mock) emergence (h)")
    ax.set_ylabel("unsigned flux of the emergence box (10$^{20}$ Mx)")
    ax.set_title(f"Flux build-up before emergence ({note})", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, png)
