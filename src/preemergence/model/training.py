"""The training loop: Adam on the binary cross-entropy, through the Keras layers.

Batches are shuffled per epoch by a permutation drawn from (seed, epoch) only
(``windows.epoch_order``), so a run is reproducible and resumable at any epoch. The compiled
step takes its gradients through ``cnn.logits``, the same forward pass that ``predict``
uses; on a GPU the Keras layers run cuDNN's kernels, on a CPU oneDNN's (switched on in the
package ``__init__``). The validation loss after each epoch comes from ``predict.evaluate``.
"""

from __future__ import annotations

import math
import weakref

import keras

from preemergence.core.constants import SEGMENT_SIZE_PX
from preemergence.core.profiling import phase, traced_call
from preemergence.model import cnn, predict
from preemergence.model.windows import WindowSource, make_batches, prefetch

HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")

# One network per architecture in a process: its compiled training step and forward pass
# are traced once and serve every run (fold, time bin, stage) of that architecture.
_NETWORKS: dict[tuple, keras.Model] = {}
_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # model -> (optimizer, step)


def fresh_network(depth: int, seed: int, final_filters: int | None = None,
                  max_filters: int | None = None) -> keras.Model:
    """A CNN with the initial weights ``cnn.build_model(seed=seed)`` draws and a fresh Adam
    state: this process's network of the architecture (depth, filters, dtype policy),
    re-initialised, so that its traced steps are reused; the first one is built."""
    policy = keras.mixed_precision.global_policy().name
    key = (depth, final_filters, max_filters, policy)
    model = _NETWORKS.get(key)
    if model is None:
        model = _NETWORKS[key] = cnn.build_model(depth, final_filters=final_filters,
                                                 max_filters=max_filters, seed=seed)
        return model
    cnn.initialise(model, seed)
    reset_optimizer(model)
    return model


def reset_optimizer(model: keras.Model) -> None:
    """Zero the model's Adam state (step count, moments), as a new Adam starts."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.built:
        return
    for variable in optimizer.variables:
        if variable is not optimizer._learning_rate:
            variable.assign(keras.ops.zeros(variable.shape, dtype=variable.dtype))


def train_step_of(model: keras.Model, optimizer):
    """The compiled training step of (model, optimizer), traced once and kept."""
    cached = _STEPS.get(model)
    if cached is None or cached[0] is not optimizer:
        _STEPS[model] = (optimizer, make_train_step(model, optimizer))
    return _STEPS[model][1]


def _signature():
    import tensorflow as tf
    size = SEGMENT_SIZE_PX
    return [tf.TensorSpec((None, size, size, 1), tf.float32), tf.TensorSpec((None,), tf.float32)]


def make_train_step(model: keras.Model, optimizer, jit_compile: bool | None = None):
    """Compiled step: one Adam update; returns (sum of losses, number correct) of the batch.
    XLA-compiled where this machine's measured choice says so (core/compute.py), unless
    ``jit_compile`` says otherwise (benchmarks).

    Correct: output >= 0.5 (logit >= 0) agrees with the label, as Keras' accuracy counts it
    during training (the classification threshold of the results is train.threshold).
    """
    import tensorflow as tf
    from preemergence.core import compute
    variables = model.trainable_variables

    if jit_compile is None:
        jit_compile = compute.settings()["jit_compile"]

    @tf.function(input_signature=_signature(), jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as tape:
            z = cnn.logits(model, x, training=True)[:, 0]
            losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z)
            loss = tf.reduce_mean(losses)
        optimizer.apply(tape.gradient(loss, variables), variables)
        correct = tf.equal(tf.cast(z >= 0.0, tf.float32), y)
        return tf.reduce_sum(losses), tf.reduce_sum(tf.cast(correct, tf.float32))

    return step


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


def fresh_optimizer(model: keras.Model) -> None:
    """Drop the optimizer state (a new Adam is made by ensure_optimizer)."""
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy",
                  metrics=["accuracy"])


def fit_model(model: keras.Model, train_source: WindowSource,
              val_source: WindowSource | None, epochs: int, learning_rate: float,
              batch_size: int = 32, seed: int = 0, callbacks=None,
              initial_epoch: int = 0, input_stats: dict | None = None,
              samples_per_epoch: int | None = None,
              lr_schedule: str = "constant") -> dict[str, list[float]]:
    """Train with Adam + binary cross-entropy; per-epoch history.

    Returns {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} (losses in nats per
    sample; training values are running means over the epoch, as in Keras). Epochs run
    from initial_epoch to epochs - 1 (resume: load the saved model, pass initial_epoch).
    callbacks: keras callbacks (on_train_begin/end, on_epoch_begin/end with these logs);
    one setting model.stop_training stops after the current epoch; batch hooks
    on_train_batch_begin/end(i) are called too. input_stats: optional dict receiving the
    input stall time "wait_s" (see windows.prefetch). samples_per_epoch: train each epoch
    on a fresh random subset of that size (see WindowBatches); None = every training
    window once per epoch. lr_schedule: the learning rate of each epoch
    (``epoch_learning_rate``).
    """
    optimizer = ensure_optimizer(model, learning_rate)
    train_step = train_step_of(model, optimizer)
    batches = make_batches(train_source, batch_size, seed, shuffle=True,
                           samples_per_epoch=samples_per_epoch)
    validate = val_source is not None and len(val_source) > 0
    callbacks = keras.callbacks.CallbackList(callbacks or [], model=model)
    history = {k: [] for k in HISTORY_KEYS}
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        optimizer.learning_rate = epoch_learning_rate(learning_rate, lr_schedule, epoch, epochs)
        batches.set_epoch(epoch)
        logs = _train_epoch(train_step, batches, callbacks, input_stats)
        if validate:
            logs["val_loss"], logs["val_accuracy"] = predict.evaluate(model, val_source,
                                                                      batch_size)
        for key in history:
            history[key].append(epoch if key == "epoch" else logs.get(key, float("nan")))
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end(history)
    return history


def epoch_learning_rate(base: float, schedule: str, epoch: int, epochs: int) -> float:
    """The learning rate of an epoch (0-based) of a run of ``epochs``: ``constant`` (base)
    or ``cosine`` (base * (1 + cos(pi * epoch / epochs)) / 2, from base down towards 0)."""
    if schedule == "constant":
        return base
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    raise ValueError(f"unknown learning-rate schedule {schedule!r} (constant | cosine)")


def _train_epoch(step, batches, callbacks, input_stats) -> dict:
    loss = correct = n = 0.0
    with phase("input pipeline"):
        for i, (x, y) in enumerate(prefetch(batches, stats=input_stats)):
            callbacks.on_train_batch_begin(i)
            batch_loss, batch_correct = traced_call(step, "training steps", x, y)
            callbacks.on_train_batch_end(i)
            loss, correct, n = loss + float(batch_loss), correct + float(batch_correct), n + len(y)
    return {"loss": loss / n, "accuracy": correct / n}
