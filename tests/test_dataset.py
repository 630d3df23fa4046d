"""On-the-fly crops, standardisation, shuffling, training loop, prediction."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from preemergence import cnn, dataset  # noqa: E402  (first: it configures TensorFlow)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


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
    with pytest.raises(KeyError, match="Z"):
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


# --- a toy problem: PE windows contain a bright bipole, NE windows only noise -------------

def toy_problem(n_regions=12, n_per_region=16, seed=0):
    """Noise maps (G); the first half of the regions carries a bipole at the centre."""
    rng = np.random.default_rng(seed)
    cube = (rng.standard_normal((n_regions, 256, 256)) * 5).astype(np.float32)
    yy, xx = np.mgrid[0:256, 0:256]
    bipole = 200 * (np.exp(-((xx - 122) ** 2 + (yy - 128) ** 2) / 18.0)
                    - np.exp(-((xx - 134) ** 2 + (yy - 128) ** 2) / 18.0))
    cube[: n_regions // 2] += bipole.astype(np.float32)
    rows = []
    for r in range(n_regions):
        pe = r < n_regions // 2
        for _ in range(n_per_region):
            x0, y0 = (rng.integers(64, 108, 2) if pe else rng.integers(0, 172, 2))
            rows.append((f"R{r:02d}", int(x0), int(y0), int(pe), r % 2))
    table = pd.DataFrame(rows, columns=["region_id", "x0", "y0", "label", "fold"])
    return cube, dataset.region_index([f"R{r:02d}" for r in range(n_regions)]), table


def toy_sources(cube, index, table):
    stats = dataset.field_standardisation(cube, index, table)
    train, val = (dataset.source_from_table(cube, index, table[table.fold == f],
                                            stats["mean_g"], stats["std_g"]) for f in (0, 1))
    return train, val, stats


def tiny_model(seed=0):
    return cnn.build_model(depth=3, base_filters=4, seed=seed)


def test_fit_learns_the_toy_problem():
    cube, index, table = toy_problem()
    train, val, _ = toy_sources(cube, index, table)
    model = tiny_model()
    loss0, _ = dataset.evaluate(dataset.make_eval_step(model),
                                dataset.make_batches(val, 32, shuffle=False))
    history = dataset.fit_model(model, train, val, epochs=4, learning_rate=1e-2,
                                batch_size=16, seed=1)
    assert history["epoch"] == [0, 1, 2, 3] and len(history["val_loss"]) == 4
    assert history["val_loss"][-1] < loss0
    assert history["val_accuracy"][-1] >= 0.75


def test_training_is_deterministic_and_resumable(tmp_path):
    cube, index, table = toy_problem(n_regions=6, n_per_region=8)
    train, val, _ = toy_sources(cube, index, table)

    def train_fresh(epochs):
        model = tiny_model(seed=4)
        dataset.fit_model(model, train, val, epochs=epochs, learning_rate=1e-3,
                          batch_size=8, seed=2)
        return model

    a, b = train_fresh(2), train_fresh(2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)          # bitwise, same process, CPU

    first = train_fresh(1)                            # resume: 1 epoch, save, load, 1 more
    first.save(tmp_path / "epoch1.keras")
    resumed = keras.models.load_model(tmp_path / "epoch1.keras")
    dataset.fit_model(resumed, train, val, epochs=2, learning_rate=1e-3, batch_size=8,
                      seed=2, initial_epoch=1)
    for wa, wr in zip(a.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(wr, wa, rtol=1e-5, atol=1e-6)


def test_callbacks_see_epoch_logs_and_can_stop():
    cube, index, table = toy_problem(n_regions=4, n_per_region=4)
    train, val, _ = toy_sources(cube, index, table)
    seen = []

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))
            self.model.stop_training = epoch >= 1

    history = dataset.fit_model(tiny_model(), train, val, epochs=5, learning_rate=1e-3,
                                batch_size=8, callbacks=[Stop()])
    assert history["epoch"] == [0, 1]
    assert seen[0] == (0, ["accuracy", "loss", "val_accuracy", "val_loss"])


def test_batches_work_with_keras_fit():
    cube, index, table = toy_problem(n_regions=4, n_per_region=4)
    train, _, _ = toy_sources(cube, index, table)
    model = tiny_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(dataset.make_batches(train, 4, seed=0), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_predict_matches_model_on_direct_crops():
    cube, index, table = toy_problem(n_regions=4, n_per_region=5)
    model = tiny_model(seed=9)
    probs = dataset.predict(model, cube, index, table, mean=0.5, std=7.0, batch_size=8)
    x = np.stack([(direct(cube, index, r) - 0.5) / 7.0 for r in table.itertuples()])[..., None]
    expected = model.predict(x.astype(np.float32), verbose=0)[:, 0]
    assert probs.shape == (len(table),) and probs.dtype == np.float64
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)


def test_prefetch_thread_stops_when_the_consumer_stops():
    import threading
    before = threading.active_count()
    for i in dataset.prefetch(iter(range(1000))):
        if i == 3:
            break
    assert threading.active_count() == before
