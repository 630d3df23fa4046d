"""What each pipeline stage reads, writes and logs, read from dvc.yaml (its one home).

dvc.yaml declares every stage's parameters and outputs; the CLI's help, the ``--force``
guard (``stage_outputs``) and the tests' output guard all take them from there, so there is
no second list to keep in step. A stage's files in the reports folder are its dvc.yaml
outputs under ``reports/``; its other outputs are its output folders.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from preemergence.core.paths import REPORTS_DIR

PIPELINE_FILE = Path(__file__).resolve().parents[3] / "dvc.yaml"   # the repository's
OUTPUT_KINDS = ("outs", "metrics", "plots")
# The MLflow experiments a stage logs to.
STAGE_EXPERIMENTS = {"prepare": ("prepare",), "baseline": ("baseline",),
                     "train-cv": ("train-cv",), "depth-study": ("depth-study",),
                     "prune": ("prune",), "interpret": ("interpret",),
                     "interpret-validate": ("interpret-validate",),
                     "stats": ("stats",), "realism": ("realism",)}


@functools.cache
def pipeline(path: Path = PIPELINE_FILE) -> dict:
    """The stages of dvc.yaml: {name: stage mapping}."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: the pipeline file is missing (the package reads "
                                "its stages' parameters and outputs from it)")
    return yaml.safe_load(Path(path).read_text())["stages"]


def _stage(stage: str) -> dict:
    stages = pipeline()
    if stage not in stages:
        raise ValueError(f"{PIPELINE_FILE}: no stage '{stage}'")
    return stages[stage]


def declared_outputs(stage: str) -> list[str]:
    """Every output dvc.yaml declares for a stage (outs, metrics and plots), in order."""
    entries = [entry for kind in OUTPUT_KINDS for entry in _stage(stage).get(kind, [])]
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def stage_params(stage: str) -> tuple[str, ...]:
    """The params.yaml sections (or dotted keys) a stage reads."""
    return tuple(_stage(stage).get("params", []))


def stage_reports(stage: str) -> tuple[str, ...]:
    """A stage's files in the reports folder (relative to it)."""
    prefix = REPORTS_DIR.as_posix() + "/"
    return tuple(o[len(prefix):] for o in declared_outputs(stage) if o.startswith(prefix))


def producing_stage(report: str) -> str | None:
    """The stage that writes a file of the reports folder (its name relative to it)."""
    return next((stage for stage in pipeline() if report in stage_reports(stage)), None)


def stage_folders(stage: str) -> tuple[str, ...]:
    """A stage's output folders at their default places (its outputs outside reports/)."""
    prefix = REPORTS_DIR.as_posix() + "/"
    return tuple(o for o in declared_outputs(stage) if not o.startswith(prefix))


def stage_outputs(stage: str, reports_dir: Path | None, *folders: Path) -> list[Path]:
    """Every output a stage writes: its output folders and its files in reports_dir."""
    names = stage_reports(stage) if reports_dir is not None else ()
    return [Path(f) for f in folders] + [Path(reports_dir) / name for name in names]


def default_outputs(stage: str) -> list[Path]:
    """Everything a stage writes when run with its default folders."""
    return stage_outputs(stage, REPORTS_DIR, *stage_folders(stage))


def stage_help(stage: str) -> str:
    """The CLI epilog of a stage's command: parameters read, files written, MLflow."""
    experiments = STAGE_EXPERIMENTS.get(stage)
    lines = [f"Reads params.yaml: {', '.join(stage_params(stage))}.",
             "Writes (default places; refused if present, unless --force):",
             *(f"  {p}" for p in default_outputs(stage)),
             f"Logs to MLflow experiment(s): {', '.join(experiments)}." if experiments
             else "Logs nothing to MLflow.",
             f"Under DVC: dvc repro {stage} (runs what it depends on first)."]
    return "\b\n" + "\n".join(lines)
