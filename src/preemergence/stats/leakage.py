"""The leakage guard: CNNs trained on permuted labels must have no skill on average.

The labels of all training samples of one time bin are permuted at random (one permutation,
seeded; so in every fold the training and validation labels are unrelated to the maps),
while the evaluation tiles keep their true labels. The CNN is trained with a cheap schedule
on each fold exactly as train-cv trains it and scored on the held-out tiles.

Such a network is not a coin flip. Its output, sigmoid(sum_i w_i max(O_i) + b), is a global
maximum of (untrained, random) filter responses: a detector of the strongest magnetic
feature in the window, with a random sign and a threshold crossing that depends on the
initialisation. Since PE tiles hold more flux, one such network can score far from zero
(measured with seed 7: fold TSS 8, 70, 0, 11 and 0 %), in either direction; the sign is
symmetric over initialisations, so the mean over networks is zero. A region bootstrap
holds the network fixed and cannot see that spread; the guard therefore treats the five
folds' networks (independent initialisations) as five draws and passes when the
one-sample t-interval of their TSS (``stats.leakage_guard.confidence``) contains zero. A
leak (information about the evaluation tiles reaching training by another path) raises
the TSS of every fold together and fails it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from preemergence.core.progress import progress as show_progress
from preemergence.core.executor import resolve as resolve_executor
from preemergence.model import fanout
from preemergence.model.predictions import runs_table
from preemergence.model.runs import TimeBinData, TrainConfig, derived_data, train_fold
from preemergence.stats.resampling import Interval

if TYPE_CHECKING:
    from preemergence.core.schema import LeakageGuard

METHOD = "cnn_permuted_labels"


class LeakageGuardFailed(RuntimeError):
    """The CNN trained on permuted labels scored a TSS whose interval excludes zero."""


def permuted_labels(data: TimeBinData, seed: int) -> TimeBinData:
    """The time bin's data with the labels of its training samples permuted (tiles kept)."""
    table = data.table.copy()
    samples = (table["subset"] == "sample").to_numpy()
    rng = np.random.default_rng([seed, 0x1EA4])
    table.loc[samples, "label"] = rng.permutation(table.loc[samples, "label"].to_numpy())
    return derived_data(data, table, f"training labels permuted, seed {seed}")


def guard_predictions(data: TimeBinData, config: TrainConfig, n_folds: int,
                      progress: bool = True) -> pd.DataFrame:
    """Out-of-fold predictions of CNNs trained on permuted labels (one per fold; finished
    runs are reused from the run store)."""
    permuted = permuted_labels(data, config.seed)
    fanout.produce_runs([fanout.train_task(permuted, fold, config) for fold in range(n_folds)],
                        resolve_executor(), "leakage guard", progress)
    with show_progress(range(n_folds), progress, "leakage guard", "run") as folds:
        results = [train_fold(permuted, fold, config) for fold in folds]
    return runs_table({data.time_h: permuted}, results, METHOD, config.threshold)


def check_guard(interval: Interval, time_h: float) -> None:
    """Raise LeakageGuardFailed unless the interval contains zero."""
    if not interval.contains(0.0):
        raise LeakageGuardFailed(
            f"leakage guard failed at {time_h} h: CNNs trained on permuted labels scored "
            f"a mean fold TSS of {100 * interval.estimate:.1f} % (interval "
            f"{100 * interval.low:.1f} to {100 * interval.high:.1f} %), which excludes 0; "
            "information about the evaluation tiles reaches training "
            "(see docs/statistics.md)")


def fold_interval(fold_tss, confidence: float) -> Interval:
    """Mean of the folds' TSS with its one-sample t-interval (scipy.stats.ttest_1samp)."""
    from scipy import stats as scipy_stats
    values = np.asarray(fold_tss, float)
    if np.ptp(values) == 0:                   # all equal (e.g. all 0): no spread to test
        return Interval(float(values[0]), float(values[0]), float(values[0]))
    ci = scipy_stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return Interval(float(values.mean()), float(ci.low), float(ci.high))


def run_guard(data: TimeBinData, config: TrainConfig, n_folds: int, settings: "LeakageGuard",
              progress: bool = True) -> tuple[Interval, pd.DataFrame]:
    """Predictions and mean-fold-TSS interval of the guard; LeakageGuardFailed when it
    fails. settings: params.yaml stats.leakage_guard."""
    from preemergence.stats.resampling import fold_tss
    predictions = guard_predictions(data, config, n_folds, progress)
    interval = fold_interval(fold_tss(predictions), settings.confidence)
    check_guard(interval, data.time_h)
    return interval, predictions
