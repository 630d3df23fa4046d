"""The file side of the JSOC layer (acquire.jsoc): export attempts with retries, resumable
HTTP downloads, FITS verification, the per-window manifest, and the headers that say which
frame a file holds (downloads and folders of frames a user has).

A download is written to ``<name>.part`` beside its final name and renamed only once it is
complete and verified, so a file with its final name is always whole and checked (the
stable ``.part`` name, unlike core.artifacts' random temporary names, is what lets an
interrupted download be resumed with an HTTP ``Range`` request). Verification: the bytes
received match ``Content-Length``; every HDU that carries ``CHECKSUM``/``DATASUM`` passes
astropy's ``verify_checksum``/``verify_datasum`` (read with ``disable_image_compression``:
JSOC's Rice-compressed HMI files keep both keywords in the binary-table header of the
compressed HDU); the file opens as FITS, and a file without checksums is decompressed once.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from drms.exceptions import DrmsExportError, DrmsQueryError

from preemergence.acquire.records import (SERIES_CADENCE_S, Frame, Window, t_rec_text,
                                          t_rec_time)
from preemergence.core.artifacts import read_json, write_json
from preemergence.core.progress import progress as show_progress

CHUNK_BYTES = 1 << 20
USER_AGENT = f"preemergence (drms-based JSOC client), python/{sys.version.split()[0]}"
# JSOC file names carry the T_REC: hmi.M_720s.20160707_010000_TAI.magnetogram.fits,
# hmi.m_720s.20160707_010000_TAI.3.magnetogram.fits (export name with CAMERA).
_NAME_T_REC = re.compile(r"\.(\d{8})_(\d{6})_TAI\.")


class TransferProblem(Exception):
    """A failure a later attempt may mend, its message one self-explanatory line."""


class DownloadError(TransferProblem):
    """A download or verification that failed (one line naming the file and the problem)."""


class Pending(TransferProblem):
    """An export still pending when its deadline passed."""


class GaveUp(Exception):
    """An export that failed every attempt: one line naming the request, the record set
    and the last problem."""


NETWORK_ERRORS = (URLError, http.client.HTTPException, OSError, json.JSONDecodeError)
QUERY_ERRORS = (DrmsQueryError, *NETWORK_ERRORS)
EXPORT_ERRORS = (DrmsExportError, TransferProblem, *NETWORK_ERRORS)


def part_path(dest: Path) -> Path:
    """The partial file of a download to ``dest``: ``<name>.part`` beside it."""
    return dest.with_name(dest.name + ".part")


def _open(url: str, offset: int, timeout_s: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urlopen(Request(url, headers=headers), timeout=timeout_s)


def _resumes(response, offset: int) -> bool:
    """Whether the server answered a Range request with the bytes from ``offset`` on."""
    if not offset or response.status != 206:
        return False
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return bool(match) and int(match.group(1)) == offset


def download_file(url: str, dest: Path, timeout_s: float = 60.0) -> int:
    """Download ``url`` to ``dest`` through ``<name>.part``: resumes a partial file the
    server can continue (HTTP 206), restarts it otherwise; checks the size against
    Content-Length and verifies the FITS file before renaming it to ``dest``. Returns the
    bytes transferred. A short transfer keeps the ``.part`` file (DownloadError); a file
    that fails verification is deleted (DownloadError)."""
    dest = Path(dest)
    part = part_path(dest)
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout_s)
    except HTTPError as exc:
        if exc.code != 416 or not offset:           # 416: the .part is not a prefix
            raise DownloadError(f"{dest.name}: HTTP {exc.code} {exc.reason} from {url}") from exc
        part.unlink()
        offset, response = 0, _open(url, 0, timeout_s)
    with response:
        if not _resumes(response, offset):
            offset = 0
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else None
        received = _copy(response, part, append=offset > 0)
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise DownloadError(f"{dest.name}: {size} of {expected} bytes received (connection "
                            f"closed early); {part.name} is kept to resume")
    problem = fits_problem(part, dest.name)
    if problem:
        part.unlink(missing_ok=True)
        raise DownloadError(problem)
    os.replace(part, dest)
    return received


def _copy(response, part: Path, append: bool) -> int:
    """Stream a response into ``part`` (appended or from scratch); bytes written. Reads
    return what has arrived (read1), so a time-out or a connection reset mid-body keeps
    every byte received and ends the copy like a short read (the size check reports it)."""
    received = 0
    with open(part, "ab" if append else "wb") as out:
        try:
            while chunk := response.read1(CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
        except (http.client.IncompleteRead, ConnectionError, TimeoutError):
            pass
    return received


def fits_problem(path: Path, name: str | None = None) -> str | None:
    """Why a FITS file is not whole (one line naming it), or None: a CHECKSUM or DATASUM
    that does not verify, or a file that does not open (decompressed when unsummed)."""
    from astropy.io import fits
    name = name or Path(path).name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, disable_image_compression=True) as hdul:
                summed = False
                for index, hdu in enumerate(hdul):
                    problem = _sum_problem(hdu, index, name)
                    if problem:
                        return problem
                    summed |= "DATASUM" in hdu.header
            if not summed:
                with fits.open(path) as hdul:
                    _ = hdul[-1].data
    except (OSError, ValueError, TypeError) as exc:
        return f"{name}: not a readable FITS file ({' '.join(str(exc).split())})"
    return None


def _sum_problem(hdu, index: int, name: str) -> str | None:
    for key, verify in (("DATASUM", hdu.verify_datasum), ("CHECKSUM", hdu.verify_checksum)):
        if key in hdu.header and verify() == 0:
            return f"{name}: HDU {index} fails its {key} (file corrupted in transfer)"
    return None


# --- exports -------------------------------------------------------------------------

class Export:
    """One export request (drms ``Client.export``, method url, protocol fits) of the record
    set ``ds`` and its downloads into ``folder``, attempted until done or out of retries. A
    request that failed is submitted anew; one still pending is waited on again; files
    already in the folder are kept."""

    def __init__(self, client, ds: str, process: dict | None, folder: Path, *,
                 pending_timeout_s: float, poll_s: float, timeout_s: float, progress: bool):
        self.client, self.ds, self.process, self.folder = client, ds, process, Path(folder)
        self.pending_timeout_s, self.poll_s, self.timeout_s = pending_timeout_s, poll_s, timeout_s
        self.progress = progress
        self.request = None
        self.request_id = None

    def run(self, retries: int, backoff_s: float) -> list[tuple[Path, str]]:
        """(file, JSOC record) of every exported file; GaveUp after retries + 1 attempts,
        waiting backoff_s, 2 backoff_s, 4 backoff_s, ... between them."""
        problem = "no attempt made"
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff_s * 2 ** (attempt - 1))
            try:
                return self.attempt()
            except EXPORT_ERRORS as exc:
                problem = describe(exc)
        attempts = f"{retries + 1} attempt{'s' * (retries > 0)}"
        raise GaveUp(f"JSOC export {self.request_id or '(not submitted)'} of {self.ds}: "
                     f"{problem} (gave up after {attempts})")

    def attempt(self) -> list[tuple[Path, str]]:
        """Submit (unless a live request is pending or done), wait, download."""
        if self.request is None:
            self.request = self.client.export(self.ds, method="url", protocol="fits",
                                              process=self.process)
            self.request_id = self.request.id or self.request_id
        try:
            ready = self.request.wait(timeout=self.pending_timeout_s, sleep=self.poll_s)
        except DrmsExportError:
            self.request = None                     # failed: the next attempt resubmits
            raise
        if not ready:
            raise Pending(f"still pending after {self.pending_timeout_s:g} s "
                          f"(status {self.request.status})")
        return self.download(self.request.urls)

    def download(self, urls) -> list[tuple[Path, str]]:
        """Every file of the finished export into the folder; files there are kept."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = list(zip(urls["record"], urls["filename"], urls["url"], strict=True))
        files = []
        with show_progress(rows, self.progress, f"JSOC {self.request_id}", "file") as bar:
            for record, filename, url in bar:
                name = Path(str(filename)).name
                if not name or name.startswith("."):
                    raise DownloadError(f"{self.request_id}: bad file name {filename!r}")
                dest = self.folder / name
                with file_lock(dest):               # another process may want it too
                    if not dest.is_file():
                        download_file(url, dest, self.timeout_s)
                files.append((dest, str(record)))
        return files


@contextlib.contextmanager
def file_lock(dest: Path):
    """Hold an exclusive lock on ``.<name>.lock`` beside ``dest`` (fcntl): two processes
    fetching overlapping windows never write one ``.part`` at once."""
    with open(dest.with_name(f".{dest.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_RECORD_T_REC = re.compile(r"\[(\d{4}\.\d\d\.\d\d_[\d:.]+_TAI)\]")


def frames_of(files, window: Window, series: str) -> list[Frame]:
    """Frames of the downloaded files in the window, by T_REC (the file header's, else the
    JSOC record's)."""
    frames = []
    for path, record in files:
        text = frame_header(path).get("T_REC")
        match = _RECORD_T_REC.search(record)
        text = text or (match.group(1) if match else None)
        if text is None:
            raise ValueError(f"{path}: no T_REC in its header or JSOC record {record!r}")
        t_rec = t_rec_time(str(text))
        if window.contains(t_rec):
            frames.append(Frame(window.region_id, window.time_h, series, t_rec, path))
    return sorted(frames, key=lambda f: f.t_rec)


# --- frames --------------------------------------------------------------------------

def frame_header(path: Path):
    """The header that describes a frame: HDU 1 (JSOC's Rice-compressed files keep the
    image and its keywords there), else the primary HDU."""
    from astropy.io import fits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fits.getheader(path, 1)
        except IndexError:
            return fits.getheader(path, 0)


def header_series(header, name: str) -> str | None:
    """The JSOC series a frame comes from: DRMS_ID's series (``hmi.M_720s:495257:
    magnetogram``; an im_patch product ``hmi.M_720s_mod`` counts as its input series),
    else the series whose cadence matches TRECSTEP/CADENCE, else the file name's prefix."""
    drms_id = str(header.get("DRMS_ID", "") or "")
    if drms_id:
        return _known_series(drms_id.split(":")[0].removesuffix("_mod"))
    step = header.get("TRECSTEP", header.get("CADENCE"))
    for series, cadence_s in SERIES_CADENCE_S.items():
        if step is not None and abs(float(step) - cadence_s) < 1e-6:
            return series
    parts = name.split(".")
    return _known_series(".".join(parts[:2])) if len(parts) > 2 else None


def _known_series(text: str) -> str | None:
    lowered = {s.lower(): s for s in SERIES_CADENCE_S}
    return lowered.get(text.lower(), text)


def name_time(name: str):
    """The T_REC written in a JSOC file name (astropy Time, TAI), or None."""
    match = _NAME_T_REC.search(name)
    if not match:
        return None
    date, clock = match.groups()
    return t_rec_time(f"{date[:4]}.{date[4:6]}.{date[6:]}_{clock[:2]}:{clock[2:4]}:"
                      f"{clock[4:]}_TAI")


_FITS_ENDINGS = (".fits", ".fts", ".fit", ".fits.gz")
NAME_MARGIN_S = 3600.0     # a name's T_REC this far outside the window: skip unopened


def scan_frames(folder: Path, window: Window, series: str) -> list[Frame]:
    """The frames of a series in a folder (recursively) whose header T_REC is in the
    window (jsoc.local_frames)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: frames folder not found")
    found: dict[str, Frame] = {}
    for path in sorted(folder.rglob("*")):
        if not _fits_name(path) or not _name_near(path.name, window):
            continue
        try:
            header = frame_header(path)
            t_rec = t_rec_time(str(header["T_REC"]))
        except (OSError, KeyError, ValueError, IndexError):
            continue
        if header_series(header, path.name) != series or not window.contains(t_rec):
            continue
        found.setdefault(t_rec_text(t_rec), Frame(window.region_id, window.time_h, series,
                                                  t_rec, path))
    return sorted(found.values(), key=lambda f: f.t_rec)


def _fits_name(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not name.startswith(".") and name.endswith(_FITS_ENDINGS)


def _name_near(name: str, window: Window) -> bool:
    t = name_time(name)
    if t is None:
        return True
    return ((window.start - t).to_value("s") < NAME_MARGIN_S
            and (t - window.end).to_value("s") < NAME_MARGIN_S)


def manifest_frames(path: Path, folder: Path) -> list[dict] | None:
    """The frames of a finished window from its manifest (file, t_rec, bytes), or None when
    there is no manifest or a file it lists is missing or has another size."""
    manifest = read_json(path)
    try:
        frames = manifest["frames"]
        if all((folder / f["file"]).is_file()
               and (folder / f["file"]).stat().st_size == f["bytes"] for f in frames):
            return frames
    except (KeyError, TypeError):
        pass
    return None


def write_manifest(path: Path, record_set: str, request_id: str | None,
                   frames: list[dict]) -> Path:
    """The manifest of a finished window, written atomically (JSON)."""
    return write_json(path, {"record_set": record_set, "request_id": request_id,
                             "frames": frames})


def describe(exc: BaseException) -> str:
    """An exception as one line: its class and message."""
    text = " ".join(str(exc).split()) or repr(exc)
    return text if isinstance(exc, TransferProblem) else f"{type(exc).__name__}: {text}"
