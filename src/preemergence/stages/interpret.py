"""The interpret stage: the paper's interpretation experiments at one time bin.

It probes the cross-validated CNNs of train-cv, the pruned networks of the prune stage and
the depth-study networks, trains what the paper adds (CNNs of depth 6-8 for Fig. 17, |B|
CNNs for Table 5), and writes figures, metrics, plots and ``reports/interpretation.md``.
Each paper finding is checked against our numbers with a stated criterion, and the report
says plainly when it is not reproduced (interpret.experiments, interpret.report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import pandas as pd

from preemergence.core import hardware
from preemergence.core.artifacts import (atomic_write_text, read_json,
                                         refuse_overwrite_any, write_csv, write_json)
from preemergence.core.constants import time_bin_label
from preemergence.core.paths import (INTERPRET_BIPOLES_CSV, INTERPRET_FIGURES,
                                     INTERPRET_METRICS, INTERPRET_OCCLUSION_CSV,
                                     INTERPRET_PREDICTIONS, INTERPRET_VALIDATION,
                                     INTERPRETATION_MD, TRAIN_CV_PREDICTIONS)
from preemergence.core.catalog import stage_outputs
from preemergence.data.segments import read_dataset_info
from preemergence.interpret.experiments import (Context, composites, depth_sweep, occlusion,
                                                output_statistics, pruned_network,
                                                uniform_polarity)
from preemergence.interpret.validation_report import apply_validation, planted_sections
from preemergence.interpret import intervals
from preemergence.model.predictions import read_predictions, write_predictions
from preemergence.interpret.report import findings
from preemergence.interpret.report_tables import report_markdown
from preemergence.interpret.report_metrics import (bipole_rows, comparable_train_cv,
                                                   finite_or_none, flat_numbers,
                                                   summary_metrics)
from preemergence.model.runs import load_time_bins

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_interpret(params: "Params", regions_dir: Path, segments_dir: Path, models: dict,
                  reports_dir: Path, force: bool = False) -> dict:
    """Every experiment; metrics (JSON), plots (CSV), figures and the report.

    models: folders of the networks probed ("train_cv", "prune") and of those this stage
    trains ("own")."""
    from preemergence.core import tracking
    refuse_overwrite_any(stage_outputs("interpret", reports_dir, models["own"]), force,
                         trains=True)
    section = params.interpret
    t = section.time_h
    source = read_dataset_info(segments_dir)["source"]
    data = load_time_bins(regions_dir, segments_dir, [t], params.prepare.n_folds)[t]
    samples = data.table[data.table.subset == "sample"].reset_index(drop=True)
    reports_dir = Path(reports_dir)
    ctx = Context(params, section, data, samples, models,
                  reports_dir / INTERPRET_FIGURES, source)
    hardware.quiet_tensorflow()
    name = tracking.parent_name(f"{time_bin_label(t)} · depth{params.depth}")
    with tracking.start_run("interpret", name, source) as mlflow:
        mlflow.log_params(tracking.flatten({"seed": params.seed, "depth": params.depth,
                                            "interpret": section}))
        metrics = {"time_h": t, "data_source": source, "depth": params.depth,
                   "hale_leading_sign_north":
                       params.simulate.emergence.hale_leading_sign_north,
                   "composites": composites(ctx, regions_dir)}
        metrics["outputs"], _ = output_statistics(ctx)
        metrics["pruned"] = pruned_network(ctx)
        metrics["depth_sweep"] = depth_sweep(ctx)
        metrics["occlusion"] = occlusion(ctx)
        metrics["table5"], abs_field_predictions = uniform_polarity(ctx, regions_dir,
                                                                    segments_dir)
        signed = comparable_train_cv(params, reports_dir)
        if signed:
            metrics["table5_paired"] = intervals.abs_minus_signed(
                abs_field_predictions, read_predictions([reports_dir / TRAIN_CV_PREDICTIONS]),
                params.stats, params.seed)
        validation = read_json(reports_dir / INTERPRET_VALIDATION)
        checks = apply_validation(findings(metrics, signed),
                                  validation, {"time_h": t, "depth": params.depth,
                                               "config": params.interpret_validate.config})
        mlflow.log_metrics(flat_numbers(metrics))
        mlflow.log_metrics({f"reproduced_{c['id']}": float(c["reproduced"]) for c in checks})
        write_json(reports_dir / INTERPRET_METRICS,
                   finite_or_none(summary_metrics(metrics, checks)))
        write_csv(reports_dir / INTERPRET_BIPOLES_CSV, bipole_rows(metrics))
        write_csv(reports_dir / INTERPRET_OCCLUSION_CSV,
                  pd.DataFrame(metrics["occlusion"]["regions"]))
        write_predictions(reports_dir / INTERPRET_PREDICTIONS, [abs_field_predictions])
        atomic_write_text(reports_dir / INTERPRETATION_MD,
                          report_markdown(metrics, checks, params,
                                          planted_sections(validation)))
        tracking.log_reports(mlflow, reports_dir, (INTERPRETATION_MD, INTERPRET_METRICS,
                                                   INTERPRET_OCCLUSION_CSV,
                                                   INTERPRET_FIGURES))
    return metrics
