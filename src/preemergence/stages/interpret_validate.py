"""The interpret-validate stage: each interpretation probe on data with a planted answer.

For every planted set (params.yaml interpret_validate.sets; interpret/planted_sets.py) it
trains the interpretation's CNN per region fold, runs the probe that the main report uses
for that set's findings, and says whether the probe found the planted answer (criteria in
interpret_validate.criteria) and whether a network trained on random region labels (the
negative control) did not. The interpret stage reads ``reports/interpret_validation.json``
and reports "probe not validated" for the findings whose probe failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from preemergence.core import hardware
from preemergence.core.artifacts import refuse_overwrite_any, write_json
from preemergence.core.catalog import stage_outputs
from preemergence.core.paths import INTERPRET_VALIDATE_FIGURES, INTERPRET_VALIDATION
from preemergence.interpret.experiments import bipole_radii
from preemergence.interpret.planted_probes import validate_all
from preemergence.interpret.report_metrics import finite_or_none

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_interpret_validate(params: "Params", reports_dir: Path, force: bool = False,
                           progress: bool = True) -> dict:
    """Every planted set through its probe; reports/interpret_validation.json and figures."""
    from preemergence.core import tracking
    reports_dir = Path(reports_dir)
    refuse_overwrite_any(stage_outputs("interpret-validate", reports_dir), force, trains=True)
    hardware.quiet_tensorflow()
    section = params.interpret_validate
    with tracking.start_run("interpret-validate", tracking.parent_name(
            "planted truths"), "planted") as mlflow:
        mlflow.log_params(tracking.flatten({"seed": params.seed, "depth": params.depth,
                                            "interpret_validate": section}))
        results = validate_all(params, bipole_radii(params.interpret),
                               reports_dir / INTERPRET_VALIDATE_FIGURES, progress)
        record = {"time_h": params.interpret.time_h, "depth": params.depth,
                  "config": section.config, "confidence": params.stats.confidence,
                  "sets": results}
        mlflow.log_metrics({f"{name}_{key}": float(value) for name, r in results.items()
                            for key, value in (("passed", r["passed"]),
                                               ("tss", r["tss"]["estimate"]),
                                               ("control_finds_planted",
                                                r["control"]["finds_planted"]))})
        write_json(reports_dir / INTERPRET_VALIDATION, finite_or_none(record))
        tracking.log_reports(mlflow, reports_dir, (INTERPRET_VALIDATION,
                                                   INTERPRET_VALIDATE_FIGURES))
    return record
