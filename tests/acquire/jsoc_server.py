"""A loopback JSOC for the tests of preemergence.acquire.jsoc: no network, 127.0.0.1 only.

Its replies are modelled on JSOC's documented export protocol (the JSON of the
``jsoc_info`` and ``jsoc_fetch`` CGIs and of ``checkAddress.sh``) as drms 0.9.0 requests and
parses it (drms/json.py, drms/client.py), with JSOC's URL layout so that
``make_client(email, server.url)`` reaches every endpoint:

- ``/cgi-bin/ajax/jsoc_info?op=series_struct&ds=...``: the series' keywords, prime keys and
  segments (drms reads keyword types to convert QUALITY and to name exported files);
- ``/cgi-bin/ajax/jsoc_info?op=rs_list&ds=...&key=T_REC,QUALITY``: keyword values of a
  record set ``series[first-last]`` (both ends included, as DRMS does);
- ``/cgi-bin/ajax/jsoc_fetch?op=exp_request&ds=...&notify=...&method=url&protocol=fits
  &process=n=0|im_patch,...``: a new request, status 2 (queued);
- ``/cgi-bin/ajax/jsoc_fetch?op=exp_status&requestid=...``: 1 (processing), 0 (done, with
  ``dir`` and ``data`` = record and file name per record), 4 (failed, with ``error``) or 6
  (no such request);
- ``/cgi-bin/ajax/checkAddress.sh?address=...&checkonly=1``: status 2 (registered) or 4;
- ``/SUM1/D<n>/S00000/<file>``: the exported files, with HTTP Range (206) for resumes.

A :class:`Script` makes it misbehave on purpose: exports that fail, stay pending or become
ready after N polls, HTTP errors on the status endpoint, a download cut after half its
bytes or stalled past the client's time-out (once), a file served corrupted N times.
``server.counts`` counts requests per endpoint and per file, so tests can assert what a
run asked for. Nothing here is a test; test_jsoc.py starts the server in a fixture.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

from astropy.io import fits

SERIES = {"hmi.M_720s": 720.0, "hmi.M_45s": 45.0}
_RECORD_SET = re.compile(r"^\s*([\w.]+)\[([^\]\-]+)-([^\]]+)\](?:\{(\w+)\})?\s*$")


@dataclass
class Record:
    """One record of the server's series: its T_REC (JSOC text, whole seconds), QUALITY,
    CAMERA and the FITS file an export of it serves (None: JSOC's 'NoDataFile')."""

    t_rec: str
    quality: int = 0
    camera: int = 3
    file: Path | None = None

    def time(self) -> datetime:
        return parse_t_rec(self.t_rec)


@dataclass
class Script:
    """How the server misbehaves. export: 'ok', 'fail' (status 4 at the first poll) or
    'pending' (never done); pending_polls: polls answered 'processing' before done;
    status_http_errors: exp_status requests answered HTTP 503 first; interrupt_once: file
    names whose next download stops after half the bytes; stall_once: file name -> seconds
    to stall after half the bytes (past the client's time-out); corrupt: file name -> times
    served with one byte flipped; registered: e-mails checkAddress accepts."""

    export: str = "ok"
    fail_error: str = "Export failed: im_patch could not find an image near t_ref"
    pending_polls: int = 0
    status_http_errors: int = 0
    interrupt_once: set[str] = field(default_factory=set)
    stall_once: dict[str, float] = field(default_factory=dict)
    corrupt: dict[str, int] = field(default_factory=dict)
    registered: set[str] = field(default_factory=set)


@dataclass
class ExportState:
    """A request the server holds: its id, query parameters, records and file names."""

    number: int
    params: dict
    records: list[Record]
    names: list[str]
    polls: int = 0

    @property
    def request_id(self) -> str:
        return f"JSOC_20240101_{self.number:03d}"


def parse_t_rec(text: str) -> datetime:
    """A JSOC time ('2016.07.07_01:00:00_TAI', fractional seconds allowed) as a naive
    datetime on the TAI scale (the server compares T_RECs only with each other)."""
    body = text.strip().removesuffix("_TAI")
    fmt = "%Y.%m.%d_%H:%M:%S.%f" if body.count(".") == 3 else "%Y.%m.%d_%H:%M:%S"
    return datetime.strptime(body, fmt)


def hmi_frame(source: Path, dest: Path, t_rec: datetime, quality: int = 0,
              series: str = "hmi.M_720s") -> Path:
    """A copy of a real HMI FITS file (the Rice-compressed test fixture) as the frame of
    another T_REC: T_REC, T_OBS, QUALITY and DRMS_ID set, CHECKSUM and DATASUM written."""
    with fits.open(source) as hdul:
        header = hdul[-1].header
        header["T_REC"] = t_rec.strftime("%Y.%m.%d_%H:%M:%S.000_TAI")
        header["T_OBS"] = t_rec.strftime("%Y.%m.%d_%H:%M:08.187_TAI")
        header["QUALITY"] = quality
        header["DRMS_ID"] = f"{series}:{t_rec:%Y%m%d%H%M%S}:magnetogram"
        header["TRECSTEP"] = SERIES[series]
        header["CADENCE"] = SERIES[series]
        hdul.writeto(dest, checksum=True, overwrite=True)
    return dest


class LoopbackJsoc:
    """The server: ``ThreadingHTTPServer`` on 127.0.0.1, an ephemeral port, in a thread.
    ``records``: series -> its records; ``script``: the misbehaviour; ``counts``: requests
    per endpoint ('jsoc_info:rs_list', 'jsoc_fetch:exp_request', 'download', 'download:<name>',
    'range', ...); ``exports``: the requests received, in order."""

    def __init__(self, records: dict[str, list[Record]], script: Script | None = None):
        self.records = records
        self.script = script or Script()
        self.counts: Counter = Counter()
        self.exports: list[ExportState] = []
        self.ranges: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.jsoc = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LoopbackJsoc":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def take(self, budget: str) -> bool:
        """Spend one of the script's counted misbehaviours (e.g. 'status_http_errors')."""
        with self.lock:
            left = getattr(self.script, budget)
            setattr(self.script, budget, max(left - 1, 0))
            return left > 0

    def select(self, ds: str) -> tuple[str, list[Record]] | None:
        """The series and records of a record set ``series[first-last]{segment}``."""
        match = _RECORD_SET.match(ds)
        series = self.series_name(match.group(1)) if match else None
        if series is None:
            return None
        first, last = parse_t_rec(match.group(2)), parse_t_rec(match.group(3))
        return series, [r for r in self.records[series] if first <= r.time() <= last]

    def series_name(self, name: str) -> str | None:
        """The server's series of a name (DRMS series names are case-insensitive)."""
        return next((s for s in self.records if s.lower() == name.strip().lower()), None)

    def file_of(self, number: int, name: str) -> Path | None:
        for state in self.exports:
            if state.number == number and name in state.names:
                return state.records[state.names.index(name)].file
        return None

    # -- reply builders (JSON as JSOC documents it and drms 0.9.0 parses it) --

    def reply_series_struct(self, ds: str) -> dict:
        """jsoc_info op=series_struct: keywords (name, type, units, note), prime keys,
        segments; drms.SeriesInfo reads these."""
        name = self.series_name(ds.split("[")[0])
        if name is None:
            return {"status": 1, "error": f"Unable to open series '{ds.split('[')[0]}'"}
        keywords = [{"name": "T_REC", "type": "time", "recscope": "ts_eq",
                     "defval": "-4712.01.01_11:59_TAI", "units": "TAI",
                     "note": "[T_REC] Slot time"},
                    {"name": "CAMERA", "type": "int", "recscope": "variable", "defval": "-1",
                     "units": "none", "note": "Camera"},
                    {"name": "QUALITY", "type": "int", "recscope": "variable",
                     "defval": "-2147483648", "units": "none", "note": "Level 1.5 quality"}]
        segment = {"name": "magnetogram", "type": "int", "units": "Gauss", "protocol": "fits",
                   "dims": "4096x4096", "note": "magnetogram"}
        return {"note": f"{name} line-of-sight magnetograms (loopback)", "retention": 10000,
                "unitsize": 32, "archive": 1, "tapegroup": 1, "primekeys": ["T_REC", "CAMERA"],
                "dbindex": ["T_REC"], "keywords": keywords, "links": [], "segments": [segment],
                "status": 0}

    def reply_rs_list(self, ds: str, keys: list[str]) -> dict:
        """jsoc_info op=rs_list: one {name, values} per requested keyword (QUALITY in hex,
        as JSOC prints it), count, status."""
        selected = self.select(ds)
        if selected is None:
            return {"status": 1, "error": f"Bad record-set query '{ds}'"}
        _, records = selected
        values = {"T_REC": [r.t_rec for r in records],
                  "QUALITY": [f"0x{r.quality:08x}" for r in records],
                  "CAMERA": [str(r.camera) for r in records]}
        return {"keywords": [{"name": k, "values": values[k]} for k in keys if k in values],
                "count": len(records), "runtime": 0.001, "status": 0}

    def reply_exp_request(self, params: dict) -> dict:
        """jsoc_fetch op=exp_request: the new request, queued (status 2)."""
        selected = self.select(params.get("ds", ""))
        if selected is None:
            return {"status": 4, "error": f"Bad record-set query '{params.get('ds')}'"}
        series, records = selected
        with self.lock:
            state = ExportState(len(self.exports) + 1, params, records,
                                [file_name(params, series, r) for r in records])
            self.exports.append(state)
        return {"status": 2, "requestid": state.request_id, "method": params.get("method"),
                "protocol": params.get("protocol"), "wait": 0, "rcount": len(records),
                "size": 0}

    def reply_exp_status(self, request_id: str) -> dict:
        """jsoc_fetch op=exp_status: 6 unknown, 4 failed, 1 processing, 0 done (dir and
        data: record and file name per record, 'NoDataFile' for a record without data)."""
        state = next((s for s in self.exports if s.request_id == request_id), None)
        if state is None:
            return {"status": 6, "error": f"Bad RequestID '{request_id}' provided."}
        state.polls += 1
        if self.script.export == "fail":
            return {"status": 4, "requestid": request_id, "error": self.script.fail_error}
        if self.script.export == "pending" or state.polls <= self.script.pending_polls:
            return {"status": 1, "requestid": request_id, "wait": 0}
        cutout = "im_patch" in state.params.get("process=n", "")
        data = [{"record": _record_name(state, r, cutout),
                 "filename": name if r.file is not None else "NoDataFile"}
                for r, name in zip(state.records, state.names, strict=True)]
        return {"status": 0, "requestid": request_id, "method": state.params.get("method"),
                "protocol": state.params.get("protocol"), "dir": f"/SUM1/D{state.number}/S00000",
                "wait": 0, "count": len(data), "rcount": len(data), "size": 1,
                "exptime": "2024-01-01 00:00:00Z", "tarfile": "", "data": data}

    def reply_check_address(self, address: str) -> dict:
        """checkAddress.sh: 2 registered, 4 neither validated nor registered."""
        if address in self.script.registered:
            return {"status": 2, "msg": f"{address} is registered"}
        return {"status": 4, "msg": f"{address} has neither been validated nor registered"}

    def body_of(self, name: str, data: bytes) -> bytes:
        """The bytes served for a file: corrupted (one byte in the data flipped) while the
        script says so."""
        with self.lock:
            if self.script.corrupt.get(name, 0) > 0:
                self.script.corrupt[name] -= 1
                flipped = bytearray(data)
                flipped[len(data) // 2] ^= 0xFF
                return bytes(flipped)
        return data


def file_name(params: dict, series: str, record: Record) -> str:
    """The export file name of a record: the request's filenamefmt (drms sends
    'hmi.m_720s.{T_REC:A}.{CAMERA}.{segment}', the same as the default here) with the
    record's values, '.fits' appended (JSOC's export naming)."""
    fmt = params.get("filenamefmt") or f"{series.lower()}.{{T_REC:A}}.{{CAMERA}}.{{segment}}"
    if "im_patch" in params.get("process=n", ""):
        fmt = fmt.replace(series.lower(), f"{series.lower()}_mod")
    return (fmt.replace("{T_REC:A}", record.time().strftime("%Y%m%d_%H%M%S_TAI"))
            .replace("{CAMERA}", str(record.camera)).replace("{segment}", "magnetogram")
            + ".fits")


def _record_name(state: ExportState, record: Record, cutout: bool) -> str:
    series = state.params["ds"].split("[")[0] + ("_mod" if cutout else "")
    return f"{series}[{record.t_rec}][{record.camera}]{{magnetogram}}"


class _Handler(BaseHTTPRequestHandler):
    """Routes a GET to its endpoint; ``self.server.jsoc`` is the LoopbackJsoc."""

    @property
    def jsoc(self) -> LoopbackJsoc:
        return self.server.jsoc

    def log_message(self, *args):                     # quiet
        pass

    def do_GET(self):                                 # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            self.route(parts.path, params)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, path: str, params: dict):
        if path == "/cgi-bin/ajax/jsoc_info":
            self.jsoc.count(f"jsoc_info:{params.get('op')}")
            if params.get("op") == "series_struct":
                return self.json(self.jsoc.reply_series_struct(params.get("ds", "")))
            keys = [k for k in re.split(r"[\s,]+", params.get("key", "")) if k]
            return self.json(self.jsoc.reply_rs_list(params.get("ds", ""), keys))
        if path == "/cgi-bin/ajax/jsoc_fetch":
            return self.fetch(params)
        if path == "/cgi-bin/ajax/checkAddress.sh":
            self.jsoc.count("checkAddress")
            # drms quote_plus-es the address before urlencoding it: decode twice.
            return self.json(self.jsoc.reply_check_address(unquote_plus(params["address"])))
        match = re.fullmatch(r"/SUM1/D(\d+)/S00000/([^/]+)", path)
        if match:
            return self.file(int(match.group(1)), match.group(2))
        self.send_error(404)

    def fetch(self, params: dict):
        op = params.get("op")
        self.jsoc.count(f"jsoc_fetch:{op}")
        if op == "exp_request":
            return self.json(self.jsoc.reply_exp_request(params))
        if self.jsoc.take("status_http_errors"):
            return self.send_error(503, "Service Unavailable")
        return self.json(self.jsoc.reply_exp_status(params.get("requestid", "")))

    def json(self, payload: dict):
        body = json.dumps(payload).encode("latin-1")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def file(self, number: int, name: str):
        path = self.jsoc.file_of(number, name)
        if path is None:
            return self.send_error(404)
        self.jsoc.count("download")
        self.jsoc.count(f"download:{name}")
        data = self.jsoc.body_of(name, path.read_bytes())
        offset = self.range_start(name)
        if offset >= len(data):
            return self.send_error(416)
        self.send_response(206 if offset else 200)
        if offset:
            self.send_header("Content-Range", f"bytes {offset}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - offset))
        self.end_headers()
        self.write_body(name, data[offset:])

    def range_start(self, name: str) -> int:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if not match:
            return 0
        self.jsoc.count("range")
        self.jsoc.ranges.append((name, int(match.group(1))))
        return int(match.group(1))

    def write_body(self, name: str, body: bytes):
        with self.jsoc.lock:
            cut = name in self.jsoc.script.interrupt_once
            self.jsoc.script.interrupt_once.discard(name)
            stall_s = self.jsoc.script.stall_once.pop(name, 0.0)
        if not (cut or stall_s):
            self.wfile.write(body)
            return
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(stall_s)
        self.close_connection = True                  # the client sees a short body

