"""MLflow tracking: one local SQLite store, telemetry off, runs tagged with git commit and DVC exp.

The store is ``mlflow.db`` at the repository root (an absolute path), unless
MLFLOW_TRACKING_URI is set, with artifacts in ``mlartifacts/`` beside the SQLite file (the
test suite logs to a temporary store of its own this way); a copied or moved
repository's store is pointed at its own ``mlartifacts/`` before use (``relocate_store``).
Runs of ``dvc exp run --queue`` execute in a temporary copy under ``.dvc/tmp/exps/``; they
resolve to the original repository's store, so every run lands in one place. Open the UI with
``preemergence mlflow-ui`` (model-training view by default).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

from preemergence.core.constants import sortable_time_label, time_from_label
from preemergence.core.paths import repo_root
from preemergence.core.profiling import phase, timed

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"   # MLflow 3.17 UI: model-training view


def _quiet_environment() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else sqlite:///<absolute repo root>/mlflow.db."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


ARTIFACTS_DIR = "mlartifacts"


def artifacts_folder() -> Path:
    """Where new experiments keep their artifacts: mlartifacts/ beside the SQLite file that
    MLFLOW_TRACKING_URI names, else the repository's (never a temporary DVC workspace)."""
    chosen = os.environ.get("MLFLOW_TRACKING_URI", "")
    if chosen.startswith("sqlite:///"):
        return Path(chosen.removeprefix("sqlite:///")).resolve().parent / ARTIFACTS_DIR
    return repo_root() / ARTIFACTS_DIR


# Columns of the MLflow store that hold artifact locations (MLflow 3 schema).
LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                    ("logged_models", "artifact_location"), ("model_versions", "source"),
                    ("model_versions", "storage_location"))


def relocate_store(root: Path) -> list[str]:
    """Point the artifact locations of <root>/mlflow.db at this folder.

    MLflow records absolute artifact paths. In a repository that was copied or moved, the
    store still names the old folder (its mlartifacts/, and mlruns/ of MLflow's Default
    experiment), and new artifacts would be written there. Every location under the old
    folder is rewritten to this one (plain SQL on the SQLite file, before MLflow opens it).
    Returns the old folders moved from (file:// URIs).
    """
    import sqlite3
    db, here = Path(root) / "mlflow.db", Path(root).resolve()
    if not db.is_file():
        return []
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return []
        old = {loc.split(f"/{ARTIFACTS_DIR}", 1)[0]
               for (loc,) in connection.execute("SELECT artifact_location FROM experiments")
               if loc and loc.startswith("file://") and f"/{ARTIFACTS_DIR}" in loc}
        old.discard(here.as_uri())
        for folder in old:                  # as a file:// URI and as a plain path
            for prefix, new in ((folder + "/", here.as_uri() + "/"),
                                (folder.removeprefix("file://") + "/", f"{here}/")):
                _replace_prefix(connection, tables, prefix, new)
    return sorted(old)


def _replace_prefix(connection, tables, prefix: str, new: str) -> None:
    for table, column in LOCATION_COLUMNS:
        if table in tables:
            connection.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                               f"WHERE substr({column}, 1, ?) = ?",
                               (new, len(prefix) + 1, len(prefix), prefix))


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path.cwd())
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_tags(data_source: str) -> dict[str, str]:
    """Tags of every run: git commit, DVC experiment name (when under dvc exp), data source."""
    return {"git_commit": git_commit(),
            "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "workspace"),
            "data_source": data_source}


def _experiment_id(mlflow, name: str) -> str:
    _tag_default_experiment(mlflow)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        artifacts = artifacts_folder().as_uri()
        return mlflow.create_experiment(name, artifact_location=artifacts,
                                        tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG,
                                                 EXPERIMENT_KIND)
    return experiment.experiment_id


def _tag_default_experiment(mlflow) -> None:
    """MLflow creates 'Default' itself; tag it too, so the UI opens no experiment as GenAI."""
    default = mlflow.get_experiment_by_name("Default")
    if default is not None and default.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        mlflow.MlflowClient().set_experiment_tag(default.experiment_id, EXPERIMENT_KIND_TAG,
                                                 EXPERIMENT_KIND)


def connect():
    """The mlflow module, pointed at the project's store (relocated first when the
    repository was copied or moved; MLFLOW_TRACKING_URI wins when set)."""
    _quiet_environment()
    import mlflow
    chosen = os.environ.get("MLFLOW_TRACKING_URI")
    if not chosen:
        relocate_store(repo_root())          # a copied repository writes into its own folder
    mlflow.set_tracking_uri(tracking_uri())
    if not chosen:                           # set_tracking_uri exports it; keep it unset, so
        os.environ.pop("MLFLOW_TRACKING_URI", None)   # the store follows the repository
    return mlflow


@contextlib.contextmanager
def start_run(experiment: str, run_name: str, data_source: str, nested: bool = False):
    """Start an MLflow run (parent or nested) in the project's store; yields the mlflow module.

    The first time a process starts a run in an experiment, runs of that experiment that a
    killed process left RUNNING are closed as KILLED (close_orphaned_runs).
    """
    with phase("MLflow logging"):
        mlflow = connect()
        experiment_id = _experiment_id(mlflow, experiment)
        if experiment_id not in _CHECKED:          # once per experiment and process
            close_orphaned_runs(mlflow.MlflowClient(), experiment_id)
            _CHECKED.add(experiment_id)
        parent = mlflow.active_run() if nested else None
        tags = {**run_tags(data_source), "pid": str(os.getpid()),
                "host": socket.gethostname(),
                TABLE_ROW_TAG: table_row(run_name, parent.data.tags.get(TABLE_ROW_TAG)
                                         if parent else None)}
        active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                                  nested=nested, tags=tags)
    with active:
        yield mlflow


_CHECKED: set[str] = set()
TABLE_ROW_TAG = "table_row"     # the runs table's sort key (core/mlflow_views.py)


def table_row(run_name: str, parent_row: str | None = None) -> str:
    """A run's place in a flat runs table sorted by this tag, ascending: the newest stage
    invocation first, each parent directly above its children, the children in time-bin
    order ('t-3.2h' read as 't-03.2h'). MLflow nests children only under a start-time sort,
    where a name search shows collapsed parents; this keeps the grouping without nesting."""
    if parent_row is None:
        newest_first = 10 ** 13 - int(time.time() * 1000)
        return f"{newest_first:013d} 0 {run_name}"
    in_time_order = re.sub(r"\bt[+-]\d+\.\dh\b",
                           lambda m: sortable_time_label(time_from_label(m.group())), run_name)
    return f"{parent_row.split(' ', 1)[0]} 1 {in_time_order}"


def close_orphaned_runs(client, experiment_id: str) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose process is gone; returns their ids.

    Runs record the process that started them (tags pid, host); runs of other hosts, of
    living processes, or without those tags are left alone.
    """
    closed = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get("host") == socket.gethostname() and not _alive(tags.get("pid")):
            client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run.info.run_id)
    return closed


def _alive(pid) -> bool:
    """Whether a process with this id runs on this host (unknown pid: assume it does)."""
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError):
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parent_name(what: str) -> str:
    """A parent run's name: the DVC experiment it belongs to first, then what it ran."""
    return f"{os.environ.get('DVC_EXP_NAME', 'workspace')} · {what}"


def flatten(params, prefix: str = "") -> dict[str, object]:
    """Nested parameters (dicts or validated params sections) as flat dotted keys (MLflow
    params are flat). A section is dumped in JSON mode, so its values read as params.yaml's
    did (a [low, high] range is a list, not the schema's tuple)."""
    if hasattr(params, "model_dump"):
        params = params.model_dump(mode="json")
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) or hasattr(value, "model_dump"):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


@timed("MLflow logging")
def log_reports(mlflow, reports_dir: Path, names) -> None:
    """Attach report files or folders (names relative to reports_dir) to the active run,
    under its artifact folder reports/."""
    for name in names:
        path = Path(reports_dir) / name
        where = str(Path("reports") / Path(name).parent)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=str(Path("reports") / name))
        elif path.is_file():
            mlflow.log_artifact(str(path), artifact_path=where)
