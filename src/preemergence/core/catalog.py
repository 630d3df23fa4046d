"""What each pipeline stage reads, writes and logs: the source of the CLI's help.

dvc.yaml declares the same parameters and outputs; tests/test_architecture.py checks that
the two agree.
"""

from __future__ import annotations

from pathlib import Path

from preemergence.core.paths import stage_outputs

# params.yaml sections (or keys) a stage reads.
STAGE_PARAMS = {
    "simulate": ("seed", "time_bins", "simulate"),
    "prepare": ("seed", "time_bins", "data", "prepare"),
    "baseline": ("time_bins", "baseline"),
    "train-cv": ("seed", "depth", "time_bins", "train", "prepare.n_folds"),
    "depth-study": ("seed", "depth_study", "train", "prepare.n_folds"),
    "prune": ("seed", "depth", "train", "prune", "prepare.n_folds"),
    "interpret": ("seed", "depth", "time_bins", "train", "prune", "interpret",
                  "simulate.emergence.hale_leading_sign_north", "prepare.n_folds"),
    "stats": ("seed", "time_bins", "train", "prepare.n_folds", "stats"),
    "realism": ("time_bins", "realism"),
}
# The output folders of the stages at their default locations (as in dvc.yaml).
STAGE_FOLDERS = {"simulate": ("data/regions",), "prepare": ("data/segments",),
                 "train-cv": ("models/train_cv",), "depth-study": ("models/depth_study",),
                 "prune": ("models/prune",), "interpret": ("models/interpret",)}
# The MLflow experiments a stage logs to.
STAGE_EXPERIMENTS = {"prepare": ("prepare",), "baseline": ("baseline",),
                     "train-cv": ("train-cv",), "depth-study": ("depth-study",),
                     "prune": ("prune",), "interpret": ("interpret",),
                     "stats": ("stats",), "realism": ("realism",)}


def default_outputs(stage: str) -> list[Path]:
    """Everything a stage writes when run with its default folders."""
    reports = None if stage == "simulate" else Path("reports")
    return stage_outputs(stage, reports, *STAGE_FOLDERS.get(stage, ()))


def stage_help(stage: str) -> str:
    """The CLI epilog of a stage's command: parameters read, files written, MLflow."""
    experiments = STAGE_EXPERIMENTS.get(stage)
    lines = [f"Reads params.yaml: {', '.join(STAGE_PARAMS[stage])}.",
             "Writes (default places; refused if present, unless --force):",
             *(f"  {p}" for p in default_outputs(stage)),
             f"Logs to MLflow experiment(s): {', '.join(experiments)}." if experiments
             else "Logs nothing to MLflow.",
             f"Under DVC: dvc repro {stage} (runs what it depends on first)."]
    return "\b\n" + "\n".join(lines)
