"""Where a process's time goes: wall-clock seconds per named phase (benchmarks/profile_run.py).

The pipeline marks its phases (``with phase("training steps"): ...``): training steps, graph
tracing, validation, tile evaluation, checkpoints and model saving, MLflow logging, model
registration, data loading, Great Expectations, bootstrap. Phases nest: an inner phase's
time is taken out of the outer one's, so the shares add up to the process's wall time with
"other" for the rest. Timing costs two clock reads per phase; nothing is written unless
``PREEMERGENCE_PROFILE`` names a file, to which each process appends one JSON line at exit:
{"argv", "wall_s" (from this module's import, i.e. after Python's start-up and the
package's first import), "phases": {name: seconds}, "counts": {name: calls}}.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import sys
import time
from collections import defaultdict

PROFILE_ENV = "PREEMERGENCE_PROFILE"

_START = time.perf_counter()
_SECONDS: dict[str, float] = defaultdict(float)
_COUNTS: dict[str, int] = defaultdict(int)
_STACK: list[list] = []          # [name, start, seconds of inner phases]


@contextlib.contextmanager
def phase(name: str):
    """Count the wall time of the block under ``name`` (less that of phases inside it)."""
    frame = [name, time.perf_counter(), 0.0]
    _STACK.append(frame)
    try:
        yield
    finally:
        _STACK.pop()
        elapsed = time.perf_counter() - frame[1]
        _SECONDS[name] += elapsed - frame[2]
        _COUNTS[name] += 1
        if _STACK:
            _STACK[-1][2] += elapsed


def timed(name: str):
    """Decorator: every call of the function is a phase ``name``."""
    def decorate(func):
        @functools.wraps(func)
        def timed_call(*args, **kwargs):
            with phase(name):
                return func(*args, **kwargs)
        return timed_call
    return decorate


def traced_call(function, name: str, *args, output: int | None = None):
    """Call a tf.function; the call counts as "graph tracing" when it traced, else ``name``.
    Returns its outputs as NumPy, or only output number ``output`` (only what is returned
    is copied to the host; the work is finished when the clock stops)."""
    traces = function.experimental_get_tracing_count()
    start = time.perf_counter()
    outputs = function(*args)
    outputs = (outputs[output].numpy() if output is not None
               else tuple(out.numpy() for out in outputs))
    traced = function.experimental_get_tracing_count() > traces
    add("graph tracing" if traced else name, time.perf_counter() - start)
    return outputs


def add(name: str, seconds: float, count: int = 1) -> None:
    """Book time measured elsewhere under ``name`` (taken out of the enclosing phase)."""
    _SECONDS[name] += seconds
    _COUNTS[name] += count
    if _STACK:
        _STACK[-1][2] += seconds


def snapshot() -> dict:
    """The phases so far: {"wall_s", "phases", "counts"}."""
    return {"wall_s": time.perf_counter() - _START, "phases": dict(_SECONDS),
            "counts": dict(_COUNTS)}


def reset() -> None:
    """Forget the phases so far (a benchmark timing one piece of work)."""
    _SECONDS.clear()
    _COUNTS.clear()


def _write_at_exit() -> None:
    path = os.environ.get(PROFILE_ENV)
    if not path:
        return
    line = json.dumps({"argv": sys.argv, **snapshot()})
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


atexit.register(_write_at_exit)
