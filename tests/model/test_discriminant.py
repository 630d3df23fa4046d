"""Kernel-density discriminant analysis: bandwidths, densities, boundaries, TSS extremes."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.neighbors import KernelDensity

from preemergence.model import discriminant as baseline
from preemergence.core.metrics import tss


def test_bandwidth_rule():
    x = np.random.default_rng(0).normal(3.0, 2.0, 1000)
    assert baseline.epanechnikov_bandwidth(x) == pytest.approx(
        2.345 * x.std(ddof=1) * 1000 ** -0.2)
    # the d-dimensional rule reduces to the 1-D one
    assert baseline.normal_reference_bandwidths(x)[0] == pytest.approx(
        baseline.epanechnikov_bandwidth(x), rel=1e-3)
    two = baseline.normal_reference_bandwidths(np.column_stack([x, 10 * x]))
    assert two[1] == pytest.approx(10 * two[0])
    assert two[0] == pytest.approx(2.214 * x.std(ddof=1) * 1000 ** (-1 / 6))


def test_product_kde_matches_scikit_learn_in_one_dimension():
    x = np.random.default_rng(1).gamma(3.0, 1.0, 500)
    h = baseline.epanechnikov_bandwidth(x)
    grid = np.linspace(-1, 15, 300)
    ours = baseline.ProductEpanechnikovKDE().fit(x, [h]).density(grid)
    ref = np.exp(KernelDensity(kernel="epanechnikov", bandwidth=h).fit(x[:, None])
                 .score_samples(grid[:, None]))
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_product_kde_is_a_normalised_product_kernel():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(400, 2)) * [1.0, 3.0]
    kde = baseline.ProductEpanechnikovKDE().fit(data)
    xs, ys = np.linspace(-6, 6, 241), np.linspace(-16, 16, 321)
    gx, gy = np.meshgrid(xs, ys)
    dens = kde.density(np.column_stack([gx.ravel(), gy.ravel()]))
    assert dens.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) == pytest.approx(1.0, abs=0.01)
    # one point: the density is the product of two 1-D Epanechnikov kernels
    single = baseline.ProductEpanechnikovKDE().fit(np.zeros((1, 2)), [1.0, 2.0])
    u, v = 0.5, 1.0
    expected = 0.75 * (1 - u ** 2) * 0.75 * (1 - (v / 2) ** 2) / 2.0
    assert single.density([[u, v]])[0] == pytest.approx(expected)


def test_boundary_matches_analytic_equal_density_point():
    rng = np.random.default_rng(3)
    ne, pe = rng.normal(0.0, 1.0, 20000), rng.normal(2.0, 1.0, 20000)
    model = baseline.DensityDiscriminant().fit(np.concatenate([ne, pe]),
                                               np.r_[np.zeros(ne.size), np.ones(pe.size)])
    edges = model.boundaries(-1.0, 3.0)
    assert len(edges) == 1 and edges[0] == pytest.approx(1.0, abs=0.1)   # stated tolerance


def _toy_table(pe_values, ne_values, rng, n_folds=5):
    rows = []
    for subset, n_per in (("sample", 40), ("tile", 9)):
        for fold in range(n_folds):
            for label, draw in ((1, pe_values), (0, ne_values)):
                n = n_per if label == 0 else max(1, n_per // 4)
                rows.append(pd.DataFrame({"subset": subset, "fold": fold, "label": label,
                                          "time_h": -3.2, "mtot_mx": draw(rng, n) * 1e20,
                                          "dm_mx_mm": draw(rng, n) * 1e22,
                                          "kind": "EAR" if label else "CR"}))
    table = pd.concat(rows, ignore_index=True)
    return table.assign(region_id=[f"R{i}" for i in range(len(table))], x0=0, y0=0)


@pytest.mark.parametrize("variant", ["mtot", "mtot_dm"])
def test_separable_toy_gives_tss_one(variant):
    rng = np.random.default_rng(4)
    table = _toy_table(lambda r, n: r.uniform(10, 12, n), lambda r, n: r.uniform(1, 3, n), rng)
    results = baseline.evaluate_folds(table, variant)
    assert [r.tss for r in results] == [1.0] * 5
    # each fold keeps its tiles' out-of-fold predictions: score > 0 exactly where PE
    rows = pd.concat([r.predictions for r in results])
    assert len(rows) == (table.subset == "tile").sum()
    assert set(rows.method) == {f"da_{variant}"}
    assert ((rows.score > 0) == (rows.predicted == 1)).all()
    assert (rows.predicted == rows.label).all()


@pytest.mark.parametrize("variant", ["mtot", "mtot_dm"])
def test_identical_distributions_give_tss_near_zero(variant):
    rng = np.random.default_rng(5)
    same = lambda r, n: r.lognormal(1.0, 0.3, n)  # noqa: E731
    table = _toy_table(same, same, rng)
    scores = [r.tss for r in baseline.evaluate_folds(table, variant)]
    assert abs(np.mean(scores)) < 0.2


def test_tss_equals_adjusted_balanced_accuracy():
    rng = np.random.default_rng(6)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    assert tss(y, p) == pytest.approx(balanced_accuracy_score(y, p, adjusted=True))
    assert tss([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0 and tss([1, 0], [0, 1]) == -1.0
