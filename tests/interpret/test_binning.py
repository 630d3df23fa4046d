"""Binning statistics for the interpretation figures."""

import numpy as np
import pytest

from preemergence.interpret.binning import (
    bin_centres,
    binned_mean,
    class_fractions,
    equal_width_bins,
    example_indices,
    mtot_slopes,
    outcome,
    output_bins,
    slopes_split_by_score,
)


def test_output_bins_edges():
    y = np.array([0.0, 1 / 6 - 1e-9, 1 / 6 + 1e-9, 0.5, 0.999, 1.0])
    np.testing.assert_array_equal(output_bins(y), [0, 0, 1, 3, 5, 5])
    np.testing.assert_allclose(bin_centres(0, 1, 6), np.arange(1, 12, 2) / 12)


def test_equal_width_bins_outside_and_nan():
    v = np.array([-1.0, 0.0, 2.5, 10.0, 10.5, np.nan])
    np.testing.assert_array_equal(equal_width_bins(v, 0.0, 10.0, 4), [-1, 0, 1, 3, -1, -1])


def test_binned_mean_against_loop():
    rng = np.random.default_rng(0)
    values = rng.normal(size=200)
    bins = rng.integers(-1, 5, size=200)
    bins[bins == 3] = 2                                   # bin 3 empty
    bins[np.flatnonzero(bins == 2)[1:]] = 1               # bin 2 has one sample
    mean, sem, count = binned_mean(values, bins, 5)
    for b in range(5):
        v = values[bins == b]
        assert count[b] == len(v)
        if len(v) == 0:
            assert np.isnan(mean[b]) and np.isnan(sem[b])
        elif len(v) == 1:
            assert mean[b] == pytest.approx(v[0]) and np.isnan(sem[b])
        else:
            assert mean[b] == pytest.approx(v.mean())
            assert sem[b] == pytest.approx(v.std(ddof=1) / np.sqrt(len(v)))


def test_binned_mean_two_dimensional():
    values = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    mean, sem, count = binned_mean(values, [0, 0, 1], 2)
    np.testing.assert_allclose(mean, [[2.0, 20.0], [5.0, 50.0]])
    np.testing.assert_allclose(sem[0], [1.0, 10.0])
    assert np.isnan(sem[1]).all() and list(count) == [2, 1]


def test_class_fractions():
    bins = np.array([0, 0, 1, 2, 2, 2, -1])
    labels = np.array([1, 1, 0, 1, 0, 0, 1])
    pe, ne = class_fractions(bins, labels, 3)
    np.testing.assert_allclose(pe, [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(ne, [0, 1 / 3, 2 / 3])


def test_outcome():
    got = outcome([1, 1, 0, 0], [0.7, 0.2, 0.5, 0.1], 0.5)
    assert list(got) == ["TP", "FN", "FP", "TN"]
    got = outcome([1, 1, 0, 0], [0.7, 0.2, 0.5, 0.1], 0.6)     # the threshold is honoured
    assert list(got) == ["TP", "FN", "TN", "TN"]


def test_example_indices_lowest_and_highest_mtot():
    outputs = np.array([0.05, 0.1, 0.12, 0.15, 0.02, 0.9, 0.95, 0.5])
    mtot = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 1.0, 4.0])
    keep = np.array([True] * 7 + [False])
    picks = example_indices(outputs, mtot, keep, n_bins=6, n_per_side=1)
    np.testing.assert_array_equal(picks[0], [1, 2])      # lowest MTOT 1.0, highest 9.0
    np.testing.assert_array_equal(picks[5], [6, 5])      # two members: all, sorted by MTOT
    assert all(len(p) == 0 for p in picks[1:5])          # index 7 (0.5) is not kept


def test_mtot_slopes_recover_linear_contributions():
    """Fig. 12's slopes: a filter whose contribution is 0.5 per 1e20 Mx and one at -0.2."""
    mtot = np.linspace(4e20, 16e20, 200)
    contrib = np.stack([0.5 * mtot / 1e20, -0.2 * mtot / 1e20 + 3.0], axis=1)
    out = mtot_slopes(mtot, contrib, 4e20, 16e20, 5)
    assert out["mean"].shape == (2, 5) and out["count"].sum() == 200
    assert out["slope_per_1e20_mx"] == pytest.approx([0.5, -0.2], rel=0.02)
    empty = mtot_slopes(np.full(10, 1e22), contrib[:10], 4e20, 16e20, 5)
    assert np.isnan(empty["slope_per_1e20_mx"]).all()      # no filled bin: no slope


def test_slopes_split_by_score():
    assert slopes_split_by_score([0.3, 0.1, -0.1, -0.4])
    assert not slopes_split_by_score([0.3, -0.1, 0.1, -0.4])
    assert not slopes_split_by_score([0.3, 0.1, -0.1, float("nan")])


def test_split_margin_is_positive_exactly_when_the_slopes_split_by_score():
    from preemergence.interpret.binning import slopes_split_by_score, split_margin
    assert split_margin([0.5, 0.2, -0.1, -0.3]) == pytest.approx(0.1)
    assert split_margin([0.5, -0.2, -0.1, -0.3]) == pytest.approx(-0.2)
    for slopes in ([0.5, 0.2, -0.1, -0.3], [0.5, -0.2, -0.1, -0.3], [0.1, 0.2, 0.0, -0.1],
                   [float("nan"), 1.0, -1.0, -1.0]):
        assert slopes_split_by_score(slopes) == (split_margin(slopes) > 0)
