"""Functionality-based pruning of the last convolution (paper App. C; SCIENCE.md stage 4).

The CNN's output is y = sigmoid(sum_i F_i + b) with the filter contributions

    F_i = max(O_i) * w_i                          (paper Eq. C3)

(O_i the i-th feature map of the last convolution, w_i its output weight). On the training
data, with the true positives (TP) and true negatives (TN) of the current network,

    S_i = sum_TP F_i - sum_TN F_i                 (Eqs. C5, C6)

and a pruning step keeps the N/4 filters with the largest S_i (patterns correlated with
emergence) and the N/4 with the smallest (anti-correlated), removing the N/2 neutral ones.
Starting from N = 256, the network trains E(N) epochs between steps until N = 4; the last
step (8 -> 4) follows the last training stage with no retraining.

Pruning is real: ``prune_last_layer`` builds a smaller network holding the surviving
weights, so its output equals the original's with the removed filters' weights zeroed.
The surviving filters keep their identity: callers track the original indices.
"""

from __future__ import annotations

import numpy as np

from preemergence.model import cnn


def filter_contributions(max_outputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """F_i = max(O_i) * w_i per sample: (n_samples, N) from (n_samples, N) and (N,)."""
    return np.asarray(max_outputs, dtype=np.float64) * np.asarray(weights, dtype=np.float64)


def net_scores(contributions: np.ndarray, labels, predicted) -> np.ndarray:
    """S_i = sum over true positives of F_i minus sum over true negatives (Eq. C6), (N,)."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    tp, tn = labels & predicted, ~labels & ~predicted
    return contributions[tp].sum(axis=0) - contributions[tn].sum(axis=0)


def select_by_score(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """Indices (ascending) of the n_keep/2 largest and n_keep/2 smallest scores.

    Ties are broken by filter index (stable sort), so the choice is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64)
    _check_keep(len(scores), n_keep)
    order = np.argsort(scores, kind="stable")
    half = n_keep // 2
    return np.sort(np.concatenate([order[:half], order[len(order) - half:]]))


def select_random(n_filters: int, n_keep: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (ascending) of n_keep filters drawn at random (the paper's control)."""
    _check_keep(n_filters, n_keep)
    return np.sort(rng.choice(n_filters, size=n_keep, replace=False))


def _check_keep(n_filters: int, n_keep: int) -> None:
    if n_keep % 2 or not 0 < n_keep <= n_filters:
        raise ValueError(f"cannot keep {n_keep} of {n_filters} filters "
                         "(an even number between 2 and the number of filters)")


def prune_last_layer(model, keep) -> "keras.Model":  # noqa: F821
    """A new network whose last convolution keeps only the filters ``keep`` (indices).

    Every other layer's weights are copied unchanged; the last convolution's kernel and
    bias and the output kernel are restricted to ``keep`` (in that order). The new model
    has no optimizer (training after pruning starts a fresh Adam).
    """
    keep = np.asarray(keep, dtype=np.intp)
    convs = cnn.conv_layers(model)
    last = convs[-1]
    inner = [layer.filters for layer in convs[:-1]]
    pruned = cnn.build_model(len(convs), base_filters=convs[0].filters,
                             final_filters=len(keep), input_size=model.input_shape[1],
                             max_filters=max(inner) if inner else None)
    for layer in convs[:-1]:
        pruned.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = last.get_weights()
    pruned.get_layer(last.name).set_weights([kernel[..., keep], bias[keep]])
    out_kernel, out_bias = model.get_layer("output").get_weights()
    pruned.get_layer("output").set_weights([out_kernel[keep], out_bias])
    return pruned
