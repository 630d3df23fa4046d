"""The train-cv and depth-study stages: loops, metrics, plots, figures, reports, MLflow."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import cnn  # first: sets TensorFlow's CPU options before TensorFlow is imported

import numpy as np
import pandas as pd

from . import figures, hardware
from .artifacts import atomic_write_text, save_figure, write_csv, write_json
from .constants import time_bin_label, time_from_label
from .progress import progress as show_progress
from .segments import read_dataset_info
from .train_cv import TrainConfig, load_fold_data, run_folder, summarise, train_fold

PAPER_TABLE3 = dict(zip(figures.PAPER_TIMES_H, figures.PAPER_CNN_TSS))
PAPER_TABLE2 = {1: 8.89, 2: 52.29, 3: 70.34, 4: 82.33, 5: 84.57}   # TSS % at -3.2 h


def cross_validate(data: dict, config: TrainConfig, models_dir: Path, n_folds: int,
                   run_prefix: str, source: str, progress: bool = True,
                   reuse_dir: Path | None = None) -> list[dict]:
    """Train every (time bin, fold) run (skipping finished ones); one MLflow run each.

    reuse_dir: a models folder whose identical runs are copied instead of retrained.
    """
    from . import tracking
    jobs = [(t, fold) for t in data for fold in range(n_folds)]
    results = []
    with show_progress(jobs, progress, f"{run_prefix} (depth {config.depth})", "run") as bar:
        for t, fold in bar:
            reuse = run_folder(reuse_dir, config, t, fold) if reuse_dir else None
            result = train_fold(data[t], fold, config, run_folder(models_dir, config, t, fold),
                                reuse)
            results.append(result)
            name = f"{run_prefix} depth{config.depth} {time_bin_label(t)} fold{fold}"
            with tracking.start_run(run_prefix, name, source, nested=True) as mlflow:
                _log_fold(mlflow, result, run_folder(models_dir, config, t, fold))
    return results


def _log_fold(mlflow, result: dict, folder: Path) -> None:
    from . import tracking
    mlflow.log_params(tracking.flatten({"config": result["config"], "time_h": result["time_h"],
                                        "fold": result["fold"]}))
    history = result["history"]
    for step, epoch in enumerate(history.get("epoch", [])):
        mlflow.log_metrics({"loss": history["loss"][step],
                            "val_loss": history["val_loss"][step]}, step=int(epoch))
    mlflow.log_metrics({k: float(result[k]) for k in ("tss", "tp", "fn", "fp", "tn")})
    mlflow.set_tag("reused_result", str(result.get("reused", False)).lower())
    if not result.get("reused"):
        mlflow.log_artifact(str(folder / "model.keras"))


def loss_rows(results: list[dict]) -> pd.DataFrame:
    """Per-epoch losses of every run (for DVC plots and the loss figure)."""
    rows = [{"time_h": r["time_h"], "fold": r["fold"], "epoch": e + 1,
             "loss": r["history"]["loss"][i], "val_loss": r["history"]["val_loss"][i]}
            for r in results for i, e in enumerate(r["history"].get("epoch", []))]
    return pd.DataFrame(rows)


def plot_losses(results: list[dict], path: Path, note: str) -> Path:
    """Paper Fig. 8: training and validation loss against epoch, one panel per time bin."""
    frame = loss_rows(results)
    times = sorted(frame.time_h.unique(), reverse=True)
    fig = figures.new_figure(3.6 * len(times), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(times), sharey=True))
    for ax, t in zip(axes, times):
        for fold, runs in frame[frame.time_h == t].groupby("fold"):
            ax.plot(runs.epoch, runs.loss, color="C0", alpha=0.7, marker="o", markersize=3,
                    label="training" if fold == 0 else None)
            ax.plot(runs.epoch, runs.val_loss, color="C1", alpha=0.7, marker="s",
                    markersize=3, label="validation" if fold == 0 else None)
        ax.set(title=f"{t} h", xlabel="epoch")
    axes[0].set_ylabel("binary cross-entropy (nats)")
    axes[0].legend()
    fig.suptitle(f"Training and validation loss, 5 folds per time bin. {note}", fontsize=10)
    return save_figure(fig, path, dpi=100)


def table3_markdown(summary: dict, config: TrainConfig, source: str) -> str:
    lines = ["# Table 3: CNN TSS per time bin (5-fold cross-validation)", "",
             f"Ours: **{source}** data, depth {config.depth}, training configuration "
             f"`{config.name}` ({_config_text(config)}). Paper: SDO/HEAR, depth 5, "
             "lr 1e-7, batch 32, 200 epochs (Dhuri et al. 2020, Table 3). TSS on the 9 "
             "evaluation tiles of every validation region, threshold 0.5; mean ± std over "
             "folds.", "",
             "| time (h) | TSS ours (%) | TSS paper (%) | folds (ours, %) |",
             "|---:|---:|---:|---|"]
    for label, entry in summary.items():
        t = time_from_label(label)
        paper = PAPER_TABLE3.get(t)
        folds = ", ".join(f"{100 * v:.1f}" for k, v in entry.items() if k.startswith("tss_f"))
        lines.append(f"| {t} | {100 * entry['tss_mean']:.1f} ± {100 * entry['tss_std']:.1f} | "
                     f"{f'{paper[0]} ± {paper[1]}' if paper else '–'} | {folds} |")
    lines += ["", "![loss curves](figures/train_cv_loss.png)", "",
              "![TSS against time](figures/tss_vs_time.png)", ""]
    return "\n".join(lines)


def _config_text(config: TrainConfig) -> str:
    parts = [f"lr {config.learning_rate:g}", f"batch {config.batch_size}",
             f"{config.epochs} epochs"]
    if config.samples_per_epoch:
        parts.append(f"{config.samples_per_epoch} random training samples per epoch")
    if config.abs_field:
        parts.append("|B| input")
    return ", ".join(parts)


def tss_series(summary: dict) -> tuple[list, list, list]:
    labels = list(summary)
    return ([float(lab[1:-1]) for lab in labels], [summary[lab]["tss_mean"] for lab in labels],
            [summary[lab]["tss_std"] for lab in labels])


def baseline_series(reports_dir: Path) -> dict:
    """DA curves from the baseline stage's metrics, when present."""
    path = Path(reports_dir) / "baseline_metrics.json"
    if not path.exists():
        return {}
    metrics = json.loads(path.read_text())
    names = {"mtot": "DA MTOT (ours)", "mtot_dm": "DA MTOT+DM (ours)"}
    return {names[v]: tss_series(by_time) for v, by_time in metrics.items() if v in names}


def run_train_cv(params: dict, regions_dir: Path, segments_dir: Path, models_dir: Path,
                 reports_dir: Path) -> dict:
    """All time bins x folds at the configured depth; metrics, plots, Table 3, figures."""
    from . import tracking
    config = TrainConfig.from_params(params)
    source = read_dataset_info(segments_dir)["source"]
    data = load_fold_data(regions_dir, segments_dir, params["time_bins"])
    reports_dir = Path(reports_dir)
    _quiet_tensorflow()
    with tracking.start_run("train-cv", f"train-cv depth{config.depth}", source) as mlflow:
        mlflow.log_params(tracking.flatten({"config": config.as_dict()}))
        log_hardware(mlflow, config)
        results = cross_validate(data, config, models_dir, params["prepare"]["n_folds"],
                                 "train-cv", source)
        summary = summarise(results)
        for label, entry in summary.items():
            mlflow.log_metrics({f"tss_mean_{label}": entry["tss_mean"],
                                f"tss_std_{label}": entry["tss_std"]})
    write_json(reports_dir / "train_cv_metrics.json",
               {"depth": config.depth, "config": config.name, **summary})
    write_csv(reports_dir / "plots" / "train_cv_loss.csv", loss_rows(results))
    times, means, stds = tss_series(summary)
    write_csv(reports_dir / "plots" / "train_cv_tss.csv",
              pd.DataFrame({"time_h": times, "tss_mean": means, "tss_std": stds}))
    note = f"data: {source}; config: {config.name}"
    plot_losses(results, reports_dir / "figures" / "train_cv_loss.png", note)
    series = {f"CNN depth {config.depth} (ours)": (times, means, stds),
              **baseline_series(reports_dir)}
    figures.plot_tss_vs_time(series, reports_dir / "figures" / "tss_vs_time.png",
                             "CNN and discriminant analysis: TSS against time", note)
    atomic_write_text(reports_dir / "table3.md", table3_markdown(summary, config, source))
    return summary


def log_hardware(mlflow, config: TrainConfig) -> None:
    """Log what the run trains on (hardware.describe); warn when bf16 would be emulated."""
    mlflow.log_params(hardware.describe())
    if config.mixed_precision and hardware.bf16_is_emulated():
        print("warning: train.mixed_precision is on, but there is no GPU with bf16 (compute "
              "capability >= 8.0) and the CPU has no native bf16 (avx512_bf16/amx_bf16): "
              "bf16 is emulated here, many times slower than float32", file=sys.stderr)


def _quiet_tensorflow() -> None:
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # e.g. retracing notes: one model per fold is by design


def run_depth_study(params: dict, regions_dir: Path, segments_dir: Path, models_dir: Path,
                    reports_dir: Path, reuse_dir: Path | None = None) -> dict:
    """Table 2: TSS at one time bin for each depth (same schedule), 5-fold CV.

    Runs identical to train-cv's (same depth, schedule, data) are copied from reuse_dir.
    """
    from . import tracking
    study = params["depth_study"]
    source = read_dataset_info(segments_dir)["source"]
    data = load_fold_data(regions_dir, segments_dir, [study["time_h"]])
    table = {}
    _quiet_tensorflow()
    with tracking.start_run("depth-study", "depth-study", source) as mlflow:
        log_hardware(mlflow, TrainConfig.from_params(params, study["config"]))
        for depth in study["depths"]:
            config = TrainConfig.from_params(params, study["config"], depth=depth)
            results = cross_validate(data, config, models_dir, params["prepare"]["n_folds"],
                                     "depth-study", source, reuse_dir=reuse_dir)
            entry = next(iter(summarise(results).values()))
            table[f"depth{depth}"] = entry
            mlflow.log_metrics({f"tss_mean_depth{depth}": entry["tss_mean"],
                                f"tss_std_depth{depth}": entry["tss_std"]})
    reports_dir = Path(reports_dir)
    write_json(reports_dir / "depth_study_metrics.json", table)
    atomic_write_text(reports_dir / "table2.md",
                      table2_markdown(table, study, config, source))
    return table


def table2_markdown(table: dict, study: dict, config: TrainConfig, source: str) -> str:
    lines = [f"# Table 2: CNN TSS against depth at {study['time_h']} h", "",
             f"Ours: **{source}** data, training configuration `{config.name}` "
             f"({_config_text(config)}), 5-fold cross-validation. Paper: SDO/HEAR "
             "(Dhuri et al. 2020, Table 2).", "",
             "| depth | TSS ours (%) | TSS paper (%) |", "|---:|---:|---:|"]
    for key, entry in table.items():
        depth = int(key[5:])
        paper = PAPER_TABLE2.get(depth)
        lines.append(f"| {depth} | {100 * entry['tss_mean']:.1f} ± "
                     f"{100 * entry['tss_std']:.1f} | {paper if paper else '–'} |")
    return "\n".join(lines) + "\n"
