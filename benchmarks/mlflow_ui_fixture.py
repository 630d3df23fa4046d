"""A small MLflow store shaped like train-cv's, for benchmarks/mlflow_ui_check.py --fixture.

One experiment "train-cv": a parent run (tss_mean, tss_mean_t-3.2h, tss_mean_t-8.5h; the
stage's params) and, nested in it, one child per (time bin, fold), 2 bins x 3 folds, named as
model/crossval.run_name names them, with the params config.*, time_h, fold and the metrics
tss, tp, fn, fp, tn, loss and val_loss (per epoch). A second experiment "stats" holds one run
(the table then reads "1 matching run"), with per-bin TSS metrics as the stats stage logs them.
Values are made up; no training runs.

Usage:  .venv/bin/python benchmarks/mlflow_ui_fixture.py OUT.db
"""

import sys
import time
from pathlib import Path

BINS = (3.2, 8.5)
FOLDS = 3
CONFIG = {"config.depth": "5", "config.name": "default", "config.epochs": "24",
          "config.learning_rate": "0.001", "config.threshold": "0.5"}


def child_name(time_h: float, fold: int) -> str:
    return f"t-{time_h}h fold{fold} · depth5 · default"


def make_store(db: Path) -> str:
    """Write the store at db (must not exist); returns the train-cv experiment id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from preemergence.core.tracking import TABLE_ROW_TAG, table_row

    db = Path(db).resolve()
    if db.exists():
        raise FileExistsError(db)
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.create_experiment("train-cv", artifact_location=(db.parent / "mlartifacts")
                                   .as_uri())
    now = int(time.time() * 1000)
    parent_name = "workspace · depth5 · default"
    row = table_row(parent_name)                # the tag the default view sorts by
    parent = client.create_run(exp, run_name=parent_name, start_time=now,
                               tags={TABLE_ROW_TAG: row})
    pid = parent.info.run_id
    means = {f"tss_mean_t-{t}h": 0.7 - 0.05 * i for i, t in enumerate(BINS)}
    client.log_batch(pid, metrics=[Metric(k, v, now, 0) for k, v in means.items()]
                     + [Metric("tss_mean", 0.7, now, 0)],
                     params=[Param("seed", "0"), Param("n_folds", str(FOLDS))])
    for i, t in enumerate(BINS):
        for fold in range(FOLDS):
            run = client.create_run(exp, run_name=child_name(t, fold), start_time=now + 1,
                                    tags={"mlflow.parentRunId": pid,
                                          TABLE_ROW_TAG: table_row(child_name(t, fold), row)})
            tss = 0.7 - 0.05 * i + 0.01 * fold
            scores = {"tss": tss, "tp": 40 + fold, "fn": 10, "fp": 8, "tn": 42}
            losses = [Metric(k, 0.7 - 0.02 * e, now, e) for e in range(5)
                      for k in ("loss", "val_loss")]
            client.log_batch(run.info.run_id,
                             metrics=[Metric(k, v, now, 0) for k, v in scores.items()] + losses,
                             params=[Param(k, v) for k, v in CONFIG.items()]
                             + [Param("time_h", str(t)), Param("fold", str(fold))])
            client.set_terminated(run.info.run_id)
    client.set_terminated(pid)
    add_single_run_experiment(client, db, now)
    return exp


def add_single_run_experiment(client, db: Path, now: int) -> None:
    """Experiment "stats" with one run, shaped as the stats stage logs it."""
    from mlflow.entities import Metric
    exp = client.create_experiment("stats", artifact_location=(db.parent / "mlartifacts")
                                   .as_uri())
    run = client.create_run(exp, run_name="workspace · statistics", start_time=now)
    client.log_batch(run.info.run_id, metrics=[
        Metric(f"t-{t}h.cnn.tss", 0.7 - 0.05 * i, now, 0) for i, t in enumerate(BINS)])
    client.set_terminated(run.info.run_id)


if __name__ == "__main__":
    print(make_store(Path(sys.argv[1])))
