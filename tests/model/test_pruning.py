"""Pruning rule (paper App. C): scores, selection, real removal of filters, schedule."""

import numpy as np
import pytest

from preemergence.core.config import with_overrides
from preemergence.core.filters import filter_counts, pruning_stages
from preemergence.model import cnn
from preemergence.model import pruning as prune
from preemergence.model.configs import prune_schedule


def test_net_score_is_tp_minus_tn_sum():
    # 4 samples x 3 filters; labels/predictions give TP = {0, 1}, TN = {2}, FP = {3}.
    contributions = np.array([[1.0, -2.0, 0.5],
                              [3.0, -1.0, 0.5],
                              [0.5, -4.0, 2.0],
                              [9.0, 9.0, 9.0]])
    labels, predicted = [1, 1, 0, 0], [1, 1, 0, 1]
    np.testing.assert_allclose(prune.net_scores(contributions, labels, predicted),
                               [4.0 - 0.5, -3.0 + 4.0, 1.0 - 2.0])


def test_rule_keeps_exactly_the_most_correlated_and_anticorrelated_filters():
    # Hand-made last layer: 8 filters whose contribution F_i = max(O_i) w_i is known.
    max_outputs = np.array([[2.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0],     # TP
                            [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])    # TN
    weights = np.array([5.0, 0.1, -0.2, 0.0, -6.0, 2.0, 0.3, -1.0])
    contributions = prune.filter_contributions(max_outputs, weights)
    np.testing.assert_allclose(contributions[0], max_outputs[0] * weights)
    scores = prune.net_scores(contributions, labels=[1, 0], predicted=[1, 0])
    # S = F_TP - F_TN = (max_TP - max_TN) * w: filter 0 -> 5, 5 -> 4, others 0.
    np.testing.assert_allclose(scores, [5.0, 0, 0, 0, 0, 4.0, 0, 0])
    # Keep N/4 = 2 largest (0, 5) and 2 smallest; ties at 0 broken by index (1, 2).
    np.testing.assert_array_equal(prune.select_by_score(scores, 4), [0, 1, 2, 5])
    distinct = np.array([5.0, 0.3, -0.2, 0.0, -6.0, 4.0, 0.1, -1.0])
    np.testing.assert_array_equal(prune.select_by_score(distinct, 4), [0, 4, 5, 7])


def test_random_selection_is_seeded_and_valid():
    a = prune.select_random(256, 128, np.random.default_rng(1))
    b = prune.select_random(256, 128, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 128 and a.min() >= 0 and a.max() < 256
    with pytest.raises(ValueError, match="cannot keep 3 of 8"):
        prune.select_random(8, 3, np.random.default_rng(0))


def test_schedule_reaches_four():
    assert pruning_stages(256) == [256, 128, 64, 32, 16, 8]
    assert pruning_stages(256, 2) == [256, 128, 64, 32, 16, 8, 4]
    assert pruning_stages(16) == [16, 8]
    with pytest.raises(ValueError, match="cannot prune"):
        pruning_stages(12, 8)


@pytest.mark.parametrize("depth", [2, 3])
def test_pruned_network_equals_original_with_removed_filters_zeroed(depth):
    model = cnn.build_model(depth, base_filters=4, final_filters=16, seed=3)
    rng = np.random.default_rng(0)
    # Make the output weights non-trivial (Glorot weights of a fresh model are fine, but a
    # random bias makes sure it is carried over too).
    kernel, _ = model.get_layer("output").get_weights()
    model.get_layer("output").set_weights([kernel, np.array([0.3], np.float32)])
    keep = np.array([1, 4, 7, 8, 11, 15])
    pruned = prune.prune_last_layer(model, keep)
    assert cnn.last_conv(pruned).filters == len(keep)
    zeroed = kernel.copy()
    zeroed[np.setdiff1d(np.arange(16), keep)] = 0.0
    model.get_layer("output").set_weights([zeroed, np.array([0.3], np.float32)])
    x = rng.normal(size=(5, 85, 85, 1)).astype(np.float32)
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    # The surviving filters keep their weights (identity preserved).
    np.testing.assert_array_equal(cnn.last_conv(pruned).get_weights()[0],
                                  cnn.last_conv(model).get_weights()[0][..., keep])


def test_schedule_of_params_fits_every_depth(params):
    """`dvc exp run -S depth=4` must prune too: the first stage is E(N0) whatever N0 is."""
    for name in params.prune.schedules:
        schedule = prune_schedule(with_overrides(params, {"prune.schedule": name}))
        for depth in range(1, 7):
            stages = schedule.stages(filter_counts(depth)[-1])
            assert stages[0][1] >= 1 and stages[-1][0] == 8
            assert [n for n, _ in stages] == pruning_stages(stages[0][0])
