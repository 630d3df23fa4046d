"""The leakage guard: CNNs trained on labels drawn at random per region must have no skill on
the random labels of regions they never saw.

Every region gets a random label, PE or NE (``region_labels``, seeded; half of each fold's
regions PE), and every window and tile of the region carries it, in training and in evaluation alike.
The labels are independent of the maps, so no network scores above 0 in expectation on the
regions of a fold it did not train on, whatever it detects (a network is a strong-feature
detector whether or not its labels mean anything; since PE tiles hold more flux, scoring it
against the *true* tile labels, as the guard's first design did, gave one network a TSS far
from 0 either way: 8, 70, 0, 11 and 0 % over five folds with seed 7, a 99 % interval of
-23 to 46 % on the mean, with no power). A leak (an evaluation region's windows or tiles
reaching training: a region in two folds, the tiles among the training samples) lets the
network learn those regions' labels, and the TSS rises.

The guard trains one CNN per fold with a schedule that can learn a leak as train-cv's own
network could (``stats.leakage_guard.config``; the 3-epoch ``fast`` schedule learns nothing
from random labels, leak or not: docs/statistics.md), pools the out-of-fold predictions
of all folds and gives the pooled TSS a region-bootstrap interval, as every TSS of the stats
stage. It fails when the interval at ``stats.leakage_guard.confidence`` excludes 0.
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
from preemergence.stats.resampling import Interval, tss_interval

if TYPE_CHECKING:
    from preemergence.core.schema import Stats

METHOD = "cnn_random_region_labels"
LEAKED_FOLD = -1            # a planted leak's rows: training samples of every fold


class LeakageGuardFailed(RuntimeError):
    """The CNNs trained on random region labels scored a TSS whose interval excludes 0."""


def region_labels(data: TimeBinData, seed: int, within_kind: bool = False) -> TimeBinData:
    """The time bin's data with one random label per region on all its training samples and
    evaluation tiles: in each fold, half of the regions (at random; the odd one out PE or NE
    at random) PE, the others NE, so that every fold can be scored.

    within_kind: draw the halves among each fold's EARs and among its CRs apart, so that the
    random labels carry no information about the true class at all (the negative control
    of interpret-validate: otherwise, with few regions, a chance excess of EARs among the
    random PE lets a network that detects the planted pattern score on the true labels)."""
    table = data.table.copy()
    rng = np.random.default_rng([seed, 0x1EA4])
    tiles = table[table["subset"] == "tile"].groupby("region_id")
    fold_of = tiles["fold"].first()
    group_of = (fold_of.astype(str) + "/" + tiles["kind"].first()) if within_kind else fold_of
    labels: dict[str, int] = {}
    for _, regions in sorted(group_of.groupby(group_of).groups.items()):
        regions = sorted(regions)
        n_pe = len(regions) // 2 + (int(rng.integers(0, 2)) if len(regions) % 2 else 0)
        drawn = rng.permutation(np.arange(len(regions)) < n_pe)
        labels.update(zip(regions, drawn.astype(int).tolist()))
    table["label"] = table["region_id"].map(labels).astype(int)
    within = ", drawn within each kind" if within_kind else ""   # runs keyed apart
    return derived_data(data, table, f"a random label per region{within}, seed {seed}")


def planted_leak(data: TimeBinData) -> TimeBinData:
    """A leak, to show that the guard catches one: every evaluation tile (with its label)
    is also a training sample of every fold, its own included."""
    table = data.table
    leaked = table[table["subset"] == "tile"].assign(subset="sample", fold=LEAKED_FOLD)
    return derived_data(data, pd.concat([table, leaked], ignore_index=True),
                        "planted leak: the evaluation tiles among the training samples")


def guard_predictions(data: TimeBinData, config: TrainConfig, n_folds: int,
                      progress: bool = True) -> pd.DataFrame:
    """Out-of-fold predictions of CNNs trained on random region labels (one per fold,
    finished runs reused from the run store), scored against those labels."""
    labelled = region_labels(data, config.seed)
    fanout.produce_runs([fanout.train_task(labelled, fold, config) for fold in range(n_folds)],
                        resolve_executor(), "leakage guard", progress)
    with show_progress(range(n_folds), progress, "leakage guard", "run") as folds:
        results = [train_fold(labelled, fold, config) for fold in folds]
    return runs_table({data.time_h: labelled}, results, METHOD, config.threshold)


def guard_interval(predictions: pd.DataFrame, settings: "Stats", confidence: float,
                   seed: int) -> Interval:
    """Pooled TSS of the guard's predictions with its region-bootstrap interval, the regions
    resampled by random label (as "EAR" and "CR" strata), so that every resample holds
    both classes."""
    by_label = predictions.assign(kind=np.where(predictions["label"] == 1, "EAR", "CR"))
    return tss_interval(by_label, settings.model_copy(update={"confidence": confidence}),
                        seed)


def check_guard(interval: Interval, time_h: float) -> None:
    """Raise LeakageGuardFailed unless the interval contains zero."""
    if not interval.contains(0.0):
        raise LeakageGuardFailed(
            f"leakage guard failed at {time_h} h: CNNs trained on random region labels "
            f"scored a TSS of {100 * interval.estimate:.1f} % on regions they never saw "
            f"(interval {100 * interval.low:.1f} to {100 * interval.high:.1f} %), which "
            "excludes 0; information about the evaluation regions reaches training "
            "(see docs/statistics.md)")


def run_guard(data: TimeBinData, config: TrainConfig, n_folds: int, settings: "Stats",
              seed: int, progress: bool = True) -> tuple[Interval, Interval, pd.DataFrame]:
    """(interval at stats.leakage_guard.confidence, 95 % interval, predictions) of the
    guard; LeakageGuardFailed when the first excludes 0. settings: params.yaml stats."""
    predictions = guard_predictions(data, config, n_folds, progress)
    interval = guard_interval(predictions, settings, settings.leakage_guard.confidence, seed)
    check_guard(interval, data.time_h)
    return interval, guard_interval(predictions, settings, 0.95, seed), predictions
