"""The depth-study stage: Table 2, TSS against CNN depth at one time bin, 5-fold CV."""

from __future__ import annotations

from pathlib import Path

from preemergence.core import hardware
from preemergence.core.artifacts import atomic_write_text, write_json
from preemergence.core.paths import DEPTH_STUDY_METRICS
from preemergence.data.segments import read_dataset_info
from preemergence.model.crossval import cross_validate, summarise
from preemergence.model.report import table2_markdown
from preemergence.model.runs import TrainConfig, load_time_bins


def run_depth_study(params: dict, regions_dir: Path, segments_dir: Path, models_dir: Path,
                    reports_dir: Path, reuse_dir: Path | None = None) -> dict:
    """Table 2: TSS at one time bin for each depth (same schedule), 5-fold CV.

    Runs identical to train-cv's (same depth, schedule, data) are copied from reuse_dir.
    """
    from preemergence.core import tracking
    study = params["depth_study"]
    source = read_dataset_info(segments_dir)["source"]
    data = load_time_bins(regions_dir, segments_dir, [study["time_h"]])
    table = {}
    hardware.quiet_tensorflow()
    with tracking.start_run("depth-study", "depth-study", source) as mlflow:
        first = TrainConfig.from_params(params, study["config"])
        hardware.log_hardware(mlflow, first.mixed_precision)
        for depth in study["depths"]:
            config = TrainConfig.from_params(params, study["config"], depth=depth)
            results = cross_validate(data, config, models_dir, params["prepare"]["n_folds"],
                                     "depth-study", source, reuse_dir=reuse_dir)
            entry = next(iter(summarise(results).values()))
            table[f"depth{depth}"] = entry
            mlflow.log_metrics({f"tss_mean_depth{depth}": entry["tss_mean"],
                                f"tss_std_depth{depth}": entry["tss_std"]})
    reports_dir = Path(reports_dir)
    write_json(reports_dir / DEPTH_STUDY_METRICS, table)
    atomic_write_text(reports_dir / "table2.md",
                      table2_markdown(table, study, config, source))
    return table
