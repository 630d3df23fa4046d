"""The one predict path: CNN outputs of standardised windows, batched.

Every consumer of a trained network goes through here: train-cv and prune score their
evaluation tiles, the training loop computes its validation loss, the interpretation probes
read outputs and filter contributions, and the full-disk scan maps P(PE). Inputs are
standardised windows (``windows.standardise``): an array (n, 85, 85, 1) or a
``WindowSource``, which is cropped lazily batch by batch. The forward pass is
``cnn.logits``, compiled once per model.
"""

from __future__ import annotations

import weakref

import numpy as np

from preemergence.core.constants import SEGMENT_SIZE_PX
from preemergence.core.profiling import timed, traced_call
from preemergence.model import cnn
from preemergence.model.windows import WindowSource, make_batches, prefetch

BATCH_SIZE = 256     # windows per forward call (memory ~ 256 x 29 kB of input)

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _input_signature():
    import tensorflow as tf
    return [tf.TensorSpec((None, SEGMENT_SIZE_PX, SEGMENT_SIZE_PX, 1), tf.float32)]


def compiled_forward(model):
    """Compiled x -> (logits (batch,), P(PE) (batch,), max(O_i) (batch, N)); one per model."""
    import tensorflow as tf
    if model not in _COMPILED:
        @tf.function(input_signature=_input_signature())
        def forward(x):
            z = cnn.logits(model, x)[:, 0]
            features = tf.cast(cnn.max_features_model(model)(x), "float32")
            return z, tf.sigmoid(z), features
        _COMPILED[model] = forward
    return _COMPILED[model]


def batches_of(windows, batch_size: int = BATCH_SIZE):
    """(x, labels or None) batches, in order, of an array of windows or a WindowSource."""
    if isinstance(windows, WindowSource):
        yield from prefetch(make_batches(windows, batch_size, shuffle=False))
        return
    windows = np.asarray(windows, dtype=np.float32)
    for start in range(0, len(windows), batch_size):
        yield windows[start:start + batch_size], None


def _collect(model, windows, output: int, batch_size: int) -> np.ndarray:
    forward = compiled_forward(model)
    parts = [traced_call(forward, "forward passes", x, output=output)
             for x, _ in batches_of(windows, batch_size)]
    return np.concatenate(parts).astype(np.float64) if parts else np.empty(0)


def probabilities(model, windows, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """CNN output y = P(PE) (0...1) of every window, in order: (n,) float64."""
    return _collect(model, windows, 1, batch_size)


def max_features(model, windows, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """max(O_i) of the last convolution's feature maps for every window: (n, N) float64."""
    out = _collect(model, windows, 2, batch_size)
    return out if out.size else np.empty((0, cnn.last_conv(model).filters))


@timed("validation")
def evaluate(model, source: WindowSource, batch_size: int = BATCH_SIZE) -> tuple[float, float]:
    """Mean binary cross-entropy (nats) and accuracy (threshold 0.5, i.e. z > 0) of a source."""
    forward = compiled_forward(model)
    loss = correct = n = 0.0
    for x, y in batches_of(source, batch_size):
        z = traced_call(forward, "validation", x, output=0).astype(np.float64)
        loss += float(np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
        correct += float(np.sum((z > 0) == (y > 0.5)))
        n += len(y)
    return loss / max(n, 1), correct / max(n, 1)
