"""The records the real-data path passes between its steps (docs/real-data.md).

A catalogue region (one row of the catalogue), the averaging window of one of its time
bins, and a frame (one magnetogram on disk, full disk or a tracked cutout). Times are
astropy ``Time`` objects; JSOC's ``T_REC`` is TAI (``2016.07.07_01:00:00_TAI``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from astropy.time import Time, TimeDelta

from preemergence.core.constants import AVERAGING_WINDOW_MIN

# JSOC line-of-sight magnetogram series and their cadence (s).
SERIES_CADENCE_S = {"hmi.M_720s": 720.0, "hmi.M_45s": 45.0}
DEFAULT_SERIES = "hmi.M_720s"


@dataclass(frozen=True)
class CatalogueRegion:
    """One region of the catalogue: an EAR or a CR (its EAR in ``pair``).

    ``t0``: the (mock) emergence time; ``carr_lon_deg``, ``lat_deg``: Carrington longitude
    and latitude (deg) of the emergence location, fixed on the rotating Sun (tracking at the
    Carrington rate); ``noaa``: the NOAA number of an EAR, None for a CR.
    """

    region_id: str
    kind: str                 # "EAR" or "CR"
    t0: Time
    carr_lon_deg: float
    lat_deg: float
    noaa: str | None = None
    pair: str | None = None


@dataclass(frozen=True)
class Window:
    """The averaging window of one region and time bin: [start, end) centred on
    t0 + time_h, AVERAGING_WINDOW_MIN (410.25 min) long."""

    region_id: str
    time_h: float
    start: Time
    end: Time

    def contains(self, t: Time) -> bool:
        return bool(self.start <= t < self.end)


def averaging_window(region: CatalogueRegion, time_h: float,
                     length_min: float = AVERAGING_WINDOW_MIN) -> Window:
    """The window of one time bin (h relative to t0)."""
    centre = region.t0 + TimeDelta(time_h * 3600.0, format="sec")
    half = TimeDelta(length_min * 30.0, format="sec")
    return Window(region.region_id, float(time_h), centre - half, centre + half)


def expected_frames(series: str, length_min: float = AVERAGING_WINDOW_MIN) -> int:
    """Frames of a series whose T_REC falls in a window: 35 for hmi.M_720s, 547 for
    hmi.M_45s at 410.25 min (ceil of window over cadence)."""
    if series not in SERIES_CADENCE_S:
        raise ValueError(f"unknown series '{series}': expected one of "
                         f"{', '.join(SERIES_CADENCE_S)}")
    return math.ceil(length_min * 60.0 / SERIES_CADENCE_S[series])


@dataclass(frozen=True)
class Frame:
    """One magnetogram on disk for a region's time bin: ``path`` a FITS file (full disk or a
    tracked cutout), ``t_rec`` its T_REC."""

    region_id: str
    time_h: float
    series: str
    t_rec: Time
    path: Path


def t_rec_time(text: str) -> Time:
    """A JSOC T_REC ('2016.07.07_01:00:00_TAI', also '..._TAI' with fractional seconds or
    without seconds) as an astropy Time in TAI."""
    body = text.strip()
    scale = "tai"
    if body.endswith("_TAI"):
        body = body[:-4]
    elif body.endswith("_UTC") or body.endswith("Z"):
        body, scale = body.rstrip("Z").removesuffix("_UTC"), "utc"
    date, _, clock = body.partition("_")
    if clock.count(":") == 1:
        clock += ":00"
    return Time(f"{date.replace('.', '-')}T{clock}", scale=scale).tai


def t_rec_text(t: Time) -> str:
    """An astropy Time as a JSOC T_REC in TAI, to the second: '2016.07.07_01:00:00_TAI'."""
    return t.tai.strftime("%Y.%m.%d_%H:%M:%S") + "_TAI"
