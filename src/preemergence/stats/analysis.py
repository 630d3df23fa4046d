"""The statistics of the stats stage, as tables: TSS per (time bin, method) with its
region-bootstrap interval, paired differences with intervals and p-values, repeats.

Every resampling is seeded with (params seed, a hash of what it resamples), so each number
is the same whichever other methods or time bins are present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import zlib

import numpy as np
import pandas as pd

from preemergence.core import paper
from preemergence.stats.resampling import (Interval, fold_mean_std, paired_difference,
                                           tss_from_counts, region_counts, tss_interval,
                                           COUNT_COLUMNS)

# Methods in report order, with the words the verdicts use.

if TYPE_CHECKING:
    from preemergence.core.schema import Stats
METHOD_NAMES = {"cnn": "the CNN", "da_mtot": "the MTOT analysis",
                "da_mtot_dm": "the MTOT+DM analysis", "pruned": "the pruned CNN (N = 4)",
                "pruned_n2": "the pruned CNN at N = 2", "random": "the randomly pruned CNN",
                "n4": "the N = 4 CNN", "abs_field": "the |B| CNN"}


def method_order(methods) -> list[str]:
    """Known methods first (METHOD_NAMES order), then depth-study ones by depth, then others."""
    known = [m for m in METHOD_NAMES if m in methods]
    depths = sorted((m for m in methods if m.startswith("cnn_depth")), key=lambda m: int(m[9:]))
    return known + depths + sorted(set(methods) - set(known) - set(depths))


def method_name(method: str) -> str:
    if method.startswith("cnn_depth"):
        return f"the depth-{method[9:]} CNN"
    return METHOD_NAMES.get(method, method)


def method_title(method: str) -> str:
    """A method as a legend or table names it: 'CNN', 'MTOT analysis', 'depth-2 CNN'."""
    return method_name(method).removeprefix("the ")


def parse_comparison(text: str) -> tuple[str, str]:
    """'cnn - da_mtot' -> ('cnn', 'da_mtot'); a ValueError naming the key otherwise."""
    parts = [p.strip() for p in str(text).split(" - ")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"params.yaml: stats.comparisons entry '{text}' is not 'a - b' "
                         "(two method names separated by ' - ')")
    return parts[0], parts[1]


def stream(seed: int, *names) -> list[int]:
    """A seed for one resampling: the params seed and a hash of what is resampled."""
    return [int(seed), zlib.crc32(" ".join(map(str, names)).encode())]


def paper_value(method: str, time_h: float) -> str:
    """The paper's TSS (mean ± std over folds, %) for a method and time bin, or '–'."""
    t = round(float(time_h), 1)
    value = None
    if method == "cnn":
        value = paper.TABLE3.get(t)
    elif method == "abs_field":
        value = paper.TABLE5.get(t)
    elif t == -3.2 and method.startswith("da_"):
        value = paper.DA.get(method[3:])
    elif t == -3.2 and method in paper.PRUNE_TSS:
        value = paper.PRUNE_TSS[method]
    elif t == -3.2 and method.startswith("cnn_depth"):
        mean = paper.TABLE2.get(int(method[9:]))
        return "–" if mean is None else f"{mean:.1f} %"
    return "–" if value is None else f"{value[0]:.1f} ± {value[1]:.1f} %"


def tss_rows(predictions: pd.DataFrame, settings: "Stats", seed: int) -> pd.DataFrame:
    """One row per (time bin, method): pooled TSS, interval, fold mean and std, regions."""
    rows = []
    for t in sorted(predictions["time_h"].unique(), reverse=True):
        at_t = predictions[predictions["time_h"] == t]
        for method in method_order(at_t["method"].unique()):
            frame = at_t[at_t["method"] == method]
            interval = tss_interval(frame, settings, stream(seed, t, method))
            mean, std = fold_mean_std(frame)
            kinds = frame.drop_duplicates("region_id")["kind"]
            rows.append({"time_h": float(t), "method": method, "tss": interval.estimate,
                         "low": interval.low, "high": interval.high, "fold_mean": mean,
                         "fold_std": std, "n_ear": int((kinds == "EAR").sum()),
                         "n_cr": int((kinds != "EAR").sum()), "n_tiles": len(frame)})
    return pd.DataFrame(rows)


def fold_difference_interval(first: pd.DataFrame, second: pd.DataFrame,
                             confidence: float) -> Interval:
    """Mean over folds of TSS(first) - TSS(second) on each fold's tiles, with the corrected
    resampled t interval (Nadeau & Bengio 2003; Bouckaert & Frank 2004).

    Each fold's network is a training of its own (initial weights, batch order), so the
    spread of the folds' differences carries the variance of training, which the region
    bootstrap (conditioned on the trained networks) leaves out. The folds' training sets
    overlap, which makes their differences correlated and their spread too small; the
    correction widens the standard error from s / sqrt(k) to s * sqrt(1/k + n_test/n_train)
    (n: regions, averaged over folds); t with k - 1 degrees of freedom. A point interval
    with fewer than 2 folds or no spread."""
    from scipy.stats import t as student_t
    fold_of = first.groupby("region_id")["fold"].first()      # a region is in one fold
    gaps = np.subtract(*(tss_from_counts(region_counts(frame)[list(COUNT_COLUMNS)]
                                         .groupby(fold_of).sum().to_numpy(float))
                         for frame in (first, second)))
    estimate = float(gaps.mean()) if len(gaps) else float("nan")
    if len(gaps) < 2 or np.allclose(gaps, gaps[0]):
        return Interval(estimate, estimate, estimate)
    per_fold = fold_of.value_counts()
    ratio = float(np.mean(per_fold / (per_fold.sum() - per_fold)))
    k = len(gaps)
    se = gaps.std(ddof=1) * np.sqrt(1 / k + ratio)
    half = float(student_t.ppf(0.5 + confidence / 2, k - 1) * se)
    return Interval(estimate, estimate - half, estimate + half)


def verdict_kind(row, prefix: str = "") -> str:
    """'beats', 'worse' or 'apart' (cannot be told apart): where the interval (low, high)
    lies against 0; the report's verdicts read the region bootstrap's. prefix "fold_" reads
    the across-fold interval instead (benchmarks/seeds.py compares how often each rule's
    verdicts survive retraining)."""
    if row[prefix + "low"] > 0:
        return "beats"
    if row[prefix + "high"] < 0:
        return "worse"
    return "apart"


def comparison_rows(predictions: pd.DataFrame, comparisons, settings: "Stats",
                    seed: int) -> pd.DataFrame:
    """One row per (time bin, comparison 'a - b') where both methods have predictions."""
    rows = []
    for text in comparisons:
        first, second = parse_comparison(text)
        for t in sorted(predictions["time_h"].unique(), reverse=True):
            at_t = predictions[predictions["time_h"] == t]
            a, b = (at_t[at_t["method"] == m] for m in (first, second))
            if a.empty or b.empty:
                continue
            interval, p_value = paired_difference(a, b, settings, stream(seed, t, first, second))
            across = fold_difference_interval(a, b, settings.confidence)
            rows.append({"time_h": float(t), "first": first, "second": second,
                         "difference": interval.estimate, "low": interval.low,
                         "high": interval.high, "p_value": p_value,
                         "fold_difference": across.estimate, "fold_low": across.low,
                         "fold_high": across.high})
    return pd.DataFrame(rows, columns=["time_h", "first", "second", "difference", "low",
                                       "high", "p_value", "fold_difference", "fold_low",
                                       "fold_high"])


def repeat_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """Pooled TSS of every (time bin, method, repeat), from predictions with 'repeat'."""
    rows = []
    for (t, method, repeat), frame in predictions.groupby(["time_h", "method", "repeat"]):
        counts = region_counts(frame)[list(COUNT_COLUMNS)].to_numpy(float).sum(axis=0)
        rows.append({"time_h": float(t), "method": method, "repeat": int(repeat),
                     "tss": float(tss_from_counts(counts))})
    return pd.DataFrame(rows, columns=["time_h", "method", "repeat", "tss"])


def split_spread(repeats: pd.DataFrame, tss: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per (time bin, method): std of the pooled TSS across repeats (split variance) next to
    the bootstrap's standard error of repeat 0 (half-width of its interval / z)."""
    from scipy.stats import norm
    z = norm.ppf(0.5 + confidence / 2)
    rows = []
    for (t, method), frame in repeats.groupby(["time_h", "method"]):
        boot = tss[(tss["time_h"] == t) & (tss["method"] == method)]
        rows.append({"time_h": float(t), "method": method, "repeats": len(frame),
                     "mean": float(frame["tss"].mean()), "split_std": float(frame["tss"].std()),
                     "bootstrap_se": float((boot["high"] - boot["low"]).iloc[0] / (2 * z))
                     if len(boot) else np.nan})
    return pd.DataFrame(rows).sort_values(["time_h", "method"], ascending=[False, True])
