"""Cross-validation: every (time bin, fold) run of one configuration, tracked in MLflow.

Each run trains (or is reused) through ``runs.train_fold`` and gets one nested MLflow run
with its configuration, per-epoch losses, TSS and confusion counts.
"""

from __future__ import annotations

import os
import time
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

LOSSES = ("loss", "val_loss")                  # logged per epoch (step = epoch)
LIVE_LOG_ENV = "PREEMERGENCE_LIVE_LOG_S"       # seconds of training between live uploads
LIVE_LOG_DEFAULT_S = 30.0


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
            name = run_name(config, t, fold)
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


def run_name(config: TrainConfig, time_h: float, fold: int) -> str:
    """An MLflow run's name, what differs first: 't-3.2h fold0 · depth5 · default', with
    ' · |B|' for a network trained on |B|."""
    field = " · |B|" if config.abs_field else ""
    return f"{time_bin_label(time_h)} fold{fold} · depth{config.depth} · {config.name}{field}"


def live_log_interval_s() -> float:
    """Seconds of training between live loss uploads ($PREEMERGENCE_LIVE_LOG_S, default 30;
    0: after every epoch)."""
    return float(os.environ.get(LIVE_LOG_ENV, LIVE_LOG_DEFAULT_S))


def epoch_logger(mlflow):
    """Keras callback sending the loss and val_loss of the epochs that ended to the active
    MLflow run (step = epoch) in one batch at most every live_log_interval_s() of training
    (a call per epoch cost a 24-epoch run 0.7 s); ``logged`` holds the epochs it sent, the
    rest go with the run's results (``_log_fold``)."""
    import keras
    client, run_id = mlflow.MlflowClient(), mlflow.active_run().info.run_id
    interval = live_log_interval_s()

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.logged: set[int] = set()
            self.pending: dict[int, dict] = {}
            self.last = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.pending[int(epoch)] = {k: float(logs[k]) for k in LOSSES if k in logs}
            if time.monotonic() - self.last >= interval:
                with phase("MLflow logging"):
                    client.log_batch(run_id, metrics=metric_entities(self.pending))
                self.logged.update(self.pending)
                self.pending, self.last = {}, time.monotonic()
    return EpochLogger()


def metric_entities(values_by_step: dict[int, dict]) -> list:
    """MLflow Metric entities of {step: {name: value}} (epochs as steps; 0 for a score)."""
    from mlflow.entities import Metric
    now = int(time.time() * 1000)
    return [Metric(name, float(value), now, int(step))
            for step, values in values_by_step.items() for name, value in values.items()]


@timed("MLflow logging")
def _log_fold(mlflow, result: dict, folder: Path, register: bool, source: str,
              logged=frozenset()) -> None:
    """Parameters, the epochs not logged live (a reused or resumed run, or the last ones),
    TSS, counts and tags in one batch; then the network of one run."""
    from mlflow.entities import Param, RunTag
    from preemergence.core import tracking
    from preemergence.model import registry
    params = tracking.flatten({"config": result["config"], "time_h": result["time_h"],
                               "fold": result["fold"], "compute": result.get("compute", {})})
    history = result["history"]
    unlogged = {int(epoch): {k: history[k][step] for k in LOSSES}
                for step, epoch in enumerate(history.get("epoch", []))
                if int(epoch) not in logged}
    scores = {0: {k: result[k] for k in ("tss", "tp", "fn", "fp", "tn")}}
    tags = {"reused_result": str(result.get("reused", False)).lower(),
            "run_key": result["run_key"]}
    mlflow.MlflowClient().log_batch(
        mlflow.active_run().info.run_id,
        metrics=metric_entities(unlogged) + metric_entities(scores),
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in tags.items()])
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
