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
folder every worker sees; a task whose process dies (killed, lost worker) is retried (Dask)
and resumes from the run's last checkpoint, while a task that raises an exception fails at
once (the same inputs raise again) unless it is out of memory or an I/O error, which are
retried too. Workers never touch MLflow: the driver logs every run afterwards.
"""

from __future__ import annotations

import importlib
import os
import pickle
import shutil
import subprocess
import sys
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from preemergence.core.artifacts import atomic_output
from preemergence.core.executor import Executor, TaskFailed, dask_client
from preemergence.core.paths import RUN_STORE_ENV, run_store
from preemergence.core.progress import progress as show_progress
from preemergence.model.runs import TimeBinData, TrainConfig, finished_run, run_key

TRAIN_FOLD = "preemergence.model.runs:train_fold"          # the tasks: one run each
PRUNE_FOLD = "preemergence.model.prune_runs:prune_fold"
INPUTS_FOLDER = ".inputs"          # in the run store: each call's task files, a folder each
RETRIES = 2                        # a task whose worker or process dies is run again
TASK_RAISED = 3                    # exit status of a task process whose task raised


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
    runs it was handed (not finished when submitted, so trained now, wholly or from a
    checkpoint). In-process: nothing (the caller trains as it walks its runs).

    The tasks' files live in a folder of this call's own under the run store's .inputs/,
    removed when it ends, failed or not (drivers sharing a run store never share files).
    Raises TaskFailed (one line) when a task fails after its retries."""
    if executor.kind == "inprocess":
        return set()
    tasks = unfinished(tasks)
    if not tasks:
        return set()
    folder = run_store() / INPUTS_FOLDER / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        specs = _write_task_files(tasks, folder)
        with dask_client(executor) as client:
            from distributed import as_completed
            futures = [client.submit(run_spec_in_fresh_process, spec, pure=False,
                                     retries=RETRIES, key=f"run-{spec.stem}")
                       for spec in specs]
            finishing = _Sized(as_completed(futures), len(futures))
            with show_progress(finishing, progress, f"{label} · {executor.describe()}",
                               "run") as bar:
                for future in bar:
                    failure = future.result()
                    if failure:                  # the task raised: not retried
                        raise TaskFailed(failure)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {task.key for task in tasks}


class _Sized:
    """An iterator with a length (so the progress bar knows its total)."""

    def __init__(self, items, n: int):
        self.items, self.n = items, n

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return self.n


def _write_pickle(path: Path, payload) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def _write_task_files(tasks: list[RunTask], folder: Path) -> list[Path]:
    """Each distinct data set once (data-<key>.pkl) and one spec per task (the task
    without its data), in folder; the specs' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data_files: dict[int, Path] = {}
    specs = []
    for n, task in enumerate(tasks):
        if id(task.data) not in data_files:
            data_files[id(task.data)] = folder / f"data-{task.data.data_key}.pkl"
            _write_pickle(data_files[id(task.data)], task.data)
        spec = folder / f"task-{n:04d}-{task.key}.pkl"
        _write_pickle(spec, {"function": task.function, "kwargs": task.kwargs,
                             "key": task.key, "data_file": str(data_files[id(task.data)]),
                             "run_store": str(run_store())})
        specs.append(spec)
    return specs


def run_spec_in_fresh_process(spec: Path) -> str:
    """A Dask task: train the run in a new Python process (its output in <spec>.log).
    Returns "" when the run is done, the one-line failure when its task raised (the driver
    raises it; the same inputs would raise again); a process that died otherwise raises
    TaskFailed, so that Dask runs it again."""
    spec = Path(spec)
    task = pickle.loads(spec.read_bytes())
    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true",        # several runs share one GPU
           **os.environ, RUN_STORE_ENV: task["run_store"]}
    log = spec.with_suffix(".log")
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", __name__, str(spec)], env=env,
                              stdout=out, stderr=subprocess.STDOUT)
    if done.returncode == 0:
        return ""
    lines = log.read_text(errors="replace").strip().splitlines() or ["no output"]
    failure = (f"training run {task['key']} failed in its process (exit {done.returncode}): "
               f"{lines[-1][:300]}")
    if done.returncode == TASK_RAISED:
        return failure
    raise TaskFailed(failure)


def _main(spec_path: str) -> None:
    from preemergence.core import hardware
    hardware.quiet_tensorflow()
    spec = pickle.loads(Path(spec_path).read_bytes())
    data = pickle.loads(Path(spec["data_file"]).read_bytes())
    try:
        call(RunTask(spec["function"], data, spec["kwargs"], spec["key"]))
    except Exception as exc:             # noqa: BLE001 - reported whole, then one line
        traceback.print_exc()
        sys.exit(1 if transient(exc) else TASK_RAISED)


def transient(exc: Exception) -> bool:
    """An error another try may not meet: out of memory (several runs share a GPU), a
    file system or network hiccup on a shared run store. Retried, like a dead process."""
    return isinstance(exc, (MemoryError, OSError)) or \
        type(exc).__name__ == "ResourceExhaustedError"       # TensorFlow: out of GPU memory


if __name__ == "__main__":
    _main(sys.argv[1])
