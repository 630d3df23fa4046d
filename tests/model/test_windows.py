"""On-the-fly crops, the one standardiser, shuffling, prefetching (model.windows)."""

import numpy as np
import pandas as pd
import pytest

from preemergence.model import windows as dataset


@pytest.fixture(scope="module")
def cube():
    return (np.random.default_rng(0).standard_normal((5, 256, 256)) * 20 + 3).astype(np.float32)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(1)
    n = 70
    return pd.DataFrame({"region_id": rng.choice(["A", "B", "C", "D", "E"], n),
                         "x0": rng.integers(0, 172, n), "y0": rng.integers(0, 172, n),
                         "label": rng.integers(0, 2, n)})


@pytest.fixture(scope="module")
def index():
    return dataset.region_index(["A", "B", "C", "D", "E"])


def direct(cube, index, row):
    i = index[row.region_id]
    return cube[i, row.y0:row.y0 + 85, row.x0:row.x0 + 85]


def test_crops_equal_direct_slicing_and_are_standardised(cube, index, table):
    src = dataset.source_from_table(cube, index, table, mean=3.0, std=20.0)
    x = src.crop(np.arange(len(table)))
    assert x.shape == (len(table), 85, 85, 1) and x.dtype == np.float32
    for k, row in enumerate(table.itertuples()):
        np.testing.assert_allclose(x[k, ..., 0], (direct(cube, index, row) - 3.0) / 20.0,
                                   rtol=1e-6, atol=1e-6)
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1.0) < 0.05
    assert cube[0, 0, 0] == pytest.approx(cube[0, 0, 0])   # the cube is not modified


def test_abs_field(cube, index, table):
    src = dataset.source_from_table(cube, index, table, mean=10.0, std=5.0, abs_field=True)
    x = src.crop([3])
    row = next(table.iloc[[3]].itertuples())
    np.testing.assert_allclose(x[0, ..., 0], (np.abs(direct(cube, index, row)) - 10.0) / 5.0,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("abs_field", [False, True])
def test_field_standardisation_matches_brute_force(cube, index, table, abs_field):
    stats = dataset.field_standardisation(cube, index, table, abs_field=abs_field)
    pixels = np.stack([direct(cube, index, r) for r in table.itertuples()]).astype(np.float64)
    pixels = np.abs(pixels) if abs_field else pixels
    assert stats["mean_g"] == pytest.approx(pixels.mean(), rel=1e-9, abs=1e-9)
    assert stats["std_g"] == pytest.approx(pixels.std(), rel=1e-9)
    assert stats["n_pixels"] == pixels.size


def test_windows_outside_the_cube_and_unknown_regions_are_rejected(cube, index, table):
    with pytest.raises(ValueError, match="outside"):
        dataset.WindowSource(cube, [0], [172], [0], [1], 0.0, 1.0)
    with pytest.raises(ValueError, match="Z"):
        dataset.source_from_table(cube, index, table.assign(region_id="Z"), 0.0, 1.0)
    with pytest.raises(ValueError, match="std"):
        dataset.WindowSource(cube, [0], [0], [0], [1], 0.0, 0.0)


def test_shuffling_is_deterministic_and_complete(cube, index, table):
    src = dataset.source_from_table(cube, index, table, 0.0, 1.0)

    def labels_and_first_pixels(seed, epoch):
        batches = dataset.make_batches(src, batch_size=16, seed=seed, epoch=epoch)
        return [(x[:, 0, 0, 0].copy(), y.copy()) for x, y in batches]

    a, b = labels_and_first_pixels(7, 0), labels_and_first_pixels(7, 0)
    assert len(a) == 5 and len(a[-1][1]) == 70 - 64          # last batch is short
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(dataset.epoch_order(70, 7, 0), dataset.epoch_order(70, 8, 0))
    assert not np.array_equal(dataset.epoch_order(70, 7, 0), dataset.epoch_order(70, 7, 1))
    assert sorted(dataset.epoch_order(70, 7, 3)) == list(range(70))
    batches = dataset.make_batches(src, batch_size=16, seed=7)
    batches.on_epoch_end()
    np.testing.assert_array_equal(batches.order, dataset.epoch_order(70, 7, 1))
    unshuffled = dataset.make_batches(src, batch_size=16, shuffle=False)
    np.testing.assert_array_equal(unshuffled[0][1], table.label.to_numpy()[:16])


def test_prefetch_yields_everything_and_reraises():
    assert list(dataset.prefetch(iter(range(10)))) == list(range(10))

    def broken():
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(dataset.prefetch(broken()))


def test_prefetch_thread_stops_when_the_consumer_stops():
    import threading
    before = threading.active_count()
    for i in dataset.prefetch(iter(range(1000))):
        if i == 3:
            break
    assert threading.active_count() == before
