"""Shared fixtures: tiny configurations derived from the real params.yaml."""

import copy
import os
import tempfile
from pathlib import Path

import pytest

from preemergence.core.config import load_params

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Training runs of the tests go to a store of their own, never the repository's models/runs.
os.environ["PREEMERGENCE_RUN_STORE"] = tempfile.mkdtemp(prefix="preemergence-run-store-")


@pytest.fixture(scope="session")
def params():
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def tiny_params(params):
    """params.yaml at a tiny scale: 6 EARs + 6 CRs, few samples per region."""
    p = copy.deepcopy(params)
    p["simulate"]["n_ear"] = 6
    p["simulate"]["n_cr"] = 6
    p["prepare"].update(pe_per_ear=12, ne_per_ear=6, ne_per_cr=6)
    return p


@pytest.fixture(scope="session")
def tiny_store_dir(tiny_params, tmp_path_factory):
    """A simulated tiny region store on disk (written once per test session)."""
    from preemergence.data.simulate import simulate_store
    out = tmp_path_factory.mktemp("store") / "regions"
    simulate_store(tiny_params["simulate"], tiny_params["time_bins"], tiny_params["seed"], out,
                   progress=False)
    return out
