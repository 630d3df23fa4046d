"""Benchmark: this CPU's best training-step throughput, and how close a run comes to it.

The ceiling: the depth-5 CNN's compiled training step (``training.make_train_step``: Adam,
binary cross-entropy, gradients through the Keras layers) on in-memory random windows, for
every combination of oneDNN kernels on/off (TF_ENABLE_ONEDNN_OPTS, read once at import: a
worker process each), XLA ``jit_compile`` on/off and batch sizes 32-256; steady state after
WARMUP steps, at least MIN_SECONDS of timed steps; samples/s and convolution GFLOP/s
(``bench_training.training_gflop_per_sample``). The best of them is the ceiling.

A run: ``training.fit_model`` at the schedule's batch size (32) on windows cropped from a
region cube (the pipeline's input path, prefetch thread included), with this machine's
chosen setting; its training-step rate as a ratio to the ceiling (goal: >= 0.7).

The fastest (oneDNN, XLA) at batch 32 is saved as this machine's choice (core/compute.py),
which every later run reads and records. Writes ceiling.{json,md} to --out.
Usage: python benchmarks/bench_ceiling.py [--batches 32 64 128 256] [--no-save] [--out DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP, MIN_SECONDS, MIN_STEPS, SEED = 3, 4.0, 6, 7
SAVED_NOTE = "; saved as this machine's choice"


def step_rate(batch: int, jit: bool) -> float:
    """Samples/s of the compiled training step at this batch size (steady state)."""
    import keras
    import numpy as np
    from preemergence.model import cnn, training
    model = cnn.build_model(5, seed=SEED)
    step = training.make_train_step(model, training.ensure_optimizer(model, 1e-4), jit)
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((batch, 85, 85, 1)).astype("float32")
    y = (rng.random(batch) > 0.5).astype("float32")
    for _ in range(WARMUP):
        float(step(x, y)[0])
    n, start = 0, time.perf_counter()
    while n < MIN_STEPS or time.perf_counter() - start < MIN_SECONDS:
        float(step(x, y)[0])
        n += 1
    keras.backend.clear_session()
    return n * batch / (time.perf_counter() - start)


def pipeline_rate(batch: int = 32, samples: int = 3200) -> float:
    """Training-step samples/s of fit_model on cropped windows (the phases' own clock)."""
    import numpy as np
    import pandas as pd
    from preemergence.core import profiling
    from preemergence.model import training, windows
    rng = np.random.default_rng(SEED)
    cube = rng.standard_normal((40, 256, 256)).astype("float32") * 20
    table = pd.DataFrame({"region_id": [f"R{i % 40}" for i in range(4000)],
                          "x0": rng.integers(0, 171, 4000), "y0": rng.integers(0, 171, 4000),
                          "label": rng.integers(0, 2, 4000)})
    source = windows.source_from_table(cube, windows.region_index([f"R{i}" for i in range(40)]),
                                       table, 0.0, 20.0)
    model = training.fresh_network(5, SEED)
    training.fit_model(model, source, None, 1, 1e-4, batch, seed=1, samples_per_epoch=320)
    profiling.reset()
    training.fit_model(model, source, None, 1, 1e-4, batch, seed=2, samples_per_epoch=samples)
    phases = profiling.snapshot()["phases"]
    return samples / phases["training steps"]


def worker(batches: list[int]) -> dict:
    import preemergence  # noqa: F401
    from bench_training import training_gflop_per_sample
    from preemergence.core import hardware
    from preemergence.model import cnn
    gflop = training_gflop_per_sample(cnn.build_model(5))
    rows = [{"onednn": hardware.onednn_enabled(), "jit": jit, "batch": b,
             "samples_per_s": step_rate(b, jit)} for jit in (False, True) for b in batches]
    for row in rows:
        row["gflops"] = row["samples_per_s"] * gflop
    return {"rows": rows, "gflop_per_sample": gflop}


def spawn(onednn: str, batches: list[int]) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "PYTHONPATH": str(ROOT / "benchmarks")}
    out = subprocess.run([sys.executable, __file__, "--worker", *map(str, batches)], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    m, best, run = report["machine"], report["ceiling"], report["run"]
    lines = ["# Benchmark: the training step's ceiling on this machine", "",
             f"Machine: {m['cpu']}, {m['cpus']} CPUs; TensorFlow {m['tensorflow']}. "
             f"Method: `python benchmarks/bench_ceiling.py` (see its docstring). Depth-5 CNN, "
             f"{report['gflop_per_sample']:.3f} GFLOP of convolutions per training sample.", "",
             "| oneDNN | XLA jit_compile | batch | samples/s | GFLOP/s | of the ceiling |",
             "|---|---|---:|---:|---:|---:|"]
    for r in sorted(report["rows"], key=lambda r: -r["samples_per_s"]):
        lines.append(f"| {'on' if r['onednn'] else 'off'} | {'on' if r['jit'] else 'off'} | "
                     f"{r['batch']} | {r['samples_per_s']:.0f} | {r['gflops']:.1f} | "
                     f"{r['samples_per_s'] / best['samples_per_s']:.0%} |")
    chosen = report["choice"]
    lines += ["", f"**Ceiling:** {best['samples_per_s']:.0f} samples/s "
              f"({best['gflops']:.1f} GFLOP/s): oneDNN {'on' if best['onednn'] else 'off'}, "
              f"XLA {'on' if best['jit'] else 'off'}, batch {best['batch']}.", "",
              f"**Chosen for training at batch 32** (fastest at that batch): oneDNN "
              f"{'on' if chosen['onednn'] else 'off'}, XLA "
              f"{'on' if chosen['jit'] else 'off'}"
              f"{SAVED_NOTE if report['saved'] else ''}.", "",
              f"**A run** (`fit_model`, batch 32, windows cropped from a cube, as chosen): "
              f"{run['samples_per_s']:.0f} samples/s, **{run['ratio']:.0%} of the ceiling** "
              f"(goal 70%).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, nargs="+")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    parser.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    if args.run_only:
        import preemergence  # noqa: F401
        print(json.dumps({"samples_per_s": pipeline_rate()}))
        return
    results = [spawn(flag, args.batches) for flag in ("1", "0")]
    rows = [r for res in results for r in res["rows"]]
    best = max(rows, key=lambda r: r["samples_per_s"])
    choice = max((r for r in rows if r["batch"] == 32), key=lambda r: r["samples_per_s"])
    import preemergence  # noqa: F401
    from preemergence.core import compute, hardware
    from preemergence.core.artifacts import atomic_write_text, write_json
    saved = not args.no_save
    if saved:
        compute.save_choice(choice["onednn"], choice["jit"],
                            {"rows": rows, "date": time.strftime("%Y-%m-%d")})
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1" if choice["onednn"] else "0"}
    out = subprocess.run([sys.executable, __file__, "--run-only"], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT)
    run_rate = json.loads(out.stdout.strip().splitlines()[-1])["samples_per_s"]
    report = {"machine": {"cpu": hardware.cpu_name(), "cpus": os.cpu_count(),
                          "tensorflow": compute.tensorflow_version()},
              "gflop_per_sample": results[0]["gflop_per_sample"], "rows": rows,
              "ceiling": best, "choice": choice, "saved": saved,
              "run": {"samples_per_s": run_rate, "ratio": run_rate / best["samples_per_s"]}}
    write_json(args.out / "ceiling.json", report)
    atomic_write_text(args.out / "ceiling.md", markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
