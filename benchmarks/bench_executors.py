"""Benchmark: train-cv at the default scale, in-process against a local Dask cluster.

Runs `preemergence train-cv` (params.yaml as checked in, the data of `make run`) once per
executor, each with an empty run store of its own (so every run trains) and an MLflow store
of its own, and records the wall time; then checks that the executors' result.json files
are byte-identical. Which executor `make run` uses by default follows from this
measurement on a 2-core machine (docs/cluster.md).

Needs:  `make run` first (data/regions, data/segments).
Writes: reports/benchmarks/executors.{json,md}.
Usage:  .venv/bin/python benchmarks/bench_executors.py [--executors inprocess local:2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "benchmarks"


def train_cv(executor: str, work: Path) -> float:
    """Wall time (s) of one train-cv in work/ with its own run store and MLflow store."""
    env = {**os.environ, "PREEMERGENCE_RUN_STORE": str(work / "runs"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run(["preemergence", "train-cv", "--executor", executor, "--models",
                    str(work / "models"), "--reports", str(work / "reports")],
                   cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def results(store: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in store.glob("*/result.json")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executors", nargs="+", default=["inprocess", "local:2"])
    args = parser.parse_args()
    rows, stores = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as tmp:
        for name in args.executors:
            work = Path(tmp) / name.replace(":", "_")
            rows.append({"executor": name, "wall_s": train_cv(name, work)})
            stores[name] = results(work / "runs")
    first = stores[args.executors[0]]
    identical = all(s == first for s in stores.values()) and len(first) > 0
    from preemergence.core.hardware import cpu_name
    machine = f"{cpu_name()}, {os.cpu_count()} cores"
    report = {"machine": machine, "runs": len(first), "rows": rows,
              "results_identical": identical}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "executors.json").write_text(json.dumps(report, indent=2) + "\n")
    base = rows[0]["wall_s"]
    lines = ["# train-cv: in-process against a local Dask cluster", "",
             f"Machine: {machine}. train-cv at the default scale ({len(first)} runs, params.yaml "
             "as checked in), every run trained (empty run store per executor).", "",
             "| executor | wall time | relative to the first |", "|---|---:|---:|"]
    lines += [f"| `{r['executor']}` | {r['wall_s']:.0f} s | {r['wall_s'] / base:.2f} |"
              for r in rows]
    lines += ["", f"result.json files byte-identical across executors: **{identical}**."]
    (OUT / "executors.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
