"""TSS with region-bootstrap intervals, paired differences and paired permutation tests.

The unit of resampling is the region, not the tile: the 9 evaluation tiles of a region
share its magnetic environment (and, for an EAR, its emergence), so their predictions are
correlated, and resampling tiles would understate the uncertainty. Regions are resampled
with replacement separately among EARs and among CRs (stratified), keeping the 1 PE tile
per EAR of the data. Per region we keep four counts (TP, FN on its PE tiles; FP, TN on its
NE tiles); a resample's TSS is computed from the summed counts, so it equals the TSS of the
tiles of the regions drawn. Intervals come from ``scipy.stats.bootstrap`` (BCa by default),
p-values from ``scipy.stats.permutation_test`` with the two methods' predictions swapped
region by region (paired). TSS is a fraction here; reports show %.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from preemergence.core.profiling import timed
from preemergence.model.predictions import TILE_KEY

if TYPE_CHECKING:
    from preemergence.core.schema import Stats

COUNT_COLUMNS = ("tp", "fn", "fp", "tn")


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval (fractions for TSS)."""

    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def region_counts(predictions: pd.DataFrame) -> pd.DataFrame:
    """One method's predictions -> one row per region: kind and TP, FN, FP, TN of its tiles
    (indexed by region_id, sorted)."""
    label, predicted = predictions["label"].to_numpy(int), predictions["predicted"].to_numpy(int)
    frame = pd.DataFrame({"region_id": predictions["region_id"].to_numpy(),
                          "kind": predictions["kind"].to_numpy(),
                          "tp": (label == 1) & (predicted == 1),
                          "fn": (label == 1) & (predicted == 0),
                          "fp": (label == 0) & (predicted == 1),
                          "tn": (label == 0) & (predicted == 0)})
    counts = frame.groupby("region_id").agg(kind=("kind", "first"), tp=("tp", "sum"),
                                            fn=("fn", "sum"), fp=("fp", "sum"),
                                            tn=("tn", "sum"))
    return counts.sort_index()


def tss_from_counts(counts: np.ndarray) -> np.ndarray:
    """TSS = TP/(TP+FN) - FP/(FP+TN) from counts in the last axis (tp, fn, fp, tn);
    NaN where a class is empty."""
    counts = np.asarray(counts, float)
    tp, fn, fp, tn = (counts[..., i] for i in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fn) - fp / (fp + tn)


def _strata(counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the EAR regions and of the other (CR) regions."""
    is_ear = counts["kind"].to_numpy() == "EAR"
    if not is_ear.any() or is_ear.all():
        raise ValueError("a region bootstrap needs both EARs and CRs among the regions")
    return np.flatnonzero(is_ear), np.flatnonzero(~is_ear)


def _summed(matrix: np.ndarray, ear, cr) -> np.ndarray:
    """Counts summed over the regions drawn (index arrays of shape (..., n))."""
    index = np.concatenate([ear, cr], axis=-1).astype(int)
    return matrix[index].sum(axis=-2)


@timed("bootstrap and permutations")
def _bootstrap(matrix: np.ndarray, strata, statistic, settings: "Stats", seed: int) -> Interval:
    """Stratified region bootstrap of statistic(summed counts) (scipy.stats.bootstrap)."""
    def resampled(ear, cr, axis=-1):
        return statistic(_summed(matrix, ear, cr))
    estimate = float(statistic(_summed(matrix, *strata)))
    return Interval(estimate, *_scipy_interval(strata, resampled, settings, seed))


def _scipy_interval(samples, statistic, settings: "Stats", seed: int) -> tuple[float, float]:
    """scipy.stats.bootstrap of statistic over independent samples, the stats section's
    method, percentile where BCa is degenerate (all resamples equal): (low, high)."""
    kwargs = dict(paired=False, vectorized=True, n_resamples=settings.bootstrap_resamples,
                  confidence_level=settings.confidence, rng=np.random.default_rng(seed))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)   # handled below
        result = scipy_stats.bootstrap(samples, statistic,
                                       method=settings.interval_method, **kwargs)
        low, high = result.confidence_interval
        if not (np.isfinite(low) and np.isfinite(high)):    # BCa degenerate: all equal
            result = scipy_stats.bootstrap(samples, statistic, method="percentile", **kwargs)
            low, high = result.confidence_interval
    return float(low), float(high)


def rows_statistic_interval(region_of_row, kind_of_row, statistic, settings: "Stats",
                            seed: int) -> Interval:
    """statistic(row indices) -> float over rows grouped by region (windows, maps), with a
    stratified region-bootstrap interval: regions resampled with replacement among EARs and
    among the others separately, a resample's rows those of the regions drawn (a region
    drawn twice counts twice). The estimate is statistic over every row."""
    codes, _ = pd.factorize(np.asarray(region_of_row))
    order = np.argsort(codes, kind="stable")
    rows_of = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    is_ear = np.array([np.asarray(kind_of_row)[rows[0]] == "EAR" for rows in rows_of])
    strata = (np.flatnonzero(is_ear), np.flatnonzero(~is_ear))
    if not (len(strata[0]) and len(strata[1])):
        raise ValueError("a region bootstrap needs both EARs and CRs among the regions")

    def on_regions(ear, cr, axis=-1):
        batches = np.concatenate([np.atleast_2d(ear), np.atleast_2d(cr)], axis=-1)
        values = [statistic(np.concatenate([rows_of[r] for r in drawn])) for drawn in batches]
        return np.asarray(values) if np.ndim(ear) > 1 else values[0]
    estimate = float(statistic(np.arange(len(codes))))
    if min(len(strata[0]), len(strata[1])) < 2:
        return Interval(estimate, estimate, estimate)
    return Interval(estimate, *_scipy_interval(strata, on_regions, settings, seed))


def tss_interval(predictions: pd.DataFrame, settings: "Stats", seed: int) -> Interval:
    """Pooled TSS of one method's predictions with its region-bootstrap interval.

    settings: params.yaml stats (confidence, bootstrap_resamples, interval_method)."""
    counts = region_counts(predictions)
    matrix = counts[list(COUNT_COLUMNS)].to_numpy(float)
    return _bootstrap(matrix, _strata(counts), tss_from_counts, settings, seed)


def paired_counts(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Region counts of two methods on the same tiles, side by side (columns tp, fn, fp, tn
    and tp_b ... tn_b); a ValueError when the two were not scored on the same tiles."""
    tiles_a, tiles_b = (set(map(tuple, f[TILE_KEY].astype(str).to_numpy()))
                        for f in (first, second))
    if tiles_a != tiles_b:
        raise ValueError(f"{first['method'].iloc[0]} and {second['method'].iloc[0]} were "
                         f"scored on different tiles ({len(tiles_a ^ tiles_b)} differ)")
    a, b = region_counts(first), region_counts(second)
    return a.join(b[list(COUNT_COLUMNS)], rsuffix="_b")


def _difference(summed: np.ndarray) -> np.ndarray:
    return tss_from_counts(summed[..., :4]) - tss_from_counts(summed[..., 4:])


def paired_difference(first: pd.DataFrame, second: pd.DataFrame, settings: "Stats",
                      seed: int) -> tuple[Interval, float]:
    """TSS(first) - TSS(second) on the same tiles: region-bootstrap interval (both methods
    resampled together) and the paired permutation p-value (two-sided).

    settings: params.yaml stats (confidence, bootstrap_resamples, interval_method,
    permutations)."""
    counts = paired_counts(first, second)
    columns = list(COUNT_COLUMNS) + [f"{c}_b" for c in COUNT_COLUMNS]
    matrix = counts[columns].to_numpy(float)
    interval = _bootstrap(matrix, _strata(counts), _difference, settings, seed)
    return interval, permutation_p_value(matrix, settings.permutations, seed)


@timed("bootstrap and permutations")
def permutation_p_value(matrix: np.ndarray, n_permutations: int, seed: int) -> float:
    """Paired permutation test of TSS(a) - TSS(b) = 0: under the null the two methods'
    predictions of a region are exchangeable, so each permutation swaps them in a random
    subset of regions (``scipy.stats.permutation_test``, permutation_type="samples").

    matrix: per region, a's counts (tp, fn, fp, tn) then b's."""
    n = len(matrix)
    stacked = np.vstack([matrix[:, :4], matrix[:, 4:]])      # rows 0..n-1: a; n..2n-1: b

    def statistic(x, y, axis=-1):
        x, y = np.asarray(x, int), np.asarray(y, int)
        return tss_from_counts(stacked[x].sum(axis=-2)) - tss_from_counts(stacked[y].sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = scipy_stats.permutation_test(
            (np.arange(n), np.arange(n) + n), statistic, permutation_type="samples",
            vectorized=True, n_resamples=n_permutations, alternative="two-sided",
            rng=np.random.default_rng(seed))
    return float(result.pvalue)


def fold_tss(predictions: pd.DataFrame) -> list[float]:
    """TSS of each fold's tiles, in fold order."""
    return [float(tss_from_counts(region_counts(fold)[list(COUNT_COLUMNS)]
                                  .to_numpy(float).sum(axis=0)))
            for _, fold in predictions.groupby("fold")]


def fold_mean_std(predictions: pd.DataFrame) -> tuple[float, float]:
    """TSS mean and std (population) over the folds, as the paper reports it."""
    values = fold_tss(predictions)
    return float(np.mean(values)), float(np.std(values))


def mean_interval(values, settings: "Stats", seed: int) -> Interval:
    """Mean over regions (one value each) with its region-bootstrap interval (the stats
    section's method, percentile where BCa is degenerate; a point when all values agree)."""
    values = np.asarray(values, dtype=float)
    return _means_interval((values,), lambda a, axis=-1: np.mean(a, axis=axis), settings,
                           seed)


def mean_difference_interval(first, second, settings: "Stats", seed: int) -> Interval:
    """mean(first) - mean(second) over two independent sets of regions, bootstrap interval
    (each set resampled on its own)."""
    samples = (np.asarray(first, dtype=float), np.asarray(second, dtype=float))
    return _means_interval(samples, lambda a, b, axis=-1: (np.mean(a, axis=axis)
                                                         - np.mean(b, axis=axis)),
                           settings, seed)


def _means_interval(samples, statistic, settings: "Stats", seed: int) -> Interval:
    estimate = float(statistic(*samples))
    if any(len(s) < 2 for s in samples) or all(np.allclose(s, s[0]) for s in samples):
        return Interval(estimate, estimate, estimate)
    return Interval(estimate, *_scipy_interval(samples, statistic, settings, seed))
