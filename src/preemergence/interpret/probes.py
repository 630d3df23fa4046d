"""Probing trained CNNs (paper Sect. 4, App. B-G): outputs, filter contributions, bipoles.

Inputs in G are standardised as in training (``windows.standardise``, x = (B - mean) / std
with the run's constants from ``result.json``) and reach the network through the one
predict path (``model.predict``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from preemergence.interpret.bipole import bipole_series
from preemergence.model import cnn, predict, pruning
from preemergence.model.runs import table_windows
from preemergence.model.windows import standardise


def filter_maps(model, inputs: np.ndarray) -> np.ndarray:
    """Feature maps O_i of the last convolution: (n, h, w, N) (6 x 6 at depth 5)."""
    return np.asarray(cnn.feature_model(model).predict(inputs, verbose=0), dtype=np.float64)


def contributions(model, inputs: np.ndarray) -> np.ndarray:
    """F_i = w_i max(O_i) (Eq. C3) for standardised inputs: (n, N)."""
    weights, _ = cnn.output_weights(model)
    return pruning.filter_contributions(predict.max_features(model, inputs), weights)


def bipole_inputs(radii_mm, fields_g, mean: float, std: float) -> np.ndarray:
    """Standardised synthetic bipoles, (n_fields * n_radii, 85, 85, 1), field-major."""
    maps = bipole_series(radii_mm, fields_g)
    return standardise(maps.reshape(-1, *maps.shape[2:]), mean, std)


def bipole_response(model, radii_mm, fields_g, mean: float, std: float) -> np.ndarray:
    """CNN output for every (field, radius) synthetic bipole: (n_fields, n_radii)."""
    out = predict.probabilities(model, bipole_inputs(radii_mm, fields_g, mean, std))
    return out.reshape(len(np.atleast_1d(fields_g)), len(np.atleast_1d(radii_mm)))


def bipole_contributions(model, radii_mm, field_g: float, mean: float, std: float
                         ) -> np.ndarray:
    """Fig. 16: F_i of synthetic bipoles of one field (G) against radius (Mm): (N, n_radii)."""
    return contributions(model, bipole_inputs(radii_mm, [field_g], mean, std)).T


def characteristic_radius(radii_mm, response, level: float = 0.5, high: float = 0.7,
                          low: float = 0.3) -> float:
    """Radius (Mm) beyond which the output drops for good (paper Sect. 4.5), or NaN.

    The largest radius at which the output is still >= level, provided the output reaches
    ``high`` at or below that radius and falls to ``low`` or less beyond it (a clear drop).
    NaN when there is none in the radii probed: the output never reaches ``level``, stays
    above it out to the largest radius, or only hovers around it.
    """
    y, radii = np.asarray(response, dtype=float), np.asarray(radii_mm, dtype=float)
    above = np.flatnonzero(y >= level)
    if not len(above) or above[-1] == len(y) - 1:
        return float("nan")
    k = above[-1]
    if y[:k + 1].max() < high or y[k + 1:].min() > low:
        return float("nan")
    return float(radii[k])


def order_filters(contrib: np.ndarray, labels, predicted) -> np.ndarray:
    """Filter order for display: net score S_i (Eq. C6) descending (correlated first)."""
    return np.argsort(-pruning.net_scores(contrib, labels, predicted), kind="stable")


def scored_filters(model, inputs: np.ndarray, labels, threshold: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F_i (n, N), output y = sigmoid(sum_i F_i + b) (n,), filter order by net score S_i)
    of standardised inputs with their labels (predicted PE where y >= threshold)."""
    contrib = contributions(model, inputs)
    y = expit(contrib.sum(axis=1) + cnn.output_weights(model)[1])
    return contrib, y, order_filters(contrib, labels, y >= threshold)


def filter_names(order, kept_filters) -> list[str]:
    """Legend names of the ordered filters: 'filter 1 (#<index in the unpruned layer>)'."""
    return [f"filter {i + 1} (#{kept_filters[k]})" for i, k in enumerate(order)]


def out_of_fold_outputs(data, model_for_fold, constants_for_fold, table: pd.DataFrame,
                        abs_field: bool = False) -> np.ndarray:
    """CNN output of every row, each predicted by the model of the row's own fold.

    model_for_fold: fold -> trained model that never saw that fold (cross-validation);
    constants_for_fold: fold -> (mean, std) the model was trained with (G).
    """
    out = np.full(len(table), np.nan)
    for fold, rows in table.groupby("fold").indices.items():
        mean, std = constants_for_fold(int(fold))
        out[rows] = predict.probabilities(model_for_fold(int(fold)), table_windows(
            data, table.iloc[rows], mean, std, abs_field))
    return out


def crop_fields(data, table: pd.DataFrame) -> np.ndarray:
    """The rows' 85 x 85 windows in G (no standardisation): (n, 85, 85) float32."""
    return table_windows(data, table, 0.0, 1.0).fields(np.arange(len(table)))
