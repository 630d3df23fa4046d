"""Fan-out of independent training runs over Dask (docs/cluster.md).

Every training run (a (time bin, fold) CNN, a pruning chain, ...) is independent and lives
in the content-addressed run store (model/runs.py). Before a stage walks its runs one by
one (reusing finished ones, copying them to its folder, logging them to MLflow), it can
hand the runs not yet finished to an executor:

* ``inprocess`` (the default): nothing is handed out; the stage trains each run itself, in
  its own process, with live per-epoch MLflow logging.
* ``local`` or ``local:N``: a Dask cluster on this machine with N task slots (default: the
  number of CPU cores);
* a scheduler address (``tcp://host:8786``): an existing Dask cluster, e.g. one started by
  dask-jobqueue on SLURM or PBS. ``DASK_SCHEDULER_ADDRESS`` (Dask's own configuration)
  selects one too.

Chosen by ``--executor`` or ``PREEMERGENCE_EXECUTOR``, never a DVC parameter: the executor
does not change results. Each task trains one run in a fresh Python process (TensorFlow
state and GPU memory are per process) and writes it to the run store, which must be a
folder every worker sees; a task whose process dies is retried and resumes from the run's
last checkpoint. Workers never touch MLflow: the driver logs every run afterwards.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from preemergence.core.executor import EXECUTOR_ENV, Executor, resolve  # noqa: F401
from preemergence.core.paths import RUN_STORE_ENV, run_store
from preemergence.core.progress import progress as show_progress
from preemergence.model.runs import TimeBinData, TrainConfig, finished_run, run_key

TRAIN_FOLD = "preemergence.model.runs:train_fold"          # the tasks: one run each
PRUNE_FOLD = "preemergence.model.prune_runs:prune_fold"
INPUTS_FOLDER = ".inputs"          # in the run store: the data tasks read, one file per key
RETRIES = 2                        # a task whose worker or process dies is run again
TRAINED: set[str] = set()          # keys of the runs this process's tasks trained


@dataclass
class RunTask:
    """One run to produce: ``function(data=data, **kwargs)`` (a "module:function" that
    trains or reuses the run with run-store key ``key`` and returns its result dict)."""

    function: str
    data: object = field(repr=False)
    kwargs: dict
    key: str


def train_task(data: TimeBinData, fold: int, config: TrainConfig) -> RunTask:
    """The task of one runs.train_fold run."""
    return RunTask(TRAIN_FOLD, data, {"fold": fold, "config": config},
                   run_key(config, data, fold))


def unfinished(tasks: list[RunTask]) -> list[RunTask]:
    """The tasks whose run is not finished in the run store (each once)."""
    out, seen = [], set()
    for task in tasks:
        if task.key not in seen and finished_run(run_store() / task.key, task.key) is None:
            out.append(task)
        seen.add(task.key)
    return out


def call(task: RunTask) -> dict:
    """Run the task here (what the fresh process does)."""
    module, _, name = task.function.partition(":")
    return getattr(importlib.import_module(module), name)(data=task.data, **task.kwargs)


def produce_runs(tasks: list[RunTask], executor: Executor, label: str,
                 progress: bool = True) -> set[str]:
    """Have ``executor`` produce every task's run in the run store; returns the keys of the
    runs trained now (the others were finished already; ``TRAINED`` collects them over
    calls). In-process: nothing (the caller trains as it walks its runs)."""
    if executor.kind == "inprocess":
        return set()
    tasks = unfinished(tasks)
    if not tasks:
        return set()
    inputs = _write_inputs(tasks)
    specs = [_write_spec(task, inputs[id(task.data)]) for task in tasks]
    trained: set[str] = set()
    with _client(executor) as client:
        from distributed import as_completed
        futures = [client.submit(run_spec_in_fresh_process, spec, pure=False,
                                 retries=RETRIES, key=f"run-{spec.stem}") for spec in specs]
        finishing = _Sized(as_completed(futures), len(futures))
        with show_progress(finishing, progress, f"{label} · {executor.describe()}",
                           "run") as bar:
            for future in bar:
                outcome = future.result()
                if not outcome["reused"]:
                    trained.add(outcome["run_key"])
                    TRAINED.add(outcome["run_key"])
    for path in [*specs, *inputs.values()]:
        path.unlink(missing_ok=True)
    return trained


class _Sized:
    """An iterator with a length (so the progress bar knows its total)."""

    def __init__(self, items, n: int):
        self.items, self.n = items, n

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return self.n


def _client(executor: Executor):
    from distributed import Client, LocalCluster
    if executor.kind == "local":
        # Threads suffice: each slot only waits on the fresh process that trains.
        cluster = LocalCluster(n_workers=1, threads_per_worker=executor.slots,
                               processes=False, dashboard_address=None)
        return _Owned(Client(cluster), cluster)
    return _Owned(Client(executor.address), None)


class _Owned:
    """A client (and the local cluster it owns), closed together."""

    def __init__(self, client, cluster):
        self.client, self.cluster = client, cluster

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _write_inputs(tasks: list[RunTask]) -> dict[int, Path]:
    """Each distinct data set once, as a file in the run store named by its data key."""
    folder = run_store() / INPUTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[int, Path] = {}
    for task in tasks:
        if id(task.data) in paths:
            continue
        path = folder / f"{task.data.data_key}.pkl"
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(pickle.dumps(task.data, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.replace(path)
        paths[id(task.data)] = path
    return paths


def _write_spec(task: RunTask, data_file: Path) -> Path:
    """The task without its data (which it reads from data_file), as a file."""
    blob = pickle.dumps({"function": task.function, "kwargs": task.kwargs, "key": task.key,
                         "data_file": str(data_file), "run_store": str(run_store())})
    path = run_store() / INPUTS_FOLDER / f"task-{hashlib.sha256(blob).hexdigest()[:16]}.pkl"
    path.write_bytes(blob)
    return path


def run_spec_in_fresh_process(spec: Path) -> dict:
    """A Dask task: train the run in a new Python process; its key and whether it was
    already finished."""
    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true",        # several runs share one GPU
           **os.environ, RUN_STORE_ENV: pickle.loads(Path(spec).read_bytes())["run_store"]}
    done = subprocess.run([sys.executable, "-m", __name__, str(spec)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training task {Path(spec).name} failed "
                           f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return pickle.loads(bytes.fromhex(done.stdout.strip().splitlines()[-1]))


def _main(spec_path: str) -> None:
    from preemergence.core import hardware
    hardware.quiet_tensorflow()
    spec = pickle.loads(Path(spec_path).read_bytes())
    data = pickle.loads(Path(spec["data_file"]).read_bytes())
    result = call(RunTask(spec["function"], data, spec["kwargs"], spec["key"]))
    print(pickle.dumps({"run_key": result["run_key"], "reused": result["reused"]}).hex())


if __name__ == "__main__":
    _main(sys.argv[1])
