"""The region catalogue: one CSV row per EAR or CR, read and checked (docs/real-data.md).

Columns: ``region_id``, ``kind`` (EAR/CR), ``noaa`` (5-digit NOAA number of an EAR, empty
for a CR and for an illustrative EAR), ``t0`` ((mock) emergence time with its scale),
``carr_lon_deg`` [0, 360), ``lat_deg`` [-90, 90] (Carrington coordinates of the emergence
location) and ``pair`` (a CR's EAR, empty for an EAR). Other columns (e.g. ``note``) are
ignored. Problems are reported on one line naming the file, the CSV line number (header =
line 1) and the column.

Coordinates follow sunpy: Carrington longitude for an observer at Earth (light travel time
included) and Stonyhurst coordinates. A CR lies where its Stonyhurst coordinates at its t0
equal its EAR's at the EAR's t0 (Schunker et al. 2016; Dhuri et al. 2020, section 2).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time

from preemergence.acquire.records import CatalogueRegion
from preemergence.core.constants import KINDS

COLUMNS = ("region_id", "kind", "noaa", "t0", "carr_lon_deg", "lat_deg", "pair")
TIME_SCALES = ("UTC", "TAI")
ILLUSTRATIVE_PREFIX = "ILL-"     # illustrative regions: not emergences, no NOAA number
PAIR_TOLERANCE_DEG = 0.1         # a CR's location must match control_location within this
MAX_REPORTED = 10                # problems named on the error line (then "and N more")
_NOAA = re.compile(r"\d{5}")
_JSOC = re.compile(r"(\d{4}\.\d{2}\.\d{2}_\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:[_ ]([A-Za-z]+))?")


class CatalogueError(ValueError):
    """The catalogue is unusable; one line naming the file, line(s) and column(s)."""


def parse_t0(text: str) -> Time:
    """A t0 cell as an astropy Time in its own scale. Notations: ISO date and clock time
    then a space and the scale ('2011-02-09T21:50:00 UTC', '2016-07-07 04:12 TAI') or a
    JSOC T_REC ('2016.07.07_04:12:00_TAI'). Raises ValueError without a scale."""
    body, scale = text.strip(), ""
    jsoc = _JSOC.fullmatch(body)
    if jsoc:
        date, _, clock = jsoc.group(1).partition("_")
        body, scale = f"{date.replace('.', '-')}T{clock}", jsoc.group(2) or ""
    elif body.split() and body.split()[-1].isalpha():
        body, scale = body.rsplit(None, 1)
    if scale.upper() not in TIME_SCALES:
        hint = f"unknown time scale '{scale}'" if scale else "no time scale"
        raise ValueError(f"{hint} in '{text.strip()}' (write e.g. "
                         f"'2011-02-09T21:50:00 UTC' or '... TAI')")
    if ":" not in body:
        raise ValueError(f"no clock time in '{text.strip()}'")
    try:
        return Time(body.strip(), format="isot" if "T" in body else "iso",
                    scale=scale.lower())
    except ValueError:
        raise ValueError(f"cannot parse '{text.strip()}' as a time") from None


def format_t0(t: Time) -> str:
    """A Time in the catalogue's notation, to the second, in its scale if UTC or TAI
    (otherwise TAI): '2016-07-07T04:12:00 TAI'."""
    scale = t.scale if t.scale in ("utc", "tai") else "tai"
    return f"{getattr(t, scale).strftime('%Y-%m-%dT%H:%M:%S')} {scale.upper()}"


def _to_stonyhurst(carr_lon_deg, lat_deg, time: Time) -> tuple[np.ndarray, np.ndarray]:
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst
    c = SkyCoord(carr_lon_deg * u.deg, lat_deg * u.deg,
                 frame=HeliographicCarrington(obstime=time, observer="earth"))
    s = c.transform_to(HeliographicStonyhurst(obstime=time))
    return s.lon.wrap_at(180 * u.deg).deg, s.lat.deg


def carrington_at(lon_deg, lat_deg, time: Time) -> tuple[np.ndarray, np.ndarray]:
    """Carrington (lon [0, 360), lat) in deg, observer Earth, of Stonyhurst (lon, lat)
    at ``time`` (scalars or arrays)."""
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst
    s = SkyCoord(lon_deg * u.deg, lat_deg * u.deg, frame=HeliographicStonyhurst(obstime=time))
    c = s.transform_to(HeliographicCarrington(obstime=time, observer="earth"))
    return c.lon.wrap_at(360 * u.deg).deg, c.lat.deg


def stonyhurst_at(region: CatalogueRegion, time: Time) -> tuple[float, float]:
    """Stonyhurst (lon in [-180, 180), lat) in deg of a region's Carrington location at
    ``time`` (west positive; lon is the central-meridian distance seen from Earth)."""
    lon, lat = _to_stonyhurst(region.carr_lon_deg, region.lat_deg, time)
    return float(lon), float(lat)


def _control_lonlat(carr_lon_deg, lat_deg, ear_t0: Time, cr_t0: Time):
    lon, lat = _to_stonyhurst(carr_lon_deg, lat_deg, ear_t0)
    return carrington_at(lon, lat, cr_t0)


def control_location(ear: CatalogueRegion, cr_t0: Time) -> tuple[float, float]:
    """Carrington (lon [0, 360), lat) in deg of the CR of ``ear`` with mock emergence time
    ``cr_t0``: its Stonyhurst coordinates at cr_t0 equal the EAR's at the EAR's t0. Seen
    from Earth the Sun turns ~13.2 deg/day, so a CR two days later lies ~26.4 deg LOWER in
    Carrington longitude."""
    lon, lat = _control_lonlat(ear.carr_lon_deg, ear.lat_deg, ear.t0, cr_t0)
    return float(lon), float(lat)


def control_region(ear: CatalogueRegion, cr_t0: Time,
                   region_id: str | None = None) -> CatalogueRegion:
    """The CR of ``ear`` at mock emergence time cr_t0, located by control_location; its id
    defaults to 'CR' + the EAR's id (the region store's convention, e.g. CR11776)."""
    lon, lat = control_location(ear, cr_t0)
    return CatalogueRegion(region_id or f"CR{ear.region_id}", "CR", cr_t0, round(lon, 4),
                           round(lat, 4), None, ear.region_id)


def from_hear_row(noaa: str | int, t0_text: str, lat_deg: float, lon_deg: float, *,
                  lon_kind: str, scale: str | None = None,
                  region_id: str | None = None) -> CatalogueRegion:
    """An EAR from a published table row: NOAA number, emergence time (any parse_t0
    notation; a time without scale takes ``scale``, which must then be given, from the
    table's caption), latitude and longitude, the longitude being ``lon_kind``
    'carrington' (deg) or 'cmd' (central-meridian distance = Stonyhurst longitude at t0,
    deg, west positive). The id defaults to the NOAA number."""
    noaa = str(noaa).strip()
    if not _NOAA.fullmatch(noaa):
        raise ValueError(f"NOAA number '{noaa}' is not a 5-digit integer")
    text = t0_text.strip()
    try:
        t0 = parse_t0(text)
    except ValueError as exc:
        if scale is None or not str(exc).startswith("no time scale"):
            raise
        t0 = parse_t0(f"{text} {scale}")
    else:
        if scale is not None and t0.scale != scale.lower():
            raise ValueError(f"'{text}' has scale {t0.scale.upper()}, not {scale}")
    if lon_kind == "carrington":
        carr = float(lon_deg) % 360.0
    elif lon_kind == "cmd":
        carr = float(carrington_at(float(lon_deg), float(lat_deg), t0)[0])
    else:
        raise ValueError(f"lon_kind '{lon_kind}': expected 'carrington' or 'cmd'")
    return CatalogueRegion(region_id or noaa, "EAR", t0, round(carr, 4), float(lat_deg), noaa)


def _number(text: str, low: float, high: float, high_open: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < low or value > high or (high_open and value == high):
        raise ValueError(f"{text} is out of range [{low:g}, {high:g}{')' if high_open else ']'}")
    return value


def _parse_row(cells: dict[str, str], problems: list[tuple[str, str]]) -> CatalogueRegion | None:
    """One data row as a region, or None, appending (column, message) for each problem."""
    def check(column, parse):
        try:
            return parse(cells[column])
        except ValueError as exc:
            problems.append((column, str(exc)))
    region_id, kind, noaa, pair = (cells[c] for c in ("region_id", "kind", "noaa", "pair"))
    illustrative = region_id.startswith(ILLUSTRATIVE_PREFIX)
    if not region_id:
        problems.append(("region_id", "empty region_id"))
    if kind not in KINDS:
        problems.append(("kind", f"unknown kind '{kind}' (expected EAR or CR)"))
    elif kind == "CR" and noaa:
        problems.append(("noaa", f"a CR has no NOAA number (found '{noaa}')"))
    elif kind == "EAR" and illustrative and noaa:
        problems.append(("noaa", f"an illustrative ({ILLUSTRATIVE_PREFIX}) EAR has no NOAA "
                                 f"number (found '{noaa}')"))
    elif kind == "EAR" and not illustrative and not _NOAA.fullmatch(noaa):
        problems.append(("noaa", f"an EAR needs a 5-digit NOAA number (found '{noaa}')"))
    if kind == "EAR" and pair:
        problems.append(("pair", f"an EAR has no pair (found '{pair}')"))
    elif kind == "CR" and not pair:
        problems.append(("pair", "a CR needs the region_id of its EAR"))
    t0 = check("t0", parse_t0)
    lon = check("carr_lon_deg", lambda s: _number(s, 0.0, 360.0, True))
    lat = check("lat_deg", lambda s: _number(s, -90.0, 90.0, False))
    if problems:
        return None
    return CatalogueRegion(region_id, kind, t0, lon, lat, noaa or None, pair or None)


def check_pairs(regions: list[CatalogueRegion],
                tolerance_deg: float = PAIR_TOLERANCE_DEG) -> list[tuple[str, str, str]]:
    """(region_id, column, message) for each CR whose pair is unknown, not an EAR, an EAR
    already paired (HEAR pairs one CR per EAR), of the other family (illustrative or not),
    or whose location differs from control_location by more than tolerance_deg."""
    by_id = {r.region_id: r for r in regions}
    problems, paired, matched = [], {}, []
    for cr in (r for r in regions if r.kind == "CR"):
        ear = by_id.get(cr.pair)
        if ear is None:
            problems.append((cr.region_id, "pair", f"unknown region '{cr.pair}'"))
        elif ear.kind != "EAR":
            problems.append((cr.region_id, "pair", f"'{cr.pair}' is a {ear.kind}, not an EAR"))
        elif cr.pair in paired:
            problems.append((cr.region_id, "pair", f"EAR '{cr.pair}' already has a CR "
                             f"('{paired[cr.pair]}'); one CR per EAR"))
        elif cr.region_id.startswith(ILLUSTRATIVE_PREFIX) != \
                ear.region_id.startswith(ILLUSTRATIVE_PREFIX):
            problems.append((cr.region_id, "pair", f"'{cr.region_id}' and its EAR "
                             f"'{ear.region_id}' must both be illustrative or both not"))
        else:
            paired[cr.pair] = cr.region_id
            matched.append((cr, ear))
    if matched:
        crs, ears = zip(*matched)
        lon, lat = _control_lonlat(np.array([e.carr_lon_deg for e in ears]),
                                   np.array([e.lat_deg for e in ears]),
                                   Time([e.t0.tai for e in ears]), Time([c.t0.tai for c in crs]))
        for cr, want_lon, want_lat in zip(crs, np.atleast_1d(lon), np.atleast_1d(lat)):
            dlon = (cr.carr_lon_deg - want_lon + 180.0) % 360.0 - 180.0
            for column, diff, want in (("carr_lon_deg", dlon, want_lon),
                                       ("lat_deg", cr.lat_deg - want_lat, want_lat)):
                if abs(diff) > tolerance_deg:
                    problems.append((cr.region_id, column, f"{getattr(cr, column):g} is not "
                                     f"the location of its EAR '{cr.pair}' at the CR's t0 "
                                     f"({want:.3f}, tolerance {tolerance_deg:g} deg)"))
    return problems


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CatalogueError(f"{path}: cannot read the catalogue ({exc})") from None
    if not rows:
        raise CatalogueError(f"{path}: line 1: the catalogue is empty (no header)")
    header = [c.strip() for c in rows[0][1]]
    missing = [c for c in COLUMNS if c not in header]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or twice:
        what = [f"missing column(s) {', '.join(missing)}"] if missing else []
        what += [f"column(s) {', '.join(twice)} twice"] if twice else []
        raise CatalogueError(f"{path}: line {rows[0][0]} (header): {'; '.join(what)}")
    if len(rows) == 1:
        raise CatalogueError(f"{path}: line {rows[0][0] + 1}: no data rows")
    return header, rows[1:]


def read_catalogue(path: Path | str,
                   tolerance_deg: float = PAIR_TOLERANCE_DEG) -> list[CatalogueRegion]:
    """The catalogue at ``path``, checked row by row and pair by pair; raises
    CatalogueError listing every problem ('line N, column C: ...', '; '-joined) on one
    line, or returns the regions in file order."""
    path = Path(path)
    header, rows = _read_rows(path)
    problems, regions, line_of = [], [], {}
    for line, row in rows:
        if len(row) != len(header):
            problems.append(f"line {line}: {len(row)} cells, the header has {len(header)}")
            continue
        cells = {name: value.strip() for name, value in zip(header, row)}
        found: list[tuple[str, str]] = []
        region = _parse_row(cells, found)
        if cells["region_id"] in line_of:
            found.append(("region_id", f"duplicate region_id '{cells['region_id']}' "
                                       f"(first on line {line_of[cells['region_id']]})"))
            region = None
        elif cells["region_id"]:
            line_of[cells["region_id"]] = line
        problems += [f"line {line}, column {column}: {message}" for column, message in found]
        if region is not None:
            regions.append(region)
    if not problems:
        problems = [f"line {line_of[rid]}, column {column}: {message}"
                    for rid, column, message in check_pairs(regions, tolerance_deg)]
    if problems:
        more = len(problems) - MAX_REPORTED
        text = "; ".join(problems[:MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
        raise CatalogueError(f"{path}: {text}".replace("\n", " "))
    return regions


def write_catalogue(regions: list[CatalogueRegion], path: Path | str,
                    notes: dict[str, str] | None = None) -> None:
    """Write regions in the catalogue format (t0 via format_t0; a ``note`` column when
    notes, keyed by region_id, are given). Read it back with read_catalogue to check it."""
    columns = COLUMNS + (("note",) if notes else ())
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for r in regions:
            row = [r.region_id, r.kind, r.noaa or "", format_t0(r.t0), f"{r.carr_lon_deg:.4f}",
                   f"{r.lat_deg:.4f}", r.pair or ""]
            writer.writerow(row + ([notes.get(r.region_id, "")] if notes else []))
