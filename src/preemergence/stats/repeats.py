"""Repeated cross-validation: the same regions split into folds with other seeds.

Repeat 0 is the pipeline's own split (prepare, fold seed = params seed): its predictions
come from train-cv and baseline. Repeat r >= 1 reassigns the regions of every time bin to
folds with seed + r (the same region-level, per-kind KFold as prepare), trains the train-cv
CNN on each new fold (runs keyed by the new split, reused when finished) and refits the
MTOT discriminant. The spread of the pooled TSS across repeats is the variance due to the
split; the bootstrap interval of one repeat measures the sampling variance of the regions.
"""

from __future__ import annotations

import pandas as pd

from preemergence.core.executor import resolve as resolve_executor
from preemergence.core.progress import progress as show_progress
from preemergence.data.segments import region_folds
from preemergence.model import discriminant, fanout
from preemergence.model.predictions import runs_table
from preemergence.model.runs import TimeBinData, TrainConfig, derived_data, train_fold

METHODS = ("cnn", "da_mtot")


def refolded(data: TimeBinData, n_folds: int, seed: int) -> TimeBinData:
    """The time bin's data with its regions split into folds with another seed."""
    table = data.table
    kinds = table.drop_duplicates("region_id").set_index("region_id")["kind"]
    folds = region_folds({kind: kinds.index[kinds == kind].tolist() for kind in ("EAR", "CR")},
                         n_folds, seed)
    return derived_data(data, table.assign(fold=table["region_id"].map(folds).astype(int)),
                        f"regions refolded, seed {seed}")


def repeat_predictions(data: dict, config: TrainConfig, n_folds: int, repeat: int,
                       progress: bool = True) -> pd.DataFrame:
    """Out-of-fold predictions of the CNN and DA MTOT for repeat >= 1, every time bin,
    with a column ``repeat``."""
    frames = []
    jobs = [(t, fold) for t in data for fold in range(n_folds)]
    split = {t: refolded(d, n_folds, config.seed + repeat) for t, d in data.items()}
    fanout.produce_runs([fanout.train_task(split[t], fold, config) for t, fold in jobs],
                        resolve_executor(), f"repeat {repeat}", progress)
    results = []
    with show_progress(jobs, progress, f"repeat {repeat}", "run") as bar:
        for t, fold in bar:
            results.append(train_fold(split[t], fold, config))
    frames.append(runs_table(split, results, "cnn", config.threshold))
    for t, d in split.items():
        frames += [r.predictions for r in discriminant.evaluate_folds(d.table, "mtot")]
    return pd.concat(frames, ignore_index=True).assign(repeat=repeat)
