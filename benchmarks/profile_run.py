"""Benchmark: where the time of a train-cv run, and of a whole `make run`, goes.

Two measurements, both from the phases the pipeline marks (``core/profiling.py``):

``run``  (default) one train-cv time bin, ``--folds`` runs in a row in one
         ``crossval.cross_validate`` call, as the stage trains them (run store,
         checkpoints, MLflow runs, model logging and registration), in a throw-away run
         store and MLflow store; a run lasts from the start of its training to the start
         of the next one's. (Until 2026-12-07 run k was a call of k folds whose first
         k - 1 were reused from the run store, so its wall time also held their handling.) The first run
         of a process pays the architecture's tracing; the following ones show the fixed
         cost every further run pays. ``--label`` names the measurement; ``--rebuild``
         builds (and so traces) a new network for every run, as the code before the
         per-architecture network did, for the before/after table.
``pipeline FILE``  a `make run` with PREEMERGENCE_PROFILE=FILE (one JSON line per stage
         process): wall time per stage and its phases.

Fixed cost of a run = its wall time less the arithmetic (training steps, validation, tile
evaluation). Writes profile.{json,md} to --out (default reports/benchmarks), keeping the
earlier measurements there (before/after). Usage:
  python benchmarks/profile_run.py [run] [--folds 3] [--label after] [--rebuild]
  PREEMERGENCE_PROFILE=/tmp/p.jsonl make run; python benchmarks/profile_run.py pipeline /tmp/p.jsonl
  python benchmarks/profile_run.py pipeline quick.jsonl --config fast --reports CLONE/reports
      (a run on another schedule, e.g. the README's quick look: convergence.md's frontier
      sets its measured time and TSS beside the estimate)
"""

import preemergence  # noqa: F401  first: the package sets TensorFlow's defaults

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARITHMETIC = ("training steps", "validation", "tile evaluation", "forward passes")


def import_seconds() -> float:
    """Wall time of a fresh process importing a training stage (TensorFlow, Keras, MLflow
    aside: they load on first use), less an empty interpreter's start."""
    def timed(code):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start
    empty = min(timed("pass") for _ in range(2))
    return min(timed("import preemergence.stages.train_cv, tensorflow, keras")
               for _ in range(2)) - empty


def profile_runs(n_folds: int, rebuild: bool, time_h: float,
                 config_name: str | None = None) -> list[dict]:
    """Train the n_folds runs of one time bin in one ``crossval.cross_validate`` call, as
    train-cv does; each run's wall time and phases, from the start of its training to the
    start of the next one's (its scoring, saving, MLflow logging and registration, and the
    next run's MLflow start, which stands for its own) or to the end of the call."""
    from preemergence.core import profiling, tracking
    from preemergence.core.config import load_params
    from preemergence.model import crossval, training
    from preemergence.model.configs import train_config
    from preemergence.model.runs import load_time_bins
    params = load_params(ROOT / "params.yaml")
    start = time.perf_counter()
    data = load_time_bins(ROOT / "data/regions", ROOT / "data/segments", [time_h],
                          params.prepare.n_folds)
    load_s = time.perf_counter() - start
    config = train_config(params, *([config_name] if config_name else []))
    marks = []                         # (clock, phases so far) as each run starts training
    real_train_fold = crossval.train_fold

    def marked_train_fold(*args, **kwargs):
        if rebuild:
            training._NETWORKS.clear()
        marks.append((time.perf_counter(), profiling.snapshot()["phases"]))
        return real_train_fold(*args, **kwargs)
    crossval.train_fold = marked_train_fold
    profiling.reset()
    try:
        with tracking.start_run("profile", "profile", "simulated") as mlflow:
            mlflow.set_tag("benchmark", "profile_run")
            results = crossval.cross_validate(
                {time_h: data[time_h]}, config, ROOT / "models/.profile", n_folds,
                "profile", "simulated", progress=False, register=True)
            marks.append((time.perf_counter(), profiling.snapshot()["phases"]))
    finally:
        crossval.train_fold = real_train_fold
    assert not any(r["reused"] for r in results), "profile needs an empty run store"
    runs = [{"fold": fold, "wall_s": t1 - t0,
             "phases": {k: v - p0.get(k, 0.0) for k, v in p1.items() if v > p0.get(k, 0.0)},
             "samples": config.epochs * config.samples_per_epoch}
            for fold, ((t0, p0), (t1, p1)) in enumerate(zip(marks, marks[1:]))]
    runs[0]["data_loading_s"] = load_s
    return runs


def fixed_cost(run: dict) -> float:
    """Wall time of a run that is not arithmetic (training steps, validation, tiles)."""
    return run["wall_s"] - sum(run["phases"].get(k, 0.0) for k in ARITHMETIC)


def measure_run(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PREEMERGENCE_RUN_STORE"] = str(Path(tmp) / "runs")
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["PREEMERGENCE_EXECUTOR"] = "inprocess"
        runs = profile_runs(args.folds, args.rebuild, args.time_h, args.config)
    import shutil
    shutil.rmtree(ROOT / "models/.profile", ignore_errors=True)
    later = runs[1:] or runs
    return {"label": args.label, "kind": "run", "rebuild_per_run": args.rebuild,
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "import_s": import_seconds(),
            "runs": runs, "fixed_cost_first_s": fixed_cost(runs[0]),
            "fixed_cost_later_s": sum(fixed_cost(r) for r in later) / len(later),
            "samples_per_s": [r["samples"] / r["phases"].get("training steps", float("nan"))
                              for r in runs]}


def machine() -> dict:
    """The machine of a measurement: hardware.describe(), CPUs, its vector-instruction flags
    (the one thing that tells the two 2-core AMD EPYC kinds apart), Python and TensorFlow."""
    import tensorflow as tf
    from bench_test_suite import cpu_flags
    from preemergence.core import hardware
    return {**hardware.describe(), "cpus": os.cpu_count(), "isa": ",".join(cpu_flags()),
            "python": platform.python_version(), "tensorflow": tf.__version__}


def measure_pipeline(path: Path, label: str, schedule: str | None = None,
                     reports: Path | None = None) -> dict:
    """Per stage process of a profiled `make run`: wall time and phases; the schedule it
    ran (``schedule``: a train.configs name, e.g. `fast` for the README's quick look;
    default params.yaml's train.config) and, with ``reports`` (that run's reports folder),
    its depth study's fold-mean TSS per depth."""
    stages = []
    for line in Path(path).read_text().splitlines():
        entry = json.loads(line)
        argv = entry["argv"]
        name = next((a for a in argv[1:] if not a.startswith("-")), argv[0])
        stages.append({"stage": Path(name).name, "wall_s": entry["wall_s"],
                       "phases": entry["phases"], "counts": entry["counts"]})
    from preemergence.core.config import load_params
    from frontier_report import depth_tss
    params = load_params(ROOT / "params.yaml")
    schedule = schedule or params.train.config
    return {"label": label, "kind": "pipeline", "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": machine(), "stages": stages, "schedule": schedule,
            "schedule_epochs": params.train.configs[schedule].epochs,
            "default_epochs": params.train.configs[params.train.config].epochs,
            **({"tss_by_depth": depth_tss(reports)} if reports else {})}


def markdown(measurements: list[dict]) -> str:
    lines = ["# Benchmark: where the time of a run goes", "",
             "Method: `python benchmarks/profile_run.py` (see its docstring). Phases as the "
             "pipeline marks them (`core/profiling.py`), wall-clock seconds; inner phases "
             "are taken out of outer ones. Fixed cost = wall time less training steps, "
             "validation and tile evaluation.", ""]
    for m in measurements:
        machine = m["machine"]
        isa = f" ({machine['isa'] or 'no AVX2'})" if "isa" in machine else ""
        schedule = (f" Schedule: `{m['schedule']}` ({m['schedule_epochs']} epochs)."
                    if "schedule" in m else "")
        lines += [f"## {m['label']} ({m['kind']}, {m['date']})", "",
                  f"Machine: {machine.get('cpu', '?')}{isa}, {machine.get('cpus')} CPUs; "
                  f"TensorFlow {machine.get('tensorflow', '?')}.{schedule}", ""]
        lines += run_table(m) if m["kind"] == "run" else pipeline_table(m)
    return "\n".join(lines) + "\n"


def run_table(m: dict) -> list[str]:
    names = sorted({k for r in m["runs"] for k in r["phases"]},
                   key=lambda k: -sum(r["phases"].get(k, 0) for r in m["runs"]))
    head = "| phase | " + " | ".join(f"run {r['fold'] + 1}" for r in m["runs"]) + " |"
    rows = [head, "|---|" + "---:|" * len(m["runs"])]
    for name in names:
        rows.append(f"| {name} | " + " | ".join(f"{r['phases'].get(name, 0):.2f}"
                                                 for r in m["runs"]) + " |")
    rows.append("| **wall** | " + " | ".join(f"**{r['wall_s']:.2f}**" for r in m["runs"]) + " |")
    rows.append("| **fixed cost** | " + " | ".join(f"**{fixed_cost(r):.2f}**"
                                                    for r in m["runs"]) + " |")
    rate = ", ".join(f"{s:.0f}" for s in m["samples_per_s"])
    return [f"Network per run rebuilt (and traced): {m['rebuild_per_run']}. A fresh "
            f"process imports the training stage with TensorFlow and Keras in "
            f"{m['import_s']:.1f} s (paid once per stage process).", "", *rows, "",
            f"Fixed cost: first run {m['fixed_cost_first_s']:.2f} s, later runs "
            f"{m['fixed_cost_later_s']:.2f} s each. Training-step rate (samples/s): "
            f"{rate}.", ""]


def pipeline_table(m: dict) -> list[str]:
    names = sorted({k for s in m["stages"] for k in s["phases"]},
                   key=lambda k: -sum(s["phases"].get(k, 0) for s in m["stages"]))
    rows = ["| stage | wall | " + " | ".join(names) + " | other |",
            "|---|---:|" + "---:|" * (len(names) + 1)]
    for s in m["stages"]:
        other = s["wall_s"] - sum(s["phases"].values())
        rows.append(f"| {s['stage']} | {s['wall_s']:.0f} | "
                    + " | ".join(f"{s['phases'].get(k, 0):.0f}" for k in names)
                    + f" | {other:.0f} |")
    total = sum(s["wall_s"] for s in m["stages"])
    sums = [sum(s["phases"].get(k, 0) for s in m["stages"]) for k in names]
    rows.append(f"| **all** | **{total:.0f}** | " + " | ".join(f"{v:.0f}" for v in sums)
                + f" | {total - sum(sums):.0f} |")
    shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in zip(names, sums))
    return ["Seconds per stage process (`other`: start-up, imports, reports, figures and "
            "what no phase covers).", "", *rows, "", f"Shares of the total: {shares}.", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=("run", "pipeline"))
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--time-h", type=float, default=-3.2)
    parser.add_argument("--label", default="current")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--config", help="train.configs schedule (default: train.config); "
                        "pipeline: the schedule the profiled run trained on")
    parser.add_argument("--reports", type=Path,
                        help="pipeline: the profiled run's reports folder (its depth study's "
                             "TSS goes with the measurement)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks")
    args = parser.parse_args()
    measurement = (measure_run(args) if args.mode == "run"
                   else measure_pipeline(args.file, args.label, args.config, args.reports))
    from preemergence.core.artifacts import atomic_write_text, read_json, write_json
    path = args.out / "profile.json"
    kept = [m for m in (read_json(path) or []) if m["label"] != args.label]
    measurements = [*kept, measurement]
    write_json(path, measurements)
    atomic_write_text(args.out / "profile.md", markdown(measurements))
    print(markdown([measurement]))


if __name__ == "__main__":
    main()
