"""Segment sampling, MTOT/DM units, folds and standardisation constants."""

import numpy as np
import pytest

from preemergence.data import segments
from preemergence.core.constants import PIXEL_AREA_CM2
from preemergence.data.regionstore import RegionMeta, RegionStore


def _store(n_ear=7, n_cr=6, value=None, seed=0):
    rng = np.random.default_rng(seed)
    metas = [RegionMeta(f"E{i:02d}", "EAR", 10.0, 0.0, 1.4, "synthetic") for i in range(n_ear)]
    metas += [RegionMeta(f"C{i:02d}", "CR", 10.0, 0.0, 1.4, "synthetic") for i in range(n_cr)]
    shape = (len(metas), 256, 256)
    data = np.full(shape, value, np.float32) if value is not None else \
        rng.normal(0, 20, shape).astype(np.float32)
    return RegionStore(regions=metas, maps={-3.2: data})


def test_mtot_of_uniform_10_gauss_segment_is_exact():
    expected = 10 * 85 ** 2 * 1.96e16
    assert segments.mtot_mx(np.full((85, 85), 10.0)) == pytest.approx(expected, rel=1e-12)
    sums = segments.WindowSums(np.full((256, 256), -10.0))
    assert sums.mtot_mx(np.array([0, 171]), np.array([0, 64])) == pytest.approx(
        [expected, expected], rel=1e-12)


def test_dipole_moment_of_known_dipole():
    field = np.zeros((256, 256))
    # +100 G at (x=60, y=50) and -100 G at (x=70, y=50): separation 10 px = 14 Mm in x
    field[50, 60], field[50, 70] = 100.0, -100.0
    sums = segments.WindowSums(field)
    dm = sums.dm_mx_mm(np.array([20]), np.array([10]))[0]
    flux = 100.0 * PIXEL_AREA_CM2
    assert dm == pytest.approx(flux * 14.0, rel=1e-12)
    # a monopole at the window centre (pixel 42, 42 of the window) has zero moment
    mono = np.zeros((256, 256))
    mono[10 + 42, 20 + 42] = 50.0
    assert segments.WindowSums(mono).dm_mx_mm(np.array([20]), np.array([10]))[0] == 0.0


def test_window_sums_match_direct_sums():
    field = np.random.default_rng(1).normal(0, 30, (256, 256))
    sums = segments.WindowSums(field)
    x0, y0 = 33, 101
    window = field[y0:y0 + 85, x0:x0 + 85]
    assert sums.mtot_mx(x0, y0) == pytest.approx(np.abs(window).sum() * PIXEL_AREA_CM2)
    ys, xs = np.indices(window.shape)
    mx, my = (window * (xs - 42)).sum(), (window * (ys - 42)).sum()
    assert sums.dm_mx_mm(x0, y0) == pytest.approx(np.hypot(mx, my) * PIXEL_AREA_CM2 * 1.4)


def test_folds_are_disjoint_by_region_and_balanced():
    store = _store(n_ear=12, n_cr=11)
    folds = segments.assign_folds(store, 5, seed=3)
    assert set(folds) == set(store.ids())
    for kind in ("EAR", "CR"):
        counts = np.bincount([folds[r] for r in store.ids(kind)], minlength=5)
        assert counts.min() >= 2 and counts.max() - counts.min() <= 1
    plan = segments.SamplingPlan(pe_per_ear=10, ne_per_ear=5, ne_per_cr=5)
    table, _ = segments.segment_table(store, -3.2, folds, plan, seed=3)
    assert (table.groupby("region_id").fold.nunique() == 1).all()


def test_too_few_regions_for_the_folds_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot be split into 5 folds"):
        segments.assign_folds(_store(n_ear=3, n_cr=6), 5, seed=0)


def test_segment_table_counts_labels_and_determinism():
    store = _store()
    folds = segments.assign_folds(store, 5, seed=0)
    plan = segments.SamplingPlan(pe_per_ear=20, ne_per_ear=8, ne_per_cr=9)
    table, const = segments.segment_table(store, -3.2, folds, plan, seed=5)
    samples = table[table.subset == "sample"]
    per_region = samples.groupby(["region_id", "label"]).size()
    assert (per_region.xs(1, level="label") == 20).all()
    assert per_region.loc[("E00", 0)] == 8 and per_region.loc[("C00", 0)] == 9
    assert (samples[samples.kind == "CR"].label == 0).all()
    tiles = table[table.subset == "tile"]
    assert len(tiles) == 9 * 13 and tiles.label.sum() == 7
    again, const2 = segments.segment_table(store, -3.2, folds, plan, seed=5)
    assert again.equals(table) and const == const2
    other, _ = segments.segment_table(store, -3.2, folds, plan, seed=6)
    assert not other[["x0", "y0"]].equals(table[["x0", "y0"]])


def test_standardisation_constants_equal_direct_pixel_statistics():
    store = _store(n_ear=5, n_cr=5)
    folds = segments.assign_folds(store, 5, seed=0)
    plan = segments.SamplingPlan(pe_per_ear=4, ne_per_ear=3, ne_per_cr=2)
    table, const = segments.segment_table(store, -3.2, folds, plan, seed=0)
    index = {r.region_id: i for i, r in enumerate(store.regions)}
    pixels = np.concatenate([
        store.maps[-3.2][index[row.region_id], row.y0:row.y0 + 85, row.x0:row.x0 + 85].ravel()
        for row in table[table.subset == "sample"].itertuples()]).astype(np.float64)
    assert const["mean_g"] == pytest.approx(pixels.mean(), abs=1e-9)
    assert const["std_g"] == pytest.approx(pixels.std(), rel=1e-9)
    assert const["n_pixels"] == pixels.size


def test_table1_counts():
    store = _store(n_ear=5, n_cr=6)
    folds = segments.assign_folds(store, 5, seed=0)
    plan = segments.SamplingPlan(pe_per_ear=10, ne_per_ear=5, ne_per_cr=4)
    table, _ = segments.segment_table(store, -3.2, folds, plan, seed=0)
    row = segments.table1({-3.2: table}).iloc[0]
    assert (row.EARs, row.CRs, row.PEs, row.NEs) == (5, 6, 50, 25 + 24)
