"""One region map per (region, time bin) from HMI frames: track, screen, project, average.

The region's emergence location is fixed in Carrington coordinates (tracking at the
Carrington rate). For each frame whose ``T_REC`` falls in the bin's averaging window
(410.25 min), the location is converted to Stonyhurst (lon, lat) at the frame's own
observation time (``T_OBS``, the sunpy map's ``reference_date``) as seen by the frame's
observer (SDO, from the header), the frame is screened
(:mod:`preemergence.acquire.screening`) and Postel-projected about that point with the
project's single-instant projection (:func:`preemergence.solar.projection.project_map`:
bilinear by default, 1.4 Mm/px). The good projections are averaged in float64; a bin with
fewer good frames than ``min_good_fraction`` x the expected number is missing (no map),
with the reason. ``T_REC`` only selects frames into windows; it is never used for geometry.

The average is B_LOS as observed (no radial-field correction), each frame weighted equally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time
from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst, get_earth

from preemergence.acquire.records import (
    DEFAULT_SERIES,
    CatalogueRegion,
    Frame,
    Window,
    expected_frames,
    t_rec_text,
    t_rec_time,
)
from preemergence.acquire.screening import screen_frame
from preemergence.core.constants import KINDS, PIXEL_SCALE_MM, REGION_SIZE_PX
from preemergence.data.regionstore import RegionMeta, region_map_path, write_region_map
from preemergence.solar.projection import (
    MAX_CENTER_ANGLE_DEG,
    ProjectionError,
    load_map,
    project_map,
)

T_REC_TOLERANCE_S = 1.0   # a file's T_REC and its record's may differ by rounding only


def tracked_centre(region: CatalogueRegion, obstime, observer) -> tuple[float, float]:
    """Stonyhurst (lon, lat) in deg, lon in [-180, 180), of the region's fixed Carrington
    location (``carr_lon_deg``, ``lat_deg``) at ``obstime``, seen from ``observer`` (a
    SkyCoord, e.g. a map's ``observer_coordinate``; sunpy's Carrington frame depends on the
    observer through the light travel time)."""
    carrington = HeliographicCarrington(observer=observer, obstime=obstime)
    point = SkyCoord(region.carr_lon_deg * u.deg, region.lat_deg * u.deg, frame=carrington)
    hgs = point.transform_to(HeliographicStonyhurst(obstime=obstime))
    return float(hgs.lon.wrap_at(180 * u.deg).to_value(u.deg)), float(hgs.lat.to_value(u.deg))


def region_meta(region: CatalogueRegion, pixel_scale_mm: float = PIXEL_SCALE_MM) -> RegionMeta:
    """The region store's metadata of a catalogue region (source 'real'): latitude and
    central-meridian distance (deg) of its location at t0. The observer is the Earth
    (``sunpy.coordinates.get_earth``), standing in for SDO: SDO's orbit and the difference
    between JSOC's and sunpy's Carrington longitudes put SDO's central meridian within
    0.1 deg of the Earth's (sunpy reads 0.067 and 0.078 deg from the CRLN_OBS of the two
    frames in ../shared). Angles are rounded to 1e-4 deg so that every map of a region
    carries identical metadata."""
    if region.kind not in KINDS:
        raise ValueError(f"region {region.region_id}: unknown kind {region.kind!r}, "
                         f"expected one of {KINDS}")
    lon_deg, lat_deg = tracked_centre(region, region.t0, get_earth(region.t0))
    if abs(lon_deg) > 90.0:
        raise ValueError(f"region {region.region_id}: Carrington ({region.carr_lon_deg}, "
                         f"{region.lat_deg}) deg is on the far side at t0 (CMD {lon_deg:.1f})")
    return RegionMeta(region.region_id, region.kind, round(lat_deg, 4), round(lon_deg, 4),
                      pixel_scale_mm, "real")


def frame_from_file(path: Path, region_id: str, time_h: float,
                    series: str = DEFAULT_SERIES) -> Frame:
    """A Frame record for a FITS file, its T_REC read from the header (image HDU)."""
    path = Path(path)
    try:
        with fits.open(path) as hdul:
            hdu = next(h for h in hdul if h.is_image and h.header.get("NAXIS", 0) == 2)
            text = hdu.header["T_REC"]
    except (OSError, StopIteration, KeyError) as exc:
        raise ValueError(f"{path.name}: no image with a T_REC keyword ({type(exc).__name__})"
                         ) from None
    return Frame(region_id, float(time_h), series, t_rec_time(str(text)), path)


@dataclass
class AssemblyResult:
    """One time bin of one region: the averaged map (float32, G, ``shape``) or None when
    the bin is missing (``reason`` says why); the frames used (sorted by T_REC) and those
    rejected with one-line reasons; ``reference``: the used frame nearest the window
    centre, ``header`` its projection header (target WCS, DATE-OBS, CEN_LON/CEN_LAT)."""

    region_id: str
    time_h: float
    series: str
    expected: int
    min_good_fraction: float
    carr_lon_deg: float
    carr_lat_deg: float
    scale_mm: float
    data: np.ndarray | None
    used: list[Frame] = field(default_factory=list)
    rejected: list[tuple[Frame, str]] = field(default_factory=list)
    reason: str | None = None
    reference: Frame | None = None
    header: fits.Header | None = None

    @property
    def missing(self) -> bool:
        return self.data is None

    @property
    def first_t_rec(self) -> Time | None:
        return self.used[0].t_rec if self.used else None

    @property
    def last_t_rec(self) -> Time | None:
        return self.used[-1].t_rec if self.used else None


def project_frame(frame: Frame, region: CatalogueRegion, shape, scale_mm: float,
                  method: str = "interpolation",
                  max_center_angle_deg: float = MAX_CENTER_ANGLE_DEG):
    """``(data, header)`` of one frame projected about the region's tracked centre, or a
    one-line reason (str) why the frame is rejected."""
    name = frame.path.name
    try:
        smap = load_map(frame.path)
    except ProjectionError as exc:
        return str(exc)
    if (reason := _t_rec_problem(smap.meta.get("t_rec"), frame)) is not None:
        return reason
    centre = tracked_centre(region, smap.reference_date, smap.observer_coordinate)
    reason = screen_frame(smap, centre, shape, scale_mm, max_center_angle_deg, source=name)
    if reason is not None:
        return reason
    try:
        return project_map(smap, centre[0], centre[1], shape=tuple(shape), scale_mm=scale_mm,
                           method=method, max_center_angle_deg=max_center_angle_deg,
                           source=name)
    except ProjectionError as exc:
        return str(exc)


def _t_rec_problem(file_t_rec, frame: Frame) -> str | None:
    """A file whose T_REC is not its record's (a mix-up of files); None if it agrees or the
    file has none."""
    if file_t_rec is None:
        return None
    try:
        differs = abs((t_rec_time(str(file_t_rec)) - frame.t_rec).sec) > T_REC_TOLERANCE_S
    except ValueError:
        return f"{frame.path.name}: unreadable T_REC {file_t_rec!r}"
    if differs:
        return (f"{frame.path.name}: T_REC {file_t_rec} differs from the record's "
                f"{t_rec_text(frame.t_rec)}")
    return None


def _in_window(frames, window: Window):
    """Frames whose T_REC is in the window, sorted by T_REC; a repeated T_REC is rejected."""
    chosen, rejected, seen = [], [], {}
    for frame in sorted((f for f in frames if window.contains(f.t_rec)),
                        key=lambda f: f.t_rec.tai.jd):
        key = t_rec_text(frame.t_rec)
        if key in seen:
            rejected.append((frame, f"{frame.path.name}: duplicate T_REC {key} "
                                    f"(also {seen[key].name})"))
        else:
            seen[key] = frame.path
            chosen.append(frame)
    return chosen, rejected


def _check_arguments(region, window, min_good_fraction, expected) -> None:
    if window.region_id != region.region_id:
        raise ValueError(f"window of region {window.region_id} given for region "
                         f"{region.region_id}")
    if not 0.0 < min_good_fraction <= 1.0:
        raise ValueError(f"min_good_fraction must be in (0, 1], not {min_good_fraction}")
    if expected < 1:
        raise ValueError(f"expected frames must be at least 1, not {expected}")


def assemble_window(frames, region: CatalogueRegion, window: Window,
                    shape=(REGION_SIZE_PX, REGION_SIZE_PX), scale_mm: float = PIXEL_SCALE_MM,
                    *, min_good_fraction: float, expected: int | None = None,
                    series: str = DEFAULT_SERIES, method: str = "interpolation",
                    max_center_angle_deg: float = MAX_CENTER_ANGLE_DEG) -> AssemblyResult:
    """Average the region's tracked Postel projections over one time bin's window.

    ``frames``: Frame records (any T_REC; those outside ``window`` are ignored);
    ``shape``: (ny, nx) pixels; ``scale_mm``: Mm per pixel; ``min_good_fraction``: the bin
    is missing when fewer than this fraction of ``expected`` frames are good (a parameter of
    the pipeline, no default); ``expected``: frames a full window holds (default
    :func:`expected_frames` of ``series``: 35 for hmi.M_720s). The map is the float64 mean of
    the good frames' projections, returned as float32 G, finite everywhere.
    """
    expected = expected_frames(series) if expected is None else int(expected)
    _check_arguments(region, window, min_good_fraction, expected)
    chosen, rejected = _in_window(frames, window)
    total, used, reference = None, [], None
    centre_jd = (window.start.tai.jd + window.end.tai.jd) / 2.0
    for frame in chosen:
        outcome = project_frame(frame, region, shape, scale_mm, method, max_center_angle_deg)
        if isinstance(outcome, str):
            rejected.append((frame, outcome))
            continue
        data, header = outcome
        total = data.astype(np.float64) if total is None else total + data
        used.append(frame)
        if reference is None or abs(frame.t_rec.tai.jd - centre_jd) < reference[0]:
            reference = (abs(frame.t_rec.tai.jd - centre_jd), frame, header)
    result = AssemblyResult(region.region_id, window.time_h, series, expected,
                            float(min_good_fraction), float(region.carr_lon_deg),
                            float(region.lat_deg), float(scale_mm), None, used, rejected,
                            reference=reference[1] if reference else None,
                            header=reference[2] if reference else None)
    if len(used) < min_good_fraction * expected:
        result.reason = (f"region {region.region_id} at {window.time_h:g} h: {len(used)} good "
                         f"frame(s) of {expected} expected, fewer than {min_good_fraction:g} x "
                         f"{expected}; {len(chosen)} in the window, {len(rejected)} rejected"
                         + (f" (first: {rejected[0][1]})" if rejected else ""))
        return result
    mean = total / len(used)
    if not np.all(np.isfinite(mean)):
        raise ProjectionError(f"region {region.region_id} at {window.time_h:g} h: "
                              "non-finite pixels in the average")
    result.data = mean.astype(np.float32)
    return result


def provenance_header(result: AssemblyResult) -> fits.Header:
    """FITS keywords (<= 8 characters) recording how a map was assembled."""
    header = result.header.copy() if result.header is not None else fits.Header()
    for key in ("SRCFILE", "CEN_ANG"):    # one frame's, not the average's
        header.remove(key, ignore_missing=True)
    if result.reference is not None:
        header["REFTREC"] = (t_rec_text(result.reference.t_rec), "frame of WCS/DATE-OBS/CEN_*")
    header["SERIES"] = (result.series, "JSOC series of the frames averaged")
    header["TRECBEG"] = (t_rec_text(result.first_t_rec), "T_REC of the first frame averaged")
    header["TRECEND"] = (t_rec_text(result.last_t_rec), "T_REC of the last frame averaged")
    header["NFRAMES"] = (len(result.used), "frames averaged")
    header["NEXPECT"] = (result.expected, "frames a full window holds")
    header["NREJECT"] = (len(result.rejected), "frames in the window rejected")
    header["MINFRAC"] = (result.min_good_fraction, "min good fraction of NEXPECT")
    header["CARRLON"] = (result.carr_lon_deg, "[deg] Carrington longitude tracked")
    header["CARRLAT"] = (result.carr_lat_deg, "[deg] Carrington latitude tracked")
    header["TRACKING"] = ("Carrington", "map centre fixed on the rotating Sun")
    return header


def write_real_map(store_dir: Path, result: AssemblyResult, meta: RegionMeta) -> Path:
    """Write an assembled map into a region store (``<store>/<id>/t-3.2h.fits``) atomically,
    in the region-store format with SOURCE 'real' and the provenance keywords; returns the
    path. Refuses a missing bin, a non-'real' or mismatched meta, or another pixel scale."""
    where = f"region {result.region_id} at {result.time_h:g} h"
    if result.data is None:
        raise ValueError(f"{where}: no map to write ({result.reason})")
    if meta.region_id != result.region_id or meta.source != "real":
        raise ValueError(f"{where}: metadata of region {meta.region_id} with source "
                         f"{meta.source!r} given (expected this region, source 'real')")
    if abs(meta.pixel_scale_mm - result.scale_mm) > 1e-9:
        raise ValueError(f"{where}: map assembled at {result.scale_mm} Mm/px, metadata says "
                         f"{meta.pixel_scale_mm} Mm/px")
    path = region_map_path(Path(store_dir), meta.region_id, result.time_h)
    write_region_map(path, result.data, meta, result.time_h, extra=provenance_header(result))
    return path
