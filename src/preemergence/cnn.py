"""The fully convolutional CNN of Dhuri et al. (2020), Fig. 6 (definition in SCIENCE.md).

``depth`` 3x3 convolutions with identity (linear) activation and 'same' padding, filters
doubling from ``base_filters`` (16, 32, 64, 128, 256 at depth 5), a 2x2 max-pooling with
'same' padding after every convolution but the last (85 -> 43 -> 22 -> 11 -> 6 px), a global
max-pooling of the last convolution and one sigmoid output, so that

    y = sigmoid(sum_i w_i * max(O_i) + b),   O_i = feature map i of the last convolution.

Depth > 5: the paper (Sect. 4.5, Fig. 17, depths 2...8) says only that filters "double in
successive layers", so by default we keep doubling (depth 8: 16 ... 2048 filters, spatial
sizes 85, 43, 22, 11, 6, 3, 2, 1; 25,170,561 parameters). ``max_filters`` caps the count
for cheaper experiments. Input: standardised B_LOS (dimensionless), shape (85, 85, 1),
channels last.

Layer names (stable, used by pruning and interpretation): ``input``, ``conv1`` ... ``convN``,
``pool1`` ... ``pool{N-1}``, ``gmp`` (global max-pooling), ``output`` (Dense(1, sigmoid)).
"""

from __future__ import annotations

import os

# oneDNN kernels speed CPU training up ~1.7x here (AMD EPYC, AVX2), but TensorFlow
# enables them by default only on CPUs with AVX512/AMX. The switch is read once, when
# TensorFlow is first imported, so it is set here, before keras imports it; an explicit
# TF_ENABLE_ONEDNN_OPTS=0 in the environment wins. See onednn_enabled().
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from .constants import SEGMENT_SIZE_PX


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


def filter_counts(depth: int, base_filters: int = 16, final_filters: int | None = None,
                  max_filters: int | None = None) -> list[int]:
    """Filters per convolution: base * 2**k (capped at max_filters), last one overridable."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, not {depth}")
    counts = [base_filters * 2 ** k for k in range(depth)]
    if max_filters is not None:
        counts = [min(c, max_filters) for c in counts]
    if final_filters is not None:
        counts[-1] = int(final_filters)
    return counts


def build_model(depth: int = 5, base_filters: int = 16, final_filters: int | None = None,
                input_size: int = SEGMENT_SIZE_PX, seed: int | None = None,
                max_filters: int | None = None) -> keras.Model:
    """The paper's fully convolutional CNN (float32 or the active keras dtype policy).

    Glorot-uniform kernels (seeded per layer from ``seed``), zero biases. Output: the
    probability (0...1) that a segment is pre-emergence (PE).
    """
    counts = filter_counts(depth, base_filters, final_filters, max_filters)
    inputs = keras.Input((input_size, input_size, 1), name="input")
    x = inputs
    for k, filters in enumerate(counts, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation=None,
                                kernel_initializer=_glorot(seed, k),
                                bias_initializer="zeros", name=f"conv{k}")(x)
        if k < depth:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{k}")(x)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=_glorot(seed, 0),
                                 bias_initializer="zeros", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=f"fcnn_depth{depth}")


def _glorot(seed: int | None, layer: int):
    """Glorot-uniform initialiser with a distinct, reproducible seed per layer."""
    if seed is None:
        return keras.initializers.GlorotUniform()
    return keras.initializers.GlorotUniform(seed=int(seed) * 1000 + layer)


def count_params(model: keras.Model) -> int:
    """Number of trainable + non-trainable parameters (weights and biases)."""
    return int(sum(np.prod(w.shape) for w in model.weights))


def last_conv(model: keras.Model) -> keras.layers.Layer:
    """The last convolution layer (the one feeding the global max-pooling)."""
    convs = [layer for layer in model.layers if layer.name.startswith("conv")]
    return max(convs, key=lambda layer: int(layer.name[4:]))


def feature_model(model: keras.Model) -> keras.Model:
    """Sub-model: input -> feature maps O_i of the last convolution, (batch, h, w, N)."""
    return keras.Model(model.input, last_conv(model).output, name="features")


def output_weights(model: keras.Model) -> tuple[np.ndarray, float]:
    """Output-layer weights w_i (shape (N,)) and bias b of y = sigmoid(sum w_i max O_i + b)."""
    kernel, bias = model.get_layer("output").get_weights()
    return kernel[:, 0].astype(np.float64), float(bias[0])


# --- Fast training forward pass ----------------------------------------------------------
# The same function as ``model(x)`` (before the sigmoid), written with TensorFlow ops whose
# gradients are cheaper on CPU: the input gradient of a 3x3 'same' convolution is computed
# as a forward convolution with the flipped, transposed kernel (TF's Conv2DBackpropInput is
# 2-4x slower than a forward convolution on small maps), and the single-channel first layer
# is an im2col matrix product. Values and gradients equal those of the Keras layers to
# float32 rounding (tests/test_cnn.py).

def _tf():
    import tensorflow as tf
    return tf


def _flip_kernel(kernel):
    """Kernel of the adjoint 'same' convolution: spatially flipped, in/out swapped."""
    tf = _tf()
    return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])


def _conv3x3(x, kernel):
    """3x3 'same', stride-1 convolution with a cheaper input gradient (see above)."""
    tf = _tf()

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = tf.nn.conv2d(dy, _flip_kernel(kernel), 1, "SAME")
            dk = tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                strides=[1, 1, 1, 1], padding="SAME")
            return dx, dk
        return tf.nn.conv2d(x, kernel, 1, "SAME"), grad

    return conv(x, kernel)


def _patches3x3(x):
    """im2col of a single-channel image batch (B, H, W, 1) -> (B, H, W, 9), zero padded."""
    tf = _tf()
    h, w = x.shape[1], x.shape[2]
    xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.concat([xp[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)], -1)


def _conv3x3_single(x, kernel):
    """3x3 'same' convolution of a 1-channel input as one (B*H*W, 9) x (9, C) matmul."""
    tf = _tf()

    @tf.custom_gradient
    def conv(x, kernel):
        shape = tf.shape(x)
        cols = tf.reshape(_patches3x3(x), [-1, 9])
        flat_kernel = tf.reshape(kernel, [9, -1])
        y = tf.reshape(tf.matmul(cols, flat_kernel),
                       tf.concat([shape[:3], tf.shape(kernel)[3:]], 0))

        def grad(dy):
            flat_dy = tf.reshape(dy, [-1, tf.shape(kernel)[3]])
            dk = tf.reshape(tf.matmul(cols, flat_dy, transpose_a=True), tf.shape(kernel))
            dx = tf.nn.conv2d(dy, _flip_kernel(kernel), 1, "SAME")
            return dx, dk
        return y, grad

    return conv(x, kernel)


def conv_layers(model: keras.Model) -> list:
    """The convolution layers conv1 ... convN in order."""
    convs = [layer for layer in model.layers if layer.name.startswith("conv")]
    return sorted(convs, key=lambda layer: int(layer.name[4:]))


def fast_logits(model: keras.Model, x):
    """Logit z (shape (batch, 1), float32) with y = sigmoid(z) = model(x); cheap gradients.

    x: standardised segments (batch, 85, 85, 1). Uses the model's own variables, so a
    gradient taken through this function trains ``model``. Follows the layer compute dtype
    (float32, or bfloat16 under a mixed-precision policy); the output layer is float32.
    """
    tf = _tf()
    out = model.get_layer("output")
    return (tf.matmul(max_features(model, x), tf.cast(out.kernel, "float32"))
            + tf.cast(out.bias, "float32"))


def max_features(model: keras.Model, x):
    """max(O_i) of every last-layer feature map O_i: shape (batch, N), float32.

    The inputs of the output neuron, y = sigmoid(sum_i w_i max(O_i) + b) (paper Eq. C4).
    """
    tf = _tf()
    convs = conv_layers(model)
    dtype = convs[0].compute_dtype
    h = tf.cast(x, dtype)
    for k, layer in enumerate(convs, start=1):
        kernel = tf.cast(layer.kernel, dtype)
        conv = _conv3x3_single if k == 1 and h.shape[-1] == 1 else _conv3x3
        h = tf.nn.bias_add(conv(h, kernel), tf.cast(layer.bias, dtype))
        if k < len(convs):
            h = tf.nn.max_pool2d(h, 2, 2, "SAME")
    return tf.cast(tf.reduce_max(h, axis=[1, 2]), "float32")
