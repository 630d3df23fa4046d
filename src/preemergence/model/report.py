"""Reports of the training stages: Table 3 (train-cv), Table 2 (depth-study), Fig. 8 losses.

Each puts our numbers next to the paper's (core.paper) and names the data source.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from preemergence.core import figures
from preemergence.core import paper as reference
from preemergence.core.artifacts import save_figure
from preemergence.core.constants import time_from_label
from preemergence.core.paths import BASELINE_METRICS
from preemergence.model.crossval import loss_rows
from preemergence.model.runs import TrainConfig


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
        figures.epoch_axis(ax)
    axes[0].set_ylabel("binary cross-entropy (nats)")
    axes[0].legend()
    n_folds = frame.fold.nunique()
    fig.suptitle(f"Training and validation loss, {n_folds} folds per time bin. {note}",
                 fontsize=10)
    return save_figure(fig, path, dpi=100)


def n_folds_of(summary: dict) -> int:
    """Folds behind a summary (the tss_fold<k> entries of its time bins or depths)."""
    return max((sum(k.startswith("tss_fold") for k in entry) for entry in summary.values()),
               default=0)


def table3_markdown(summary: dict, config: TrainConfig, source: str) -> str:
    lines = [f"# Table 3: CNN TSS per time bin ({n_folds_of(summary)}-fold cross-validation)",
             "",
             f"Ours: **{source}** data, depth {config.depth}, training configuration "
             f"`{config.name}` ({config_text(config)}). Paper: SDO/HEAR, depth 5, "
             "lr 1e-7, batch 32, 200 epochs, 5 folds (Dhuri et al. 2020, Table 3). TSS on "
             f"the 9 evaluation tiles of every validation region, threshold {config.threshold:g}; "
             "mean ± std over folds.", "",
             "| time (h) | TSS ours (%) | TSS paper (%) | folds (ours, %) |",
             "|---:|---:|---:|---|"]
    for label, entry in summary.items():
        t = time_from_label(label)
        paper = reference.TABLE3.get(t)
        folds = ", ".join(f"{100 * v:.1f}" for k, v in entry.items() if k.startswith("tss_f"))
        lines.append(f"| {t} | {100 * entry['tss_mean']:.1f} ± {100 * entry['tss_std']:.1f} | "
                     f"{f'{paper[0]} ± {paper[1]}' if paper else '–'} | {folds} |")
    lines += ["", "![loss curves](figures/train_cv_loss.png)", "",
              "![TSS against time](figures/tss_vs_time.png)", ""]
    return "\n".join(lines)


def config_text(config: TrainConfig) -> str:
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
    path = Path(reports_dir) / BASELINE_METRICS
    if not path.exists():
        return {}
    metrics = json.loads(path.read_text())
    names = {"mtot": "DA MTOT (ours)", "mtot_dm": "DA MTOT+DM (ours)"}
    return {names[v]: tss_series(by_time) for v, by_time in metrics.items() if v in names}


def table2_markdown(table: dict, time_h: float, config: TrainConfig, source: str) -> str:
    lines = [f"# Table 2: CNN TSS against depth at {time_h} h", "",
             f"Ours: **{source}** data, training configuration `{config.name}` "
             f"({config_text(config)}), {n_folds_of(table)}-fold cross-validation. "
             "Paper: SDO/HEAR (Dhuri et al. 2020, Table 2).", "",
             "| depth | TSS ours (%) | TSS paper (%) |", "|---:|---:|---:|"]
    for key, entry in table.items():
        depth = int(key[5:])
        paper = reference.TABLE2.get(depth)
        lines.append(f"| {depth} | {100 * entry['tss_mean']:.1f} ± "
                     f"{100 * entry['tss_std']:.1f} | {paper if paper else '–'} |")
    return "\n".join(lines) + "\n"
