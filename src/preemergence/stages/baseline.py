"""The baseline stage: discriminant analysis of MTOT and of (MTOT, DM) for every bin and fold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.model import discriminant
from preemergence.core import figures
from preemergence.core import paper as reference
from preemergence.core.artifacts import (atomic_write_text, refuse_overwrite_any, save_figure,
                                         write_csv, write_json)
from preemergence.core.paths import (BASELINE_DENSITY_PNG, BASELINE_FOLDS, BASELINE_MD, BASELINE_METRICS, BASELINE_PREDICTIONS, BASELINE_TSS_CSV, BASELINE_TSS_PNG)
from preemergence.core.catalog import stage_outputs
from preemergence.core.constants import time_bin_label, time_from_label
from preemergence.core.metrics import mean_std
from preemergence.core.plotdata import with_series
from preemergence.data.segments import read_dataset_info, read_segment_tables
from preemergence.model.predictions import write_predictions

if TYPE_CHECKING:
    from preemergence.core.schema import Params

VARIANT_LABELS = {"mtot": "DA MTOT", "mtot_dm": "DA MTOT+DM"}


def evaluate_all(tables: dict, cfg: dict) -> dict:
    """variant -> time bin -> list of FoldResult."""
    return {variant: {t: discriminant.evaluate_folds(table, variant, cfg.boundary_max_mx,
                                                 cfg.grid_points)
                      for t, table in tables.items()}
            for variant in discriminant.VARIANTS}


def summarise(results: dict) -> dict:
    """DVC metrics: per variant and time bin, TSS mean/std over folds and per fold."""
    summary = {}
    for variant, by_time in results.items():
        summary[variant] = {}
        for t, folds in by_time.items():
            mean, std = mean_std([r.tss for r in folds])
            summary[variant][time_bin_label(t)] = {
                "tss_mean": mean, "tss_std": std,
                **{f"tss_fold{r.fold}": r.tss for r in folds}}
    return summary


def full_fit_boundaries(tables: dict, cfg: dict) -> dict:
    """MTOT discriminant fitted on all samples of each time bin: (model, boundaries in Mx)."""
    fits = {}
    for t, table in tables.items():
        samples = table[table.subset == "sample"]
        model = discriminant.DensityDiscriminant().fit(
            discriminant.features(samples, "mtot"), samples.label)
        edges = model.boundaries(0.0, cfg.boundary_max_mx / discriminant.MTOT_UNIT_MX,
                                 cfg.grid_points)
        fits[t] = (model, edges * discriminant.MTOT_UNIT_MX)
    return fits


def plot_densities(fits: dict, path: Path, data_note: str, max_mx: float) -> Path:
    """Paper Fig. 9 left, one panel per time bin: PE and NE densities of MTOT, boundaries."""
    fig = figures.new_figure(4.0 * len(fits), 3.8)
    axes = fig.subplots(1, len(fits), sharey=True)
    grid = np.linspace(0.0, max_mx / discriminant.MTOT_UNIT_MX, 801)
    for ax, (t, (model, edges)) in zip(np.atleast_1d(axes), fits.items()):
        for label, name, colour in ((1, "PE", "C3"), (0, "NE", "C0")):
            ax.plot(grid, model.density(grid, label), color=colour, label=name)
        for edge in edges:
            ax.axvline(edge / discriminant.MTOT_UNIT_MX, color="0.3", linestyle="--", linewidth=1)
        ax.set(title=f"{t} h", xlabel="MTOT (10$^{20}$ Mx)")
    np.atleast_1d(axes)[0].set_ylabel("probability density (per 10$^{20}$ Mx)")
    np.atleast_1d(axes)[0].legend()
    fig.suptitle(f"Discriminant analysis of MTOT (dashed: boundaries). {data_note}",
                 fontsize=10)
    return save_figure(fig, path, dpi=100)


def tss_plot_rows(summary: dict) -> pd.DataFrame:
    """Long table for DVC plots: time_h, variant, tss_mean, tss_std (fractions); `series`
    names the line (DVC's `series` template draws one per variant)."""
    names = {"mtot": "DA MTOT", "mtot_dm": "DA (MTOT, DM)"}
    rows = [{"time_h": time_from_label(label), "variant": variant, "tss_mean": v["tss_mean"],
             "tss_std": v["tss_std"]}
            for variant, by_time in summary.items() for label, v in by_time.items()]
    table = pd.DataFrame(rows)
    return with_series(table, [names.get(v, v) for v in table["variant"]])


def report_markdown(summary: dict, fits: dict, source: str) -> str:
    """Report: TSS table with the paper's values side by side, boundaries in Mx."""
    lines = ["# Baseline: kernel-density discriminant analysis", "",
             f"Our numbers come from the **{source}** data set (region store → `prepare`); "
             "the paper's from SDO/HEAR (Dhuri et al. 2020, section 4.2 and App. E). "
             "TSS = mean ± std over the 5 validation folds, evaluated on the 9 "
             "non-overlapping tiles of every validation region.", "",
             "| time (h) | DA MTOT (ours) | DA MTOT (paper) | DA MTOT+DM (ours) "
             "| DA MTOT+DM (paper) |", "|---:|---:|---:|---:|---:|"]
    for label in summary["mtot"]:
        cells = []
        for variant in ("mtot", "mtot_dm"):
            v = summary[variant][label]
            paper = reference.DA[variant] if label == "t-3.2h" else None
            cells += [f"{100 * v['tss_mean']:.1f} ± {100 * v['tss_std']:.1f} %",
                      f"{paper[0]} ± {paper[1]} %" if paper else "–"]
        lines.append(f"| {time_from_label(label)} | " + " | ".join(cells) + " |")
    lines += ["", "Discriminant boundaries of MTOT (PE and NE densities equal), fitted on all "
              "samples of each time bin (10^20 Mx):", "",
              "| time (h) | boundaries (ours) | paper |", "|---:|---|---|"]
    for t, (_, edges) in fits.items():
        ours = ", ".join(f"{e / 1e20:.1f}" for e in edges) or "none"
        paper = reference.DA_BOUNDARIES_3H if round(t, 1) == -3.2 else "–"
        lines.append(f"| {t} | {ours} | {paper} |")
    lines += ["", "Per-fold boundaries, bandwidths and confusion counts are in "
              "`reports/baseline_folds.json`.", "",
              "![MTOT densities](figures/baseline_mtot_density.png)", "",
              "![TSS against time](figures/baseline_tss_vs_time.png)", ""]
    return "\n".join(lines)


def run_baseline(params: "Params", segments_dir: Path, reports_dir: Path,
                 force: bool = False) -> dict:
    """Evaluate both variants, write metrics, plots data, figures and report; log to MLflow."""
    refuse_overwrite_any(stage_outputs("baseline", reports_dir), force)
    cfg = params.baseline
    tables = read_segment_tables(segments_dir, params.time_bins)
    source = read_dataset_info(segments_dir)["source"]
    results = evaluate_all(tables, cfg)
    summary = summarise(results)
    reports_dir = Path(reports_dir)
    write_json(reports_dir / BASELINE_METRICS, summary)
    write_json(reports_dir / BASELINE_FOLDS,
               {v: {time_bin_label(t): [r.record() for r in folds] for t, folds in bt.items()}
                for v, bt in results.items()})
    write_csv(reports_dir / BASELINE_TSS_CSV, tss_plot_rows(summary))
    write_predictions(reports_dir / BASELINE_PREDICTIONS,
                      [r.predictions for by_time in results.values()
                       for folds in by_time.values() for r in folds])
    fits = full_fit_boundaries(tables, cfg)
    note = f"data: {source}"
    plot_densities(fits, reports_dir / BASELINE_DENSITY_PNG, note,
                   cfg.boundary_max_mx)
    series = {VARIANT_LABELS[v] + " (ours)": (
        list(tables), [summary[v][time_bin_label(t)]["tss_mean"] for t in tables],
        [summary[v][time_bin_label(t)]["tss_std"] for t in tables]) for v in summary}
    figures.plot_tss_vs_time(series, reports_dir / BASELINE_TSS_PNG,
                             "Discriminant analysis: TSS against time", note)
    atomic_write_text(reports_dir / BASELINE_MD, report_markdown(summary, fits, source))
    _log(params, results, summary, source, reports_dir)
    return summary


def _log(params, results, summary, source, reports_dir) -> None:
    from preemergence.core import tracking
    with tracking.start_run("baseline", tracking.parent_name("baseline"), source) as mlflow:
        mlflow.log_params(tracking.flatten({"seed": params.seed,
                                            "baseline": params.baseline}))
        for variant, by_time in summary.items():
            for label, v in by_time.items():
                mlflow.log_metrics({f"{variant}_tss_mean_{label}": v["tss_mean"],
                                    f"{variant}_tss_std_{label}": v["tss_std"]})
        for variant, by_time in results.items():
            for t, folds in by_time.items():
                for r in folds:
                    name = f"{time_bin_label(t)} fold{r.fold} · {variant}"
                    with tracking.start_run("baseline", name, source, nested=True):
                        mlflow.log_params({"variant": variant, "time_h": t, "fold": r.fold})
                        mlflow.log_metrics({"tss": r.tss, **r.counts})
        mlflow.log_artifact(str(Path(reports_dir) / BASELINE_MD))
