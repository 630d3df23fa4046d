"""Region-bootstrap intervals of the numbers that the interpretation verdicts rest on.

Each function takes the per-region or per-window values an experiment already holds and
returns {"estimate", "low", "high"} dicts (stats.resampling.rows_statistic_interval: EARs
and CRs resampled separately, the stats section's confidence, resamples and method). The
estimate is the number the report's criterion reads, computed by the same function the
criterion uses, so an interval always belongs to the number it is printed with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.constants import BOX_STOP_PX
from preemergence.interpret.binning import (N_OUTPUT_BINS, binned_mean, class_fractions,
                                            fig24_bins, fig24_extremes, mtot_slopes,
                                            output_bins, split_margin)
from preemergence.interpret.composite import box_numbers, box_ratio
from preemergence.stats.resampling import paired_difference, rows_statistic_interval

if TYPE_CHECKING:
    from preemergence.core.schema import Stats


def composite_numbers(maps_north_g: np.ndarray, kinds, region_ids, settings: "Stats",
                      seed: int) -> dict:
    """Fig. 3 (composite.box_numbers of the EAR and CR composites; maps (n, h, w) in G in the
    northern convention, one per region): the EAR composite's west and east box mean B (G),
    each with its region-bootstrap interval, and the EAR/CR ratio of box mean |B| with the
    2.5-97.5 % range of its resamples ("range", percentile): resampling with repeats
    averages fewer distinct maps, which raises the noise floor of |mean B| (above all the
    CR's, whose box holds no signal), so the resampled ratios lie below the estimate and a
    bias-corrected interval of it is meaningless; the range says how far it moves."""
    kinds = np.asarray(kinds)
    maps_north_g = maps_north_g[:, :BOX_STOP_PX, :BOX_STOP_PX]    # all box_numbers reads

    def box(rows, kind):
        return box_numbers(maps_north_g[rows[kinds[rows] == kind]].mean(axis=0))

    def ratio(rows):
        return box_ratio(box(rows, "EAR"), box(rows, "CR"))
    percentile = _with_method(settings, "percentile")
    return {"ratio_range": rows_statistic_interval(region_ids, kinds, ratio, percentile,
                                                   seed).as_dict(),
            **{f"ear_{side}_mean_g": rows_statistic_interval(
                region_ids, kinds, lambda rows, key=f"box_{side}_mean_g": box(rows, "EAR")[key],
                settings, seed).as_dict() for side in ("west", "east")}}


def _with_method(settings: "Stats", method: str):
    """The stats settings with another interval method (a copy)."""
    return settings.model_copy(update={"interval_method": method})


def output_bin_numbers(table: pd.DataFrame, threshold: float, settings: "Stats",
                       seed: int) -> dict:
    """Figs. 10-11 over the out-of-fold windows (columns region_id, kind, label, output,
    mtot_mx): the top output bin's PE - NE share, the bottom bin's NE - PE share, and the
    mean MTOT (Mx) of the windows called PE (output >= threshold)."""
    y, labels = table.output.to_numpy(), table.label.to_numpy().astype(bool)
    mtot, bins = table.mtot_mx.to_numpy(), output_bins(y)

    def shares(rows):
        return class_fractions(bins[rows], labels[rows], N_OUTPUT_BINS)

    def top(rows):
        pe, ne = shares(rows)
        return pe[-1] - ne[-1]

    def bottom(rows):
        pe, ne = shares(rows)
        return ne[0] - pe[0]

    def mtot_called_pe(rows):
        called = rows[y[rows] >= threshold]
        return float(mtot[called].mean()) if len(called) else float("nan")
    return {name: rows_statistic_interval(table.region_id, table.kind, statistic, settings,
                                          seed).as_dict()
            for name, statistic in (("top_bin_pe_minus_ne", top),
                                    ("bottom_bin_ne_minus_pe", bottom),
                                    ("mean_mtot_called_pe_mx", mtot_called_pe))}


def output_vs_mtot_extremes(table: pd.DataFrame, mtot_bins: np.ndarray, centres_mx,
                            settings: "Stats", seed: int) -> dict:
    """Fig. 24: max <y>_NE and min <y>_PE (binning.fig24_extremes) over the bins that the
    criterion reads on every window (fig24_bins), each window in its MTOT bin mtot_bins."""
    y, labels = table.output.to_numpy(), table.label.to_numpy()
    n_bins = len(centres_mx)

    def means(rows, label):
        rows = rows[labels[rows] == label]
        return binned_mean(y[rows], mtot_bins[rows], n_bins)

    every = np.arange(len(table))
    ne_bins, pe_bins = fig24_bins(centres_mx, means(every, 1)[2], means(every, 0)[2])

    def extremes(rows):
        return fig24_extremes(means(rows, 1)[0], means(rows, 0)[0], ne_bins, pe_bins)
    return {name: rows_statistic_interval(table.region_id, table.kind,
                                          lambda rows, k=k: extremes(rows)[k], settings,
                                          seed).as_dict()
            for k, name in enumerate(("max_ne_output", "min_pe_output"))}


def abs_minus_signed(abs_rows: pd.DataFrame, signed_rows: pd.DataFrame, settings: "Stats",
                     seed: int) -> dict:
    """Table 5: pooled TSS(|B|) - TSS(B) on the same tiles (the |B| CNNs' predictions and
    train-cv's CNN predictions at the |B| runs' time bins), paired region-bootstrap interval,
    with the regions it rests on."""
    signed = signed_rows[(signed_rows.method == "cnn")
                         & signed_rows.time_h.isin(abs_rows.time_h.unique())]
    interval, _ = paired_difference(abs_rows, signed, settings, seed)
    regions = abs_rows.groupby("kind").region_id.nunique()
    return {**interval.as_dict(), "n_ear": int(regions.get("EAR", 0)),
            "n_cr": int(regions.get("CR", 0))}


def slope_margin(rows: pd.DataFrame, contrib: np.ndarray, range_mx: tuple[float, float],
                 n_bins: int, settings: "Stats", seed: int) -> dict:
    """Fig. 12 on one pruned network: the margin by which its slopes split by net score
    (binning.split_margin of binning.mtot_slopes, > 0 exactly when the criterion holds),
    over its validation windows (rows: region_id, kind, mtot_mx; contrib (n, k): F_i of
    the filters ordered by net score)."""
    mtot = rows.mtot_mx.to_numpy()

    def margin(chosen):
        return split_margin(mtot_slopes(mtot[chosen], contrib[chosen], *range_mx,
                                        n_bins)["slope_per_1e20_mx"])
    return rows_statistic_interval(rows.region_id, rows.kind, margin, settings,
                                   seed).as_dict()
