"""The realism stage: simulated CR maps against real HMI quiet-Sun patches, and the simulated
precursor against real pre-emergence build-up; report + metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import numpy as np

from preemergence.solar import precursor_check, realism
from preemergence.core.artifacts import refuse_overwrite_any, write_json
from preemergence.core.paths import REALISM_MD, REALISM_METRICS, REALISM_PNG
from preemergence.core.catalog import stage_outputs
from preemergence.data.regionstore import load_region_store

if TYPE_CHECKING:
    from preemergence.core.schema import Params


def simulated_maps(regions_dir: Path, time_h: float, kind: str) -> tuple[np.ndarray, str]:
    """Maps (G) of one kind at one time bin from a region store, and a description."""
    store = load_region_store(regions_dir, [time_h])
    index = [i for i, r in enumerate(store.regions) if r.kind == kind]
    if not index:
        raise ValueError(f"{regions_dir}: no {kind} regions to compare")
    sources = sorted({store.regions[i].source for i in index})
    return store.maps[time_h][index], (f"{len(index)} {kind} maps at {time_h} h from "
                                       f"`{regions_dir}` (source: {', '.join(sources)})")


def run_realism(params: "Params", regions_dir: Path, patches_dir: Path, reports_dir: Path,
                force: bool = False) -> dict:
    """Write reports/simulator_realism.md, its figure and realism_metrics.json; log to MLflow."""
    refuse_overwrite_any(stage_outputs("realism", reports_dir), force)
    cfg = params.realism
    sim, sim_source = simulated_maps(regions_dir, cfg.time_h, cfg.kind)
    real = realism.load_patches(patches_dir)
    reports_dir = Path(reports_dir)
    stats = realism.compare(sim, real)
    figure = reports_dir / REALISM_PNG
    realism.plot_comparison(sim, real, figure, stats=stats)
    real_source = (f"{len(real)} quiet-Sun patches in `{patches_dir}` projected from single "
                   "720 s hmi.M_720s full-disk magnetograms (2016-07-07, 2019-06-21)")
    precursor = precursor_check.precursor_stats(
        load_region_store(regions_dir, params.time_bins))
    realism.write_report(stats, figure, reports_dir / REALISM_MD, sim_source,
                         real_source, precursor_check.markdown(precursor))
    stats = {**stats, **{f"precursor_{label}_{k}": v for label, entry in precursor.items()
                         for k, v in entry.items()}}
    write_json(reports_dir / REALISM_METRICS, stats)
    _log(stats, figure, cfg, sim_source)
    return stats


def _log(stats: dict, figure: Path, cfg: dict, sim_source: str) -> None:
    from preemergence.core import tracking
    source = "synthetic" if "synthetic" in sim_source else "real"
    with tracking.start_run("realism", tracking.parent_name("realism"), source) as mlflow:
        mlflow.log_params(tracking.flatten({"realism": cfg}))
        mlflow.log_metrics(stats)
        mlflow.log_artifact(str(figure))
