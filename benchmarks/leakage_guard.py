"""Benchmark: the leakage guard's power on the pipeline's data (issue 25, point 4).

Trains the guard's networks (stats.leakage_guard: one per fold, a random label per region)
twice on the prepared data of `make run`: as the stats stage does (no leak), and with a
planted leak (every evaluation tile also a training sample of every fold,
stats.leakage.planted_leak). For each: the pooled TSS on the random labels of the unseen
regions, its region-bootstrap intervals at 95 % and at the guard's confidence, their
half-widths, the fold TSS, and whether the guard passes. Writes leakage_guard.json and
leakage_guard.md to --out (reports/benchmarks). The no-leak networks are the stats stage's
own (same run keys, reused from the run store).

Needs `make run` (or at least the regions and prepare stages) first.
Usage: .venv/bin/python benchmarks/leakage_guard.py [--params params.yaml] [--out DIR]
"""

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(params, regions: Path, segments: Path) -> dict:
    from preemergence.model.configs import train_config
    from preemergence.model.runs import load_time_bins
    from preemergence.stats import leakage
    from preemergence.stats.report import half_width
    from preemergence.stats.resampling import fold_tss
    guard = params.stats.leakage_guard
    n_folds = params.prepare.n_folds
    config = train_config(params, guard.config)
    data = load_time_bins(regions, segments, [guard.time_h], n_folds)[guard.time_h]
    out = {}
    for name, variant in (("no leak", data), ("planted leak", leakage.planted_leak(data))):
        start = time.perf_counter()
        predictions = leakage.guard_predictions(variant, config, n_folds)
        at_95 = leakage.guard_interval(predictions, params.stats, 0.95, params.seed)
        at_guard = leakage.guard_interval(predictions, params.stats, guard.confidence,
                                          params.seed)
        out[name] = {"tss": at_95.estimate, "low_95": at_95.low, "high_95": at_95.high,
                     "halfwidth_95": half_width(at_95), "low_guard": at_guard.low,
                     "high_guard": at_guard.high, "passes": at_guard.contains(0.0),
                     "fold_tss": fold_tss(predictions), "seconds": time.perf_counter() - start}
    return {"time_h": guard.time_h, "config": guard.config, "confidence": guard.confidence,
            "n_folds": n_folds, "results": out}


def markdown(result: dict, machine: str) -> str:
    level = round(100 * result["confidence"])
    lines = ["# Leakage guard: power on the pipeline's data", "",
             f"Machine: {machine}. Time bin {result['time_h']} h, schedule "
             f"`{result['config']}`, one network per fold ({result['n_folds']}), a random "
             "label per region (stats/leakage.py). Planted leak: every evaluation tile also a "
             "training sample of every fold. Written by `benchmarks/leakage_guard.py`.", "",
             f"| | pooled TSS (%) | 95 % interval | 95 % half-width (points) | {level} % "
             "interval (the guard's) | guard | fold TSS (%) |",
             "|---|---:|---:|---:|---:|---|---|"]
    for name, r in result["results"].items():
        folds = ", ".join(f"{100 * v:.1f}" for v in r["fold_tss"])
        lines.append(f"| {name} | {100 * r['tss']:.1f} | {100 * r['low_95']:.1f} to "
                     f"{100 * r['high_95']:.1f} | {100 * r['halfwidth_95']:.1f} | "
                     f"{100 * r['low_guard']:.1f} to {100 * r['high_guard']:.1f} | "
                     f"{'passes' if r['passes'] else 'FAILS'} | {folds} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--regions", type=Path, default=None)
    parser.add_argument("--segments", type=Path, default=ROOT / "data" / "segments")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    from preemergence.core import hardware
    from preemergence.core.artifacts import atomic_write_text, write_json
    from preemergence.core.config import load_params
    params = load_params(args.params)
    regions = args.regions or ROOT / params.data.regions_dir
    hardware.quiet_tensorflow()
    result = measure(params, regions, args.segments)
    import os
    machine = f"{hardware.cpu_name()}, {os.cpu_count()} CPUs, GPUs: {hardware.describe()['gpus']}"
    write_json(args.out / "leakage_guard.json", {**result, "machine": machine})
    atomic_write_text(args.out / "leakage_guard.md", markdown(result, machine))
    print(markdown(result, machine))


if __name__ == "__main__":
    main()
