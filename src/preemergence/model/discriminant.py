"""Kernel-density discriminant analysis (SCIENCE.md stage 2; paper section 4.2 and App. E).

Epanechnikov kernel densities of one or more features for PE and for NE, fitted on the
training folds' samples with normal-reference bandwidths; a segment is classified PE where
the PE density exceeds the NE density (equal priors: boundaries where the densities are
equal). TSS on the validation folds' evaluation tiles.

- One variable (MTOT): scikit-learn's ``KernelDensity(kernel="epanechnikov")``,
  h = 2.345 sigma n^(-1/5).
- Several variables (MTOT, DM), each standardised with the training samples' mean and std:
  a product Epanechnikov kernel, f(x) = 1/n sum_i prod_j K((x_j - X_ij) / h_j) / h_j,
  evaluated exactly on the neighbours that scikit-learn's ``KDTree`` (Chebyshev metric on
  bandwidth-scaled coordinates) finds inside the kernel's support. Bandwidths follow the
  d-dimensional normal-reference rule h_j = 2.214 (4/(d+2))^(1/(d+4)) sigma_j n^(-1/(d+4)),
  which is 2.345 sigma n^(-1/5) for d = 1 (Silverman 1986; 2.214 converts the Gaussian
  rule to the Epanechnikov kernel's canonical bandwidth).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.neighbors import KDTree, KernelDensity

from preemergence.core.metrics import confusion, tss
from preemergence.model.predictions import fold_tiles, tile_rows

EPANECHNIKOV_NORMAL_REFERENCE = 2.345
EPANECHNIKOV_OVER_GAUSSIAN = 2.214       # ratio of canonical bandwidths (Epanechnikov/Gauss)
MTOT_UNIT_MX = 1e20                       # MTOT is fitted in units of 1e20 Mx
VARIANTS = {"mtot": ("mtot_mx",), "mtot_dm": ("mtot_mx", "dm_mx_mm")}


def epanechnikov_bandwidth(values) -> float:
    """Normal-reference bandwidth for the Epanechnikov kernel: 2.345 * std * n^(-1/5)."""
    values = np.asarray(values, dtype=float)
    return EPANECHNIKOV_NORMAL_REFERENCE * values.std(ddof=1) * values.size ** (-0.2)


def normal_reference_bandwidths(values) -> np.ndarray:
    """Per-dimension normal-reference bandwidths of a product Epanechnikov kernel, (n, d)."""
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    n, d = values.shape
    factor = EPANECHNIKOV_OVER_GAUSSIAN * (4.0 / (d + 2)) ** (1.0 / (d + 4))
    return factor * values.std(axis=0, ddof=1) * n ** (-1.0 / (d + 4))


class ProductEpanechnikovKDE:
    """Product-kernel Epanechnikov density estimate in d dimensions."""

    def fit(self, values, bandwidths=None):
        values = np.asarray(values, dtype=float)
        self.values = values.reshape(len(values), -1)
        self.bandwidths = (normal_reference_bandwidths(self.values) if bandwidths is None
                           else np.asarray(bandwidths, dtype=float).reshape(-1))
        self.tree = KDTree(self.values / self.bandwidths, metric="chebyshev")
        return self

    def density(self, points) -> np.ndarray:
        """Density at each point (per unit of the features' product)."""
        points = np.asarray(points, dtype=float).reshape(-1, self.values.shape[1])
        scaled = points / self.bandwidths
        neighbours = self.tree.query_radius(scaled, r=1.0)
        counts = np.array([len(n) for n in neighbours])
        rows = np.repeat(np.arange(len(points)), counts)
        cols = np.concatenate(neighbours).astype(int) if len(rows) else np.empty(0, int)
        u = scaled[rows] - self.values[cols] / self.bandwidths
        kernel = np.prod(np.clip(0.75 * (1.0 - u ** 2), 0.0, None), axis=1)
        total = np.bincount(rows, weights=kernel, minlength=len(points))
        return total / (len(self.values) * np.prod(self.bandwidths))


class DensityDiscriminant:
    """Equal-prior discriminant from one Epanechnikov KDE per class.

    One feature: scikit-learn KernelDensity; several: ProductEpanechnikovKDE on features
    standardised with the training samples' mean and std.
    """

    def fit(self, x, y):
        x = np.asarray(x, dtype=float)
        x = x.reshape(len(x), -1)
        y = np.asarray(y)
        self.n_features = x.shape[1]
        self.mean, self.std = x.mean(axis=0), x.std(axis=0)
        self.kde, self.bandwidths = {}, {}
        for label in (0, 1):
            xs = self._transform(x[y == label])
            if self.n_features == 1:
                h = epanechnikov_bandwidth(xs)
                self.kde[label] = KernelDensity(kernel="epanechnikov", bandwidth=h).fit(xs)
            else:
                self.kde[label] = ProductEpanechnikovKDE().fit(xs)
                h = self.kde[label].bandwidths
            self.bandwidths[label] = np.atleast_1d(h)
        return self

    def _transform(self, x):
        return x if self.n_features == 1 else (x - self.mean) / self.std

    def density(self, x, label) -> np.ndarray:
        x = self._transform(np.asarray(x, dtype=float).reshape(-1, self.n_features))
        if self.n_features == 1:
            return np.exp(self.kde[label].score_samples(x))
        return self.kde[label].density(x)

    def predict(self, x) -> np.ndarray:
        """1 (PE) where the PE density exceeds the NE density, else 0 (ties are NE)."""
        return self.score_and_predict(x)[1]

    def score_and_predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(score, class): the score is log(PE density / NE density), kept finite off the
        kernels' support; the class is 1 (PE) where the PE density exceeds the NE density."""
        pe, ne = self.density(x, 1), self.density(x, 0)
        tiny = np.finfo(float).tiny
        return np.log(pe + tiny) - np.log(ne + tiny), (pe > ne).astype(int)

    def boundaries(self, lo, hi, n=4001) -> np.ndarray:
        """Values of a single feature in [lo, hi] where the predicted class changes."""
        grid = np.linspace(lo, hi, n)
        change = np.flatnonzero(np.diff(self.predict(grid)))
        return (grid[change] + grid[change + 1]) / 2


@dataclass
class FoldResult:
    variant: str
    time_h: float
    fold: int
    tss: float
    counts: dict
    bandwidths: dict
    boundaries_mx: list | None
    # the fold's tiles with their score and class (model/predictions.py rows); not recorded
    predictions: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def record(self) -> dict:
        """The fold's result without its per-tile predictions (for JSON)."""
        return {k: v for k, v in asdict(self).items() if k != "predictions"}


def features(table: pd.DataFrame, variant: str) -> np.ndarray:
    """Feature matrix of a variant; MTOT in units of 1e20 Mx, DM in Mx*Mm."""
    cols = [table[c].to_numpy(float) for c in VARIANTS[variant]]
    cols[0] = cols[0] / MTOT_UNIT_MX
    return np.column_stack(cols)


def evaluate_folds(table: pd.DataFrame, variant: str, boundary_max_mx: float = 4e21,
                   grid_points: int = 4001) -> list[FoldResult]:
    """Fit on each training fold's samples, score TSS on the validation fold's tiles."""
    results = []
    time_h = float(table.time_h.iloc[0])
    for fold in sorted(table.fold.unique()):
        train = table[(table.subset == "sample") & (table.fold != fold)]
        tiles = fold_tiles(table, fold)
        model = DensityDiscriminant().fit(features(train, variant), train.label)
        score, predicted = model.score_and_predict(features(tiles, variant))
        rows = tile_rows(tiles, f"da_{variant}", score, predicted)
        edges = None
        if variant == "mtot":
            edges = (model.boundaries(0.0, boundary_max_mx / MTOT_UNIT_MX, grid_points)
                     * MTOT_UNIT_MX).tolist()
        results.append(FoldResult(variant, time_h, int(fold), tss(tiles.label, predicted),
                                  confusion(tiles.label, predicted),
                                  {str(k): v.tolist() for k, v in model.bandwidths.items()},
                                  edges, rows))
    return results


def mtot_tss_by_fold(table: pd.DataFrame) -> list[float]:
    """TSS of the MTOT discriminant on each validation fold's evaluation tiles."""
    return [r.tss for r in evaluate_folds(table, "mtot")]
