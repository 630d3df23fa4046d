"""The CNN of paper Fig. 6: architecture, parameter count, the identity-activation formula."""

import numpy as np
import pytest

from preemergence.core.filters import filter_counts
from preemergence.model import cnn


@pytest.fixture(scope="module")
def model():
    return cnn.build_model(depth=5, seed=3)


def test_depth5_parameter_count_and_output(model):
    assert cnn.count_params(model) == 392_577
    assert model.output_shape == (None, 1)
    assert [layer.filters for layer in cnn.conv_layers(model)] == [16, 32, 64, 128, 256]


def test_pooled_sizes_and_layer_names(model):
    sizes = [model.get_layer(f"pool{k}").output.shape[1:3] for k in range(1, 5)]
    assert sizes == [(43, 43), (22, 22), (11, 11), (6, 6)]
    assert cnn.last_conv(model).name == "conv5"
    assert cnn.last_conv(model).output.shape[1:] == (6, 6, 256)
    assert model.get_layer("gmp") is not None and model.get_layer("output").units == 1
    for layer in cnn.conv_layers(model):
        assert layer.activation.__name__ == "linear"
        assert layer.kernel_size == (3, 3) and layer.padding == "same"
        np.testing.assert_array_equal(layer.get_weights()[1], 0.0)   # zero biases


@pytest.mark.parametrize("depth", range(1, 9))
def test_every_depth_builds(depth):
    counts = filter_counts(depth)
    m = cnn.build_model(depth=depth)
    assert m.output_shape == (None, 1)
    assert [layer.filters for layer in cnn.conv_layers(m)] == counts
    assert m.predict(np.zeros((1, 85, 85, 1), np.float32), verbose=0).shape == (1, 1)


def test_filter_counts_double_and_override():
    assert filter_counts(8) == [16, 32, 64, 128, 256, 512, 1024, 2048]
    assert filter_counts(8, max_filters=256)[-3:] == [256, 256, 256]
    assert filter_counts(5, final_filters=4) == [16, 32, 64, 128, 4]
    pruned = cnn.build_model(final_filters=4)
    assert cnn.last_conv(pruned).filters == 4
    assert cnn.output_weights(pruned)[0].shape == (4,)
    with pytest.raises(ValueError):
        filter_counts(0)


def test_seeded_initialisation_is_reproducible():
    a, b, c = (cnn.build_model(depth=2, seed=s) for s in (1, 1, 2))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_output_is_sigmoid_of_weighted_feature_maxima(model):
    """y = sigmoid(sum_i w_i max(O_i) + b), O_i the last convolution's feature maps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 85, 85, 1)).astype(np.float32)
    w, _ = cnn.output_weights(model)
    model.get_layer("output").set_weights([w[:, None].astype(np.float32) * 5,
                                           np.array([0.3], np.float32)])
    w, b = cnn.output_weights(model)
    maps = cnn.feature_model(model).predict(x, verbose=0).astype(np.float64)
    expected = 1.0 / (1.0 + np.exp(-(maps.max(axis=(1, 2)) @ w + b)))
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], expected, rtol=1e-5)


def test_identity_activation_makes_each_layer_linear():
    """Without biases, conv1 is linear: O(a x) = a O(x)."""
    m = cnn.build_model(depth=1, seed=0)
    x = np.random.default_rng(1).standard_normal((1, 85, 85, 1)).astype(np.float32)
    f = cnn.feature_model(m)
    np.testing.assert_allclose(f(2.5 * x).numpy(), 2.5 * f(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_logits_are_the_models_own_forward_pass(depth):
    """cnn.logits (what training and predict use) is model(x) before the sigmoid, and the
    max features are the global max of the last convolution's maps."""
    import tensorflow as tf
    m = cnn.build_model(depth=depth, base_filters=4, seed=5)
    x = np.random.default_rng(2).standard_normal((4, 85, 85, 1)).astype(np.float32)
    np.testing.assert_allclose(tf.sigmoid(cnn.logits(m, x)).numpy(), m(x).numpy(), rtol=1e-6)
    maps = cnn.feature_model(m)(x).numpy()
    np.testing.assert_allclose(cnn.max_features_model(m)(x).numpy(), maps.max(axis=(1, 2)),
                               rtol=1e-6)
