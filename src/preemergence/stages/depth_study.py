"""The depth-study stage: Table 2, TSS against CNN depth at one time bin, 5-fold CV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

from preemergence.core import hardware
from preemergence.core.artifacts import atomic_write_text, refuse_overwrite_any, write_json
from preemergence.core.paths import DEPTH_STUDY_METRICS, DEPTH_STUDY_PREDICTIONS, TABLE2_MD
from preemergence.core.catalog import stage_outputs
from preemergence.data.segments import read_dataset_info
from preemergence.core.executor import resolve as resolve_executor
from preemergence.model import fanout
from preemergence.model.predictions import runs_table, write_predictions
from preemergence.model.crossval import cross_validate, summarise
from preemergence.model.report import table2_markdown
from preemergence.model.configs import train_config
from preemergence.model.runs import load_time_bins

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_depth_study(params: "Params", regions_dir: Path, segments_dir: Path, models_dir: Path,
                    reports_dir: Path, force: bool = False) -> dict:
    """Table 2: TSS at one time bin for each depth (same schedule), k-fold CV.

    Runs identical to train-cv's (same depth, schedule, data, code) are reused from the run
    store, not retrained.
    """
    from preemergence.core import tracking
    refuse_overwrite_any(stage_outputs("depth-study", reports_dir, models_dir), force,
                         trains=True)
    study = params.depth_study
    source = read_dataset_info(segments_dir)["source"]
    data = load_time_bins(regions_dir, segments_dir, [study.time_h],
                          params.prepare.n_folds)
    table, predictions = {}, []
    hardware.quiet_tensorflow()
    name = tracking.parent_name(f"depths {', '.join(map(str, study.depths))} · "
                                f"{study.config}")
    with tracking.start_run("depth-study", name, source) as mlflow:
        first = train_config(params, study.config)
        hardware.log_hardware(mlflow, first.mixed_precision)
        mlflow.log_params(tracking.flatten({"seed": params.seed, "depth_study": study,
                                            "config": first.as_dict()}))
        handed = fanout.produce_runs(         # every depth's runs at once, when fanned out
            [fanout.train_task(data[study.time_h], fold,
                              train_config(params, study.config, depth=depth))
             for depth in study.depths for fold in range(params.prepare.n_folds)],
            resolve_executor(), "depth-study")
        for depth in study.depths:
            config = train_config(params, study.config, depth=depth)
            results = cross_validate(data, config, models_dir, params.prepare.n_folds,
                                     "depth-study", source, handed_out=handed)
            entry = next(iter(summarise(results).values()))
            predictions.append(runs_table(data, results, f"cnn_depth{depth}",
                                          config.threshold))
            table[f"depth{depth}"] = entry
            mlflow.log_metrics({f"tss_mean_depth{depth}": entry["tss_mean"],
                                f"tss_std_depth{depth}": entry["tss_std"]})
            mlflow.log_metrics({"tss_mean": entry["tss_mean"], "tss_std": entry["tss_std"]},
                               step=depth)          # TSS against depth in the UI's charts
        reports_dir = Path(reports_dir)
        write_json(reports_dir / DEPTH_STUDY_METRICS, table)
        write_predictions(reports_dir / DEPTH_STUDY_PREDICTIONS, predictions)
        atomic_write_text(reports_dir / TABLE2_MD,
                          table2_markdown(table, study.time_h, config, source))
        tracking.log_reports(mlflow, reports_dir, (TABLE2_MD, DEPTH_STUDY_METRICS))
    return table
