"""Hardware description and the choices that depend on it (GPU, oneDNN, native bf16)."""

import pytest

from preemergence.core import hardware
from preemergence.core.hardware import log_hardware

AVX2_CPU = "processor : 0\nmodel name : AMD EPYC 7B13\nflags : fpu sse avx avx2 fma\n"
BF16_CPU = "processor : 0\nmodel name : Intel Xeon\nflags : avx512f avx512_bf16 amx_bf16\n"


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    def write(text):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(hardware, "CPUINFO", path)
    return write


def test_cpu_bf16_flags_and_name_from_cpuinfo(cpuinfo):
    cpuinfo(AVX2_CPU)
    assert hardware.cpu_bf16_flags() == []
    assert hardware.cpu_name() == "AMD EPYC 7B13"
    cpuinfo(BF16_CPU)
    assert hardware.cpu_bf16_flags() == ["amx_bf16", "avx512_bf16"]


def test_cpuinfo_missing_means_unknown_cpu_without_bf16(tmp_path, monkeypatch):
    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "absent")
    assert hardware.cpu_bf16_flags() == []
    assert isinstance(hardware.cpu_name(), str) and hardware.cpu_name()


def _gpus(*capabilities):
    return lambda: [{"name": f"GPU cc{c}", "compute_capability": c} for c in capabilities]


def test_bf16_is_emulated_only_without_a_bf16_gpu_and_native_cpu_bf16(cpuinfo, monkeypatch):
    monkeypatch.setattr(hardware, "gpu_details", _gpus())
    cpuinfo(AVX2_CPU)
    assert hardware.bf16_is_emulated()
    cpuinfo(BF16_CPU)
    assert not hardware.bf16_is_emulated()
    cpuinfo(AVX2_CPU)
    monkeypatch.setattr(hardware, "gpu_details", _gpus((7, 0)))     # V100: no bf16
    assert hardware.bf16_is_emulated()
    monkeypatch.setattr(hardware, "gpu_details", _gpus((9, 0)))     # H100
    assert not hardware.bf16_is_emulated()


def test_describe_names_device_and_is_flat_strings(monkeypatch):
    monkeypatch.setattr(hardware, "gpu_details", lambda: [
        {"name": "NVIDIA H100 80GB HBM3", "compute_capability": (9, 0)}])
    info = hardware.describe()
    assert info["device"] == "gpu" and info["gpus"] == "NVIDIA H100 80GB HBM3"
    assert set(info) == {"device", "gpus", "cpu", "onednn", "cpu_bf16"}
    assert all(isinstance(v, str) for v in info.values())   # MLflow params


class _Recorder:
    def __init__(self):
        self.params = {}

    def log_params(self, params):
        self.params.update(params)


def test_log_hardware_warns_only_when_bf16_would_be_emulated(monkeypatch, capsys, cpuinfo):
    monkeypatch.setattr(hardware, "gpu_details", _gpus())
    bf16 = True
    recorder = _Recorder()
    cpuinfo(AVX2_CPU)
    log_hardware(recorder, bf16)
    assert "bf16 is emulated" in capsys.readouterr().err
    assert recorder.params["device"] == "cpu" and recorder.params["cpu"] == "AMD EPYC 7B13"
    log_hardware(recorder, False)
    assert capsys.readouterr().err == ""                 # float32: nothing to warn about
    cpuinfo(BF16_CPU)
    log_hardware(recorder, bf16)
    assert capsys.readouterr().err == ""                 # native bf16: no warning
