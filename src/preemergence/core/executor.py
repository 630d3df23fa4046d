"""Which executor trains the runs (model/fanout.py, docs/cluster.md): chosen by
``--executor``, $PREEMERGENCE_EXECUTOR or Dask's configured scheduler address, never by a
DVC parameter, since it never changes a result."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

EXECUTOR_ENV = "PREEMERGENCE_EXECUTOR"
CONNECT_TIMEOUT_S = 30            # a scheduler address that does not answer: an error


class TaskFailed(RuntimeError):
    """A training run failed in its own process (after Dask's retries)."""


@dataclass(frozen=True)
class Executor:
    """Where training runs go: kind "inprocess", "local" (slots) or "cluster" (address)."""

    kind: str
    slots: int = 1
    address: str | None = None

    def describe(self) -> str:
        if self.kind == "inprocess":
            return "in-process"
        if self.kind == "local":
            return f"local Dask, {self.slots} at a time"
        return f"Dask at {self.address}"


def resolve(option: str | None = None) -> Executor:
    """The executor named by ``option``, else $PREEMERGENCE_EXECUTOR, else Dask's
    configured scheduler address (DASK_SCHEDULER_ADDRESS), else in-process."""
    text = option or os.environ.get(EXECUTOR_ENV)
    if not text:
        import dask
        address = dask.config.get("scheduler-address", None)
        return Executor("cluster", address=address) if address else Executor("inprocess")
    if text == "inprocess":
        return Executor("inprocess")
    if text == "local" or text.startswith("local:"):
        slots = text.partition(":")[2]
        if slots and (not slots.isdigit() or int(slots) == 0):
            raise ValueError(f"executor '{text}': local:N needs a positive whole N")
        return Executor("local", slots=int(slots) if slots else (os.cpu_count() or 1))
    if "://" in text:
        return Executor("cluster", address=text)
    raise ValueError(f"executor '{text}': expected inprocess, local, local:N or a Dask "
                     "scheduler address such as tcp://host:8786")


@contextlib.contextmanager
def dask_client(executor: Executor):
    """A Dask client of a local or cluster executor (and the local cluster it starts),
    closed after."""
    from distributed import Client, LocalCluster
    if executor.kind == "local":
        # Threads suffice: each slot only waits on the fresh process that trains.
        with LocalCluster(n_workers=1, threads_per_worker=executor.slots, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(executor.address, timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise ValueError(f"executor '{executor.address}': no Dask scheduler answered "
                         f"within {CONNECT_TIMEOUT_S} s ({exc})") from None
    with client:
        yield client
