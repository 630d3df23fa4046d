"""The train-cv stage: the CNN at every time bin x fold; metrics, plots, Table 3, figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import pandas as pd

from preemergence.core import figures, hardware
from preemergence.core.constants import time_from_label
from preemergence.core.artifacts import (atomic_write_text, refuse_overwrite_any, write_csv,
                                         write_json)
from preemergence.core.paths import (TABLE3_MD, TRAIN_CV_LOSS_CSV, TRAIN_CV_LOSS_PNG, TRAIN_CV_METRICS, TRAIN_CV_PREDICTIONS, TRAIN_CV_TSS_CSV, TSS_VS_TIME_PNG)
from preemergence.core.catalog import stage_outputs
from preemergence.data.segments import read_dataset_info
from preemergence.model.predictions import runs_table, write_predictions
from preemergence.model.crossval import cross_validate, log_datasets, loss_rows, summarise
from preemergence.model.report import baseline_series, plot_losses, table3_markdown, tss_series
from preemergence.model.configs import train_config
from preemergence.model.runs import TrainConfig, load_time_bins

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_train_cv(params: "Params", regions_dir: Path, segments_dir: Path, models_dir: Path,
                 reports_dir: Path, force: bool = False) -> dict:
    """All time bins x folds at the configured depth; metrics, plots, Table 3, figures."""
    from preemergence.core import tracking
    refuse_overwrite_any(stage_outputs("train-cv", reports_dir, models_dir), force, trains=True)
    config = train_config(params)
    source = read_dataset_info(segments_dir)["source"]
    data = load_time_bins(regions_dir, segments_dir, params.time_bins,
                          params.prepare.n_folds)
    reports_dir = Path(reports_dir)
    hardware.quiet_tensorflow()
    name = tracking.parent_name(f"depth{config.depth} · {config.name}")
    with tracking.start_run("train-cv", name, source) as mlflow:
        mlflow.log_params(tracking.flatten({"config": config.as_dict()}))
        hardware.log_hardware(mlflow, config.mixed_precision)
        log_datasets(mlflow, data, segments_dir)
        results = cross_validate(data, config, models_dir, params.prepare.n_folds,
                                 "train-cv", source, register=True)
        summary = summarise(results)
        log_summary(mlflow, summary)
        write_reports(reports_dir, data, results, summary, config, source)
        tracking.log_reports(mlflow, reports_dir, (TABLE3_MD, TSS_VS_TIME_PNG,
                                                   TRAIN_CV_LOSS_PNG, TRAIN_CV_METRICS))
    return summary


def log_summary(mlflow, summary: dict) -> None:
    """The parent's metrics: tss_mean_<bin> and tss_std_<bin> per time bin, and tss_mean /
    tss_std stepped through the bins earliest first (step 0 = the earliest bin), so that the
    UI's chart of tss_mean reads left to right towards emergence, as the reports' figures
    do, and its last value, the one the overview shows, is the latest bin's (-3.2 h)."""
    labels = sorted(summary, key=time_from_label)
    for step, label in enumerate(labels):
        entry = summary[label]
        mlflow.log_metrics({f"tss_mean_{label}": entry["tss_mean"],
                            f"tss_std_{label}": entry["tss_std"]})
        mlflow.log_metrics({"tss_mean": entry["tss_mean"], "tss_std": entry["tss_std"]},
                           step=step)
    mlflow.set_tag("mlflow.note.content", (
        "Cross-validated TSS of the CNN per time bin (mean and std over folds): "
        "tss_mean_<bin>, tss_std_<bin>. "
        "Chart tss_mean: step " + ", ".join(f"{k} = {label[1:-1]} h"
                                           for k, label in enumerate(labels)) + "."))


def write_reports(reports_dir: Path, data: dict, results: list[dict], summary: dict,
                  config: TrainConfig, source: str) -> None:
    """Metrics, plot data, out-of-fold predictions, figures and Table 3."""
    write_json(reports_dir / TRAIN_CV_METRICS,
               {"depth": config.depth, "config": config.name, **summary})
    write_csv(reports_dir / TRAIN_CV_LOSS_CSV, loss_rows(results))
    write_predictions(reports_dir / TRAIN_CV_PREDICTIONS,
                      [runs_table(data, results, "cnn", config.threshold)])
    times, means, stds = tss_series(summary)
    write_csv(reports_dir / TRAIN_CV_TSS_CSV,
              pd.DataFrame({"time_h": times, "tss_mean": means, "tss_std": stds}))
    note = f"data: {source}; config: {config.name}"
    plot_losses(results, reports_dir / TRAIN_CV_LOSS_PNG, note)
    series = {f"CNN depth {config.depth} (ours)": (times, means, stds),
              **baseline_series(reports_dir)}
    figures.plot_tss_vs_time(series, reports_dir / TSS_VS_TIME_PNG,
                             "CNN and discriminant analysis: TSS against time", note)
    atomic_write_text(reports_dir / TABLE3_MD, table3_markdown(summary, config, source))
