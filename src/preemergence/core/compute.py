"""How this machine computes the CNN, chosen by measurement and recorded with every run.

Two switches change a CPU's speed (and the last bits of every result): TensorFlow's oneDNN
kernels (``TF_ENABLE_ONEDNN_OPTS``, read once when TensorFlow is imported) and XLA
compilation of the training step (``jit_compile``). ``benchmarks/bench_ceiling.py`` times
every combination on this machine (with batch sizes) and saves the fastest at the
training batch size in a per-machine file (machine = CPU model, core count and TensorFlow
version), under ``$PREEMERGENCE_COMPUTE_CACHE`` or ``~/.cache/preemergence``. The package
reads that file when imported; without one it uses DEFAULT (oneDNN on, no XLA: the fastest
measured on the machines this project has run on, reports/benchmarks/ceiling.md). An
explicit ``TF_ENABLE_ONEDNN_OPTS`` in the environment wins. ``settings()`` is part of every
run's key and result, so a run says how it was computed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

from preemergence.core.hardware import cpu_name

CACHE_ENV = "PREEMERGENCE_COMPUTE_CACHE"
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
DEFAULT = {"onednn": True, "jit_compile": False}


def tensorflow_version() -> str:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "none"


@functools.cache
def machine_signature() -> str:
    """CPU model, core count and TensorFlow version: what the fastest setting depends on
    (read once per process: every run key asks)."""
    return f"{cpu_name()} | {os.cpu_count()} cpus | tensorflow {tensorflow_version()}"


def choice_file() -> Path:
    """This machine's measured choice (a file per machine signature)."""
    folder = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "preemergence")
    digest = hashlib.sha256(machine_signature().encode()).hexdigest()[:12]
    return folder / f"compute-{digest}.json"


def measured_choice() -> dict | None:
    """The choice bench_ceiling.py saved for this machine, or None."""
    try:
        choice = json.loads(choice_file().read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return choice if choice.get("machine") == machine_signature() else None


def save_choice(onednn: bool, jit_compile: bool, evidence: dict) -> Path:
    """Save this machine's choice (written atomically: a temporary file, then renamed)."""
    path = choice_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"machine": machine_signature(), "onednn": onednn,
                               "jit_compile": jit_compile, "evidence": evidence}, indent=1))
    tmp.replace(path)
    return path


def set_onednn_default() -> None:
    """Before TensorFlow is imported: oneDNN as chosen (the environment's setting wins)."""
    choice = measured_choice() or DEFAULT
    os.environ.setdefault(ONEDNN_ENV, "1" if choice["onednn"] else "0")


def settings() -> dict:
    """How runs in this process compute: oneDNN (as TensorFlow reads it), XLA for the
    training step, and what chose them ("measured" on this machine, or "default")."""
    choice = measured_choice()
    return {"onednn": os.environ.get(ONEDNN_ENV, "1") != "0",
            "jit_compile": bool((choice or DEFAULT)["jit_compile"]),
            "chosen_by": "measured" if choice else "default"}
