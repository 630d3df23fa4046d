"""What training and inference run on: GPUs, CPU model, oneDNN, native bfloat16.

The default install is CPU-only (tensorflow-cpu); ``make install-gpu`` swaps in TensorFlow's
GPU build, which then places the CNN on the GPU by itself. ``describe()`` is logged with
every training run so runs from different machines can be told apart in MLflow.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (see the package note)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return False


def gpu_details() -> list[dict]:
    """Model name and CUDA compute capability of every visible GPU (empty on CPU-only)."""
    import tensorflow as tf
    out = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        out.append({"name": details.get("device_name", gpu.name),
                    "compute_capability": details.get("compute_capability")})
    return out


def gpu_names() -> list[str]:
    """Model names of TensorFlow's visible GPUs (empty with the default CPU-only install)."""
    return [gpu["name"] for gpu in gpu_details()]


def gpu_has_bf16() -> bool:
    """Whether a visible GPU computes bf16 natively (compute capability 8.0, Ampere, or newer)."""
    return any(tuple(gpu["compute_capability"] or (0, 0)) >= (8, 0) for gpu in gpu_details())


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
    """True where bf16 has neither a GPU that computes it nor native CPU instructions."""
    return not gpu_has_bf16() and not cpu_bf16_flags()


def describe() -> dict[str, str]:
    """Flat description for MLflow params: device, GPUs, CPU, oneDNN, native bf16."""
    gpus = gpu_names()
    return {"device": "gpu" if gpus else "cpu", "gpus": ",".join(gpus) or "none",
            "cpu": cpu_name(), "onednn": str(onednn_enabled()),
            "cpu_bf16": ",".join(cpu_bf16_flags()) or "none"}


def log_hardware(mlflow, mixed_precision: bool) -> None:
    """Log what a run trains on (describe()); warn when bf16 would be emulated."""
    mlflow.log_params(describe())
    if mixed_precision and bf16_is_emulated():
        print("warning: train.mixed_precision is on, but there is no GPU with bf16 (compute "
              "capability >= 8.0) and the CPU has no native bf16 (avx512_bf16/amx_bf16): "
              "bf16 is emulated here, many times slower than float32", file=sys.stderr)


def quiet_tensorflow() -> None:
    """TensorFlow's Python logger at ERROR (e.g. retracing notes: one model per fold is by
    design)."""
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
