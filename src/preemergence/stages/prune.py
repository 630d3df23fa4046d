"""The prune stage: the last convolution pruned 256 -> 4 (paper App. C) with the random and
N = 4 controls, every variant x time bin x fold; metrics, Fig. 21, prune.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses
from pathlib import Path

from preemergence.core import hardware
from preemergence.core.artifacts import refuse_overwrite_any
from preemergence.core.paths import PRUNE_LOSS_PNG, PRUNE_MD, PRUNE_METRICS, PRUNE_PREDICTIONS
from preemergence.core.catalog import stage_outputs
from preemergence.core.progress import progress as show_progress
from preemergence.data.segments import read_dataset_info
from preemergence.core.executor import resolve as resolve_executor
from preemergence.model import fanout
from preemergence.model.predictions import write_predictions
from preemergence.model.prune_report import (log_prune_run, prediction_rows, summarise_variants,
                                            write_reports)
from preemergence.model.configs import prune_schedule, prune_train_config
from preemergence.model.prune_runs import VARIANTS, prune_fold, prune_key, variant_folder
from preemergence.model.runs import load_time_bins

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_prune(params: "Params", regions_dir: Path, segments_dir: Path, models_dir: Path,
              reports_dir: Path, force: bool = False) -> dict:
    """Every variant x time bin x fold; metrics, loss plot (Fig. 21), report."""
    from preemergence.core import tracking
    refuse_overwrite_any(stage_outputs("prune", reports_dir, models_dir), force, trains=True)
    config, schedule = prune_train_config(params), prune_schedule(params)
    source = read_dataset_info(segments_dir)["source"]
    data = load_time_bins(regions_dir, segments_dir, params.prune.time_bins,
                          params.prepare.n_folds)
    n_folds = params.prepare.n_folds
    jobs = [(v, t, k) for v in VARIANTS for t in data for k in range(n_folds)]
    results = []
    hardware.quiet_tensorflow()
    name = tracking.parent_name(f"depth{config.depth} · {schedule.name}")
    with tracking.start_run("prune", name, source) as mlflow:
        mlflow.log_params(tracking.flatten({"config": config.as_dict(),
                                            "schedule": dataclasses.asdict(schedule)}))
        hardware.log_hardware(mlflow, config.mixed_precision)
        executor = resolve_executor()
        handed = fanout.produce_runs(
            [fanout.RunTask(fanout.PRUNE_FOLD, data[t],
                            {"variant": variant, "fold": fold, "config": config,
                             "schedule": schedule, "folder": None},
                            prune_key(variant, config, schedule, data[t].data_key, t, fold))
             for variant, t, fold in jobs], executor, "prune")
        with show_progress(jobs, executor.kind == "inprocess", "prune · in-process", "run") as bar:
            for variant, t, fold in bar:
                folder = variant_folder(models_dir, variant, config, t, fold)
                result = prune_fold(variant, data[t], fold, config, schedule, folder)
                # a run an executor was handed was trained now, whatever it found
                result["reused"] = result["reused"] and result["run_key"] not in handed
                results.append(result)
                log_prune_run(result, folder, source, executor.describe())
        metrics = summarise_variants(results)
        for variant, by_time in metrics.items():
            for label, entry in by_time.items():
                mlflow.log_metrics({f"tss_mean_{variant}_{label}": entry["tss_mean"],
                                    f"tss_std_{variant}_{label}": entry["tss_std"]})
        write_reports(results, metrics, config, schedule, source, Path(reports_dir))
        write_predictions(Path(reports_dir) / PRUNE_PREDICTIONS,
                          [prediction_rows(data, results, config.threshold)])
        tracking.log_reports(mlflow, reports_dir, (PRUNE_MD, PRUNE_LOSS_PNG, PRUNE_METRICS))
    return metrics
