"""Cross-validation: every (time bin, fold) run of one configuration, tracked in MLflow.

Each run trains (or is reused) through ``runs.train_fold`` and gets one nested MLflow run
with its configuration, per-epoch losses, TSS and confusion counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core.constants import time_bin_label
from preemergence.core.plotdata import with_series
from preemergence.core.profiling import phase, timed
from preemergence.core.progress import progress as show_progress
from preemergence.core.executor import resolve as resolve_executor
from preemergence.model import fanout
from preemergence.model.runs import TrainConfig, run_folder, train_fold


def cross_validate(data: dict, config: TrainConfig, models_dir: Path, n_folds: int,
                   run_prefix: str, source: str, progress: bool = True,
                   register: bool = False, handed_out=()) -> list[dict]:
    """Train every (time bin, fold) run (reusing finished ones from the run store, whichever
    stage trained them); a copy of each in models_dir; one MLflow run each, with the
    network as an MLflow model (registered per time bin with ``register``:
    model/registry.py). handed_out: keys of runs a caller already had an executor train
    (model/fanout.py), logged as trained now."""
    from preemergence.core import tracking
    jobs = [(t, fold) for t in data for fold in range(n_folds)]
    executor = resolve_executor()
    handed = set(handed_out) | fanout.produce_runs(
        [fanout.train_task(data[t], fold, config) for t, fold in jobs], executor,
        f"{run_prefix} (depth {config.depth})", progress)
    results = []
    with show_progress(jobs, progress and executor.kind == "inprocess",
                       f"{run_prefix} (depth {config.depth}) · in-process", "run") as bar:
        for t, fold in bar:
            name = f"{time_bin_label(t)} fold{fold} · depth{config.depth} · {config.name}"
            folder = run_folder(models_dir, config, t, fold)
            with tracking.start_run(run_prefix, name, source, nested=True) as mlflow:
                live = epoch_logger(mlflow)          # losses appear as the run trains
                result = train_fold(data[t], fold, config, folder, callbacks=[live])
                # a run an executor was handed was trained now, whatever it found
                result["reused"] = result["reused"] and result["run_key"] not in handed
                mlflow.set_tag("executor", executor.describe())
                results.append(result)
                _log_fold(mlflow, result, folder, register, source, live.logged)
    return results


def epoch_logger(mlflow):
    """Keras callback logging loss and val_loss of every epoch to the active MLflow run as
    it ends (step = epoch); ``logged`` holds the epochs it logged."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.logged: set[int] = set()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            with phase("MLflow logging"):
                mlflow.log_metrics({k: float(logs[k]) for k in ("loss", "val_loss")
                                    if k in logs}, step=int(epoch))
            self.logged.add(int(epoch))
    return EpochLogger()


@timed("MLflow logging")
def _log_fold(mlflow, result: dict, folder: Path, register: bool, source: str,
              logged=frozenset()) -> None:
    """Parameters, the epochs not logged live (a reused or resumed run), TSS, counts and
    the network of one run."""
    from preemergence.core import tracking
    from preemergence.model import registry
    mlflow.log_params(tracking.flatten({"config": result["config"], "time_h": result["time_h"],
                                        "fold": result["fold"],
                                        "compute": result.get("compute", {})}))
    history = result["history"]
    for step, epoch in enumerate(history.get("epoch", [])):
        if int(epoch) not in logged:
            mlflow.log_metrics({"loss": history["loss"][step],
                                "val_loss": history["val_loss"][step]}, step=int(epoch))
    mlflow.log_metrics({k: float(result[k]) for k in ("tss", "tp", "fn", "fp", "tn")})
    mlflow.set_tag("reused_result", str(result.get("reused", False)).lower())
    mlflow.set_tag("run_key", result["run_key"])
    if result.get("reused") and (not register or registry.alias_reused(mlflow, result)):
        return                      # logged when it was trained (and aliased again)
    registry.log_cnn(mlflow, folder, result, register, source)


def summarise(results: list[dict]) -> dict:
    """TSS mean, std (population, over folds) and per fold, per time bin."""
    by_time: dict[str, dict] = {}
    for r in sorted(results, key=lambda r: (-r["time_h"], r["fold"])):
        entry = by_time.setdefault(time_bin_label(r["time_h"]), {})
        entry[f"tss_fold{r['fold']}"] = r["tss"]
    for label, entry in by_time.items():
        values = [v for k, v in entry.items() if k.startswith("tss_fold")]
        entry.update(tss_mean=float(np.mean(values)), tss_std=float(np.std(values)))
    return by_time


def loss_rows(results: list[dict]) -> pd.DataFrame:
    """Per-epoch losses of every run (for DVC plots and the loss figure); DVC's `panels`
    template draws one panel per time bin, one line per fold."""
    rows = [{"time_h": r["time_h"], "fold": r["fold"], "epoch": e + 1,
             "loss": r["history"]["loss"][i], "val_loss": r["history"]["val_loss"][i]}
            for r in results for i, e in enumerate(r["history"].get("epoch", []))]
    table = pd.DataFrame(rows, columns=["time_h", "fold", "epoch", "loss", "val_loss"])
    return with_series(table, [f"fold{f}" for f in table["fold"]],
                       [time_bin_label(t) for t in table["time_h"]])


def log_datasets(mlflow, data: dict, segments_dir: Path) -> None:
    """Log each time bin's segment table as an MLflow dataset of the active run, its digest
    the run keys' data key (table, region maps and standardisation constants)."""
    from preemergence.core.paths import segment_table_file
    for t, bin_data in data.items():
        source = str(Path(segments_dir).resolve() / segment_table_file(t))
        dataset = mlflow.data.from_pandas(bin_data.table, source=source,
                                          name=f"segments {time_bin_label(t)}",
                                          digest=bin_data.data_key, targets="label")
        mlflow.log_input(dataset, context="training")
