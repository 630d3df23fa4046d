"""Region-bootstrap intervals and paired permutation tests on synthetic predictions."""

import numpy as np
import pytest

from preemergence.stats import resampling


@pytest.mark.slow
def test_interval_covers_the_true_tss_about_95_percent_of_the_time(synthetic, settings):
    """200 data sets of 180 EARs and 180 CRs whose regions differ in skill (tiles of one
    region correlated): the 95 % region-bootstrap interval must cover hit - false alarm."""
    rng = np.random.default_rng(2020)
    truth, covered = 0.75 - 0.10, 0
    for i in range(200):
        table, _, _ = synthetic(rng)
        covered += resampling.tss_interval(table, settings, i).contains(truth)
    assert 0.90 <= covered / 200 <= 0.99


def test_tile_resampling_would_be_too_narrow(synthetic, settings):
    """Why regions: when false alarms cluster by region, a tile-level bootstrap (every
    tile its own region) gives narrower intervals than the region bootstrap (~10 % here,
    as each EAR has one PE tile; docs/statistics.md gives the ratio on our data)."""
    ratios = []
    for seed in range(5):
        table, _, _ = synthetic(np.random.default_rng(seed), false_alarm=0.3, spread=0.5)
        by_region = resampling.tss_interval(table, settings, 0)
        by_tile = resampling.tss_interval(
            table.assign(region_id=[f"T{i}" for i in range(len(table))]), settings, 0)
        assert by_tile.estimate == pytest.approx(by_region.estimate)
        ratios.append((by_tile.high - by_tile.low) / (by_region.high - by_region.low))
    assert np.mean(ratios) < 0.95


@pytest.mark.slow
def test_permutation_test_keeps_its_false_positive_rate_on_nulls(synthetic, settings):
    """Two methods with the same skill on the same regions: p < 0.05 in about 5 % of
    200 data sets, and the paired interval then contains 0 about 95 % of the time."""
    rng = np.random.default_rng(7)
    rejected, contains = 0, 0
    for i in range(200):
        a, hits, alarms = synthetic(rng, method="a")
        b, _, _ = synthetic(rng, method="b", hits=hits, alarms=alarms)
        interval, p_value = resampling.paired_difference(a, b, settings, i)
        rejected += p_value < 0.05
        contains += interval.contains(0.0)
    assert 0.01 <= rejected / 200 <= 0.09
    assert 0.90 <= contains / 200 <= 0.99


def test_a_real_difference_is_found(synthetic, settings):
    rng = np.random.default_rng(3)
    a, _, _ = synthetic(rng, hit=0.80, method="a")
    b, _, _ = synthetic(rng, hit=0.55, method="b")
    interval, p_value = resampling.paired_difference(a, b, settings, 0)
    assert interval.low > 0 and p_value < 0.01
    assert interval.estimate == pytest.approx(
        resampling.tss_interval(a, settings, 0).estimate
        - resampling.tss_interval(b, settings, 0).estimate)


def test_counts_give_the_tss_of_the_tiles(synthetic):
    from preemergence.core.metrics import tss
    table, _, _ = synthetic(np.random.default_rng(0))
    counts = resampling.region_counts(table)[list(resampling.COUNT_COLUMNS)].sum().to_numpy()
    assert resampling.tss_from_counts(counts) == pytest.approx(tss(table.label, table.predicted))
    mean, std = resampling.fold_mean_std(table)
    by_fold = [tss(f.label, f.predicted) for _, f in table.groupby("fold")]
    assert (mean, std) == pytest.approx((np.mean(by_fold), np.std(by_fold)))


def test_methods_on_different_tiles_or_one_kind_are_refused(synthetic, settings):
    rng = np.random.default_rng(0)
    a, _, _ = synthetic(rng, method="a")
    b, _, _ = synthetic(rng, method="b")
    with pytest.raises(ValueError, match="different tiles"):
        resampling.paired_difference(a, b.iloc[9:], settings, 0)
    with pytest.raises(ValueError, match="both EARs and CRs"):
        resampling.tss_interval(a[a.kind == "CR"], settings, 0)


def test_rows_statistic_interval_is_the_region_bootstrap(settings):
    """Rows grouped by region: with one row per region the interval of a mean difference is
    that of mean_difference_interval (the same resamples); with several rows per region it
    resamples whole regions, so it is wider than one treating each row as a region."""
    rng = np.random.default_rng(3)
    ear, cr = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 50)
    values = np.concatenate([ear, cr])
    kinds = np.array(["EAR"] * 40 + ["CR"] * 50)
    ids = np.arange(90)

    def gap(rows):
        return values[rows][kinds[rows] == "EAR"].mean() - values[rows][kinds[rows] == "CR"].mean()
    by_rows = resampling.rows_statistic_interval(ids, kinds, gap, settings, 5)
    direct = resampling.mean_difference_interval(ear, cr, settings, 5)
    assert by_rows.estimate == pytest.approx(direct.estimate)
    assert (by_rows.low, by_rows.high) == pytest.approx((direct.low, direct.high), abs=1e-9)
    region_effect = np.repeat(rng.normal(0.0, 1.0, 90), 10)      # 10 correlated rows each
    many = np.repeat(values, 10) + region_effect + rng.normal(0.0, 0.1, 900)
    many_kinds, many_ids = np.repeat(kinds, 10), np.repeat(ids, 10)

    def many_gap(rows):
        return (many[rows][many_kinds[rows] == "EAR"].mean()
                - many[rows][many_kinds[rows] == "CR"].mean())
    regions = resampling.rows_statistic_interval(many_ids, many_kinds, many_gap, settings, 5)
    rows = resampling.rows_statistic_interval(np.arange(900), many_kinds, many_gap, settings, 5)
    assert regions.high - regions.low > 2 * (rows.high - rows.low)
