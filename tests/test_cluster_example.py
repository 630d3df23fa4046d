"""docs/cluster.md's example configuration (docs/examples/dask_cluster.py) is constructed,
with its scheduler, for SLURM and PBS; its job scripts are checked, nothing is submitted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "dask_cluster.py"


def example():
    spec = importlib.util.spec_from_file_location("dask_cluster_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("system, directive", [("slurm", "#SBATCH --gres=gpu:1"),
                                               ("pbs", "#PBS -l ngpus=1")])
def test_the_example_cluster_builds_job_scripts_that_run_the_repository(system, directive):
    with example().cluster(system, queue="gpu", account="solar", runs_per_job=4) as jobs:
        script = jobs.job_script()
        assert jobs.scheduler_address.startswith("tcp://")
    assert directive in script
    assert "source .venv/bin/activate" in script and "PREEMERGENCE_RUN_STORE=" in script
    assert "--nthreads 4" in script and "distributed.cli.dask_worker" in script
    assert ("#SBATCH -p gpu" if system == "slurm" else "#PBS -q gpu") in script


def test_the_example_rejects_an_unknown_batch_system():
    with pytest.raises(ValueError, match="--system lsf"):
        example().cluster("lsf")
