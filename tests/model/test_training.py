"""The training loop (model.training): learning, determinism, resume, callbacks."""

import keras
import numpy as np
import pandas as pd

from preemergence.model import cnn, predict, training
from preemergence.model import windows as dataset


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
    loss0, _ = predict.evaluate(model, val, 32)
    history = training.fit_model(model, train, val, epochs=4, learning_rate=1e-2,
                                 batch_size=16, seed=1)
    assert history["epoch"] == [0, 1, 2, 3] and len(history["val_loss"]) == 4
    assert history["val_loss"][-1] < loss0
    assert history["val_accuracy"][-1] >= 0.75


def test_training_is_deterministic_and_resumable(tmp_path):
    cube, index, table = toy_problem(n_regions=6, n_per_region=8)
    train, val, _ = toy_sources(cube, index, table)

    def train_fresh(epochs):
        model = tiny_model(seed=4)
        training.fit_model(model, train, val, epochs=epochs, learning_rate=1e-3,
                           batch_size=8, seed=2)
        return model

    a, b = train_fresh(2), train_fresh(2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)          # bitwise, same process, CPU

    first = train_fresh(1)                            # resume: 1 epoch, save, load, 1 more
    first.save(tmp_path / "epoch1.keras")
    resumed = keras.models.load_model(tmp_path / "epoch1.keras")
    training.fit_model(resumed, train, val, epochs=2, learning_rate=1e-3, batch_size=8,
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

    history = training.fit_model(tiny_model(), train, val, epochs=5, learning_rate=1e-3,
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


def test_learning_rate_schedules():
    assert training.epoch_learning_rate(1e-3, "constant", 7, 10) == 1e-3
    cosine = [training.epoch_learning_rate(1e-3, "cosine", e, 4) for e in range(4)]
    assert cosine[0] == 1e-3 and all(a > b > 0 for a, b in zip(cosine, cosine[1:]))
    assert abs(cosine[2] - 0.5e-3) < 1e-12


def test_a_cosine_schedule_is_what_the_optimizer_sees_each_epoch():
    cube, index, table = toy_problem(n_regions=6, n_per_region=8)
    train, _, _ = toy_sources(cube, index, table)
    model, seen = tiny_model(), []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))
    training.fit_model(model, train, None, epochs=3, learning_rate=1e-2, batch_size=8,
                       seed=1, callbacks=[Record()], lr_schedule="cosine")
    assert np.allclose(seen, [training.epoch_learning_rate(1e-2, "cosine", e, 3)
                              for e in range(3)], rtol=1e-6)
