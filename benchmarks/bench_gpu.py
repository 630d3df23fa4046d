"""Benchmark: concurrent trainings on one accelerator, and the paper-scale wall time.

Starts 1, 2, 4 and 8 training processes at once (as the Dask executor does: one process
per run, docs/cluster.md), each training the depth-5 CNN with the pipeline's own loop
(training.fit_model, batch 32) on synthetic windows for --batches batches, and records
each process's samples/s after its warm-up batches. The aggregate throughput of N
concurrent runs is the sum of their rates. Each process lets TensorFlow grow its GPU
memory (TF_FORCE_GPU_ALLOW_GROWTH) so that they share one GPU.

Projection: the paper-scale reproduction, counted from params.yaml (train.configs.paper,
prune.schedules.paper, depth_study.depths, interpret.depth_sweep.depths, |B| CNNs at all
time bins as in the paper) and the training-set size in reports/prepare_metrics.json, in
sample-steps (training samples x epochs), every run costed as a depth-5 run; divided by
the best aggregate throughput on one device, and by 8 such devices (the runs are
independent: 8 GPUs = 8 times the throughput, up to the number of runs).

--cpu hides every GPU (CUDA_VISIBLE_DEVICES=""), so the benchmark runs, and is tested,
without one. Writes gpu_concurrency.{json,md} (gpu_concurrency_cpu.{json,md} with --cpu) to --out
(default reports/benchmarks).
Usage: python benchmarks/bench_gpu.py [--cpu] [--concurrency 1 2 4 8] [--batches 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def worker(n_batches: int) -> dict:
    """One training process: its samples/s after the warm-up batches."""
    import preemergence  # noqa: F401  (TensorFlow defaults)
    from bench_training import run_ours, synthetic_source
    return run_ours(synthetic_source(), n_batches)


def concurrent(n: int, n_batches: int, env: dict) -> dict:
    """n worker processes started together: their rates and the aggregate."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--batches",
                               str(n_batches)], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a worker of {n} failed")
    rates = [json.loads(o.strip().splitlines()[-1])["samples_per_s"] for o in outs]
    return {"processes": n, "rates": rates, "aggregate_samples_per_s": sum(rates),
            "wall_s": time.perf_counter() - start}


def paper_sample_steps(params, prepare_metrics: dict) -> dict:
    """Training sample-steps of the paper-scale reproduction, per stage (params: the
    validated core.schema.Params)."""
    n_folds = params.prepare.n_folds
    first = prepare_metrics[next(iter(prepare_metrics))]
    per_epoch = (n_folds - 1) / n_folds * (first["n_pe"] + first["n_ne"])
    epochs = params.train.configs["paper"].epochs
    schedule = params.prune.schedules["paper"]
    chain = schedule.first_epochs + sum(schedule.epochs.values())
    n_bins = len(params.time_bins)
    runs = {"train-cv (Table 3)": (n_bins * n_folds, epochs),
            "depth-study (Table 2)": ((len(params.depth_study.depths) - 1) * n_folds, epochs),
            "prune (3 variants)": (3 * len(params.prune.time_bins) * n_folds, chain),
            "interpret depth sweep": (len([d for d in params.interpret.depth_sweep.depths
                                           if d > 5]), epochs),
            "interpret |B| (Table 5)": (n_bins * n_folds, epochs)}
    return {name: {"runs": r, "epochs": e, "sample_steps": r * e * per_epoch}
            for name, (r, e) in runs.items()}


def device_name(cpu: bool) -> str:
    if not cpu:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip().splitlines()[0]
    from preemergence.core.hardware import cpu_name
    return f"CPU: {cpu_name()}, {os.cpu_count()} cores"


def markdown(r: dict) -> str:
    lines = ["# Concurrent trainings on one device, and the paper-scale projection", "",
             f"Device: {r['device']}; {r['batches']} batches of 32 per process "
             "(depth-5 CNN, the pipeline's training loop, synthetic windows).", "",
             "| concurrent runs | samples/s per run | aggregate samples/s |",
             "|---:|---|---:|"]
    lines += [f"| {m['processes']} | {', '.join(f'{x:.0f}' for x in m['rates'])} | "
              f"{m['aggregate_samples_per_s']:.0f} |" for m in r["measurements"]]
    total = sum(s["sample_steps"] for s in r["paper"].values())
    lines += ["", "Paper-scale reproduction (params.yaml paper schedules; every run costed "
              "as depth 5):", "", "| stage | runs | epochs | sample-steps |",
              "|---|---:|---:|---:|"]
    lines += [f"| {k.replace('|', chr(92) + '|')} | {v['runs']} | {v['epochs']} | "
              f"{v['sample_steps'] / 1e6:.1f} M |"
              for k, v in r["paper"].items()]
    lines += [f"| total | | | {total / 1e6:.1f} M |", "",
              f"Best aggregate: {r['best_samples_per_s']:.0f} samples/s with "
              f"{r['best_processes']} concurrent runs. Projected wall time: "
              f"**{r['projected_h_1']:.1f} h on one such device, "
              f"{r['projected_h_8']:.1f} h on eight** (goal on H100/H200-class GPUs: 1 h and "
              "0.25 h)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", action="store_true", help="hide every GPU")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.batches)))
        return 0
    from preemergence.core.config import load_params
    env = {**os.environ, "TF_FORCE_GPU_ALLOW_GROWTH": "true", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    measurements = [concurrent(n, args.batches, env) for n in args.concurrency]
    best = max(measurements, key=lambda m: m["aggregate_samples_per_s"])
    params = load_params(ROOT / "params.yaml")
    paper = paper_sample_steps(params, json.loads(
        (ROOT / "reports" / "prepare_metrics.json").read_text()))
    total = sum(s["sample_steps"] for s in paper.values())
    rate = best["aggregate_samples_per_s"]
    result = {"device": device_name(args.cpu), "batches": args.batches,
              "measurements": measurements, "paper": paper,
              "best_samples_per_s": rate, "best_processes": best["processes"],
              "projected_h_1": total / rate / 3600, "projected_h_8": total / (8 * rate) / 3600}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "gpu_concurrency_cpu" if args.cpu else "gpu_concurrency"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
