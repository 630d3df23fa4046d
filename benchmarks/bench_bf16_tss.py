"""Measurement: does bf16 mixed precision change the CNN's TSS? (issue: train-cv, hardware)

Trains the default schedule at one time bin (5 folds, same seeds, same data) twice, with
``train.mixed_precision`` false and true (Keras policy mixed_bfloat16: bf16 convolutions,
float32 weights and output), times both, checks that the float32 TSS values equal the
pipeline's (``reports/train_cv_metrics.json``, written by ``dvc repro``) and compares. bf16 counts as "unchanged"
when the mean paired difference (bf16 - fp32) lies within the float32 fold spread (one
standard deviation of the five fold TSS values).

Needs the pipeline's data (``data/regions``, ``data/segments``: run ``make run`` first).
Runs ``preemergence train-cv`` in a work folder with its own MLflow store and run store,
so neither the repository's models nor its tracking store are touched, and both
precisions train from scratch (the pipeline's run store holds the float32 runs: reused,
they would time nothing); an interrupted run resumes there.
On a machine without a GPU and without native bf16 (avx512_bf16 / amx_bf16) TensorFlow
emulates bf16: the TSS values are meaningful, the time is not bf16's real speed.
Writes reports/benchmarks/bf16_tss.{json,md}.
Usage: python benchmarks/bench_bf16_tss.py [--time-h -3.2] [--work DIR]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from preemergence.core import hardware
from preemergence.core.artifacts import atomic_write_text, write_json
from preemergence.core.config import load_params, with_overrides
from preemergence.core.constants import time_bin_label
from preemergence.core.paths import RESULT_FILE, RUN_STORE_ENV

ROOT = Path(__file__).resolve().parents[1]


def precision_params(params, time_h: float, bf16: bool):
    """The pipeline's parameters (core.schema.Params) with one time bin and bf16 on or off."""
    return with_overrides(params, {"train.mixed_precision": bf16, "time_bins": [time_h]})


def fold_values(metrics: dict, label: str) -> list[float]:
    """TSS per fold, fold 0 first, from a train-cv metrics file's time-bin entry."""
    entry = metrics[label]
    n_folds = sum(key.startswith("tss_fold") for key in entry)
    return [entry[f"tss_fold{k}"] for k in range(n_folds)]


def compare(fp32: list[float], bf16: list[float]) -> dict:
    """Per-fold paired differences, their 95 % interval, the fold-noise criterion."""
    from scipy import stats
    diffs = [b - f for f, b in zip(fp32, bf16)]
    spread = statistics.pstdev(fp32)
    mean_diff = statistics.fmean(diffs)
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return {"fp32": fp32, "bf16": bf16, "paired_diff": diffs,
            "fp32_mean": statistics.fmean(fp32), "fp32_std": spread,
            "bf16_mean": statistics.fmean(bf16), "bf16_std": statistics.pstdev(bf16),
            "mean_paired_diff": mean_diff,
            "paired_diff_ci95": [mean_diff - half, mean_diff + half],
            "within_fold_noise": bool(abs(mean_diff) <= spread)}


def work_env(work: Path) -> dict:
    """The environment of a train-cv in ``work``: its own MLflow store and its own run store
    (the pipeline's store holds the float32 runs already: reused, they would time nothing)."""
    return dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work.resolve() / 'mlflow.db'}",
                **{RUN_STORE_ENV: str(work.resolve() / "runs")}, TF_CPP_MIN_LOG_LEVEL="2")


def train(work: Path, params) -> dict:
    """train-cv in ``work`` (own models, reports, MLflow and run stores); wall time, and how
    many of its runs an earlier, interrupted call had finished (reused, not timed)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params.model_dump()))
    env = work_env(work)
    reused = len(list((work / "runs").glob(f"*/{RESULT_FILE}")))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "preemergence.cli", "train-cv",
                    "--regions", str(ROOT / "data" / "regions"),
                    "--segments", str(ROOT / "data" / "segments"),
                    "--models", str(work / "models"), "--reports", str(work / "reports"),
                    "--params", str(work / "params.yaml")], env=env, check=True)
    return {"wall_s": round(time.perf_counter() - start, 1), "runs_reused": reused,
            "metrics": json.loads((work / "reports" / "train_cv_metrics.json").read_text())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-h", type=float, default=-3.2)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "bf16_tss")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    label = time_bin_label(args.time_h)
    reference_path = ROOT / "reports" / "train_cv_metrics.json"
    if not reference_path.exists():
        sys.exit(f"error: {reference_path}: missing; run `make run` first (float32 runs)")
    reference = json.loads(reference_path.read_text())
    if reference.get("config") != params.train.config or \
            reference.get("depth") != params.depth:
        sys.exit(f"error: {reference_path}: config/depth differ from params.yaml; "
                 "run `dvc repro` first")
    runs = {name: train(args.work / name, precision_params(params, args.time_h, bf16))
            for name, bf16 in (("fp32", False), ("bf16", True))}
    fp32 = fold_values(runs["fp32"]["metrics"], label)
    result = {"time_bin": label, "config": params.train.config,
              "depth": params.depth, "hardware": hardware.describe(),
              "bf16_emulated": hardware.bf16_is_emulated(),
              "wall_s": {name: run["wall_s"] for name, run in runs.items()},
              "runs_reused": {name: run["runs_reused"] for name, run in runs.items()},
              "fp32_equals_pipeline": fp32 == fold_values(reference, label),
              **compare(fp32, fold_values(runs["bf16"]["metrics"], label))}
    out = ROOT / "reports" / "benchmarks"
    write_json(out / "bf16_tss.json", result)
    atomic_write_text(out / "bf16_tss.md", markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    pct = [f"| {k} | {100 * f:.1f} | {100 * b:.1f} | {100 * d:+.1f} |"
           for k, (f, b, d) in enumerate(zip(r["fp32"], r["bf16"], r["paired_diff"]))]
    hw = r["hardware"]
    emulated = ("emulated by TensorFlow (no GPU, no native bf16 on this CPU)"
                if r["bf16_emulated"] else "native")
    verdict = "unchanged within fold noise" if r["within_fold_noise"] else \
        "CHANGED beyond fold noise"
    lo, hi = (100 * v for v in r["paired_diff_ci95"])
    same = ("equal, fold by fold, to" if r["fp32_equals_pipeline"]
            else "DIFFERENT from")
    return "\n".join([
        "# Measurement: TSS with bf16 mixed precision vs float32", "",
        f"Machine: {hw['cpu']}, device {hw['device']} (GPUs: {hw['gpus']}), oneDNN "
        f"{hw['onednn']}, native bf16: {hw['cpu_bf16']}. bf16 {emulated}.", "",
        "Method: `python benchmarks/bench_bf16_tss.py` runs train-cv twice at "
        f"{r['time_bin']} (default `{r['config']}` schedule, depth {r['depth']}, 5 folds, "
        "same seeds and data), with `train.mixed_precision` false and true (Keras "
        "`mixed_bfloat16`), each in its own work folder. Data: the pipeline's (simulated "
        f"by default). The float32 TSS values are {same} the pipeline's "
        "(`reports/train_cv_metrics.json`). Criterion for \"unchanged\": |mean paired "
        "difference| <= the float32 fold standard deviation; the paired 95 % interval "
        "(Student t, 4 degrees of freedom) is given too.", "",
        "| fold | TSS fp32 (%) | TSS bf16 (%) | bf16 - fp32 (points) |",
        "|---:|---:|---:|---:|", *pct,
        f"| mean ± std | {100 * r['fp32_mean']:.1f} ± {100 * r['fp32_std']:.1f} | "
        f"{100 * r['bf16_mean']:.1f} ± {100 * r['bf16_std']:.1f} | "
        f"{100 * r['mean_paired_diff']:+.1f} |", "",
        f"Result: TSS **{verdict}** (mean paired difference "
        f"{100 * r['mean_paired_diff']:+.1f} points, 95 % interval {lo:+.1f} to {hi:+.1f}; "
        f"float32 fold spread {100 * r['fp32_std']:.1f} points).", "", _timing(r), ""])


def _timing(r: dict) -> str:
    if any(r["runs_reused"].values()):
        return ("Some runs were finished by an earlier invocation in the same work folder "
                f"and reused ({r['runs_reused']}), so no wall times are compared.")
    fp32, bf16 = r["wall_s"]["fp32"], r["wall_s"]["bf16"]
    return (f"Wall time of the 5 folds (train-cv, one process each): float32 {fp32:.0f} s, "
            f"bf16 {bf16:.0f} s ({bf16 / fp32:.1f}x).")


if __name__ == "__main__":
    main()
