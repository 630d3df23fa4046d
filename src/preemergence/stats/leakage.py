"""The leakage guard: a CNN trained on permuted labels must have no skill.

The labels of all training samples of one time bin are permuted at random (one permutation,
seeded; so in every fold the training and validation labels are unrelated to the maps),
while the evaluation tiles keep their true labels. The CNN is trained with a cheap schedule
on each fold exactly as train-cv trains it and scored on the held-out tiles. Nothing it
could learn from such labels carries over to the tiles, so its pooled TSS must be zero up
to sampling noise: the guard passes when the region-bootstrap interval contains zero. An
interval above zero means information about the evaluation tiles reaches training by some
other path (shared regions between folds, statistics computed on all data, a bug in the
tile labels) and the stage fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from preemergence.core.progress import progress as show_progress
from preemergence.model.predictions import runs_table
from preemergence.model.runs import TimeBinData, TrainConfig, derived_data, train_fold
from preemergence.stats.resampling import Interval, tss_interval

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
    with show_progress(range(n_folds), progress, "leakage guard", "run") as folds:
        results = [train_fold(permuted, fold, config) for fold in folds]
    return runs_table({data.time_h: permuted}, results, METHOD, config.threshold)


def check_guard(interval: Interval, time_h: float) -> None:
    """Raise LeakageGuardFailed unless the interval contains zero."""
    if not interval.contains(0.0):
        raise LeakageGuardFailed(
            f"leakage guard failed at {time_h} h: a CNN trained on permuted labels scored "
            f"TSS {100 * interval.estimate:.1f} % (interval {100 * interval.low:.1f} to "
            f"{100 * interval.high:.1f} %), which excludes 0; information about the "
            "evaluation tiles reaches training (see docs/statistics.md)")


def run_guard(data: TimeBinData, config: TrainConfig, n_folds: int, settings: dict,
              seed: int, progress: bool = True) -> tuple[Interval, pd.DataFrame]:
    """Predictions and TSS interval of the guard; LeakageGuardFailed when it fails."""
    predictions = guard_predictions(data, config, n_folds, progress)
    interval = tss_interval(predictions, settings, seed)
    check_guard(interval, data.time_h)
    return interval, predictions
