"""The simulate stage: a simulated HEAR-like region store (EARs and CRs at every time bin)."""

from __future__ import annotations

from pathlib import Path

from preemergence.core.artifacts import refuse_overwrite
from preemergence.data.simulate import simulate_store


def run_simulate(params: dict, out_dir: Path, force: bool = False) -> list:
    """Simulate params' regions into out_dir (refused if it holds a store, unless force)."""
    refuse_overwrite(out_dir, force)
    return simulate_store(params["simulate"], params["time_bins"], params["seed"], out_dir)
