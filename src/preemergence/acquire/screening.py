"""Screening one HMI frame before it enters a time bin's average (docs/real-data.md).

A frame is used only when all of these hold (the first that fails is the reason given):

1. WCS and observer keywords are present (the projection's own check,
   :func:`preemergence.solar.projection.load_map`).
2. ``QUALITY`` is 0. Any set bit rejects the frame, including the "sub-optimal" bits of the
   lev1.5 observables (e.g. 0x00010000 LOWINTERPNUM, set on the 2019-06-21 06:00 frame in
   ../shared). A header without ``QUALITY`` (a cutout made by a tool that drops it) is
   rejected too: a frame whose quality cannot be confirmed is not used (fail closed); export
   cutouts with their keywords (JSOC ``im_patch`` keeps them).
3. The region centre (Stonyhurst, at the frame's observation time) is on the visible disk
   and at most ``max_center_angle_deg`` (default
   :data:`preemergence.solar.projection.MAX_CENTER_ANGLE_DEG`, 60 deg) from disk centre.
4. The whole projected box is on the visible disk (every boundary pixel closer to the
   sub-observer point than the limb, arccos(R_sun / D_obs) ~ 89.74 deg from SDO) and inside
   the image (a cutout too small for the region is refused). The projection then refuses any
   remaining NaN pixel (missing data on the disk), see :func:`project_map`.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from sunpy.coordinates import frames

from preemergence.core.constants import PIXEL_SCALE_MM, REGION_SIZE_PX
from preemergence.solar.projection import (
    MAX_CENTER_ANGLE_DEG,
    ProjectionError,
    _check_keywords,
    center_angle_deg,
    center_angles_deg,
    load_map,
    solar_radius_mm,
    target_header,
)

# Names of the lev1.5 observables QUALITY bits (JSOC lev1.5_hmi HMI_observables.c), for
# readable rejection reasons; bits below 0x400 are named differently across versions.
QUALITY_BITS = {
    0x80000000: "NODATA", 0x40000000: "TARGETFILTERGRAMMISSING",
    0x20000000: "NOINTERPOLATEDKEYWORDS", 0x10000000: "NOFRAMELISTINFO",
    0x08000000: "WRONGCADENCE", 0x04000000: "WRONGFRAMELISTSIZE", 0x02000000: "WRONGNPOL",
    0x01000000: "WRONGPOLTYPE", 0x00800000: "WRONGTARGET", 0x00400000: "ERRORFRAMELIST",
    0x00200000: "WRONGWAVELENGTHNUM", 0x00100000: "NOLOOKUPRECORD",
    0x00080000: "NOLOOKUPKEYWORD", 0x00040000: "NOTENOUGHINTERPOLANTS",
    0x00020000: "INTERPOLATIONFAILED", 0x00010000: "LOWINTERPNUM", 0x00008000: "LOWKEYWORDNUM",
    0x00004000: "ISSTARGET", 0x00002000: "NOTEMP", 0x00001000: "NOGAPFILL",
    0x00000800: "LIMBFITISSUE", 0x00000400: "NOCOSMICRAY",
}


def quality_problem(meta, name: str) -> str | None:
    """Why a header's QUALITY rejects the frame (one line naming ``name``), or None if 0."""
    if "quality" not in meta:
        return (f"{name}: no QUALITY keyword (a frame whose quality cannot be confirmed "
                "is not used)")
    raw = meta["quality"]
    try:
        value = int(raw, 0) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        return f"{name}: QUALITY={raw!r} is not an integer"
    if value == 0:
        return None
    named = [label for bit, label in QUALITY_BITS.items() if value & bit]
    return (f"{name}: QUALITY 0x{value & 0xFFFFFFFF:08x} is not 0"
            + (f" ({', '.join(named)})" if named else ""))


def limb_angle_deg(smap) -> float:
    """Heliocentric angle (deg) of the limb seen by the map's observer: arccos(R_sun/D)."""
    radius_m = solar_radius_mm(smap) * 1.0e6
    distance_m = smap.observer_coordinate.radius.to_value(u.m)
    return float(np.degrees(np.arccos(radius_m / distance_m)))


def box_boundary_deg(smap, lon_deg: float, lat_deg: float, shape, scale_mm: float):
    """Stonyhurst (lon, lat) arrays (deg) of the centres of the box's boundary pixels."""
    ny, nx = shape
    wcs = WCS(target_header(smap, lon_deg, lat_deg, shape, scale_mm))
    xs, ys = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
    x = np.concatenate([xs, xs, np.zeros(ny), np.full(ny, nx - 1.0)])
    y = np.concatenate([np.zeros(nx), np.full(nx, ny - 1.0), ys, ys])
    lon, lat = wcs.pixel_to_world_values(x, y)
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0, np.asarray(lat)


def box_problem(smap, centre, shape, scale_mm: float, name: str) -> str | None:
    """Why the projected box is not wholly on the visible disk and inside the image."""
    lon, lat = box_boundary_deg(smap, centre[0], centre[1], shape, scale_mm)
    farthest, limb = float(np.max(center_angles_deg(smap, lon, lat))), limb_angle_deg(smap)
    if farthest >= limb:
        return (f"{name}: off-disk: the {shape[0]}x{shape[1]} box at ({centre[0]:.2f}, "
                f"{centre[1]:.2f}) deg reaches {farthest:.1f} deg from disk centre, beyond "
                f"the limb at {limb:.2f} deg")
    coords = SkyCoord(lon * u.deg, lat * u.deg, frame=frames.HeliographicStonyhurst,
                      obstime=smap.reference_date, rsun=solar_radius_mm(smap) * u.Mm)
    px, py = smap.wcs.world_to_pixel(coords)
    ny, nx = smap.data.shape
    if not (np.all(np.isfinite(px)) and px.min() >= 0 and px.max() <= nx - 1
            and py.min() >= 0 and py.max() <= ny - 1):
        return (f"{name}: the {shape[0]}x{shape[1]} box at ({centre[0]:.2f}, {centre[1]:.2f})"
                f" deg extends outside the {nx}x{ny}-pixel image (cutout too small)")
    return None


def centre_problem(smap, centre, max_center_angle_deg: float, name: str) -> str | None:
    """Why the region centre is not usable: far side, or too far from disk centre."""
    angle = center_angle_deg(smap, centre[0], centre[1])
    where = f"centre ({centre[0]:.2f}, {centre[1]:.2f}) deg"
    if angle >= 90.0:
        return f"{name}: {where} is on the far side (heliocentric angle {angle:.1f} deg)"
    if angle > max_center_angle_deg:
        return (f"{name}: {where} is {angle:.1f} deg from disk centre "
                f"(max {max_center_angle_deg:g} deg)")
    return None


def screen_frame(smap_or_path, centre, shape=(REGION_SIZE_PX, REGION_SIZE_PX),
                 scale_mm: float = PIXEL_SCALE_MM,
                 max_center_angle_deg: float = MAX_CENTER_ANGLE_DEG,
                 source: str | None = None) -> str | None:
    """Why a frame cannot be used for a region box, as one line naming the file; None if
    it can.

    ``smap_or_path``: a sunpy map or the path of a FITS file (full disk or cutout);
    ``centre``: Stonyhurst (lon, lat) in deg of the box centre at the frame's observation
    time (:func:`preemergence.acquire.assemble.tracked_centre`); ``shape``: (ny, nx) pixels;
    ``scale_mm``: Mm per pixel at the centre; ``source``: the name used in the reason
    (default: the file name, or 'map'). The rules are in the module docstring.
    """
    if isinstance(smap_or_path, (str, Path)):
        name = source or Path(smap_or_path).name
        try:
            smap = load_map(smap_or_path)
        except ProjectionError as exc:
            return str(exc)
    else:
        smap, name = smap_or_path, source or "map"
        try:
            _check_keywords(smap.meta, name)
        except ProjectionError as exc:
            return str(exc)
    return (quality_problem(smap.meta, name)
            or centre_problem(smap, centre, max_center_angle_deg, name)
            or box_problem(smap, centre, tuple(shape), scale_mm, name))
