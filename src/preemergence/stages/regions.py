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
from preemergence.data.regionstore import load_region_store
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
    store = load_region_store(store_dir, params.time_bins, on_missing="skip"
                              if missing else params.data.on_missing_time_bin, progress=False)
    sources = sorted({r.source for r in store.regions})
    source = "simulated" if sources == ["synthetic"] else "+".join(sources)
    table = checks.flux_table(store)
    pairs = checks.simulated_pairs(store) if pairs is None else pairs
    control = checks.control_check(table, pairs, params.acquire.control_tolerance_g)
    summary = checks.flux_summary(table)
    checks.plot_flux_buildup(table, reports_dir / REGIONS_FLUX_PNG, f"data: {source}")
    write_csv(reports_dir / REGIONS_FLUX_CSV, table)
    n_regions = {kind: len(store.ids(kind)) for kind in ("EAR", "CR")}
    quiet = checks.quiet_statistics(store)
    text = report.markdown(source, n_regions, checks.frames_table(store_dir, store), missing,
                           control, params.acquire.control_tolerance_g, summary, quiet,
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
