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

import weakref

import keras
import numpy as np

from preemergence.core.constants import SEGMENT_SIZE_PX
from preemergence.core.filters import BASE_FILTERS, filter_counts


def build_model(depth: int = 5, base_filters: int = BASE_FILTERS, final_filters: int | None = None,
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


def initialise(model: keras.Model, seed: int) -> None:
    """Give a CNN built by build_model the initial weights build_model(seed=seed) draws:
    Glorot-uniform kernels seeded per layer, zero biases (the same values, bit for bit, so a
    network re-initialised for a new run trains exactly as a freshly built one)."""
    for layer in [*conv_layers(model), model.get_layer("output")]:
        number = 0 if layer.name == "output" else int(layer.name[4:])
        kernel = _glorot(seed, number)(tuple(layer.kernel.shape), dtype=layer.kernel.dtype)
        layer.kernel.assign(kernel)
        layer.bias.assign(np.zeros(tuple(layer.bias.shape), dtype=layer.bias.dtype))


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


def conv_layers(model: keras.Model) -> list:
    """The convolution layers conv1 ... convN in order."""
    convs = [layer for layer in model.layers if layer.name.startswith("conv")]
    return sorted(convs, key=lambda layer: int(layer.name[4:]))


# --- The forward pass -----------------------------------------------------------------------
# One function from standardised windows to the output neuron's input, through the Keras
# layers, for training (gradients) and inference alike:
#     max(O_i) = the global max-pooling of the last convolution ("gmp"), (batch, N)
#     z = sum_i w_i max(O_i) + b,  y = sigmoid(z)            (paper Eq. C4)

_MAX_FEATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def max_features_model(model: keras.Model) -> keras.Model:
    """Sub-model: input -> max(O_i) of every last-layer feature map, (batch, N) (cached)."""
    if model not in _MAX_FEATURES:
        _MAX_FEATURES[model] = keras.Model(model.input, model.get_layer("gmp").output,
                                           name="max_features")
    return _MAX_FEATURES[model]


def logits(model: keras.Model, x, training: bool = False):
    """Logit z (batch, 1), float32, with y = sigmoid(z) = model(x).

    x: standardised windows (batch, 85, 85, 1). Follows the layer compute dtype (float32,
    or bfloat16 under a mixed-precision policy); the output layer is float32.
    """
    import tensorflow as tf
    head = model.get_layer("output")
    features = tf.cast(max_features_model(model)(x, training=training), "float32")
    return tf.matmul(features, head.kernel) + head.bias
