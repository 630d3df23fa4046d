"""File names of everything the pipeline writes and reads (one place for all of them).

The default folders (what the CLI's options default to and dvc.yaml's commands pass) and
the names inside them are fixed here; which of them each stage writes is read from dvc.yaml
(core.catalog).
"""

from __future__ import annotations

import os
from pathlib import Path

from preemergence.core.constants import time_bin_label

# --- Default folders (relative to the repository root; dvc.yaml passes the same) -------------
REGIONS_DIR = Path("data/regions")          # the region store (simulated or real)
SEGMENTS_DIR = Path("data/segments")        # prepare's segment sets
REPORTS_DIR = Path("reports")
HMI_QUIET_DIR = Path("data/hmi_quiet")      # real quiet-Sun reference patches
STAGE_MODELS_DIRS = {"train-cv": Path("models/train_cv"), "depth-study": Path("models/depth_study"),
                     "prune": Path("models/prune"), "interpret": Path("models/interpret")}

# --- The run store and a run folder -----------------------------------------------------------
RUN_STORE_ENV = "PREEMERGENCE_RUN_STORE"
RUN_STORE_DEFAULT = Path("models") / "runs"    # under the repository root
QUEUE_MARKER = os.sep + os.path.join(".dvc", "tmp", "exps") + os.sep


def repo_root(start: Path | None = None) -> Path:
    """The repository root; for a DVC queue's temporary workspace, the original repository."""
    if start is None and os.environ.get("DVC_ROOT"):
        start = Path(os.environ["DVC_ROOT"])      # set by DVC for (queued) experiments
    here = Path(start or Path.cwd()).resolve()
    text = str(here) + os.sep
    if QUEUE_MARKER in text:
        return Path(text.split(QUEUE_MARKER)[0])
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists() or (candidate / ".git").exists():
            return candidate
    return here


def run_store() -> Path:
    """Where every training run lives, one folder per run key (content-addressed):
    $PREEMERGENCE_RUN_STORE, else models/runs/ under the repository root. Runs there are
    never deleted by the pipeline; the stages' model folders hold copies of the current
    parameters' runs."""
    configured = os.environ.get(RUN_STORE_ENV)
    return Path(configured) if configured else repo_root() / RUN_STORE_DEFAULT


# --- A run (in the store, and its copy in models/<stage>/.../fold<k>/) -------------------------
MODEL_FILE = "model.keras"            # the trained network (with optimizer state)
CHECKPOINT_FILE = "checkpoint.keras"  # after every epoch, until the run finishes
PROGRESS_FILE = "progress.json"       # epochs done and history (resume point)
RESULT_FILE = "result.json"           # written last: the run is finished

# --- Segment sets (data/segments/) ----------------------------------------------------------
STANDARDISATION_FILE = "standardisation.json"   # mean and std (G) per time bin
DATASET_INFO_FILE = "dataset.json"              # data source of the region store
FOLDS_FILE = "folds.csv"                        # region -> fold


def segment_table_file(time_h: float) -> str:
    """The segment table of one time bin, e.g. segments_t-3.2h.csv."""
    return f"segments_{time_bin_label(time_h)}.csv"


def segment_validation_file(time_h: float) -> str:
    """prepare's validation result of one time bin, e.g. segments_t-3.2h.json."""
    return f"segments_{time_bin_label(time_h)}.json"


# --- Reports (reports/) ----------------------------------------------------------------------
REGIONS_MD, REGIONS_CHECKS = "regions.md", "regions_checks.json"
REGIONS_FLUX_PNG, REGIONS_FLUX_CSV = "figures/regions_flux.png", "regions_flux.csv"
VALIDATION_DIR = "validation"
VALIDATION_SUMMARY = "summary.json"
VALIDATION_FAILED = "validation_failed"   # prepare's results when validation fails (no output)
TABLE1_MD, TABLE1_CSV = "table1.md", "table1.csv"
PREPARE_METRICS = "prepare_metrics.json"
BASELINE_MD, BASELINE_FOLDS = "baseline.md", "baseline_folds.json"
BASELINE_DENSITY_PNG = "figures/baseline_mtot_density.png"
BASELINE_TSS_PNG = "figures/baseline_tss_vs_time.png"
BASELINE_METRICS, BASELINE_TSS_CSV = "baseline_metrics.json", "plots/baseline_tss.csv"
TABLE3_MD = "table3.md"
TRAIN_CV_LOSS_PNG, TSS_VS_TIME_PNG = "figures/train_cv_loss.png", "figures/tss_vs_time.png"
TRAIN_CV_METRICS = "train_cv_metrics.json"
TRAIN_CV_TSS_CSV, TRAIN_CV_LOSS_CSV = "plots/train_cv_tss.csv", "plots/train_cv_loss.csv"
TABLE2_MD, DEPTH_STUDY_METRICS = "table2.md", "depth_study_metrics.json"
PRUNE_MD, PRUNE_LOSS_PNG = "prune.md", "figures/prune_loss.png"
PRUNE_METRICS, PRUNE_LOSS_CSV = "prune_metrics.json", "plots/prune_loss.csv"
INTERPRETATION_MD, INTERPRET_FIGURES = "interpretation.md", "figures/interpret"
INTERPRET_METRICS, INTERPRET_BIPOLES_CSV = "interpret_metrics.json", "plots/interpret_bipoles.csv"
INTERPRET_OCCLUSION_CSV = "interpret_occlusion_regions.csv"   # Table 4, every region probed
INTERPRET_VALIDATION, INTERPRET_VALIDATE_FIGURES = ("interpret_validation.json",
                                                  "figures/interpret_validate")
REALISM_MD, REALISM_PNG = "simulator_realism.md", "figures/simulator_realism.png"
REALISM_METRICS = "realism_metrics.json"
STATISTICS_MD, STATS_METRICS = "statistics.md", "stats_metrics.json"
STATISTICS_JSON = "statistics.json"
STATS_TSS_PNG, STATS_TSS_CSV = "figures/stats_tss_vs_time.png", "statistics_tss.csv"
RESULTS_MD = "results.md"                 # the headline block (stages/results.py)


def predictions_file(name: str) -> str:
    """The out-of-fold predictions of every evaluation tile (model/predictions.py) that one
    stage (or the leakage guard) writes, e.g. predictions/train_cv.csv."""
    return f"predictions/{name}.csv"


(BASELINE_PREDICTIONS, TRAIN_CV_PREDICTIONS, DEPTH_STUDY_PREDICTIONS, PRUNE_PREDICTIONS,
 INTERPRET_PREDICTIONS, LEAKAGE_PREDICTIONS) = map(predictions_file, (
     "baseline", "train_cv", "depth_study", "prune", "interpret", "leakage_guard"))
