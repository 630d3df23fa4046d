"""JSOC through drms: record sets, tracked cutouts, the e-mail check, the plan (--dry-run),
exports with resumable, verified downloads into a cache, and frames a user already has.

Protocol (drms 0.9.0, which this module drives): ``Client.query`` asks ``jsoc_info``
(``op=series_struct``, ``op=rs_list``); ``Client.export`` asks ``jsoc_fetch``
(``op=exp_request``, then ``op=exp_status`` until status 0); ``Client.check_email`` asks
``checkAddress.sh``; exported files are fetched from ``http_download_baseurl`` + the
export's ``dir`` + file name, here by acquire.download (resume, verification) rather than
``ExportRequest.download``. ``make_client(email, base_url)`` points every one of these URLs
at a JSOC-like server (a mirror, or the loopback server of the tests); None is JSOC itself.

Every failure is a :class:`JsocError` (a ValueError, so the CLI prints it on one line)
naming the e-mail, record set, request id or file and the problem.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from astropy.time import Time, TimeDelta

from preemergence.acquire.download import (NETWORK_ERRORS, QUERY_ERRORS, Export, GaveUp,
                                           describe, frames_of, manifest_frames, scan_frames,
                                           write_manifest)
from preemergence.acquire.records import (SERIES_CADENCE_S, CatalogueRegion, Frame, Window,
                                          expected_frames, t_rec_text, t_rec_time)

JSOC_REGISTER_URL = "http://jsoc.stanford.edu/ajax/register_email.html"
SEGMENT = "magnetogram"                 # the image segment of hmi.M_720s and hmi.M_45s
T_REC_EPOCH = Time("1993-01-01T00:00:00", scale="tai")   # TRECEPOC of the HMI series
# Bytes a frame (measured on the two full-disk hmi.M_720s files of ../shared/data/hmi,
# Rice-compressed as JSOC exports them: 13 426 560 and 13 392 000 bytes).
FULL_DISK_BYTES = 13_409_280
# Cutout size model: the files hold 12.09e6 and 12.11e6 finite (on-disk) pixels, i.e. 1.111
# and 1.106 bytes a pixel: 1.108 B/px. The solar radius is 1873 px (RSUN_OBS 943.9 arcsec /
# CDELT1 0.5043 arcsec, 2016-07-07; +-1.7 % over the year), so one heliographic degree near
# disk centre spans 1873 * pi / 180 = 32.7 px (0.0306 deg per native pixel): a 36 x 36 deg
# box is about 1177 x 1177 px, 1.5 MB. im_patch sizes its box the same way (at the
# central meridian, in native pixels). A header is about 8 FITS blocks (23 040 bytes).
BYTES_PER_PIXEL = 1.108
RSUN_PX = 1873.0
HEADER_BYTES = 23_040


class JsocError(ValueError):
    """A JSOC request that failed: one line naming the e-mail, record set, request or file
    and the problem."""


def _require_series(series: str) -> None:
    if series not in SERIES_CADENCE_S:
        raise JsocError(f"unknown JSOC series '{series}': expected one of "
                        f"{', '.join(SERIES_CADENCE_S)}")


# --- the client -------------------------------------------------------------------------

def server_config(base_url: str | None = None):
    """drms's server configuration: JSOC's own (None) or a JSOC-like server at base_url
    with JSOC's layout (``<base>/cgi-bin/ajax/jsoc_info``, ``jsoc_fetch``,
    ``checkAddress.sh``; files under ``<base>/`` + the export's dir)."""
    import drms
    from drms.config import _server_configs
    if base_url is None:
        return _server_configs["jsoc"]
    base = base_url.rstrip("/") + "/"
    return drms.ServerConfig(name=f"JSOC at {base}", cgi_baseurl=base + "cgi-bin/ajax/",
                             cgi_show_series="show_series", cgi_jsoc_info="jsoc_info",
                             cgi_jsoc_fetch="jsoc_fetch", cgi_check_address="checkAddress.sh",
                             http_download_baseurl=base)


def make_client(email: str | None, base_url: str | None = None):
    """A drms.Client of JSOC (base_url None) or of a JSOC-like server. With an e-mail, its
    syntax is checked and then its registration (checkAddress); None gives a client for
    queries only (the plan), which sends nothing until it is used. Clients are kept per
    (email, base_url) for the process, so a registration is checked once, not per window."""
    return _client(email, base_url)


@functools.lru_cache(maxsize=16)
def _client(email: str | None, base_url: str | None):
    import drms
    config = server_config(base_url)
    if email is None:
        return drms.Client(config)
    check_email(email)
    try:
        return drms.Client(config, email=email)
    except ValueError as exc:
        raise JsocError(f"JSOC e-mail '{email}': not registered for exports at "
                        f"{config.url_check_address} (register it at {JSOC_REGISTER_URL})"
                        ) from exc
    except NETWORK_ERRORS as exc:
        raise JsocError(f"JSOC e-mail '{email}': cannot check it at "
                        f"{config.url_check_address}: {describe(exc)}") from exc


_EMAIL = re.compile(r"[^@\s,;<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "example", "test",
                     "invalid", "localhost", "local")


def _email_problem(email) -> str | None:
    if not email or not str(email).strip():
        return "no address given"
    if not _EMAIL.fullmatch(str(email)):
        return "not an e-mail address"
    domain = str(email).rsplit("@", 1)[1].lower()
    if any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS):
        return f"'{domain}' is a reserved example domain, not a registered address"
    return None


def check_email(email: str | None, client=None) -> str:
    """The e-mail for JSOC exports, checked: its syntax (empty, malformed or an example
    domain such as user@example.com is refused) and, given a drms client, that JSOC has it
    registered (drms ``Client.check_email``, the checkAddress endpoint)."""
    problem = _email_problem(email)
    if problem:
        raise JsocError(f"JSOC e-mail '{email or ''}': {problem}; pass an address registered "
                        f"at {JSOC_REGISTER_URL} (--email or $JSOC_EMAIL)")
    if client is not None:
        try:
            registered = client.check_email(email)
        except NETWORK_ERRORS as exc:
            raise JsocError(f"JSOC e-mail '{email}': cannot check it at "
                            f"{client._server.url_check_address}: {describe(exc)}") from exc
        if not registered:
            raise JsocError(f"JSOC e-mail '{email}': not registered for exports at "
                            f"{client._server.url_check_address} (register it at "
                            f"{JSOC_REGISTER_URL})")
    return str(email)


# --- record sets and cutouts ----------------------------------------------------------

def _ceil_second(t: Time) -> Time:
    """The first whole TAI second at or after t (T_RECs of HMI fall on whole seconds)."""
    seconds = (t.tai - T_REC_EPOCH).to_value("s")
    return T_REC_EPOCH + TimeDelta(math.ceil(round(seconds, 6)), format="sec")


def record_set(series: str, window: Window) -> str:
    """The JSOC record set of the frames whose T_REC falls in the window [start, end), e.g.
    ``hmi.M_720s[2016.07.06_21:34:53_TAI-2016.07.07_04:25:07_TAI]`` for the 410.25-min
    window 21:34:52.5-04:25:07.5 TAI. DRMS's ``first-last`` interval includes both ends, so
    first is the window start rounded up to a whole second and last the second before the
    (rounded-up) end; callers still keep only T_RECs the window contains."""
    _require_series(series)
    first = _ceil_second(window.start)
    last = _ceil_second(window.end) - TimeDelta(1.0, format="sec")
    return f"{series}[{t_rec_text(first)}-{t_rec_text(last)}]"


@dataclass(frozen=True)
class CutoutSpec:
    """A tracked cutout made by JSOC's ``im_patch`` export processing: a box of
    ``width_deg`` x ``height_deg`` heliographic degrees about the Carrington point
    (``carr_lon_deg``, ``lat_deg``), tracked at the Carrington rate, over the frames from
    ``t_start`` to ``t_stop`` (TAI). Parameter names are im_patch's (JSOC proj/util/apps/
    im_patch.c; the drms cutout example): ``locunits=carrlong`` with ``car_rot`` (the
    Carrington rotation in which the point crosses the central meridian), ``x`` the
    Carrington longitude and ``y`` the latitude (deg), ``boxunits=degrees``; ``t=0`` keeps
    tracking on (``t`` is im_patch's 'disable tracking' flag), ``r=0`` no sub-pixel
    registration, ``c=0`` no limb crop. ``t_ref`` is the window centre; with carrlong
    im_patch derives its own reference time from car_rot and x."""

    carr_lon_deg: float
    lat_deg: float
    width_deg: float
    height_deg: float
    t_ref: Time
    t_start: Time
    t_stop: Time

    def car_rot(self) -> int:
        """The Carrington rotation whose central-meridian crossing of carr_lon_deg is
        nearest t_ref: the point is at disk centre when the rotation's fraction is
        1 - lon/360 (sunpy's Carrington rotation number, observer Earth)."""
        from sunpy.coordinates.sun import carrington_rotation_number
        number = float(carrington_rotation_number(self.t_ref))
        return int(round(number - (1.0 - self.carr_lon_deg / 360.0)))

    def im_patch(self) -> dict:
        """The im_patch arguments, in the order JSOC's export page writes them."""
        return {"t_start": t_rec_text(self.t_start), "t_stop": t_rec_text(self.t_stop),
                "t": 0, "r": 0, "c": 0, "locunits": "carrlong", "boxunits": "degrees",
                "t_ref": t_rec_text(self.t_ref), "car_rot": self.car_rot(),
                "x": round(self.carr_lon_deg, 4), "y": round(self.lat_deg, 4),
                "width": round(self.width_deg, 4), "height": round(self.height_deg, 4)}

    def process(self) -> dict:
        """drms's ``process`` argument of Client.export."""
        return {"im_patch": self.im_patch()}

    def pixels(self) -> tuple[int, int]:
        """The box in native pixels near disk centre (width, height)."""
        per_deg = RSUN_PX * math.pi / 180.0
        return (math.ceil(self.width_deg * per_deg) + 1,
                math.ceil(self.height_deg * per_deg) + 1)

    def estimated_bytes(self) -> int:
        """Bytes of one Rice-compressed cutout frame (module docstring: 1.108 B/px)."""
        width_px, height_px = self.pixels()
        return int(round(width_px * height_px * BYTES_PER_PIXEL)) + HEADER_BYTES

    def key(self) -> str:
        """A short name of the box (location, size, rotation) for the cache folder: the
        frames of any window of one region share it."""
        box = [round(self.carr_lon_deg, 4), round(self.lat_deg, 4),
               round(self.width_deg, 4), round(self.height_deg, 4), self.car_rot()]
        return hashlib.sha256(json.dumps(box).encode()).hexdigest()[:10]


def cutout_for(region: CatalogueRegion, window: Window, size_deg: float) -> CutoutSpec:
    """The square tracked cutout (size_deg a side) of a region over one window."""
    centre = window.start + (window.end - window.start) / 2
    last = _ceil_second(window.end) - TimeDelta(1.0, format="sec")
    return CutoutSpec(float(region.carr_lon_deg), float(region.lat_deg), float(size_deg),
                      float(size_deg), centre, _ceil_second(window.start), last)


# --- the plan (--dry-run) ---------------------------------------------------------------

@dataclass(frozen=True)
class WindowPlan:
    """What one window would fetch: records whose T_REC is in the window (``frames``),
    those with QUALITY 0, the number a full window has, and the estimated bytes."""

    region_id: str
    time_h: float
    record_set: str
    frames: int
    good_frames: int
    expected_frames: int
    bytes_per_frame: int
    cutout: bool

    @property
    def total_bytes(self) -> int:
        return self.frames * self.bytes_per_frame


def plan_window(client, region: CatalogueRegion, window: Window, series: str,
                cutout: CutoutSpec | None = None) -> WindowPlan:
    """The plan of one window: T_REC and QUALITY of its records (drms Client.query, i.e.
    jsoc_info rs_list) and the bytes of full-disk frames or of the cutout. QUALITY is
    parsed here (JSOC sends it in hex, '0x00000400'): drms 0.9.0's own conversion turns hex
    into NaN under pandas 3, whose strings are not of dtype object."""
    rs = record_set(series, window)
    records = window_records(client, rs, window)
    good = sum(_quality_zero(quality) for _, quality in records)
    per_frame = cutout.estimated_bytes() if cutout else FULL_DISK_BYTES
    return WindowPlan(region.region_id, window.time_h, rs, len(records), good,
                      expected_frames(series, (window.end - window.start).to_value("min")),
                      per_frame, cutout is not None)


def window_records(client, rs: str, window: Window) -> list[tuple[str, object]]:
    """(T_REC, QUALITY) of the records of a record set whose T_REC is in the window."""
    try:
        keys = client.query(rs, key="T_REC, QUALITY", convert_numeric=False)
    except QUERY_ERRORS as exc:
        raise JsocError(f"JSOC query {rs}: {describe(exc)}") from exc
    pairs = zip(keys.get("T_REC", []), keys.get("QUALITY", []), strict=True)
    return [(str(text), quality) for text, quality in pairs if _in_window(window, text)]


def _in_window(window: Window, text) -> bool:
    try:
        return window.contains(t_rec_time(str(text)))
    except ValueError:                       # MISSING or another unparseable T_REC
        return False


def _quality_zero(value) -> bool:
    try:
        return int(str(value), 0) == 0 if isinstance(value, str) else int(value) == 0
    except (TypeError, ValueError):
        return False


def format_plan(plans: list[WindowPlan]) -> list[str]:
    """The --dry-run lines: one per region (windows, frames, QUALITY-0 frames, MB) and the
    total."""
    if not plans:
        return ["nothing to fetch from JSOC"]
    lines, by_region = [], {}
    for plan in plans:
        by_region.setdefault(plan.region_id, []).append(plan)
    for region_id, group in by_region.items():
        kind = "cutout" if group[0].cutout else "full disk"
        lines.append(f"{region_id}: {_counts(group)} ({kind}, "
                     f"{sum(p.expected_frames for p in group)} expected)")
    lines.append(f"total: {_plural(len(by_region), 'region')}, {_counts(plans)}")
    return lines


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _counts(plans: list[WindowPlan]) -> str:
    frames = sum(p.frames for p in plans)
    good = sum(p.good_frames for p in plans)
    size_mb = sum(p.total_bytes for p in plans) / 1e6
    return (f"{_plural(len(plans), 'window')}, {_plural(frames, 'frame')} "
            f"({good} with QUALITY 0), {size_mb:.1f} MB")


# --- exports ------------------------------------------------------------------------------

def window_folder(cache_dir: Path, series: str, cutout: CutoutSpec | None) -> Path:
    """Where the files of a window go: ``<cache>/<series>/full_disk`` (shared by every
    window) or ``<cache>/<series>/cutout_<key>`` (one box of one region)."""
    return Path(cache_dir) / series / ("full_disk" if cutout is None
                                       else f"cutout_{cutout.key()}")


def _manifest_path(folder: Path, window: Window, ds: str, process) -> Path:
    digest = hashlib.sha256(json.dumps([ds, process], sort_keys=True).encode()).hexdigest()
    return folder / "manifests" / f"{window.region_id}_{window.time_h:+.2f}h_{digest[:10]}.json"


def fetch_window(client, window: Window, series: str, cache_dir: Path, *,
                 cutout: CutoutSpec | None = None, retries: int = 4, backoff_s: float = 5.0,
                 pending_timeout_s: float = 900.0, poll_s: float = 5.0,
                 timeout_s: float = 60.0, progress: bool = True) -> list[Frame]:
    """The frames of one window, exported by JSOC (method url, protocol fits; im_patch
    when ``cutout``) and downloaded into ``cache_dir`` (resumable, verified). A window done
    before (its manifest lists files that are all there) contacts JSOC not at all; files
    already downloaded are not fetched again; a window without records (jsoc_info rs_list)
    is not exported. An attempt that fails (error status, pending beyond
    ``pending_timeout_s``, HTTP error, time-out, short or corrupt file) is retried
    ``retries`` times after backoff_s, 2 backoff_s, ... seconds; then JsocError."""
    ds = f"{record_set(series, window)}{{{SEGMENT}}}"
    process = cutout.process() if cutout else None
    folder = window_folder(cache_dir, series, cutout)
    manifest = _manifest_path(folder, window, ds, process)
    done = manifest_frames(manifest, folder)
    if done is not None:
        return [Frame(window.region_id, window.time_h, series, t_rec_time(item["t_rec"]),
                      folder / item["file"]) for item in done]
    if getattr(client, "email", None) is None:
        raise JsocError(f"JSOC export {ds}: no registered e-mail (make_client(email, ...))")
    if _no_records(client, series, window):
        write_manifest(manifest, ds, None, [])      # nothing recorded: nothing to export
        return []
    export = Export(client, ds, process, folder, pending_timeout_s=pending_timeout_s,
                    poll_s=poll_s, timeout_s=timeout_s, progress=progress)
    try:
        frames = frames_of(export.run(retries, backoff_s), window, series)
    except (GaveUp, ValueError) as exc:
        raise JsocError(str(exc)) from exc
    write_manifest(manifest, ds, export.request_id,
                   [{"file": f.path.name, "t_rec": t_rec_text(f.t_rec),
                     "bytes": f.path.stat().st_size} for f in frames])
    return frames


def _no_records(client, series: str, window: Window) -> bool:
    """Whether JSOC lists no record in the window (a query that fails says False: the
    export's retries deal with a JSOC that does not answer)."""
    try:
        return not window_records(client, record_set(series, window), window)
    except JsocError:
        return False


# --- frames the user has --------------------------------------------------------------

def local_frames(folder: Path, window: Window, series: str) -> list[Frame]:
    """Frames in a folder (recursively; an institute mirror, an earlier download) of the
    series whose header T_REC falls in the window, sorted by T_REC (the first file by path
    for a T_REC found twice). Files whose name's T_REC is an hour or more outside the window
    are skipped unopened; unreadable files and files of other series are skipped."""
    _require_series(series)
    return scan_frames(Path(folder), window, series)
