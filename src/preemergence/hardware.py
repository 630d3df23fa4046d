"""What training and inference run on: GPUs, CPU model, oneDNN, native bfloat16.

The default install is CPU-only (tensorflow-cpu); ``make install-gpu`` swaps in TensorFlow's
GPU build, which then places the CNN on the GPU by itself. ``describe()`` is logged with
every training run so runs from different machines can be told apart in MLflow.
"""

from __future__ import annotations

import platform
from pathlib import Path

from . import cnn

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def gpu_names() -> list[str]:
    """TensorFlow's visible GPUs (empty with the default CPU-only install)."""
    import tensorflow as tf
    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]


def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo (or platform.processor())."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_bf16_flags() -> list[str]:
    """The CPU's native bfloat16 instruction sets (avx512_bf16, amx_bf16); empty if none."""
    return sorted(set(_cpuinfo().split()) & set(BF16_FLAGS))


def bf16_is_emulated() -> bool:
    """True where bf16 mixed precision has neither a GPU nor native CPU instructions."""
    return not gpu_names() and not cpu_bf16_flags()


def describe() -> dict[str, str]:
    """Flat description for MLflow params: device, GPUs, CPU, oneDNN, native bf16."""
    gpus = gpu_names()
    return {"device": "gpu" if gpus else "cpu", "gpus": ",".join(gpus) or "none",
            "cpu": cpu_name(), "onednn": str(cnn.onednn_enabled()),
            "cpu_bf16": ",".join(cpu_bf16_flags()) or "none"}
