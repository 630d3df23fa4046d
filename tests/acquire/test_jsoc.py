"""The JSOC layer through the real drms client against a loopback JSOC (127.0.0.1 only):
record sets, the plan, exports with resumable verified downloads, retries, e-mails, and
frames a user already has."""

from datetime import datetime, timedelta
from pathlib import Path

import jsoc_server as srv          # the loopback JSOC (tests/acquire/conftest.py)
import pytest
from astropy.io import fits
from astropy.time import Time, TimeDelta

from preemergence.acquire.jsoc import (FULL_DISK_BYTES, JsocError, check_email, cutout_for,
                                       fetch_window, format_plan, local_frames, make_client,
                                       plan_window, record_set, server_config, window_folder)
from preemergence.acquire.records import (CatalogueRegion, Window, expected_frames,
                                          t_rec_text)

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "hmi_20190621_cutout.fits"
SHARED_HMI = HERE.parents[2] / "shared" / "data" / "hmi"     # ../shared of the clone




SERIES = "hmi.M_720s"
EMAIL = "observer@solar-lab.org"          # registered on the loopback server only
# 12-min slots 00:00 ... 01:48 TAI; the window [00:30, 01:24) ends exactly on a slot.
SLOTS = [datetime(2016, 7, 7) + timedelta(minutes=12 * i) for i in range(10)]
WINDOW = Window("ILL-T1", -3.2, Time("2016-07-07T00:30:00", scale="tai"),
                Time("2016-07-07T01:24:00", scale="tai"))
REGION = CatalogueRegion("ILL-T1", "EAR", WINDOW.start + TimeDelta(3.2 * 3600, format="sec"),
                         312.4, 5.0)
BAD_SLOT = SLOTS[5]                        # 01:00, QUALITY 0x400 (a set bit)
FAST = {"retries": 2, "backoff_s": 0.001, "pending_timeout_s": 2.0, "poll_s": 0.005,
        "timeout_s": 5.0, "progress": False}


def jsoc_text(t: datetime) -> str:
    return t.strftime("%Y.%m.%d_%H:%M:%S_TAI")


def tai(t: datetime) -> Time:
    return Time(t, scale="tai")


IN_WINDOW = [t for t in SLOTS if WINDOW.contains(tai(t))]


@pytest.fixture(scope="module")
def source_frames(tmp_path_factory):
    """Real HMI frames (the fixture cutout with CHECKSUM/DATASUM) for the slots of the
    window: slot -> file."""
    folder = tmp_path_factory.mktemp("served")
    return {t: srv.hmi_frame(FIXTURE, folder / f"frame_{t:%H%M}.fits", t,
                             quality=1024 if t == BAD_SLOT else 0) for t in IN_WINDOW}


@pytest.fixture
def loopback(source_frames):
    """start(**script) -> a running loopback JSOC with the slots' records; stopped after."""
    servers = []

    def start(**script):
        records = [srv.Record(jsoc_text(t), 1024 if t == BAD_SLOT else 0,
                              file=source_frames.get(t)) for t in SLOTS]
        server = srv.LoopbackJsoc({SERIES: records},
                                  srv.Script(registered={EMAIL}, **script)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def fetch(server, cache, window=WINDOW, **options):
    client = make_client(EMAIL, server.url)
    return fetch_window(client, window, SERIES, cache, **(FAST | options))


def served_name(t: datetime) -> str:
    """The file name the loopback JSOC gives the export of slot t."""
    return srv.file_name({}, SERIES, srv.Record(jsoc_text(t)))


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


# --- record sets, series, client configuration ----------------------------------------

def test_record_set_covers_the_window_end_exclusive():
    rs = record_set(SERIES, WINDOW)
    assert rs == (f"{SERIES}[{t_rec_text(WINDOW.start)}-"
                  f"{t_rec_text(WINDOW.end - TimeDelta(1, format='sec'))}]")
    # A window edge between whole seconds: the first whole second inside it.
    shifted = Window("R", 0.0, WINDOW.start + TimeDelta(0.5, format="sec"),
                     WINDOW.end + TimeDelta(0.5, format="sec"))
    assert record_set(SERIES, shifted) == (
        f"{SERIES}[{t_rec_text(WINDOW.start + TimeDelta(1, format='sec'))}-"
        f"{t_rec_text(WINDOW.end)}]")


def test_unknown_series_is_one_line():
    with pytest.raises(JsocError) as exc:
        record_set("hmi.B_720s", WINDOW)
    assert "hmi.B_720s" in one_line(exc)
    with pytest.raises(JsocError):
        local_frames(HERE, WINDOW, "aia.lev1")


def test_server_config_points_every_url_at_the_base():
    config = server_config("http://127.0.0.1:8123")
    urls = [config.url_jsoc_info, config.url_jsoc_fetch, config.url_check_address,
            config.http_download_baseurl]
    assert all(u.startswith("http://127.0.0.1:8123/") for u in urls)
    assert server_config(None).url_jsoc_fetch.startswith("http://jsoc.stanford.edu/")


# --- the plan ---------------------------------------------------------------------------

def test_plan_counts_frames_of_the_window_and_bytes(loopback):
    server = loopback()
    client = make_client(None, server.url)
    plan = plan_window(client, REGION, WINDOW, SERIES)
    assert server.counts["jsoc_info:rs_list"] == 1
    assert plan.frames == len(IN_WINDOW)
    assert plan.good_frames == len([t for t in IN_WINDOW if t != BAD_SLOT])
    assert plan.total_bytes == len(IN_WINDOW) * FULL_DISK_BYTES
    assert plan.expected_frames == expected_frames(SERIES, 54.0)

    cutout = cutout_for(REGION, WINDOW, 36.0)
    small = plan_window(client, REGION, WINDOW, SERIES, cutout)
    assert small.total_bytes == len(IN_WINDOW) * cutout.estimated_bytes()
    width_px, height_px = cutout.pixels()
    assert 1000 < width_px == height_px < 1400        # ~0.03 deg a native pixel
    assert small.total_bytes < plan.total_bytes / 5

    lines = format_plan([plan, small])
    assert lines[0].startswith(f"{REGION.region_id}: 2 windows, {2 * len(IN_WINDOW)} frames")
    total_mb = (plan.total_bytes + small.total_bytes) / 1e6
    assert lines[-1] == (f"total: 1 region, 2 windows, {2 * len(IN_WINDOW)} frames "
                         f"({2 * plan.good_frames} with QUALITY 0), {total_mb:.1f} MB")


def test_plan_of_a_series_the_server_lacks_is_one_line(loopback):
    server = loopback()
    client = make_client(None, server.url)
    with pytest.raises(JsocError) as exc:
        plan_window(client, REGION, WINDOW, "hmi.M_45s")
    assert "hmi.M_45s[" in one_line(exc)


# --- exports ------------------------------------------------------------------------------

def test_fetch_exports_downloads_verifies_and_returns_frames(loopback, tmp_path, capsys):
    server = loopback()
    frames = fetch(server, tmp_path, progress=True)
    assert [f.t_rec for f in frames] == [tai(t) for t in IN_WINDOW]
    assert {(f.region_id, f.time_h, f.series) for f in frames} == {
        (WINDOW.region_id, WINDOW.time_h, SERIES)}
    for frame, slot in zip(frames, IN_WINDOW, strict=True):
        assert frame.path == window_folder(tmp_path, SERIES, None) / served_name(slot)
        assert fits.getheader(frame.path, 1)["T_REC"].startswith(t_rec_text(frame.t_rec)[:19])
    request = server.exports[0].params
    assert (request["method"], request["protocol"], request["notify"]) == ("url", "fits", EMAIL)
    assert request["ds"] == record_set(SERIES, WINDOW) + "{magnetogram}"
    assert len(server.exports[0].records) == len(IN_WINDOW)   # not the slot at the end
    assert server.counts["jsoc_fetch:exp_request"] == 1
    assert server.counts["download"] == len(IN_WINDOW)
    assert f"JSOC {server.exports[0].request_id}" in capsys.readouterr().err   # tqdm bar


def test_second_run_fetches_nothing(loopback, tmp_path):
    server = loopback()
    first = fetch(server, tmp_path)
    before = server.counts.copy()
    second = fetch(server, tmp_path)
    assert second == first
    assert server.counts == before           # not even an export request
    # Without the manifest: a new export, but no file is downloaded again.
    for manifest in window_folder(tmp_path, SERIES, None).glob("manifests/*.json"):
        manifest.unlink()
    assert fetch(server, tmp_path) == first
    assert server.counts["jsoc_fetch:exp_request"] == 2
    assert server.counts["download"] == before["download"]


def test_window_without_records_is_not_exported(loopback, tmp_path):
    server = loopback()
    later = TimeDelta(1, format="jd")
    empty = Window("ILL-T1", 0.0, WINDOW.start + later, WINDOW.end + later)
    assert fetch(server, tmp_path, window=empty) == []
    assert fetch(server, tmp_path, window=empty) == []
    assert server.counts["jsoc_info:rs_list"] == 1 and server.counts["jsoc_fetch:exp_request"] == 0


def test_pending_export_becomes_ready(loopback, tmp_path):
    server = loopback(pending_polls=3)
    frames = fetch(server, tmp_path)
    assert len(frames) == len(IN_WINDOW)
    assert server.counts["jsoc_fetch:exp_request"] == 1
    assert server.exports[0].polls == 4


def test_http_errors_on_status_are_retried(loopback, tmp_path):
    server = loopback(status_http_errors=2)
    assert len(fetch(server, tmp_path)) == len(IN_WINDOW)
    assert server.counts["jsoc_fetch:exp_request"] == 1     # the same request, polled again


def test_failed_export_is_one_line_naming_the_request(loopback, tmp_path):
    server = loopback(export="fail")
    with pytest.raises(JsocError) as exc:
        fetch(server, tmp_path, retries=2)
    text = one_line(exc)
    assert server.counts["jsoc_fetch:exp_request"] == 3     # resubmitted on each retry
    assert server.exports[-1].request_id in text
    assert record_set(SERIES, WINDOW) in text and "status=4" in text
    assert server.counts["download"] == 0


def test_always_pending_export_gives_up_after_the_retries(loopback, tmp_path):
    server = loopback(export="pending")
    with pytest.raises(JsocError) as exc:
        fetch(server, tmp_path, retries=2, pending_timeout_s=0.05, poll_s=0.01)
    text = one_line(exc)
    assert server.exports[0].request_id in text and "pending" in text
    assert "3 attempts" in text
    assert server.counts["jsoc_fetch:exp_request"] == 1     # kept waiting on one request


def test_interrupted_download_is_resumed_and_verified(loopback, tmp_path, source_frames):
    first = IN_WINDOW[0]
    server = loopback()
    # The file name is known after the request: interrupt it from the first status poll.
    name = served_name(first)
    server.script.interrupt_once.add(name)
    frames = fetch(server, tmp_path)
    size = source_frames[first].stat().st_size
    assert server.counts[f"download:{name}"] == 2
    assert server.ranges == [(name, size // 2)]               # resumed, not restarted
    assert frames[0].path.read_bytes() == source_frames[first].read_bytes()
    assert not list(frames[0].path.parent.glob("*.part"))


def test_stalled_download_times_out_and_resumes(loopback, tmp_path, source_frames):
    last = IN_WINDOW[-1]
    server = loopback()
    name = served_name(last)
    server.script.stall_once[name] = 0.6
    frames = fetch(server, tmp_path, timeout_s=0.2)
    assert server.counts[f"download:{name}"] == 2 and server.counts["range"] == 1
    assert frames[-1].path.read_bytes() == source_frames[last].read_bytes()


def test_corrupted_file_is_fetched_again(loopback, tmp_path, source_frames):
    slot = IN_WINDOW[1]
    server = loopback()
    name = served_name(slot)
    server.script.corrupt[name] = 1
    frames = fetch(server, tmp_path)
    assert server.counts[f"download:{name}"] == 2
    assert frames[1].path.read_bytes() == source_frames[slot].read_bytes()


def test_file_corrupt_every_time_is_one_line_naming_it(loopback, tmp_path):
    slot = IN_WINDOW[1]
    server = loopback()
    name = served_name(slot)
    server.script.corrupt[name] = 99
    with pytest.raises(JsocError) as exc:
        fetch(server, tmp_path, retries=1)
    text = one_line(exc)
    assert name in text and "SUM" in text and server.exports[0].request_id in text
    folder = window_folder(tmp_path, SERIES, None)
    assert not (folder / name).exists() and not list(folder.glob("*.part"))


def test_cutout_export_sends_tracked_im_patch(loopback, tmp_path):
    server = loopback()
    cutout = cutout_for(REGION, WINDOW, 36.0)
    frames = fetch(server, tmp_path, cutout=cutout)
    assert len(frames) == len(IN_WINDOW)
    assert frames[0].path.parent == window_folder(tmp_path, SERIES, cutout)
    process = server.exports[0].params["process=n"]
    assert process.startswith("0|im_patch,")
    args = dict(item.split("=", 1) for item in process.split("|")[1].split(",")[1:])
    assert (args["locunits"], args["boxunits"], args["t"]) == ("carrlong", "degrees", "0")
    assert float(args["x"]) == REGION.carr_lon_deg and float(args["width"]) == 36.0
    assert args["t_ref"] == t_rec_text(WINDOW.start + (WINDOW.end - WINDOW.start) / 2)
    assert int(args["car_rot"]) == cutout.car_rot()


def test_cutout_rotation_number_matches_the_hmi_header():
    """car_rot: the rotation in which the point crosses the central meridian; a point at
    the frame's own CRLN_OBS crosses at the frame's time, in the frame's CAR_ROT."""
    header = fits.getheader(FIXTURE, 1)
    t_rec = Time(header["T_REC"].replace("_TAI", "").replace("_", "T").replace(".", "-", 2),
                 scale="tai")
    region = CatalogueRegion("R", "EAR", t_rec, header["CRLN_OBS"], 0.0)
    window = Window("R", 0.0, t_rec - TimeDelta(600, format="sec"),
                    t_rec + TimeDelta(600, format="sec"))
    assert cutout_for(region, window, 36.0).car_rot() == header["CAR_ROT"]


# --- e-mail -----------------------------------------------------------------------------

@pytest.mark.parametrize("email", ["", None, "not-an-address", "user@example.com",
                                   "someone@lab.invalid"])
def test_unusable_email_is_one_line(email):
    with pytest.raises(JsocError) as exc:
        check_email(email)
    assert "JSOC e-mail" in one_line(exc)


def test_email_the_server_does_not_know_is_one_line(loopback):
    server = loopback()
    stranger = "stranger@solar-lab.org"
    with pytest.raises(JsocError) as exc:
        make_client(stranger, server.url)
    assert stranger in one_line(exc) and "not registered" in str(exc.value)
    client = make_client(EMAIL, server.url)
    assert check_email(EMAIL, client) == EMAIL
    with pytest.raises(JsocError):
        check_email(stranger, client)
    assert server.counts["checkAddress"] == 4
    assert make_client(EMAIL, server.url) is client           # checked once a process
    assert server.counts["checkAddress"] == 4


# --- frames the user has ------------------------------------------------------------------

def test_local_frames_keeps_the_window_and_series_only(tmp_path, source_frames):
    nested = tmp_path / "2016" / "07"
    nested.mkdir(parents=True)
    for t in SLOTS[1:9]:                                      # 00:12 ... 01:36
        src = source_frames.get(t)
        dest = nested / f"hmi.M_720s.{t:%Y%m%d_%H%M%S}_TAI.magnetogram.fits"
        if src is not None:
            dest.write_bytes(src.read_bytes())
        else:
            srv.hmi_frame(FIXTURE, dest, t)
    srv.hmi_frame(FIXTURE, tmp_path / "other.fits", IN_WINDOW[0] + timedelta(seconds=45),
                  series="hmi.M_45s")
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "x.fits.part").write_bytes(b"partial")
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = junk")
    frames = local_frames(tmp_path, WINDOW, SERIES)
    assert [f.t_rec for f in frames] == [tai(t) for t in IN_WINDOW]
    assert all(f.path.parent == nested and f.series == SERIES for f in frames)
    assert [f.path.name for f in local_frames(tmp_path, WINDOW, "hmi.M_45s")] == ["other.fits"]


@pytest.mark.skipif(not SHARED_HMI.is_dir(), reason="no ../shared/data/hmi in this clone")
def test_local_frames_reads_real_jsoc_files():
    t_rec = Time("2016-07-07T01:00:00", scale="tai")
    window = Window("R", 0.0, t_rec - TimeDelta(300, format="sec"),
                    t_rec + TimeDelta(300, format="sec"))
    frames = local_frames(SHARED_HMI, window, SERIES)
    assert [(f.path.name, f.t_rec) for f in frames] == [
        ("hmi.M_720s.20160707_010000_TAI.magnetogram.fits", t_rec)]

