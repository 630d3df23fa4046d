"""The regions stage: the region store every later stage reads, and its checks.

``data.source`` chooses what builds it: ``simulated`` (the default: the simulator, no
network) or ``hmi`` (real SDO/HMI frames from JSOC or a folder of frames, tracked,
Postel-projected and averaged per time bin: acquire/, docs/real-data.md). Either way the
store is checked and described in reports/regions.md (acquire.checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from preemergence.acquire import checks, report
from preemergence.core.artifacts import (atomic_write_text, refuse_overwrite_any, write_csv,
                                         write_json)
from preemergence.core.catalog import stage_outputs
from preemergence.core.paths import (REGIONS_CHECKS, REGIONS_FLUX_CSV, REGIONS_FLUX_PNG,
                                     REGIONS_MD)
from preemergence.data.simulate import simulate_store

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def run_regions(params: "Params", out_dir: Path, reports_dir: Path, force: bool = False,
                email: str | None = None, progress: bool = True) -> dict:
    """Build the region store (simulated or real) into out_dir, then check it; returns the
    checks' summary. Refused if an output exists, unless force."""
    refuse_overwrite_any(stage_outputs("regions", reports_dir, out_dir), force)
    if params.data.source == "simulated":
        simulate_store(params.simulate, params.time_bins, params.seed, out_dir,
                       progress=progress)
        pairs, missing = None, []
    else:
        from preemergence.acquire.pipeline import build_real_store
        built = build_real_store(params.acquire, params.time_bins, out_dir, email=email,
                                 progress=progress)
        pairs, missing = built.pairs, built.missing
    return check_store(out_dir, Path(reports_dir), params, pairs, missing)


def check_store(store_dir: Path, reports_dir: Path, params: "Params",
                pairs: dict | None, missing: list[str]) -> dict:
    """Write reports/regions.md, its figure, table and JSON summary for a region store."""
    stores = checks.stores_by_bin(Path(store_dir), params.time_bins)
    table = checks.flux_table(stores)
    sources = sorted({r.source for s in stores.values() for r in s.regions})
    source = "simulated" if sources == ["synthetic"] else "+".join(sources)
    pairs = checks.simulated_pairs(table) if pairs is None else pairs
    tolerance_g = params.acquire.control_tolerance_g
    control = checks.control_check(table, pairs, tolerance_g)
    summary = checks.flux_summary(table)
    checks.plot_flux_buildup(table, reports_dir / REGIONS_FLUX_PNG, f"data: {source}")
    write_csv(reports_dir / REGIONS_FLUX_CSV, table)
    kinds = table.drop_duplicates("region_id").kind
    n_regions = {kind: int((kinds == kind).sum()) for kind in ("EAR", "CR")}
    quiet = checks.quiet_statistics(stores)
    text = report.markdown(source, n_regions,
                           checks.frames_table(Path(store_dir), table, params.time_bins),
                           missing, control, tolerance_g, summary, quiet,
                           Path(REGIONS_FLUX_PNG).relative_to(Path(REGIONS_MD).parent))
    atomic_write_text(reports_dir / REGIONS_MD, text)
    result = {"source": source, **{f"n_{k.lower()}": v for k, v in n_regions.items()},
              "missing_time_bins": missing,
              "control_pairs_checked": int(len(control)),
              "control_failures": int((~control.ok).sum()) if len(control) else 0,
              "median_box_flux_1e20mx": {f"{r.kind}_{r.time_h:g}": float(r.median_1e20mx)
                                         for r in summary.itertuples()},
              "mean_abs_b_cr_g": float(np.mean([q["mean_abs_b_g"] for q in quiet] or [np.nan]))}
    write_json(reports_dir / REGIONS_CHECKS, result)
    return result
