"""The across-fold interval of a paired difference: it includes the variance of training,
which the region bootstrap (networks held fixed) leaves out (docs/statistics.md)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from preemergence.stats import analysis, resampling


def tss_by_hand(frame: pd.DataFrame) -> float:
    pe, ne = frame[frame["label"] == 1], frame[frame["label"] == 0]
    return pe["predicted"].mean() - ne["predicted"].mean()


def test_the_interval_is_the_corrected_resampled_t_over_the_folds(synthetic):
    rng = np.random.default_rng(11)
    a, hits, alarms = synthetic(rng, method="a")
    b, _, _ = synthetic(rng, method="b", hits=hits, alarms=alarms)
    gaps = np.array([tss_by_hand(a[a["fold"] == f]) - tss_by_hand(b[b["fold"] == f])
                     for f in range(5)])
    # 360 regions in 5 folds: 72 tested, 288 trained on, in each
    half = scipy_stats.t.ppf(0.975, 4) * gaps.std(ddof=1) * np.sqrt(1 / 5 + 72 / 288)
    interval = analysis.fold_difference_interval(a, b, 0.95)
    assert interval.estimate == pytest.approx(gaps.mean())
    assert (interval.low, interval.high) == pytest.approx((gaps.mean() - half,
                                                           gaps.mean() + half))
    narrower = analysis.fold_difference_interval(a, b, 0.80)
    assert interval.low < narrower.low < narrower.high < interval.high
    same = analysis.fold_difference_interval(a, a.assign(method="b"), 0.95)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)


def trained(rng, synthetic, hits, alarms, method, spread_h):
    """A method whose network for each fold is a training of its own: the hit
    probabilities of the fold's regions shifted by one draw of N(0, spread_h)."""
    shift = rng.normal(0.0, spread_h, 5)[np.arange(len(hits)) % 5]   # fold = region % 5
    return synthetic(rng, method=method, hits=np.clip(hits + shift, 0, 1), alarms=alarms)[0]


@pytest.mark.slow
def test_only_the_across_fold_interval_covers_a_null_difference_through_retraining(
        synthetic, settings):
    """Two methods of the same skill, one of them retrained for every data set (its
    per-fold training luck a draw of N(0, 0.2) in hit rate): the region bootstrap, which
    holds the networks fixed, contains the true difference 0 in about 70 % of 40 data sets;
    the across-fold interval, which sees the trainings differ, in at least 90 %."""
    rng = np.random.default_rng(24)
    fast = settings.model_copy(update={"bootstrap_resamples": 199, "permutations": 100,
                                       "interval_method": "percentile"})
    bootstrap, across, n = 0, 0, 40
    for i in range(n):
        a, hits, alarms = synthetic(rng, method="a", hit=0.6)
        b = trained(rng, synthetic, hits, alarms, "b", 0.2)
        bootstrap += resampling.paired_difference(a, b, fast, i)[0].contains(0.0)
        across += analysis.fold_difference_interval(a, b, 0.95).contains(0.0)
    assert bootstrap / n < 0.8
    assert across / n >= 0.90


def test_a_real_difference_survives_modest_training_variance(synthetic):
    rng = np.random.default_rng(5)
    hits = rng.beta(0.8 * 20, 0.2 * 20, 360)
    alarms = rng.beta(0.1 * 20, 0.9 * 20, 360)
    a = trained(rng, synthetic, hits, alarms, "a", 0.03)
    b = trained(rng, synthetic, np.clip(hits - 0.25, 0, 1), alarms, "b", 0.03)
    assert analysis.fold_difference_interval(a, b, 0.95).low > 0


@pytest.mark.parametrize("kinds, regions, folds", [
    ((0.02, 0.2, 0.01, 0.2), "beats", "beats"), ((0.02, 0.2, -0.01, 0.2), "beats", "apart"),
    ((-0.2, -0.02, -0.2, -0.01), "worse", "worse"), ((-0.01, 0.2, 0.01, 0.2), "apart", "beats"),
    ((-0.2, 0.01, -0.2, -0.01), "apart", "worse")])
def test_the_verdict_reads_the_region_bootstrap_or_on_request_the_folds(kinds, regions,
                                                                         folds):
    low, high, fold_low, fold_high = kinds
    row = {"low": low, "high": high, "fold_low": fold_low, "fold_high": fold_high}
    assert analysis.verdict_kind(row) == regions
    assert analysis.verdict_kind(row, "fold_") == folds
