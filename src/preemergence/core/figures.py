"""Figures shared by several stages (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from preemergence.core import paper
from preemergence.core.artifacts import save_figure


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def epoch_axis(ax) -> None:
    """Epochs are whole numbers: ticks at integers only (not 1.0, 1.5, 2.0)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_tss_vs_time(series: dict, path: Path, title: str, data_note: str) -> Path:
    """TSS (%) against time before emergence (h) with 1-sigma bars for each named series.

    series: name -> (times_h, mean_tss, std_tss) with TSS as fractions; the paper's CNN
    (Table 3) and discriminant-analysis values at -3.2 h are drawn in grey for reference.
    """
    fig = new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    for i, (name, (times, mean, std)) in enumerate(series.items()):
        ax.errorbar(np.asarray(times) + 0.15 * i, 100 * np.asarray(mean),
                    yerr=100 * np.asarray(std), marker="o", capsize=3, label=name)
    reference = np.array(paper.CNN_TSS)
    ax.errorbar(np.array(paper.TIME_BINS_H) - 0.3, reference[:, 0], yerr=reference[:, 1],
                color="0.6", marker="s", linestyle=":", capsize=3, label="paper: CNN (Table 3)")
    for (mean, std), marker, label in ((paper.DA_MTOT_TSS_3H, "v", "paper: DA MTOT"),
                                       (paper.DA_MTOT_DM_TSS_3H, "^", "paper: DA MTOT+DM")):
        ax.errorbar([-3.2 - 0.45], [mean], yerr=[std], color="0.4", marker=marker,
                    linestyle="none", capsize=3, label=label)
    ax.set(xlabel="time relative to emergence (h)", ylabel="TSS (%)", title=title,
           ylim=(min(-5, ax.get_ylim()[0]), 100))
    ax.axhline(0, color="0.8", linewidth=0.8)
    ax.legend(fontsize=8, loc="upper left")
    ax.text(0.99, 0.02, data_note, transform=ax.transAxes, ha="right", va="bottom",
            fontsize=8, color="0.3")
    return save_figure(fig, path, dpi=110)
