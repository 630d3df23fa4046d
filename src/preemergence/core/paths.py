"""File names of everything the pipeline writes and reads (one place for all of them).

Folders are command-line options (their defaults follow dvc.yaml); the names inside them
are fixed here.
"""

from __future__ import annotations

from pathlib import Path

from preemergence.core.constants import time_bin_label

# --- A run folder (models/<stage>/.../fold<k>/) ---------------------------------------------
MODEL_FILE = "model.keras"            # the trained network (with optimizer state)
CHECKPOINT_FILE = "checkpoint.keras"  # after every epoch, until the run finishes
PROGRESS_FILE = "progress.json"       # epochs done and history (resume point)
RESULT_FILE = "result.json"           # written last: the run is finished

# --- Segment sets (data/segments/) ----------------------------------------------------------
STANDARDISATION_FILE = "standardisation.json"   # mean and std (G) per time bin
DATASET_INFO_FILE = "dataset.json"              # data source of the region store


def segment_table_file(time_h: float) -> str:
    """The segment table of one time bin, e.g. segments_t-3.2h.csv."""
    return f"segments_{time_bin_label(time_h)}.csv"


def segment_validation_file(time_h: float) -> str:
    """prepare's validation result of one time bin, e.g. segments_t-3.2h.json."""
    return f"segments_{time_bin_label(time_h)}.json"


# --- Reports (reports/) ----------------------------------------------------------------------
PREPARE_METRICS = "prepare_metrics.json"
BASELINE_METRICS = "baseline_metrics.json"
TRAIN_CV_METRICS = "train_cv_metrics.json"
DEPTH_STUDY_METRICS = "depth_study_metrics.json"
PRUNE_METRICS = "prune_metrics.json"
INTERPRET_METRICS = "interpret_metrics.json"
REALISM_METRICS = "realism_metrics.json"


def report(reports_dir: Path, name: str) -> Path:
    """A file in the reports folder."""
    return Path(reports_dir) / name
