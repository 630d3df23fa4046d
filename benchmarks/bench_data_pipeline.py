"""Benchmark: simulate + prepare at paper scale (goal: < 2 min and < 3 GB peak memory).

Runs the two CLI stages as subprocesses on the parameters of params.yaml (180 EARs +
180 CRs, 5 time bins, 100/50/50 samples per region) in a temporary folder, and records
wall time and peak resident memory of each. Writes reports/benchmarks/data_pipeline.{json,md}.
Usage: python benchmarks/bench_data_pipeline.py
"""

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from preemergence.core.artifacts import atomic_write_text, write_json
from preemergence.core.config import load_params

ROOT = Path(__file__).resolve().parents[1]

GOAL_S, GOAL_GB = 120.0, 3.0


def run_stage(args, cwd, env):
    """Run one CLI stage; wall seconds and the peak RSS (GB) of that child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "preemergence.cli", *args], cwd=cwd, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak_kb, before) / 1024 ** 2


def main():
    params = load_params(ROOT / "params.yaml")
    work = Path(tempfile.mkdtemp(prefix="bench-data-"))
    shutil.copy(ROOT / "params.yaml", work / "params.yaml")
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}")
    try:
        sim_s, sim_gb = run_stage(["regions", "--out", "regions", "--reports", "reports"],
                                  work, env)
        prep_s, prep_gb = run_stage(["prepare", "--regions", "regions", "--out", "segments",
                                     "--reports", "reports"], work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total, peak = sim_s + prep_s, max(sim_gb, prep_gb)
    result = {"n_ear": params.simulate.n_ear, "n_cr": params.simulate.n_cr,
              "time_bins": len(params.time_bins), "samples": params.prepare.model_dump(),
              "simulate_s": round(sim_s, 1), "prepare_s": round(prep_s, 1),
              "total_s": round(total, 1), "peak_rss_gb": round(peak, 2),
              "goal_s": GOAL_S, "goal_gb": GOAL_GB,
              "meets_goal": bool(total < GOAL_S and peak < GOAL_GB),
              "cpus": os.cpu_count(), "machine": platform.machine(),
              "python": platform.python_version()}
    out = ROOT / "reports" / "benchmarks"
    write_json(out / "data_pipeline.json", result)
    atomic_write_text(out / "data_pipeline.md", "\n".join([
        "# Benchmark: simulate + prepare at paper scale", "",
        f"{result['n_ear']} EARs + {result['n_cr']} CRs, {result['time_bins']} time bins, "
        f"{params.prepare.pe_per_ear}/{params.prepare.ne_per_ear}/"
        f"{params.prepare.ne_per_cr} samples per EAR (PE/NE) and CR (NE); "
        f"{result['cpus']} CPUs ({result['machine']}), Python {result['python']}.", "",
        "Method: `python benchmarks/bench_data_pipeline.py` runs `preemergence regions` "
        "(data.source simulated: the simulator and the store's checks) and "
        "`preemergence prepare` (validation and MLflow logging included) as subprocesses in "
        "a temporary folder; wall time from the parent, peak memory = the child's maximum "
        "resident set size.", "",
        "| stage | wall time (s) | peak RSS (GB) |", "|---|---:|---:|",
        f"| simulate | {result['simulate_s']} | {sim_gb:.2f} |",
        f"| prepare | {result['prepare_s']} | {prep_gb:.2f} |",
        f"| **total** | **{result['total_s']}** | **{result['peak_rss_gb']}** |", "",
        f"Goal: under {GOAL_S:.0f} s and under {GOAL_GB:.0f} GB: "
        f"**{'met' if result['meets_goal'] else 'NOT met'}**.", ""]))
    print(result)


if __name__ == "__main__":
    main()
