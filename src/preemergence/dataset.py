"""Input pipeline and training loop: segments cropped on the fly from the region maps.

A segment table is never turned into an image stack. A ``WindowSource`` holds the cube of
region maps of one time bin (n_regions, 256, 256, float32, Gauss), one row per window
(region index, x0, y0, label) and the standardisation constants; a batch is cut with one
fancy-indexing gather on a strided sliding-window view of the cube (no copy of the cube,
~0.1 ms per 32 windows), then standardised: x = (B - mean) / std (dimensionless),
shape (batch, 85, 85, 1), float32. A background thread prepares the next batch while
TensorFlow runs the current step, so the training step never waits for input.

Field and constants:
  * ``abs_field=False`` (default): B_LOS, with mean_g/std_g of prepare's
    ``standardisation.json`` (mean and std over all PE and NE sample pixels of the time bin).
  * ``abs_field=True`` (uniform-polarity experiment, paper Table 5): |B_LOS|, standardised
    with the mean and std of |B| over the same sample pixels. ``field_standardisation``
    computes them exactly with integral images (O(1) per window); pass the whole
    'sample' subset of the time bin (all folds), as prepare does for B.

Training (``fit_model``): Adam on the binary cross-entropy, batches shuffled per epoch by a
permutation drawn from (seed, epoch) only, so a run is reproducible and resumable at any
epoch. The compiled step takes its gradients through ``cnn.fast_logits`` (same function and
gradients as the Keras layers, cheaper kernels when TensorFlow's oneDNN kernels are off) or
through the Keras layers (when oneDNN is on); see ``use_fast_kernels``.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from dataclasses import dataclass, field

from . import cnn  # first: it sets TF_ENABLE_ONEDNN_OPTS before TensorFlow is imported
from . import hardware
from .constants import SEGMENT_SIZE_PX

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

SIZE = SEGMENT_SIZE_PX


@dataclass
class WindowSource:
    """Windows of one time bin, cropped on demand from ``cube`` (no image stack).

    cube: (n_regions, H, W) float32 maps in G; region: (n,) int row of each window in cube;
    x0, y0: (n,) int window origins (px), window = cube[i, y0:y0+85, x0:x0+85];
    label: (n,) int (1 = PE, 0 = NE); mean, std: standardisation constants (G) of the field
    used (B, or |B| when abs_field).
    """

    cube: np.ndarray = field(repr=False)
    region: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    label: np.ndarray
    mean: float
    std: float
    abs_field: bool = False
    _windows: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.cube = np.ascontiguousarray(self.cube, dtype=np.float32)
        n_regions, height, width = self.cube.shape
        self.region, self.x0, self.y0 = (np.asarray(a, dtype=np.intp)
                                         for a in (self.region, self.x0, self.y0))
        self.label = np.asarray(self.label, dtype=np.float32)
        if not (len(self.region) == len(self.x0) == len(self.y0) == len(self.label)):
            raise ValueError("region, x0, y0 and label must have the same length")
        if len(self.region) and (self.region.min() < 0 or self.region.max() >= n_regions
                                 or min(self.x0.min(), self.y0.min()) < 0
                                 or self.x0.max() > width - SIZE
                                 or self.y0.max() > height - SIZE):
            raise ValueError("a window lies outside the cube")
        if not self.std > 0:
            raise ValueError(f"std must be positive, not {self.std}")
        self._windows = sliding_window_view(self.cube, (SIZE, SIZE), axis=(1, 2))

    def __len__(self) -> int:
        return len(self.region)

    def crop(self, rows) -> np.ndarray:
        """Standardised windows of the given rows: (len(rows), 85, 85, 1) float32."""
        rows = np.asarray(rows, dtype=np.intp)
        out = self._windows[self.region[rows], self.y0[rows], self.x0[rows]]
        if self.abs_field:
            np.abs(out, out=out)
        out -= np.float32(self.mean)
        out *= np.float32(1.0 / self.std)
        return out[..., None]


def region_index(region_ids) -> dict[str, int]:
    """Mapping region_id -> row of the cube (RegionStore.regions order)."""
    return {rid: i for i, rid in enumerate(region_ids)}


def source_from_table(cube: np.ndarray, index: dict[str, int], table: pd.DataFrame,
                      mean: float, std: float, abs_field: bool = False) -> WindowSource:
    """A WindowSource from segment-table rows (columns region_id, x0, y0, label)."""
    rows = table["region_id"].map(index)
    if rows.isna().any():
        missing = sorted(set(table.loc[rows.isna(), "region_id"]))[:5]
        raise KeyError(f"region id(s) not in the cube: {missing}")
    return WindowSource(cube, rows.to_numpy(np.intp), table["x0"].to_numpy(),
                        table["y0"].to_numpy(), table["label"].to_numpy(), mean, std,
                        abs_field)


def field_standardisation(cube: np.ndarray, index: dict[str, int], table: pd.DataFrame,
                          abs_field: bool = False) -> dict:
    """Mean and std (G) of B (or |B|) over all pixels of the table's windows.

    Exact, via integral images of the field and its square (float64). With the 'sample'
    rows of a time bin and abs_field=False this reproduces prepare's standardisation.json.
    """
    from .segments import WindowSums
    rows = table["region_id"].map(index).to_numpy()
    x0, y0 = table["x0"].to_numpy(), table["y0"].to_numpy()
    total, total2 = 0.0, 0.0
    for r in np.unique(rows):
        sel = rows == r
        sums = WindowSums(cube[r])
        total += sums.sum("abs" if abs_field else "b", x0[sel], y0[sel]).sum()
        total2 += sums.sum("b2", x0[sel], y0[sel]).sum()       # |B|^2 = B^2
    n = len(table) * SIZE * SIZE
    mean = total / n
    return {"mean_g": float(mean), "std_g": float(np.sqrt(max(total2 / n - mean ** 2, 0.0))),
            "n_pixels": int(n)}


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Permutation of n windows for one epoch; depends only on (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


class WindowBatches(keras.utils.PyDataset):
    """Batches (x, y) of a WindowSource: x (b, 85, 85, 1) float32, y (b,) float32.

    Shuffled per epoch by ``epoch_order(n, seed, epoch)`` when shuffle; the last batch may
    be short. Works as a keras PyDataset (``model.fit``), as an iterable of one epoch, and
    random access ``batches[i]``. ``set_epoch(e)`` selects the epoch's order (resume).
    samples_per_epoch: when set, an epoch is the first samples_per_epoch windows of the
    epoch's permutation, so successive epochs see different random subsets.
    """

    def __init__(self, source: WindowSource, batch_size: int = 32, seed: int = 0,
                 shuffle: bool = True, epoch: int = 0, samples_per_epoch: int | None = None):
        super().__init__()
        self.source, self.batch_size = source, int(batch_size)
        self.seed, self.shuffle = seed, shuffle
        self.samples_per_epoch = samples_per_epoch
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        n = len(self.source)
        order = epoch_order(n, self.seed, epoch) if self.shuffle else np.arange(n)
        self.order = order[:self.samples_per_epoch] if self.samples_per_epoch else order

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.source.crop(rows), self.source.label[rows]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)


def make_batches(source: WindowSource, batch_size: int = 32, seed: int = 0,
                 shuffle: bool = True, epoch: int = 0,
                 samples_per_epoch: int | None = None) -> WindowBatches:
    """Batches of a source for one epoch at a time (see WindowBatches)."""
    return WindowBatches(source, batch_size, seed, shuffle, epoch, samples_per_epoch)


def prefetch(batches, depth: int = 2, stats: dict | None = None):
    """Iterate ``batches`` with the next ``depth`` items prepared in a background thread.

    stats: optional dict; its "wait_s" grows by the seconds the consumer waited for input
    (input stall time). Stopping early (break, exception) stops the thread.
    """
    producer = _Producer(batches, depth)
    try:
        while True:
            start = time.perf_counter()
            item = producer.items.get()
            if stats is not None:
                stats["wait_s"] = stats.get("wait_s", 0.0) + time.perf_counter() - start
            if item is _Producer.DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.close()


class _Producer:
    """A thread filling a bounded queue from an iterable (then DONE, or the exception)."""

    DONE = object()

    def __init__(self, iterable, depth: int):
        self.items: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(iterable,), daemon=True)
        self.thread.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterable):
        try:
            for item in iterable:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        self._put(self.DONE)

    def close(self):
        self.stop.set()
        self.thread.join()


# --- Training -----------------------------------------------------------------------------

def _signature():
    import tensorflow as tf
    return [tf.TensorSpec((None, SIZE, SIZE, 1), tf.float32), tf.TensorSpec((None,), tf.float32)]


def _bce(y, logits):
    """Per-sample binary cross-entropy (nats) from logits (as Keras does for a sigmoid)."""
    import tensorflow as tf
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits[:, 0])


def use_fast_kernels(fast: bool | None = None) -> bool:
    """Resolve ``fast``: None -> cnn.fast_logits only on a CPU without oneDNN.

    Measured here (benchmarks/bench_training.py): without oneDNN, cnn.fast_logits' gradient
    kernels train faster than the Keras layers; with oneDNN, TF's own gradient kernels
    are as fast or faster. On a GPU the Keras layers run cuDNN's kernels.
    """
    if fast is not None:
        return bool(fast)
    return not cnn.onednn_enabled() and not hardware.gpu_names()


def make_train_step(model: keras.Model, optimizer, fast: bool | None = None):
    """Compiled step: one Adam update; returns (sum of losses, number correct) of the batch.

    fast: gradients through cnn.fast_logits (True), through the Keras layers (False), or
    the faster of the two for this TF configuration (None, see use_fast_kernels); all give
    the same values to float32 rounding.
    """
    import tensorflow as tf
    variables = model.trainable_variables
    fast = use_fast_kernels(fast)
    forward = (lambda x: cnn.fast_logits(model, x)) if fast else keras_logits_fn(model)

    @tf.function(input_signature=_signature())
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = forward(x)
            losses = _bce(y, logits)
            loss = tf.reduce_mean(losses)
        optimizer.apply(tape.gradient(loss, variables), variables)
        return tf.reduce_sum(losses), _n_correct(y, logits)

    return step


def keras_logits_fn(model: keras.Model):
    """Function x -> logits through the Keras layers (the output layer's pre-activation)."""
    import tensorflow as tf
    features = keras.Model(model.input, model.get_layer("gmp").output)
    head = model.get_layer("output")

    def logits(x):
        return tf.matmul(tf.cast(features(x, training=True), "float32"), head.kernel) + head.bias
    return logits


_EVAL_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def make_eval_step(model: keras.Model):
    """Compiled forward pass: (sum of losses, number correct, probabilities) of a batch.

    One per model (cached), so repeated predict() calls do not retrace.
    """
    import tensorflow as tf
    if model in _EVAL_STEPS:
        return _EVAL_STEPS[model]

    @tf.function(input_signature=_signature())
    def step(x, y):
        logits = cnn.fast_logits(model, x)
        return tf.reduce_sum(_bce(y, logits)), _n_correct(y, logits), tf.sigmoid(logits[:, 0])

    _EVAL_STEPS[model] = step
    return step


def _n_correct(y, logits):
    import tensorflow as tf
    predicted = tf.cast(logits[:, 0] > 0.0, tf.float32)   # output > 0.5
    return tf.reduce_sum(tf.cast(tf.equal(predicted, y), tf.float32))


def ensure_optimizer(model: keras.Model, learning_rate: float):
    """The model's Adam optimizer (kept on the model so that model.save stores its state).

    A model without one is compiled with Adam(learning_rate) and binary cross-entropy; an
    optimizer restored by keras.models.load_model keeps its state and gets learning_rate.
    """
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="binary_crossentropy", metrics=["accuracy"])
    model.optimizer.learning_rate = learning_rate
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model.optimizer


def evaluate(step, batches) -> tuple[float, float]:
    """Mean loss (nats) and accuracy of a batched source with a compiled eval step."""
    loss = correct = n = 0.0
    for x, y in prefetch(batches):
        batch_loss, batch_correct, _ = step(x, y)
        loss, correct, n = loss + float(batch_loss), correct + float(batch_correct), n + len(y)
    return loss / max(n, 1), correct / max(n, 1)


def fit_model(model: keras.Model, train_source: WindowSource,
              val_source: WindowSource | None, epochs: int, learning_rate: float,
              batch_size: int = 32, seed: int = 0, callbacks=None,
              initial_epoch: int = 0, input_stats: dict | None = None,
              fast: bool | None = None,
              samples_per_epoch: int | None = None) -> dict[str, list[float]]:
    """Train with Adam + binary cross-entropy; per-epoch history.

    Returns {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} (losses in nats per
    sample; training values are running means over the epoch, as in Keras). Epochs run
    from initial_epoch to epochs - 1 (resume: load the saved model, pass initial_epoch).
    callbacks: keras callbacks (on_train_begin/end, on_epoch_begin/end with these logs);
    one setting model.stop_training stops after the current epoch; batch hooks
    on_train_batch_begin/end(i) are called too. input_stats: optional dict receiving the
    input stall time "wait_s" (see prefetch). fast: see make_train_step.
    samples_per_epoch: train each epoch on a fresh random subset of that size (see
    WindowBatches); None = every training window once per epoch.
    """
    optimizer = ensure_optimizer(model, learning_rate)
    train_step = make_train_step(model, optimizer, fast)
    eval_step = make_eval_step(model)
    batches = make_batches(train_source, batch_size, seed, shuffle=True,
                           samples_per_epoch=samples_per_epoch)
    val_batches = (make_batches(val_source, batch_size, shuffle=False)
                   if val_source is not None and len(val_source) else None)
    callbacks = keras.callbacks.CallbackList(callbacks or [], model=model)
    history = {k: [] for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")}
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        batches.set_epoch(epoch)
        logs = _train_epoch(train_step, batches, callbacks, input_stats)
        if val_batches is not None:
            logs["val_loss"], logs["val_accuracy"] = evaluate(eval_step, val_batches)
        for key in history:
            history[key].append(epoch if key == "epoch" else logs.get(key, float("nan")))
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(history)
    return history


def _train_epoch(step, batches, callbacks, input_stats) -> dict:
    loss = correct = n = 0.0
    for i, (x, y) in enumerate(prefetch(batches, stats=input_stats)):
        callbacks.on_train_batch_begin(i)
        batch_loss, batch_correct = step(x, y)
        callbacks.on_train_batch_end(i)
        loss, correct, n = loss + float(batch_loss), correct + float(batch_correct), n + len(y)
    return {"loss": loss / n, "accuracy": correct / n}


def predict(model: keras.Model, cube: np.ndarray, index: dict[str, int], table: pd.DataFrame,
            mean: float, std: float, batch_size: int = 256,
            abs_field: bool = False) -> np.ndarray:
    """CNN output (probability of PE, 0...1) for every row of a table, in table order."""
    source = source_from_table(cube, index, table.assign(label=0), mean, std, abs_field)
    step = make_eval_step(model)
    return apply_batched(lambda x, y: step(x, y)[2], source, batch_size)


_FEATURE_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def max_features(model: keras.Model, source: WindowSource, batch_size: int = 256) -> np.ndarray:
    """max(O_i) of the last convolution's feature maps for every window: (n, N) float64."""
    import tensorflow as tf
    if model not in _FEATURE_STEPS:
        _FEATURE_STEPS[model] = tf.function(lambda x: cnn.max_features(model, x),
                                            input_signature=_signature()[:1])
    step = _FEATURE_STEPS[model]
    return apply_batched(lambda x, y: step(x), source, batch_size)


def apply_batched(fn, source: WindowSource, batch_size: int = 256) -> np.ndarray:
    """Concatenate fn(x, y) (a tensor per batch) over a source's windows, in order."""
    outputs = [fn(x, y).numpy() for x, y in
               prefetch(make_batches(source, batch_size, shuffle=False))]
    return np.concatenate(outputs).astype(np.float64) if outputs else np.empty(0)
