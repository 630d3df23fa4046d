"""Small binning statistics for the interpretation figures (paper Figs. 10-12, 24), and the
trends of the pruned filters' contributions (Fig. 12 against MTOT, Fig. 16 against radius).

Bins are equal-width; a value on the upper edge belongs to the last bin. Samples outside
[lo, hi] get bin -1 and are ignored by the statistics. Skill scores live in metrics.py.
"""

from __future__ import annotations

import numpy as np

N_OUTPUT_BINS = 6        # CNN-output bins of width 1/6 (paper Sect. 4.3)
FIG16_MAX_RADIUS_MM = 30.0      # the paper's Fig. 16: filters 1-2 grow "to ~30 Mm"
FIG24_MIN_BIN_COUNT = 30        # MTOT bins with fewer samples are left out of Fig. 24's test
FIG24_PE_RANGE_1E20_MX = (5.0, 20.0)   # the paper's Fig. 24: <y>_PE > 0.5 in 5-20e20 Mx


def bin_edges(lo: float, hi: float, n_bins: int) -> np.ndarray:
    """n_bins + 1 equal-width edges from lo to hi (units of the binned quantity)."""
    return np.linspace(lo, hi, n_bins + 1)


def bin_centres(lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Centres of the n_bins equal-width bins between lo and hi."""
    edges = bin_edges(lo, hi, n_bins)
    return 0.5 * (edges[:-1] + edges[1:])


def equal_width_bins(values, lo: float, hi: float, n_bins: int) -> np.ndarray:
    """Bin index (0 .. n_bins - 1) of each value in [lo, hi]; -1 outside or NaN."""
    values = np.asarray(values, dtype=float)
    inside = (values >= lo) & (values <= hi)            # False for NaN
    scaled = np.where(inside, (values - lo) / (hi - lo) * n_bins, -1.0)
    index = np.minimum(np.floor(scaled), n_bins - 1).astype(np.int64)
    return np.where(inside, index, -1)


def output_bins(outputs, n_bins: int = N_OUTPUT_BINS) -> np.ndarray:
    """CNN-output bin of each sample: bins of width 1/n_bins on [0, 1] (y = 1 in the last)."""
    return equal_width_bins(outputs, 0.0, 1.0, n_bins)


def binned_mean(values, bins, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin: mean, standard error of the mean and count of values (n,) or (n, k).

    bins: bin index per sample (-1 = left out). Returns arrays (n_bins,) or (n_bins, k);
    the mean is NaN in an empty bin, the standard error (sample std / sqrt(count)) NaN in
    a bin with fewer than 2 samples.
    """
    values = np.asarray(values, dtype=float)
    bins = np.asarray(bins)
    onehot = (bins[:, None] == np.arange(n_bins)[None, :]).astype(float)   # (n, n_bins)
    flat = values.reshape(len(values), -1)
    count = onehot.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (onehot.T @ flat) / count[:, None]
        squares = _squared_deviations(onehot, flat, mean)
        sem = np.sqrt(squares / (count[:, None] - 1)) / np.sqrt(count[:, None])
    sem = np.where(count[:, None] >= 2, sem, np.nan)
    shape = (n_bins,) + values.shape[1:]
    return mean.reshape(shape), sem.reshape(shape), count.astype(np.int64)


def mtot_slopes(mtot_mx, contrib, lo: float, hi: float, n_bins: int) -> dict:
    """Fig. 12's numbers: per filter (columns of contrib, (n, k)), the mean contribution and
    its standard error in n_bins equal-width MTOT bins on [lo, hi] (Mx), and the slope of a
    straight line through the bin means (per 1e20 Mx; NaN with fewer than 2 filled bins)."""
    bins = equal_width_bins(mtot_mx, lo, hi, n_bins)
    mean, err, count = binned_mean(contrib, bins, n_bins)
    mean, err = np.asarray(mean).T, np.asarray(err).T        # (k, n_bins)
    centres = bin_centres(lo, hi, n_bins) / 1e20
    slopes = [float(np.polyfit(centres[np.isfinite(m)], m[np.isfinite(m)], 1)[0])
              if np.isfinite(m).sum() >= 2 else float("nan") for m in mean]
    return {"mean": mean, "err": err, "count": np.asarray(count), "slope_per_1e20_mx": slopes}


def slopes_split_by_score(slopes) -> bool:
    """Figs. 12 and 16's criterion: with the filters ordered by net score S_i, the trends
    (slopes against MTOT, correlations with radius) of the first half (PE filters) are all
    positive and those of the second half all negative."""
    return bool(split_margin(slopes) > 0)


def split_margin(slopes) -> float:
    """How far the trends are from failing slopes_split_by_score: the smallest of the first
    half's trends and of the second half's negated (> 0 exactly when the criterion holds;
    NaN where a trend is NaN)."""
    slopes = np.asarray(slopes, dtype=float)
    half = len(slopes) // 2
    return float(np.min(np.concatenate([slopes[:half], -slopes[half:]])))


def radius_correlations(radii_mm, contrib, max_radius_mm: float = FIG16_MAX_RADIUS_MM
                        ) -> list[float]:
    """Fig. 16's numbers: Pearson correlation of each filter's F_i (rows of contrib) with
    the bipole radius over radii <= max_radius_mm (0 for a filter constant there)."""
    radii = np.asarray(radii_mm, dtype=float)
    small = radii <= max_radius_mm
    return [float(np.corrcoef(radii[small], c[small])[0, 1]) if np.std(c[small]) > 0 else 0.0
            for c in np.asarray(contrib, dtype=float)]


def fig24_bins(centres_mx, pe_count, ne_count) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 24's bins (boolean masks over the MTOT bins centred at centres_mx, Mx): those
    holding >= FIG24_MIN_BIN_COUNT NE samples, and those holding as many PE samples centred
    in FIG24_PE_RANGE_1E20_MX."""
    centres = np.asarray(centres_mx, dtype=float) / 1e20
    lo, hi = FIG24_PE_RANGE_1E20_MX
    ne_bins = np.asarray(ne_count) >= FIG24_MIN_BIN_COUNT
    pe_bins = (np.asarray(pe_count) >= FIG24_MIN_BIN_COUNT) & (centres >= lo) & (centres <= hi)
    return ne_bins, pe_bins


def fig24_extremes(pe_mean, ne_mean, ne_bins, pe_bins) -> tuple[float, float]:
    """Fig. 24's numbers: (max <y>_NE over ne_bins, min <y>_PE over pe_bins), bins as from
    fig24_bins; empty bins (NaN means) are passed over, NaN when no bin is left."""
    ne = np.asarray(ne_mean, float)[ne_bins]
    pe = np.asarray(pe_mean, float)[pe_bins]
    ne, pe = ne[np.isfinite(ne)], pe[np.isfinite(pe)]
    return (float(ne.max()) if len(ne) else float("nan"),
            float(pe.min()) if len(pe) else float("nan"))


def _squared_deviations(onehot: np.ndarray, flat: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Sum per bin of (value - bin mean)^2: (n_bins, k)."""
    own_mean = onehot @ np.nan_to_num(mean)               # each sample's bin mean (n, k)
    return onehot.T @ (flat - own_mean) ** 2


def class_fractions(bins, labels, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of the PE (label 1) and of the NE (label 0) samples in each bin
    (each class sums to 1 over the bins, counting only binned samples)."""
    bins, labels = np.asarray(bins), np.asarray(labels).astype(bool)
    counts = [np.bincount(bins[(bins >= 0) & cls], minlength=n_bins)[:n_bins]
              for cls in (labels, ~labels)]
    return tuple(c / max(c.sum(), 1) for c in counts)


def outcome(labels, outputs, threshold: float) -> np.ndarray:
    """Per sample 'TP', 'TN', 'FP' or 'FN' (PE = 1 positive; predicted PE if y >= threshold,
    train.threshold)."""
    truth = np.asarray(labels).astype(bool)
    predicted = np.asarray(outputs, dtype=float) >= threshold
    return np.select([truth & predicted, ~truth & ~predicted, ~truth & predicted],
                     ["TP", "TN", "FP"], "FN")


def example_indices(outputs, mtot_mx, keep, n_bins: int = N_OUTPUT_BINS,
                    n_per_side: int = 3) -> list[np.ndarray]:
    """Per CNN-output bin, sample indices to show (paper Fig. 10): the n_per_side samples
    of lowest MTOT (Mx) then the n_per_side of highest, among samples where keep is True
    (all of them, sorted by MTOT, when a bin holds at most 2 * n_per_side)."""
    bins = np.where(np.asarray(keep, dtype=bool), output_bins(outputs, n_bins), -1)
    mtot = np.asarray(mtot_mx, dtype=float)
    picks = []
    for b in range(n_bins):
        members = np.flatnonzero(bins == b)
        members = members[np.argsort(mtot[members], kind="stable")]
        if len(members) > 2 * n_per_side:
            members = np.concatenate([members[:n_per_side], members[-n_per_side:]])
        picks.append(members)
    return picks
