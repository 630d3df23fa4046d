"""The prepare stage: region store -> validated segment tables, folds, Table 1, statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from preemergence.model import discriminant
from preemergence.data import segments
from preemergence.data import gx_project as gx
from preemergence.data import validation
from preemergence.core import paper as reference
from preemergence.core.artifacts import (atomic_directory, atomic_write_text, refuse_overwrite_any,
                                         write_csv, write_json)
from preemergence.core.constants import KINDS, time_bin_label
from preemergence.data.regionstore import RegionStore, load_region_store
from preemergence.core.metrics import mean_std
from preemergence.core.paths import (DATASET_INFO_FILE, FOLDS_FILE, PREPARE_METRICS, STANDARDISATION_FILE, TABLE1_CSV, TABLE1_MD, VALIDATION_DIR, VALIDATION_FAILED, VALIDATION_SUMMARY, segment_table_file, segment_validation_file)
from preemergence.core.catalog import stage_outputs
from preemergence.core.progress import progress as show_progress

if TYPE_CHECKING:
    from preemergence.core.schema import Params, Prepare


@dataclass
class PrepareResult:
    tables: dict[float, pd.DataFrame]
    standardisation: dict[float, dict]
    folds: dict[str, int]
    reports: dict[float, validation.ValidationReport]
    separability: dict[float, list[float]]



def plan_from_params(prepare_params: "Prepare") -> segments.SamplingPlan:
    return segments.SamplingPlan(pe_per_ear=prepare_params.pe_per_ear,
                                 ne_per_ear=prepare_params.ne_per_ear,
                                 ne_per_cr=prepare_params.ne_per_cr,
                                 n_folds=prepare_params.n_folds)


def build_segment_sets(store: RegionStore, plan: segments.SamplingPlan, seed: int,
                       progress: bool = False) -> PrepareResult:
    """Sample, measure and validate the segment table of every time bin."""
    folds = segments.assign_folds(store, plan.n_folds, seed)
    tables, constants, reports, separability = {}, {}, {}, {}
    with show_progress(store.time_bins, progress, "preparing time bins", "bin") as bins:
        for t in bins:
            tables[t], constants[t] = segments.segment_table(store, t, folds, plan, seed)
            reports[t] = validation.validate_segment_table(
                tables[t], pe_per_ear=plan.pe_per_ear, ne_per_ear=plan.ne_per_ear,
                ne_per_cr=plan.ne_per_cr, n_folds=plan.n_folds, name=time_bin_label(t),
                time_bins=store.time_bins)
            if reports[t].success:   # the quick DA needs valid folds and tiles
                separability[t] = discriminant.mtot_tss_by_fold(tables[t])
    return PrepareResult(tables, constants, folds, reports, separability)


def data_source(store: RegionStore) -> str:
    """'synthetic', 'real' or 'mixed', from the regions' SOURCE keywords."""
    sources = {r.source for r in store.regions}
    return sources.pop() if len(sources) == 1 else "mixed"


def write_validation(result: PrepareResult, out: Path, gx_project: dict | None = None) -> dict:
    """Validation results per time bin plus a summary, into the folder out (whole folder,
    atomic); with ``gx_project`` (the sampling plan and time bins), also the file-backed GX
    project, its native results and Data Docs (data/gx_project.py)."""
    summary = {}
    with atomic_directory(out) as tmp:
        for t, report in result.reports.items():
            validation.save_report(report, tmp / segment_validation_file(t))
            summary[time_bin_label(t)] = {"success": report.success, "failed": report.failed}
        if gx_project is not None:
            docs = gx.build_project(tmp, result.tables, gx_project["plan"],
                                    gx_project["time_bins"])
            for t, success in docs.items():
                summary[time_bin_label(t)]["gx_checkpoint_success"] = success
        write_json(tmp / VALIDATION_SUMMARY, summary)
    return summary


def write_segment_sets(result: PrepareResult, store: RegionStore, out_dir: Path,
                       regions_dir: Path) -> None:
    """Segment tables, folds and standardisation constants into out_dir (whole folder, atomic)."""
    with atomic_directory(out_dir) as tmp:
        for t, table in result.tables.items():
            write_csv(tmp / segment_table_file(t), table)
        kinds = {r.region_id: r.kind for r in store.regions}
        folds = pd.DataFrame({"region_id": list(result.folds),
                              "kind": [kinds[r] for r in result.folds],
                              "fold": list(result.folds.values())})
        write_csv(tmp / FOLDS_FILE, folds.sort_values("region_id"))
        write_json(tmp / STANDARDISATION_FILE,
                   {time_bin_label(t): c for t, c in result.standardisation.items()})
        write_json(tmp / DATASET_INFO_FILE,
                   {"source": data_source(store), "regions_dir": str(regions_dir),
                    "n_regions": len(store.regions),
                    "time_bins_h": [float(t) for t in store.time_bins]})


def statistics(result: PrepareResult) -> dict:
    """Data-set statistics per time bin (counts, MTOT quartiles in Mx, quick MTOT-DA TSS)."""
    stats = {}
    for t, table in result.tables.items():
        samples = table[table.subset == "sample"]
        tss_mean, tss_std = mean_std(result.separability[t])
        entry = {"n_ear": int(table.loc[table.kind == "EAR", "region_id"].nunique()),
                 "n_cr": int(table.loc[table.kind == "CR", "region_id"].nunique()),
                 "n_pe": int((samples.label == 1).sum()),
                 "n_ne": int((samples.label == 0).sum()),
                 "std_g": result.standardisation[t]["std_g"],
                 "mean_g": result.standardisation[t]["mean_g"],
                 "da_mtot_tss_mean": tss_mean, "da_mtot_tss_std": tss_std}
        for label, name in ((1, "pe"), (0, "ne")):
            q = np.percentile(samples.loc[samples.label == label, "mtot_mx"], [25, 50, 75])
            entry.update({f"{name}_mtot_q25_mx": q[0], f"{name}_mtot_median_mx": q[1],
                          f"{name}_mtot_q75_mx": q[2]})
        stats[time_bin_label(t)] = {k: float(v) for k, v in entry.items()}
    return stats


def table1_markdown(result: PrepareResult, source: str) -> str:
    """Table 1 (ours) beside the paper's Table 1, naming the data that produced ours."""
    ours = segments.table1(result.tables).set_index("time_h")
    lines = ["# Table 1: regions and segments per time bin", "",
             f"Our numbers come from the **{source}** region store (see `params.yaml`); the "
             "paper's from the SDO/HEAR data set (Dhuri et al. 2020, Table 1).", "",
             "| time (h) | EARs | CRs | PEs | NEs | paper EARs | paper CRs | paper PEs "
             "| paper NEs |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t, row in ours.iterrows():
        paper = reference.TABLE1.get(round(t, 1), ("–",) * 4)
        lines.append(f"| {t:.1f} | {row.EARs} | {row.CRs} | {row.PEs} | {row.NEs} | "
                     + " | ".join(str(v) for v in paper) + " |")
    return "\n".join(lines) + "\n"



def run_prepare(params: "Params", regions_dir: Path, out_dir: Path, reports_dir: Path,
                progress: bool = True, force: bool = False) -> PrepareResult:
    """Load, sample, validate; write outputs only if every table passes validation (else
    the validation results go to reports/validation_failed/ and the error says so)."""
    refuse_overwrite_any(stage_outputs("prepare", reports_dir, out_dir), force)
    store = load_region_store(regions_dir, params.time_bins,
                              on_missing=params.data.on_missing_time_bin,
                              progress=progress)
    n_folds = params.prepare.n_folds
    for kind in KINDS:
        if len(store.ids(kind)) < n_folds:
            raise ValueError(f"{regions_dir}: {len(store.ids(kind))} {kind}s cannot be split "
                             f"into params.yaml prepare.n_folds = {n_folds} folds")
    plan = plan_from_params(params.prepare)
    result = build_segment_sets(store, plan, params.seed, progress=progress)
    if not all(report.success for report in result.reports.values()):
        failed = Path(reports_dir) / VALIDATION_FAILED      # next to the error, not an output
        write_validation(result, failed)
        for report in result.reports.values():
            validation.require_valid(report, details=failed)
    summary = write_validation(result, Path(reports_dir) / VALIDATION_DIR,
                               {"plan": asdict(plan), "time_bins": params.time_bins}
                               if params.prepare.data_docs else None)
    shutil.rmtree(Path(reports_dir) / VALIDATION_FAILED, ignore_errors=True)   # stale now
    write_segment_sets(result, store, out_dir, regions_dir)
    source = data_source(store)
    write_csv(Path(reports_dir) / TABLE1_CSV, segments.table1(result.tables))
    atomic_write_text(Path(reports_dir) / TABLE1_MD, table1_markdown(result, source))
    stats = statistics(result)
    write_json(Path(reports_dir) / PREPARE_METRICS, stats)
    _log_prepare(params, stats, summary, source, reports_dir)
    return result


def _log_prepare(params: "Params", stats: dict, validation_summary: dict, source: str,
                 reports_dir: Path) -> None:
    from preemergence.core import tracking
    with tracking.start_run("prepare", tracking.parent_name("prepare"), source) as mlflow:
        mlflow.log_params(tracking.flatten({"seed": params.seed,
                                            "prepare": params.prepare,
                                            "data": params.data}))
        for label, entry in stats.items():
            mlflow.log_metrics({f"{key}_{label}": value for key, value in entry.items()})
        mlflow.log_artifact(str(Path(reports_dir) / TABLE1_MD))
        tracking.log_reports(mlflow, reports_dir, (f"{VALIDATION_DIR}/{VALIDATION_SUMMARY}",))
        mlflow.log_metrics({f"validation_success_{label}": float(entry["success"])
                            for label, entry in validation_summary.items()})
