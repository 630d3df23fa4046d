"""Measurement: does bf16 mixed precision change the CNN's TSS? (issue: train-cv, hardware)

Trains the default schedule at one time bin (5 folds, same seeds, same data) with
``train.mixed_precision: true`` (Keras policy mixed_bfloat16: bf16 convolutions, float32
weights and output) and compares each fold's TSS with the float32 runs of the pipeline
(``reports/train_cv_metrics.json``, written by ``dvc repro``). bf16 counts as "unchanged"
when the mean paired difference (bf16 - fp32) lies within the float32 fold spread (one
standard deviation of the five fold TSS values).

Needs the pipeline's data (``data/regions``, ``data/segments``: run ``make run`` first).
Runs ``preemergence train-cv`` in a work folder with its own MLflow store, so neither the
repository's models nor its tracking store are touched; an interrupted run resumes there.
On a machine without a GPU and without native bf16 (avx512_bf16 / amx_bf16) TensorFlow
emulates bf16: the numbers are the same kind, the time is ~10x float32's.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from preemergence import hardware  # noqa: E402
from preemergence.artifacts import atomic_write_text, write_json  # noqa: E402
from preemergence.constants import time_bin_label  # noqa: E402


def bf16_params(params: dict, time_h: float) -> dict:
    """The pipeline's parameters with bf16 on and a single time bin."""
    out = json.loads(json.dumps(params))
    out["train"]["mixed_precision"] = True
    out["time_bins"] = [time_h]
    return out


def fold_values(metrics: dict, label: str) -> list[float]:
    entry = metrics[label]
    return [entry[f"tss_fold{k}"] for k in range(len(
        [key for key in entry if key.startswith("tss_fold")]))]


def compare(fp32: list[float], bf16: list[float]) -> dict:
    """Per-fold paired differences and the fold-noise criterion (TSS as fractions)."""
    diffs = [b - f for f, b in zip(fp32, bf16)]
    spread = statistics.pstdev(fp32)
    mean_diff = statistics.fmean(diffs)
    return {"fp32": fp32, "bf16": bf16, "paired_diff": diffs,
            "fp32_mean": statistics.fmean(fp32), "fp32_std": spread,
            "bf16_mean": statistics.fmean(bf16), "bf16_std": statistics.pstdev(bf16),
            "mean_paired_diff": mean_diff,
            "within_fold_noise": bool(abs(mean_diff) <= spread)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-h", type=float, default=-3.2)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "bf16_tss")
    args = parser.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    label = time_bin_label(args.time_h)
    reference_path = ROOT / "reports" / "train_cv_metrics.json"
    if not reference_path.exists():
        sys.exit(f"error: {reference_path}: missing; run `make run` first (float32 runs)")
    reference = json.loads(reference_path.read_text())
    if reference.get("config") != params["train"]["config"] or \
            reference.get("depth") != params["depth"]:
        sys.exit(f"error: {reference_path}: config/depth differ from params.yaml; "
                 "run `dvc repro` first")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(bf16_params(params, args.time_h)))
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work.resolve() / 'mlflow.db'}",
               TF_CPP_MIN_LOG_LEVEL="2")
    resumed = len(list((work / "models").glob("*/*/fold*/result.json")))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "preemergence.cli", "train-cv",
                    "--regions", str(ROOT / "data" / "regions"),
                    "--segments", str(ROOT / "data" / "segments"),
                    "--models", str(work / "models"), "--reports", str(work / "reports"),
                    "--params", str(work / "params.yaml")], env=env, check=True)
    elapsed = time.perf_counter() - start
    bf16 = json.loads((work / "reports" / "train_cv_metrics.json").read_text())
    result = {"time_bin": label, "config": params["train"]["config"],
              "depth": params["depth"], "hardware": hardware.describe(),
              "bf16_emulated": hardware.bf16_is_emulated(),
              "wall_s_bf16_stage": round(elapsed, 1), "runs_finished_before": resumed,
              **compare(fold_values(reference, label), fold_values(bf16, label))}
    out = ROOT / "reports" / "benchmarks"
    write_json(out / "bf16_tss.json", result)
    atomic_write_text(out / "bf16_tss.md", markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    pct = [f"| {k} | {100 * f:.1f} | {100 * b:.1f} | {100 * d:+.1f} |"
           for k, (f, b, d) in enumerate(zip(r["fp32"], r["bf16"], r["paired_diff"]))]
    hw = r["hardware"]
    emulated = ("emulated by TensorFlow (no GPU, no native bf16 on this CPU): the wall "
                "time says nothing about bf16 speed" if r["bf16_emulated"] else "native")
    verdict = "unchanged within fold noise" if r["within_fold_noise"] else \
        "CHANGED beyond fold noise"
    return "\n".join([
        "# Measurement: TSS with bf16 mixed precision vs float32", "",
        f"Machine: {hw['cpu']}, device {hw['device']} (GPUs: {hw['gpus']}), oneDNN "
        f"{hw['onednn']}, native bf16: {hw['cpu_bf16']}. bf16 {emulated}.", "",
        "Method: `python benchmarks/bench_bf16_tss.py` trains the default "
        f"`{r['config']}` schedule, depth {r['depth']}, at {r['time_bin']}, 5 folds, with "
        "`train.mixed_precision: true` (Keras `mixed_bfloat16`), same seeds and data as "
        "the float32 runs in `reports/train_cv_metrics.json`. Data: the pipeline's "
        "(simulated by default). Criterion: |mean paired difference| <= the float32 "
        "fold standard deviation.", "",
        "| fold | TSS fp32 (%) | TSS bf16 (%) | bf16 - fp32 (points) |",
        "|---:|---:|---:|---:|", *pct,
        f"| mean ± std | {100 * r['fp32_mean']:.1f} ± {100 * r['fp32_std']:.1f} | "
        f"{100 * r['bf16_mean']:.1f} ± {100 * r['bf16_std']:.1f} | "
        f"{100 * r['mean_paired_diff']:+.1f} |", "",
        f"Result: TSS **{verdict}** (mean paired difference "
        f"{100 * r['mean_paired_diff']:+.1f} points, float32 fold spread "
        f"{100 * r['fp32_std']:.1f} points). {_timing(r)}", ""])


def _timing(r: dict) -> str:
    if r["runs_finished_before"]:
        return (f"{r['runs_finished_before']} of the runs were finished by an earlier "
                "invocation in the same work folder and reused, so no wall time is reported.")
    return f"bf16 training stage wall time: {r['wall_s_bf16_stage']:.0f} s."


if __name__ == "__main__":
    main()
