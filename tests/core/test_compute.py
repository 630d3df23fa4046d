"""How a machine computes (core/compute.py): the measured choice is read back, recorded with
every run and part of its key (issue 24)."""

import json

from preemergence.core import compute


def test_without_a_measured_choice_the_default_is_used_and_said(tmp_path, monkeypatch):
    monkeypatch.setenv(compute.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(compute.ONEDNN_ENV, raising=False)
    assert compute.measured_choice() is None
    assert compute.settings() == {"onednn": True, "jit_compile": False, "chosen_by": "default"}


def test_a_saved_choice_is_this_machines_and_wins_over_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv(compute.CACHE_ENV, str(tmp_path))
    path = compute.save_choice(onednn=True, jit_compile=True, evidence={"rows": []})
    assert path.parent == tmp_path and not list(tmp_path.glob("*.tmp"))
    assert compute.settings()["jit_compile"] is True
    assert compute.settings()["chosen_by"] == "measured"


def test_a_choice_measured_on_another_machine_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv(compute.CACHE_ENV, str(tmp_path))
    compute.save_choice(onednn=False, jit_compile=True, evidence={})
    saved = json.loads(compute.choice_file().read_text())
    compute.choice_file().write_text(json.dumps({**saved, "machine": "another CPU"}))
    assert compute.measured_choice() is None


def test_the_environment_decides_onednn_before_any_choice(tmp_path, monkeypatch):
    monkeypatch.setenv(compute.CACHE_ENV, str(tmp_path))
    compute.save_choice(onednn=True, jit_compile=False, evidence={})
    monkeypatch.setenv(compute.ONEDNN_ENV, "0")
    compute.set_onednn_default()
    assert compute.settings()["onednn"] is False
