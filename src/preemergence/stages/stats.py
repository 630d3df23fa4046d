"""The stats stage: region-bootstrap intervals, paired CNN-vs-DA tests, the leakage guard
and (optionally) repeated cross-validation, from the stages' out-of-fold predictions."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pathlib import Path

import pandas as pd

from preemergence.core import hardware
from preemergence.core.artifacts import (atomic_write_text, refuse_overwrite_any, write_csv,
                                         write_json)
from preemergence.core.paths import (BASELINE_PREDICTIONS, DEPTH_STUDY_PREDICTIONS, INTERPRET_PREDICTIONS, LEAKAGE_PREDICTIONS, PRUNE_PREDICTIONS, STATISTICS_JSON, STATISTICS_MD, STATS_METRICS, STATS_TSS_CSV, STATS_TSS_PNG, TRAIN_CV_PREDICTIONS)
from preemergence.core.catalog import producing_stage, stage_outputs
from preemergence.data.segments import read_dataset_info
from preemergence.model.predictions import read_predictions, write_predictions
from preemergence.model.configs import train_config
from preemergence.model.runs import load_time_bins
from preemergence.stats import analysis, report
from preemergence.stats.leakage import run_guard
from preemergence.stats.repeats import METHODS as REPEATED_METHODS
from preemergence.stats.repeats import repeat_predictions

if TYPE_CHECKING:
    from preemergence.core.schema import Params

PREDICTION_FILES = (TRAIN_CV_PREDICTIONS, BASELINE_PREDICTIONS, DEPTH_STUDY_PREDICTIONS,
                    PRUNE_PREDICTIONS, INTERPRET_PREDICTIONS)


def run_stats(params: "Params", regions_dir: Path, segments_dir: Path, reports_dir: Path,
              force: bool = False, progress: bool = True) -> dict:
    """Statistics of every method and comparison; the leakage guard first (it fails the
    stage, writing nothing, when CNNs trained on random region labels show skill)."""
    from preemergence.core import tracking
    reports_dir = Path(reports_dir)
    refuse_overwrite_any(stage_outputs("stats", reports_dir), force, trains=True)
    settings, seed = params.stats, params.seed
    n_folds = params.prepare.n_folds
    predictions, missing_stages = available_predictions(reports_dir)
    comparisons = present_comparisons(settings.comparisons, predictions, missing_stages)
    summary_methods = [m for m in settings.summary_methods
                       if not missing_stages or m in set(predictions["method"])]
    source = read_dataset_info(segments_dir)["source"]
    guard_t = settings.leakage_guard.time_h
    hardware.quiet_tensorflow()
    guard_config = train_config(params, settings.leakage_guard.config)
    guard_data = load_time_bins(regions_dir, segments_dir, [guard_t], n_folds)[guard_t]
    guard, guard_95, guard_rows = run_guard(guard_data, guard_config, n_folds, settings,
                                            seed, progress)
    tss = analysis.tss_rows(predictions, settings, seed)
    differences = analysis.comparison_rows(predictions, comparisons, settings, seed)
    require_compared(differences, comparisons)
    spread = repeated(params, regions_dir, segments_dir, predictions, tss, progress)
    out = report.details(tss, differences, guard, guard_95, guard_t)
    summary = report.summary(tss, guard, summary_methods)
    with tracking.start_run("stats", tracking.parent_name("statistics"), source) as mlflow:
        mlflow.log_params(tracking.flatten({"seed": seed, "stats": settings}))
        mlflow.log_metrics(tracking.flatten(
            {k: {m: {n: float(x) for n, x in v.items()} for m, v in entry.items()}
             for k, entry in out.items() if k != "leakage_guard"}))
        mlflow.log_metrics({f"leakage_guard.{k}": float(out["leakage_guard"][k])
                            for k in ("tss", "low", "high", "halfwidth_95")})
        write_predictions(reports_dir / LEAKAGE_PREDICTIONS, [guard_rows])
        write_csv(reports_dir / STATS_TSS_CSV, tss)
        report.plot(tss, differences, reports_dir / STATS_TSS_PNG, settings.confidence,
                    f"data: {source}")
        write_json(reports_dir / STATISTICS_JSON, out)
        write_json(reports_dir / STATS_METRICS, summary)
        atomic_write_text(reports_dir / STATISTICS_MD,
                          report.markdown(tss, differences, (guard, guard_95), settings, source,
                                          spread))
        tracking.log_reports(mlflow, reports_dir,
                             (STATISTICS_MD, STATS_TSS_PNG, STATISTICS_JSON, STATS_METRICS))
    return out


def available_predictions(reports_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The out-of-fold predictions of the stages that have run, and the stages whose
    predictions are missing (named on one line on stderr; a ValueError when none ran)."""
    paths = {name: Path(reports_dir) / name for name in PREDICTION_FILES}
    present = [path for path in paths.values() if path.is_file()]
    stages = [producing_stage(name) or name for name, path in paths.items()
              if not path.is_file()]
    if not present:
        raise ValueError(f"{reports_dir}: no out-of-fold predictions; run the stages "
                         f"{', '.join(stages)} first (dvc repro stats runs them all)")
    predictions = read_predictions(present)
    if stages:
        print(f"stats: no predictions of {', '.join(stages)} in {reports_dir} (`dvc repro "
              f"stats` runs the stages it lacks); statistics of the methods present: "
              f"{', '.join(sorted(set(predictions['method'])))}", file=sys.stderr)
    return predictions, stages


def present_comparisons(comparisons, predictions: pd.DataFrame, missing_stages) -> list:
    """stats.comparisons, less those of a method a missing stage would have made."""
    if not missing_stages:
        return list(comparisons)
    methods = set(predictions["method"])
    return [text for text in comparisons
            if set(analysis.parse_comparison(text)) <= methods]


def require_compared(differences: pd.DataFrame, comparisons) -> None:
    """Every requested comparison must have been made at one time bin at least."""
    made = set(zip(differences["first"], differences["second"]))
    for text in comparisons:
        if analysis.parse_comparison(text) not in made:
            raise ValueError(f"params.yaml: stats.comparisons '{text}': no time bin has "
                             "out-of-fold predictions of both methods")


def repeated(params: "Params", regions_dir: Path, segments_dir: Path, predictions: pd.DataFrame,
             tss: pd.DataFrame, progress: bool) -> pd.DataFrame | None:
    """Split variance from stats.repeats cross-validations (None when repeats is 1)."""
    repeats = params.stats.repeats
    if repeats == 1:
        return None
    n_folds = params.prepare.n_folds
    data = load_time_bins(regions_dir, segments_dir, params.time_bins, n_folds)
    config = train_config(params)
    first = predictions[predictions["method"].isin(REPEATED_METHODS)].assign(repeat=0)
    frames = [first] + [repeat_predictions(data, config, n_folds, r, progress)
                        for r in range(1, repeats)]
    rows = analysis.repeat_rows(pd.concat(frames, ignore_index=True))
    return analysis.split_spread(rows, tss, params.stats.confidence)
