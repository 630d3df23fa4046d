"""The region store: HEAR-like region maps on disk (layout in docs/data-format.md).

One FITS file per (region, time bin), conventionally ``<store>/<REGIONID>/<t-3.2h>.fits``;
the loader reads metadata from the headers only, never from file names. The image
(256 x 256 B_LOS in Gauss) is in the primary HDU or the first image extension.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from preemergence.core.artifacts import write_fits
from preemergence.core.constants import (
    KINDS,
    PIXEL_SCALE_MM,
    REGION_SIZE_PX,
    TIME_BIN_TOLERANCE_H,
    time_bin_label,
)
from preemergence.core.errors import RegionStoreError
from preemergence.core.profiling import timed
from preemergence.core.progress import progress as show_progress

GAUSS_UNITS = {"g", "gauss"}
PIXEL_SCALE_TOLERANCE = 0.01   # relative
REQUIRED_KEYS = ("REGIONID", "REGKIND", "LAT_DEG", "CMD_DEG", "TREL_H", "PIXSC_MM", "SOURCE",
                 "BUNIT")
SOURCES = ("real", "synthetic")
MAX_ABS_DEG = {"LAT_DEG": 90.0, "CMD_DEG": 90.0}   # physical ranges of the angles (deg)
NEAR_MISS_H = 0.5   # a TREL_H this close to a time bin but outside its tolerance is named


@dataclass(frozen=True)
class RegionMeta:
    """Per-region metadata. Angles in degrees (Stonyhurst latitude, central-meridian distance)."""

    region_id: str
    kind: str
    latitude_deg: float
    cmd_deg: float
    pixel_scale_mm: float
    source: str


@dataclass
class RegionStore:
    """Regions (sorted by id) and, per time bin (h), a cube of maps (n_regions, 256, 256) in G."""

    regions: list[RegionMeta]
    maps: dict[float, np.ndarray]

    @property
    def time_bins(self) -> tuple[float, ...]:
        return tuple(self.maps)

    def ids(self, kind: str | None = None) -> list[str]:
        return [r.region_id for r in self.regions if kind is None or r.kind == kind]


def region_header(meta: RegionMeta, time_h: float) -> fits.Header:
    """FITS header keywords of the region-store format for one region and time bin."""
    header = fits.Header()
    header["REGIONID"] = (meta.region_id, "region id (NOAA number for real EARs)")
    header["REGKIND"] = (meta.kind, "EAR (emerging) or CR (control region)")
    header["LAT_DEG"] = (float(meta.latitude_deg), "[deg] Stonyhurst latitude of map centre")
    header["CMD_DEG"] = (float(meta.cmd_deg), "[deg] central-meridian distance at emergence")
    header["TREL_H"] = (float(time_h), "[h] time relative to (mock) emergence")
    header["PIXSC_MM"] = (float(meta.pixel_scale_mm), "[Mm] pixel scale")
    header["SOURCE"] = (meta.source, "real or synthetic")
    header["BUNIT"] = ("G", "line-of-sight field in Gauss")
    return header


def write_region_map(path: Path, data: np.ndarray, meta: RegionMeta, time_h: float,
                     extra: fits.Header | None = None) -> None:
    """Write one region map (G) atomically: temp file in the same folder, then rename."""
    header = region_header(meta, time_h)
    if extra is not None:
        header.extend(extra, update=True)
    write_fits(path, np.asarray(data, dtype=np.float32), header)


def region_map_path(store: Path, region_id: str, time_h: float) -> Path:
    """Conventional location of one map in a store."""
    return Path(store) / region_id / f"{time_bin_label(time_h)}.fits"


def read_region_map(path: Path) -> tuple[fits.Header, np.ndarray]:
    """Read and check one region map; returns its header and float32 data in G."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # astropy warns (not raises) on truncation
            with fits.open(path, memmap=False) as hdul:
                hdu = next((h for h in hdul if h.is_image and h.data is not None), None)
                if hdu is None:
                    raise RegionStoreError(f"{path}: no image in the primary HDU or extensions")
                header = hdu.header.copy()
                if hdul[0] is not hdu:
                    header = _merged_header(hdul[0].header, header)
                data = np.array(hdu.data, dtype=np.float32)
    except RegionStoreError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError, warnings
        raise RegionStoreError(f"{path}: unreadable or truncated FITS ({exc})") from None
    _check_map(path, header, data)
    return header, data


def _merged_header(primary: fits.Header, image: fits.Header) -> fits.Header:
    merged = primary.copy()
    merged.extend(image, update=True)
    return merged


def _check_map(path: Path, header: fits.Header, data: np.ndarray) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in header]
    if missing:
        raise RegionStoreError(f"{path}: missing header keyword(s) {', '.join(missing)}")
    if data.shape != (REGION_SIZE_PX, REGION_SIZE_PX):
        raise RegionStoreError(
            f"{path}: wrong shape {data.shape}, expected ({REGION_SIZE_PX}, {REGION_SIZE_PX})")
    unit = str(header["BUNIT"]).strip().lower()
    if unit not in GAUSS_UNITS:
        raise RegionStoreError(f"{path}: wrong units BUNIT='{header['BUNIT']}', expected 'G'")
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise RegionStoreError(f"{path}: {bad} NaN/inf pixel(s); maps must be finite")
    if not np.any(data):
        raise RegionStoreError(f"{path}: every pixel is 0 G (an empty map, not a magnetogram)")
    if not str(header["REGIONID"]).strip():
        raise RegionStoreError(f"{path}: empty REGIONID")
    if str(header["REGKIND"]).strip() not in KINDS:
        raise RegionStoreError(
            f"{path}: unknown kind REGKIND='{header['REGKIND']}', expected one of {KINDS}")
    scale = _number(path, header, "PIXSC_MM")
    if abs(scale / PIXEL_SCALE_MM - 1) > PIXEL_SCALE_TOLERANCE:
        raise RegionStoreError(
            f"{path}: pixel scale {scale} Mm, expected {PIXEL_SCALE_MM} Mm per pixel")


def _number(path: Path, header: fits.Header, key: str) -> float:
    try:
        value = float(header[key])
    except (TypeError, ValueError):
        raise RegionStoreError(f"{path}: keyword {key}={header[key]!r} is not a number") from None
    if not np.isfinite(value):
        raise RegionStoreError(f"{path}: keyword {key}={header[key]!r} is not finite")
    return value


def _meta_from_header(path: Path, header: fits.Header) -> RegionMeta:
    for key, limit in MAX_ABS_DEG.items():
        if abs(_number(path, header, key)) > limit:
            raise RegionStoreError(f"{path}: {key}={header[key]} deg is outside "
                                   f"[-{limit:g}, {limit:g}] deg")
    source = str(header["SOURCE"]).strip()
    if source not in SOURCES:
        raise RegionStoreError(f"{path}: SOURCE='{source}', expected one of {SOURCES}")
    return RegionMeta(region_id=str(header["REGIONID"]).strip(),
                      kind=str(header["REGKIND"]).strip(),
                      latitude_deg=_number(path, header, "LAT_DEG"),
                      cmd_deg=_number(path, header, "CMD_DEG"),
                      pixel_scale_mm=_number(path, header, "PIXSC_MM"),
                      source=source)


def _match_time_bin(path: Path, time_h: float, time_bins) -> float | None:
    for t in time_bins:
        if abs(time_h - t) <= TIME_BIN_TOLERANCE_H:
            return t
    return None


def _near_miss(time_h: float, time_bins) -> float | None:
    """The time bin a TREL_H almost matches (within NEAR_MISS_H, outside the tolerance)."""
    near = [t for t in time_bins if TIME_BIN_TOLERANCE_H < abs(time_h - t) <= NEAR_MISS_H]
    return near[0] if near else None


@timed("data loading")
def load_region_store(store: Path, time_bins, on_missing: str = "error",
                      progress: bool = False) -> RegionStore:
    """Load every map of the requested time bins (h) from a store.

    on_missing: 'error' (default) rejects a region lacking a requested time bin;
    'skip' leaves such a region out (the paper keeps only regions with all time bins).
    Maps at other time bins are ignored. Raises RegionStoreError naming the file and problem.
    """
    store = Path(store)
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', not {on_missing!r}")
    if not store.is_dir():
        raise RegionStoreError(f"{store}: region store folder not found")
    files = sorted(store.rglob("*.fits"))
    if not files:
        raise RegionStoreError(f"{store}: no FITS files in the region store")
    metas: dict[str, tuple[RegionMeta, Path]] = {}
    found: dict[tuple[str, float], tuple[Path, np.ndarray]] = {}
    near: dict[tuple[str, float], str] = {}
    with show_progress(files, progress, "reading regions", "file") as paths:
        for path in paths:
            header, data = read_region_map(path)
            meta = _meta_from_header(path, header)
            time_h = _number(path, header, "TREL_H")
            t = _match_time_bin(path, time_h, time_bins)
            if t is None:
                if (almost := _near_miss(time_h, time_bins)) is not None:
                    near[(meta.region_id, almost)] = (
                        f"{path} has TREL_H = {time_h:g} h, outside the "
                        f"±{TIME_BIN_TOLERANCE_H:g} h of the {almost} h bin")
                continue
            _check_consistent(metas, meta, path)
            key = (meta.region_id, t)
            if key in found:
                raise RegionStoreError(f"{path}: duplicate region id {meta.region_id} at {t} h "
                                       f"(also in {found[key][0]})")
            found[key] = (path, data)
    return _assemble(store, metas, found, tuple(time_bins), on_missing, near)


def _check_consistent(metas, meta: RegionMeta, path: Path) -> None:
    seen = metas.setdefault(meta.region_id, (meta, path))
    if seen[0] != meta:
        raise RegionStoreError(
            f"{path}: duplicate region id {meta.region_id} with different metadata "
            f"(kind/latitude/CMD/source) than {seen[1]}")


def _assemble(store, metas, found, time_bins, on_missing, near) -> RegionStore:
    keep = []
    for region_id in sorted(metas):
        missing = [t for t in time_bins if (region_id, t) not in found]
        almost = "; ".join(near[(region_id, t)] for t in missing if (region_id, t) in near)
        if missing and on_missing == "error":
            raise RegionStoreError(
                f"{metas[region_id][1]}: region {region_id} is missing time bin(s) "
                f"{', '.join(f'{t} h' for t in missing)} in {store}"
                + (f" ({almost})" if almost else ""))
        if almost:
            warnings.warn(f"region {region_id} left out: {almost}", stacklevel=3)
        if not missing:
            keep.append(metas[region_id][0])
    if not keep:
        raise RegionStoreError(f"{store}: no region has all time bins {time_bins}")
    maps = {t: np.stack([found[(m.region_id, t)][1] for m in keep]) for t in time_bins}
    return RegionStore(regions=keep, maps=maps)


