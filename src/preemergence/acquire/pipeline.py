"""The real-data path end to end: catalogue -> frames (JSOC or a folder) -> region store.

For every catalogue region and time bin: the averaging window (records.averaging_window),
its frames (``acquire.frames_dir``: a folder of frames the user has; otherwise exported
from JSOC through drms into ``acquire.cache_dir``: acquire.jsoc), and the tracked, screened,
Postel-projected average (acquire.assemble) written in the region-store format. Regions are
independent: with an executor other than in-process (``--executor``, docs/cluster.md) they
are assembled in parallel by Dask; the store is written as a whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from preemergence.acquire.catalogue import read_catalogue
from preemergence.acquire.records import CatalogueRegion, averaging_window
from preemergence.core.artifacts import atomic_directory
from preemergence.core.progress import progress as show_progress

if TYPE_CHECKING:
    from preemergence.core.schema import Acquire


@dataclass
class RegionOutcome:
    """What assembling one region gave: maps written and bins missing (one line each)."""

    region_id: str
    written: int = 0
    missing: list[str] = field(default_factory=list)


@dataclass
class BuiltStore:
    """A built real region store: CR -> EAR pairs (catalogue), missing bins, maps written."""

    pairs: dict[str, str]
    missing: list[str]
    written: int


def frames_for(acq: "Acquire", region: CatalogueRegion, window, email: str | None):
    """The frames of one window: from acquire.frames_dir, else fetched from JSOC."""
    from preemergence.acquire import jsoc
    if acq.frames_dir:
        return jsoc.local_frames(Path(acq.frames_dir), window, acq.series)
    client = jsoc.make_client(email, acq.jsoc_url)
    cutout = jsoc.cutout_for(region, window, acq.cutout_size_deg) if acq.cutout else None
    return jsoc.fetch_window(client, window, acq.series, Path(acq.cache_dir), cutout=cutout,
                             retries=acq.retries, backoff_s=acq.backoff_s)


def assemble_region(acq: "Acquire", region: CatalogueRegion, time_bins, store: Path,
                    email: str | None) -> RegionOutcome:
    """Every time bin of one region into ``store``; bins with too few good frames are
    missing (named), never written."""
    from preemergence.acquire.assemble import assemble_window, region_meta, write_real_map
    meta, outcome = region_meta(region), RegionOutcome(region.region_id)
    for time_h in time_bins:
        window = averaging_window(region, time_h)
        result = assemble_window(frames_for(acq, region, window, email), region, window,
                                 min_good_fraction=acq.min_good_fraction, series=acq.series,
                                 method=acq.method,
                                 max_center_angle_deg=acq.max_center_angle_deg)
        if result.missing:
            outcome.missing.append(result.reason)
        else:
            write_real_map(store, result, meta)
            outcome.written += 1
    return outcome


def _outcomes(acq, regions, time_bins, store, email, progress):
    from preemergence.core.executor import dask_client, resolve
    executor = resolve()
    if executor.kind == "inprocess":
        with show_progress(regions, progress, "assembling regions · in-process",
                           "region") as bar:
            return [assemble_region(acq, r, time_bins, store, email) for r in bar]
    with dask_client(executor) as client:
        futures = [client.submit(assemble_region, acq, r, list(time_bins), store, email,
                                 pure=False) for r in regions]
        return client.gather(futures)


def build_real_store(acq: "Acquire", time_bins, out_dir: Path, email: str | None = None,
                     progress: bool = True) -> BuiltStore:
    """Build the region store of acquire.catalogue into out_dir (whole or not at all)."""
    regions = read_catalogue(Path(acq.catalogue))
    if not acq.frames_dir:
        from preemergence.acquire.jsoc import check_email
        check_email(email)
    with atomic_directory(Path(out_dir)) as tmp:
        outcomes = _outcomes(acq, regions, time_bins, tmp, email, progress)
        written = sum(o.written for o in outcomes)
        if written == 0:
            raise ValueError(f"{acq.catalogue}: no time bin of any region has enough good "
                             f"frames; nothing written ({'; '.join(outcomes[0].missing[:1])})")
    return BuiltStore({r.region_id: r.pair for r in regions if r.kind == "CR"},
                      [m for o in outcomes for m in o.missing], written)


def print_plan(acq: "Acquire", time_bins, email: str | None, echo) -> None:
    """--dry-run: the frames and bytes to fetch per region and in all (nothing written)."""
    from preemergence.acquire import jsoc
    regions = read_catalogue(Path(acq.catalogue))
    if acq.frames_dir:
        echo(f"frames from the folder {acq.frames_dir}: nothing to fetch")
    client = None if acq.frames_dir else jsoc.make_client(email, acq.jsoc_url)
    windows = [(r, averaging_window(r, t)) for r in regions for t in time_bins]
    plans = [jsoc.plan_window(client, r, w, acq.series,
                              jsoc.cutout_for(r, w, acq.cutout_size_deg) if acq.cutout else None)
             for r, w in windows] if client else []
    for line in jsoc.format_plan(plans):
        echo(line)
