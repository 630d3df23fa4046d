"""Reports of the prune stage: MLflow runs, metrics, Fig. 21 (losses across pruning steps),
prune.md. Kept apart from model/prune_runs.py, so that reporting code is not part of the
pruning runs' code fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.core import figures
from preemergence.core import paper as reference
from preemergence.core.artifacts import (atomic_write_text, read_json, save_figure, write_csv,
                                         write_json)
from preemergence.core.constants import time_bin_label, time_from_label
from preemergence.core.plotdata import with_series
from preemergence.core.paths import (MODEL_FILE, PRUNE_LOSS_CSV, PRUNE_LOSS_PNG, PRUNE_MD,
                                     PRUNE_METRICS, TRAIN_CV_METRICS)
from preemergence.model.crossval import summarise
from preemergence.model.prune_runs import VARIANTS, PruneSchedule, start_filters
from preemergence.model.report import n_folds_of
from preemergence.model.runs import TrainConfig

LABELS = {"unpruned": "unpruned CNN, N = 256 (train-cv)", "pruned": "pruned 256 → 4 (App. C rule)",
          "random": "random pruning 256 → 4", "n4": "N = 4 from the outset",
          "pruned_n2": "pruned network pruned again to N = 2 (no retraining)"}


def write_reports(results: list[dict], metrics: dict, config: TrainConfig,
                  schedule: PruneSchedule, source: str, reports_dir: Path) -> None:
    write_json(reports_dir / PRUNE_METRICS, {"schedule": schedule.name, **metrics})
    write_csv(reports_dir / PRUNE_LOSS_CSV, loss_rows(results))
    note = f"data: {source}; schedule: {schedule.name}"
    plot_pruning_losses([r for r in results if r["variant"] == "pruned"],
                        reports_dir / PRUNE_LOSS_PNG, note)
    unpruned = read_json(reports_dir / TRAIN_CV_METRICS) or {}
    if (unpruned.get("config"), unpruned.get("depth")) != (config.name, config.depth):
        unpruned = {}                 # train-cv ran another configuration: not comparable
    atomic_write_text(reports_dir / PRUNE_MD,
                      prune_markdown(metrics, unpruned, results, config, schedule, source))


def prediction_rows(data: dict, results: list[dict], threshold: float) -> pd.DataFrame:
    """Out-of-fold predictions of every pruning run: methods pruned, random, n4 and
    pruned_n2 (the pruned network pruned again to N = 2)."""
    from preemergence.model.predictions import run_rows
    frames = [run_rows(data[r["time_h"]].table, r, r["variant"], threshold) for r in results]
    frames += [run_rows(data[r["time_h"]].table, {**r, **r["n2"]}, "pruned_n2", threshold)
               for r in results if "n2" in r]
    return pd.concat(frames, ignore_index=True)


def loss_rows(results: list[dict]) -> pd.DataFrame:
    """Per-epoch losses and filter count of every run (DVC plots, Fig. 21): one panel per
    variant and time bin, one line per fold."""
    rows = [{"variant": r["variant"], "time_h": r["time_h"], "fold": r["fold"],
             "epoch": e + 1, "filters": r["history"]["filters"][i],
             "loss": r["history"]["loss"][i], "val_loss": r["history"]["val_loss"][i]}
            for r in results for i, e in enumerate(r["history"]["epoch"])]
    table = pd.DataFrame(rows)
    return with_series(table, [f"fold{f}" for f in table["fold"]],
                       [f"{v} {time_bin_label(t)}" for v, t in zip(table["variant"],
                                                                 table["time_h"])])


def plot_pruning_losses(runs: list[dict], path: Path, note: str) -> Path:
    """Paper Fig. 21: training and validation loss across the pruning stages.

    One panel per time bin, one line per fold; dashed lines mark pruning steps, labelled
    with the filter counts before and after (consecutive steps with no training between
    them, E(N) = 0, share a line); crosses give the validation loss just after the last
    step of each chain (the discontinuity); the last step (to N = 4) follows the last epoch.
    """
    times = sorted({r["time_h"] for r in runs}, reverse=True)
    fig = figures.new_figure(8.0 * len(times), 4.8)
    axes = np.atleast_1d(fig.subplots(1, len(times)))
    for ax, t in zip(axes, times):
        _plot_pruning_panel(ax, [r for r in runs if r["time_h"] == t])
    axes[0].text(0.01, 0.98, note, transform=axes[0].transAxes, va="top", fontsize=8,
                 color="0.3")
    return save_figure(fig, path, dpi=110)


def _plot_pruning_panel(ax, runs: list[dict]) -> None:
    for i, r in enumerate(sorted(runs, key=lambda r: r["fold"])):
        epochs = np.asarray(r["history"]["epoch"]) + 1
        ax.plot(epochs, r["history"]["loss"], color="C0", marker="o", markersize=3,
                alpha=0.75, label="training" if i == 0 else None)
        ax.plot(epochs, r["history"]["val_loss"], color="C1", marker="s", markersize=3,
                alpha=0.75, label="validation" if i == 0 else None)
    history = runs[0]["history"]
    filters, epochs = np.asarray(history["filters"]), np.asarray(history["epoch"]) + 1
    values = [v for r in runs for v in r["history"]["loss"] + r["history"]["val_loss"]
              + [s["val_loss"] for s in r["pruning_steps"] if s["val_loss"] is not None]]
    low, high = min(values), max(values)
    chains: dict = {}
    for step in runs[0]["pruning_steps"]:
        chains.setdefault(step["epoch"] + 0.5, [step["before"]]).append(step["after"])
    for x, counts in chains.items():
        ax.axvline(x, color="0.5", linestyle="--", linewidth=0.8)
        ax.text(x, high, "→".join(map(str, counts)), rotation=90, ha="right", va="top",
                fontsize=8, color="0.3")
    for i, r in enumerate(runs):
        after = [s for s in r["pruning_steps"] if s["val_loss"] is not None]
        ax.plot([s["epoch"] + 0.5 for s in after], [s["val_loss"] for s in after], "x",
                color="C3", markersize=7, label="validation, just after pruning" if i == 0
                else None)
    for n in np.unique(filters):
        stretch = epochs[filters == n]
        ax.text(stretch.mean(), low - 0.04 * (high - low), f"N={n}", ha="center", va="top",
                fontsize=9)
    figures.epoch_axis(ax)
    ax.set(xlabel="epoch", ylabel="binary cross-entropy (nats)",
           ylim=(low - 0.15 * (high - low), high + 0.05 * (high - low)),
           xlim=(0.5, epochs[-1] + 1.0),
           title=f"Training with pruning of the last layer, {runs[0]['time_h']} h, "
                 f"{len(runs)} folds (dashed: pruning steps)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def prune_markdown(metrics: dict, unpruned: dict, results: list[dict], config: TrainConfig,
                   schedule: PruneSchedule, source: str) -> str:
    epochs = ", ".join(f"E({n}) = {e}" for n, e in schedule.stages(start_filters(config)))
    lines = ["# Pruning the last convolution (paper App. C)", "",
             f"Ours: **{source}** data, depth {config.depth}, schedule `{schedule.name}` "
             f"({epochs}; first stage: training configuration `{config.name}`, later stages "
             f"{schedule.finetune_samples_per_epoch or 'all'} random training samples per "
             f"epoch; S_i scored on {schedule.score_samples or 'all'} training samples), "
             f"{n_folds_of(metrics.get('pruned', {}))}-fold "
             f"cross-validation, TSS on the validation tiles at threshold {config.threshold:g}. "
             "Paper: SDO/HEAR, 32 epochs per stage (50 at N = 8), lr 5e-7 "
             "(Dhuri et al. 2020, App. C).", ""]
    for label in sorted({lab for by_time in metrics.values() for lab in by_time},
                        key=time_from_label, reverse=True):
        lines += [f"## {time_from_label(label)} h", "",
                  "| network | TSS ours (%) | TSS paper (%) |", "|---|---:|---:|"]
        rows = [("unpruned", unpruned.get(label))] + \
            [(v, metrics[v].get(label)) for v in ("pruned", "pruned_n2", "random", "n4")
             if v in metrics]
        for variant, entry in rows:
            paper = reference.PRUNE_TSS[variant] if label == "t-3.2h" else None
            ours = (f"{100 * entry['tss_mean']:.1f} ± {100 * entry['tss_std']:.1f}"
                    if entry else "–")
            lines.append(f"| {LABELS[variant]} | {ours} | "
                         f"{f'{paper[0]} ± {paper[1]}' if paper else '–'} |")
        lines.append("")
    lines += ["![Fig. 21](figures/prune_loss.png)", "",
              "Surviving filters (indices into the original 256) of the pruned networks:", ""]
    for r in sorted((r for r in results if r["variant"] == "pruned"),
                    key=lambda r: (-r["time_h"], r["fold"])):
        lines.append(f"- {r['time_h']} h, fold {r['fold']}: {r['kept_filters']}")
    return "\n".join(lines) + "\n"


def log_prune_run(result: dict, folder: Path, source: str, executor: str) -> None:
    from preemergence.core import tracking
    name = (f"{result['variant']} {time_bin_label(result['time_h'])} fold{result['fold']} · "
            f"depth{result['config']['depth']}")
    with tracking.start_run("prune", name, source, nested=True) as mlflow:
        mlflow.log_params({"variant": result["variant"], "time_h": result["time_h"],
                           "fold": result["fold"],
                           "kept_filters": ",".join(map(str, result["kept_filters"]))})
        history = result["history"]
        for step, epoch in enumerate(history["epoch"]):
            mlflow.log_metrics({"loss": history["loss"][step],
                                "val_loss": history["val_loss"][step],
                                "filters": history["filters"][step]}, step=int(epoch))
        mlflow.log_metrics({k: float(result[k]) for k in ("tss", "tp", "fn", "fp", "tn")})
        if "n2" in result:
            mlflow.log_metric("tss_n2", float(result["n2"]["tss"]))
        mlflow.set_tag("reused_result", str(result.get("reused", False)).lower())
        mlflow.set_tag("executor", executor)
        if not result.get("reused"):
            mlflow.log_artifact(str(folder / MODEL_FILE))


def summarise_variants(results: list[dict]) -> dict:
    """{variant: {t-3.2h: {tss_mean, tss_std, tss_fold<k>}}}, plus pruned_n2."""
    out = {}
    for variant in VARIANTS:
        runs = [r for r in results if r["variant"] == variant]
        if runs:
            out[variant] = summarise(runs)
    n2 = [{**r, "tss": r["n2"]["tss"]} for r in results if "n2" in r]
    if n2:
        out["pruned_n2"] = summarise(n2)
    return out
