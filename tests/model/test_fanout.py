"""Fan-out of training runs over Dask: the executor never changes a result.

The same runs, trained in-process, on a local Dask cluster and on a real Dask cluster
started with Dask's own command-line tools on loopback (a scheduler and two worker
processes), give byte-identical result.json files; the driver learns which runs the tasks
trained; train-cv through the cluster equals train-cv in-process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preemergence.core import executor as executors
from preemergence.model import fanout, runs
from preemergence.model.configs import train_config
from preemergence.model.runs import RESULT_FILE, load_time_bins, train_fold

TIME_H = -3.2


def test_resolve_names_every_executor(monkeypatch):
    import dask
    monkeypatch.delenv(executors.EXECUTOR_ENV, raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert executors.resolve().kind == "inprocess"
    assert executors.resolve("local:3") == executors.Executor("local", slots=3)
    assert executors.resolve("local").slots == (os.cpu_count() or 1)
    assert executors.resolve("tcp://10.0.0.1:8786").address == "tcp://10.0.0.1:8786"
    monkeypatch.setenv(executors.EXECUTOR_ENV, "local:2")
    assert executors.resolve() == executors.Executor("local", slots=2)
    monkeypatch.delenv(executors.EXECUTOR_ENV)
    with dask.config.set({"scheduler-address": "tcp://127.0.0.1:9999"}):
        assert executors.resolve() == executors.Executor("cluster", address="tcp://127.0.0.1:9999")
    for bad in ("local:0", "local:00", "local:x", "threads"):
        with pytest.raises(ValueError, match=f"executor '{bad}'"):
            executors.resolve(bad)


@pytest.fixture(scope="module")
def tiny_bin(prepare_tiny):
    """One prepared time bin, 2 folds (every run a fresh process on a cluster) and a
    1-epoch schedule (only -3.2 h prepared: each time bin's validation costs ~2 s)."""
    params, store, work = prepare_tiny("fanout", {"prepare.n_folds": 2, "time_bins": [TIME_H]})
    data = load_time_bins(store, work / "segments", [TIME_H], params.prepare.n_folds)[TIME_H]
    return params, data, work


def results_in(store: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(store.glob(f"*/{RESULT_FILE}"))}


def produce(executor, tasks, store: Path, monkeypatch) -> set[str]:
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(store))
    return fanout.produce_runs(tasks, executor, "test", progress=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker --nworkers 2` on 127.0.0.1; its address."""
    tmp_path = tmp_path_factory.mktemp("dask")
    dask_cli = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    log = (tmp_path / "dask.log").open("w")
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port",
                               address.rsplit(":", 1)[1], "--no-dashboard"],
                              stdout=log, stderr=log, env=env)]
    time.sleep(2)
    procs.append(subprocess.Popen([dask_cli, "worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard"],
                                  stdout=log, stderr=log, env=env))
    from distributed import Client
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for proc in reversed(procs):
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_results_are_byte_identical_in_process_locally_and_on_a_loopback_cluster(
        tiny_bin, tmp_path, monkeypatch, loopback_cluster):
    params, data, _ = tiny_bin
    config = train_config(params)
    tasks = [fanout.train_task(data, k, config) for k in (0, 1)]

    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "inprocess"))
    for task in tasks:
        fanout.call(task)
    expected = results_in(tmp_path / "inprocess")
    assert len(expected) == 2

    for name, executor in (("local", executors.resolve("local:2")),
                           ("cluster", executors.resolve(loopback_cluster))):
        trained = produce(executor, tasks, tmp_path / name, monkeypatch)
        assert trained == set(expected), name
        assert results_in(tmp_path / name) == expected, name
        assert not any((tmp_path / name / fanout.INPUTS_FOLDER).iterdir()), name
        # a second pass trains nothing: every run is finished
        assert produce(executor, tasks, tmp_path / name, monkeypatch) == set()
    # the driver copies and reads the finished runs as before
    monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / "cluster"))
    result = train_fold(data, 0, config, tmp_path / "copy")
    assert result["reused"] and (tmp_path / "copy" / RESULT_FILE).read_bytes() == \
        expected[result["run_key"]]


@pytest.mark.slow
def test_a_failing_task_names_itself(tiny_bin, tmp_path, monkeypatch):
    params, data, _ = tiny_bin
    config = train_config(params)
    bad = fanout.train_task(data, 99, config)
    with pytest.raises(executors.TaskFailed, match=r"training run \w+ failed in its process"):
        produce(executors.resolve("local:1"), [bad], tmp_path / "store", monkeypatch)


@pytest.mark.slow
def test_train_cv_through_a_loopback_cluster_equals_train_cv_in_process(
        tiny_bin, tiny_store_dir, tmp_path, monkeypatch, loopback_cluster):
    """The stage end to end: same metrics, same out-of-fold predictions, the runs logged
    by the driver (one child run each, tagged with the executor)."""
    import mlflow
    from preemergence.stages.train_cv import run_train_cv
    params, _, work = tiny_bin
    outputs = {}
    real_train = runs._train
    for name, executor in (("inprocess", "inprocess"), ("cluster", loopback_cluster)):
        # on the cluster the driver must train nothing itself
        monkeypatch.setattr(runs, "_train", real_train if name == "inprocess" else None)
        monkeypatch.setenv("PREEMERGENCE_RUN_STORE", str(tmp_path / name / "runs"))
        monkeypatch.setenv(executors.EXECUTOR_ENV, executor)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / name / 'mlflow.db'}")
        reports = tmp_path / name / "reports"
        run_train_cv(params, tiny_store_dir, work / "segments", tmp_path / name / "models",
                     reports)
        outputs[name] = [(reports / f).read_bytes() for f in
                         ("train_cv_metrics.json", "predictions/train_cv.csv")]
        logged = mlflow.search_runs(experiment_names=["train-cv"],
                                    filter_string="tags.reused_result = 'false'")
        assert len(logged) == 2, name          # every fold trained now and logged once
        assert set(logged["tags.executor"]) == {executors.resolve(executor).describe()}
    assert outputs["cluster"] == outputs["inprocess"]


def fixture_task(function: str, tmp_path: Path, monkeypatch) -> tuple[fanout.RunTask, Path]:
    """A stand-in task of tests/fixtures/tasks/flaky_task.py; the file counting its tries."""
    from preemergence.model.runs import TimeBinData
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "tasks"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(fixtures), os.environ.get("PYTHONPATH", "")]))
    data = TimeBinData(-3.2, cube=None, index={}, table=None, data_key="flaky")
    attempts = tmp_path / "attempts.txt"
    return fanout.RunTask(f"flaky_task:{function}", data,
                          {"key": "k-flaky", "attempts": str(attempts)}, "k-flaky"), attempts


@pytest.mark.slow
def test_a_task_whose_process_dies_is_retried(tmp_path, monkeypatch):
    """A lost training process (exit without a result) is run again by Dask."""
    task, attempts = fixture_task("run", tmp_path, monkeypatch)
    trained = produce(executors.resolve("local:1"), [task], tmp_path / "store", monkeypatch)
    assert trained == {"k-flaky"} and attempts.read_text() == "xx"


@pytest.mark.slow
def test_a_task_that_raises_fails_at_once_with_its_error(tmp_path, monkeypatch):
    """An exception would come back on every try: tried once, its message in one line."""
    task, attempts = fixture_task("fail", tmp_path, monkeypatch)
    with pytest.raises(executors.TaskFailed,
                       match=r"training run k-flaky failed in its process \(exit 3\): "
                             r"ValueError: region 7: no frames \(attempt 1\)"):
        produce(executors.resolve("local:1"), [task], tmp_path / "store", monkeypatch)
    assert attempts.read_text() == "x"


def test_an_unreachable_scheduler_is_one_clear_error(tiny_bin, tmp_path, monkeypatch):
    params, data, _ = tiny_bin
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 2)
    address = f"tcp://127.0.0.1:{free_port()}"
    task = fanout.train_task(data, 0, train_config(params))
    with pytest.raises(ValueError, match=f"executor '{address}': no Dask scheduler answered"):
        produce(executors.resolve(address), [task], tmp_path / "store", monkeypatch)
    assert not any((tmp_path / "store" / fanout.INPUTS_FOLDER).iterdir())


def test_out_of_memory_and_io_errors_are_retried_other_errors_are_not():
    import errno

    class ResourceExhaustedError(Exception):      # TensorFlow's, by name
        pass
    assert fanout.transient(MemoryError()) and fanout.transient(ResourceExhaustedError())
    assert fanout.transient(OSError(errno.EIO, "I/O error on the run store"))
    assert not fanout.transient(ValueError("region 7: no frames"))
    assert not fanout.transient(KeyError("fold"))
