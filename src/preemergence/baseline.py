"""Kernel-density discriminant analysis (SCIENCE.md stage 2), one variable for now (MTOT).

Epanechnikov kernel densities of a feature for PE and NE, fitted on training samples with the
normal-reference bandwidth h = 2.345 sigma n^(-1/5); a segment is classified PE where the PE
density exceeds the NE density (equal priors).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import KernelDensity

from .metrics import tss

EPANECHNIKOV_NORMAL_REFERENCE = 2.345


def epanechnikov_bandwidth(values) -> float:
    """Normal-reference bandwidth for the Epanechnikov kernel: 2.345 * std * n^(-1/5)."""
    values = np.asarray(values, dtype=float)
    return EPANECHNIKOV_NORMAL_REFERENCE * values.std(ddof=1) * values.size ** (-0.2)


class DensityDiscriminant:
    """Equal-prior discriminant from one Epanechnikov KDE per class (1-D feature)."""

    def fit(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y)
        self.kde = {}
        for label in (0, 1):
            xs = x[y == label].reshape(-1, 1)
            self.kde[label] = KernelDensity(kernel="epanechnikov",
                                            bandwidth=epanechnikov_bandwidth(xs)).fit(xs)
        return self

    def log_density(self, x, label):
        return self.kde[label].score_samples(np.asarray(x, dtype=float).reshape(-1, 1))

    def predict(self, x):
        """1 (PE) where the PE density exceeds the NE density, else 0."""
        return (self.log_density(x, 1) > self.log_density(x, 0)).astype(int)

    def boundaries(self, lo, hi, n=4001):
        """Feature values in [lo, hi] where the predicted class changes."""
        grid = np.linspace(lo, hi, n)
        pred = self.predict(grid)
        change = np.flatnonzero(np.diff(pred))
        return (grid[change] + grid[change + 1]) / 2


def mtot_tss_by_fold(table: pd.DataFrame, scale: float = 1e20) -> list[float]:
    """TSS of the MTOT discriminant on each validation fold's evaluation tiles."""
    scores = []
    for fold in sorted(table.fold.unique()):
        train = table[(table.subset == "sample") & (table.fold != fold)]
        tiles = table[(table.subset == "tile") & (table.fold == fold)]
        model = DensityDiscriminant().fit(train.mtot_mx / scale, train.label)
        scores.append(tss(tiles.label, model.predict(tiles.mtot_mx / scale)))
    return scores
