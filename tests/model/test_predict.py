"""The one predict path (model.predict): every consumer gets the same outputs.

train-cv's evaluation (score_tiles on a lazily cropped WindowSource), the interpretation
probes (standardised arrays) and the full-disk scan (standardised patches) all call
predict.probabilities; these tests hold them to identical numbers for one model and one
set of windows, and to the Keras model's own output.
"""

import numpy as np
import pandas as pd
import pytest

from preemergence.interpret import probes
from preemergence.model import cnn, predict
from preemergence.model.predictions import classify
from preemergence.model.runs import TimeBinData, TrainConfig, score_tiles, table_windows
from preemergence.model.windows import region_index, standardise

MEAN_G, STD_G = 0.5, 7.0


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    cube = (rng.standard_normal((4, 256, 256)) * 20).astype(np.float32)
    n = 37                                      # not a multiple of any batch size below
    table = pd.DataFrame({"region_id": rng.choice(["A", "B", "C", "D"], n),
                          "x0": rng.integers(0, 172, n), "y0": rng.integers(0, 172, n),
                          "label": np.arange(n) % 2})
    index = region_index(["A", "B", "C", "D"])
    return TimeBinData(-3.2, cube, index, table, MEAN_G, STD_G)


@pytest.fixture(scope="module")
def model():
    return cnn.build_model(depth=3, base_filters=4, seed=9)


def fields_of(data):
    return np.stack([data.cube[data.index[r.region_id], r.y0:r.y0 + 85, r.x0:r.x0 + 85]
                     for r in data.table.itertuples()])


def test_probabilities_equal_the_keras_model(data, model):
    x = standardise(fields_of(data), MEAN_G, STD_G)
    expected = model.predict(x, verbose=0)[:, 0]
    for batch_size in (1, 8, 256):
        got = predict.probabilities(model, x, batch_size)
        assert got.shape == (len(x),) and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_train_cv_probes_and_scan_give_identical_outputs(data, model):
    """Same model, same windows: train-cv evaluation == interpretation probes == scan."""
    from preemergence.solar.scan import _chunks  # the scan's batching of patches
    lazily_cropped = predict.probabilities(model, table_windows(data, data.table, MEAN_G,
                                                                STD_G))
    probe = probes.out_of_fold_outputs(data, lambda k: model, lambda k: (MEAN_G, STD_G),
                                       data.table.assign(fold=0))
    patches = fields_of(data)
    scanned = np.concatenate([predict.probabilities(model, standardise(patches[c], MEAN_G,
                                                                       STD_G), 16)
                              for c in _chunks(len(patches), 16)])
    np.testing.assert_array_equal(lazily_cropped, probe)
    np.testing.assert_array_equal(lazily_cropped, scanned)


def test_score_tiles_classifies_with_the_threshold_parameter(data, model):
    outputs = predict.probabilities(model, table_windows(data, data.table, MEAN_G, STD_G))
    threshold = float(np.median(outputs))
    config = TrainConfig("t", 1e-3, 32, 1, threshold=threshold)
    scored = score_tiles(model, data, data.table, MEAN_G, STD_G, config)
    called = classify(outputs, threshold)
    assert scored["tp"] + scored["fp"] == called.sum() > 0
    labels = data.table.label.to_numpy()
    assert scored["tp"] == int(((called == 1) & (labels == 1)).sum())


def test_max_features_feed_the_output(data, model):
    x = standardise(fields_of(data), MEAN_G, STD_G)
    w, b = cnn.output_weights(model)
    features = predict.max_features(model, x, 10)
    expected = 1.0 / (1.0 + np.exp(-(features @ w + b)))
    np.testing.assert_allclose(predict.probabilities(model, x), expected, rtol=1e-5)


def test_empty_input_gives_empty_outputs(model):
    empty = np.zeros((0, 85, 85, 1), np.float32)
    assert predict.probabilities(model, empty).shape == (0,)
    assert predict.max_features(model, empty).shape == (0, 16)
