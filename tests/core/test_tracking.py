"""MLflow tracking: one store at the repository root, model-training experiments, run tags."""

import re
from pathlib import Path

from preemergence.core import tracking


def test_queue_workspace_resolves_to_the_original_repository(tmp_path):
    repo = tmp_path / "repo"
    queued = repo / ".dvc" / "tmp" / "exps" / "tmpabc123" / "src"
    queued.mkdir(parents=True)
    assert tracking.repo_root(queued) == repo


def test_repo_root_finds_dvc_yaml(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert tracking.repo_root(tmp_path / "a" / "b") == tmp_path


def test_default_store_is_absolute_sqlite_at_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    uri = tracking.tracking_uri()
    assert uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert Path(uri.removeprefix("sqlite:///")).is_absolute()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/x.db")
    assert tracking.tracking_uri() == "sqlite:////elsewhere/x.db"


def test_runs_are_tagged_and_experiments_are_model_training(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("DVC_EXP_NAME", "lucky-seed")
    with tracking.start_run("unit-test", "parent", "synthetic") as mlflow:
        mlflow.log_metric("tss", 0.5)
        run_id = mlflow.active_run().info.run_id
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.data.tags["dvc_exp_name"] == "lucky-seed"
    assert run.data.tags["data_source"] == "synthetic"
    if (Path(__file__).resolve().parents[2] / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", run.data.tags["git_commit"])
    assert run.data.metrics["tss"] == 0.5
    for name in ("unit-test", "Default"):
        experiment = client.get_experiment_by_name(name)
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_flatten_nested_params():
    assert tracking.flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}}) == \
        {"a": 1, "b.c": 2, "b.d.e": 3}


def test_runs_left_running_by_a_killed_process_are_closed_as_killed(tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with tracking.start_run("orphans", "first", "synthetic") as mlflow:
        experiment_id = mlflow.active_run().info.experiment_id
    client = mlflow.MlflowClient()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = socket.gethostname()
    orphan = client.create_run(experiment_id, tags={"pid": dead, "host": here}).info.run_id
    elsewhere = client.create_run(experiment_id, tags={"pid": dead, "host": "other-host"})
    untagged = client.create_run(experiment_id).info.run_id
    tracking._CHECKED.clear()                       # as in a new process
    with tracking.start_run("orphans", "second", "synthetic") as mlflow:
        assert mlflow.active_run().data.tags["pid"] == str(__import__("os").getpid())
    assert client.get_run(orphan).info.status == "KILLED"
    assert client.get_run(elsewhere.info.run_id).info.status == "RUNNING"
    assert client.get_run(untagged).info.status == "RUNNING"


def _files(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_copied_repository_writes_its_runs_into_its_own_folder(tmp_path, monkeypatch):
    """Copy a repository with its mlflow.db and artifacts: runs logged in the copy keep
    their artifacts in the copy, old runs' artifacts are read from the copy, and nothing
    in the original folder changes."""
    import shutil
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.mkdir()
    (original / "dvc.yaml").write_text("stages: {}\n")
    (original / "note.txt").write_text("a report")
    monkeypatch.chdir(original)
    with tracking.start_run("unit-test", "first", "synthetic") as mlflow:
        mlflow.log_artifact(str(original / "note.txt"))
        first = mlflow.active_run().info.run_id
    shutil.copytree(original, copy)
    before = _files(original)
    monkeypatch.chdir(copy)
    with tracking.start_run("unit-test", "second", "synthetic") as mlflow:
        mlflow.log_artifact(str(copy / "note.txt"))
        second = mlflow.active_run().info.run_id
        client = mlflow.MlflowClient()
        for run_id in (first, second):
            uri = client.get_run(run_id).info.artifact_uri
            assert uri.startswith((copy.resolve() / "mlartifacts").as_uri()), uri
        assert Path(client.download_artifacts(first, "note.txt", str(tmp_path))).read_text() \
            == "a report"
    assert _files(original) == before
    assert tracking.relocate_store(copy) == []          # done once; nothing left to move


def test_artifacts_live_beside_the_sqlite_store_the_uri_names(tmp_path, monkeypatch):
    """A run logged to a store MLFLOW_TRACKING_URI names keeps its artifacts beside that
    store (the test suite's own store; a user's second store), not in the repository."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    (tmp_path / "store").mkdir()
    assert tracking.artifacts_folder() == (tmp_path / "store" / "mlartifacts").resolve()
    note = tmp_path / "note.txt"
    note.write_text("a report")
    with tracking.start_run("unit-test-artifacts", "one", "synthetic") as mlflow:
        mlflow.log_artifact(str(note))
        uri = mlflow.get_artifact_uri()
    assert uri.startswith((tmp_path / "store" / "mlartifacts").resolve().as_uri())
    assert list((tmp_path / "store" / "mlartifacts").rglob("note.txt"))
    assert not list((repo / "mlartifacts").rglob("note.txt"))


def test_the_test_session_never_logs_to_the_repository_store():
    """conftest points MLflow at a temporary store, so `make test` leaves the user's
    mlflow.db and mlartifacts/ alone (conftest's sessionfinish check fails the suite if
    anything there changed)."""
    repo = Path(__file__).resolve().parents[2]
    store = Path(tracking.tracking_uri().removeprefix("sqlite:///")).resolve()
    assert store.name == "mlflow.db" and repo not in store.parents
    assert tracking.artifacts_folder() == store.parent / "mlartifacts"


def test_table_rows_sort_newest_invocation_first_parent_above_children_in_time_order(
        tmp_path, monkeypatch):
    """The default runs view sorts by the table_row tag (core/mlflow_views.py): flat rows,
    grouped as nesting would group them, the time bins in time order."""
    import time
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    for invocation in ("first", "second"):
        with tracking.start_run("rows", f"workspace · {invocation}", "synthetic") as mlflow:
            for child in ("t-13.9h fold0", "t-3.2h fold1", "t-3.2h fold0"):
                with tracking.start_run("rows", child, "synthetic", nested=True):
                    pass
        time.sleep(0.01)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("rows").experiment_id
    runs = client.search_runs([experiment], order_by=[f"tags.`{tracking.TABLE_ROW_TAG}` ASC"])
    assert [r.info.run_name for r in runs] == [
        "workspace · second", "t-3.2h fold0", "t-3.2h fold1", "t-13.9h fold0",
        "workspace · first", "t-3.2h fold0", "t-3.2h fold1", "t-13.9h fold0"]
