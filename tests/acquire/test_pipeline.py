"""The real-data path end to end through `preemergence regions` (data.source=hmi): a
catalogue, frames from a folder or from a loopback JSOC (127.0.0.1 only), the assembled
region store and its checks; and the bad inputs that must stop it with one line, exit 2,
nothing written.

The frames here are small synthetic full-disk magnetograms with the WCS and observer
keywords of HMI (sunpy's make_fitswcs_header, observer at Earth): a 30-degree region map
needs more disk than the committed real cutouts hold. Real HMI pixels are tested in
test_assemble.py; real shared full-disk files in the benchmark (benchmarks/assembly_check.py).
"""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time, TimeDelta
from sunpy.coordinates import Helioprojective, get_earth
from sunpy.map.header_helper import make_fitswcs_header
from typer.testing import CliRunner

from preemergence.acquire.catalogue import control_region, write_catalogue, carrington_at
from preemergence.acquire.records import CatalogueRegion, t_rec_text
from preemergence.cli import app
from preemergence.data.regionstore import load_region_store, read_region_map

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
T0 = Time("2016-07-07T04:12:00", scale="tai")      # EAR: its -3.2 h window centres on 01:00
CR_DELAY_DAYS = 1.0
N_FRAMES = 3                                         # 12-min frames about each window centre


def synthetic_frame(path: Path, t_rec: Time, seed: int, quality: int = 0) -> None:
    """A 512 x 512 full-disk frame at 4 arcsec/px: quiet-Sun noise (G), NaN off the disk,
    HMI's keywords (T_REC, QUALITY, observer, RSUN_REF, TRECSTEP)."""
    observer = get_earth(t_rec.utc)
    centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=Helioprojective(
        observer=observer, obstime=t_rec.utc))
    data = np.random.default_rng(seed).normal(0.0, 8.0, (512, 512)).astype(np.float32)
    header = fits.Header(make_fitswcs_header(data, centre, scale=[4, 4] * u.arcsec / u.pix))
    y, x = np.mgrid[:512, :512]
    radius_px = float(header["RSUN_OBS"]) / 4.0
    data[np.hypot(x - 255.5, y - 255.5) > radius_px] = np.nan
    header.update(T_REC=t_rec_text(t_rec), QUALITY=quality, TRECSTEP=720.0,
                  RSUN_REF=696.0e6, T_OBS=t_rec.utc.isot + "Z")
    fits.PrimaryHDU(data, header).writeto(path)


def frame_times(t0: Time) -> list[Time]:
    centre = t0 - TimeDelta(3.2 * 3600, format="sec")
    return [centre + TimeDelta(720 * (k - 1), format="sec") for k in range(N_FRAMES)]


@pytest.fixture(scope="module")
def catalogue_and_frames(tmp_path_factory):
    """An illustrative EAR near disk centre and its CR a day later, and their frames."""
    work = tmp_path_factory.mktemp("real")
    lon, lat = carrington_at(5.0, 8.0, T0)
    ear = CatalogueRegion("ILL-E1", "EAR", T0, float(lon), float(lat))
    cr = control_region(ear, T0 + TimeDelta(CR_DELAY_DAYS * 86400, format="sec"), "ILL-C1")
    catalogue = work / "catalogue.csv"
    write_catalogue([ear, cr], catalogue)
    frames = work / "frames"
    frames.mkdir()
    for k, t in enumerate(frame_times(ear.t0) + frame_times(cr.t0)):
        name = f"hmi.M_720s.{t.strftime('%Y%m%d_%H%M%S')}_TAI.magnetogram.fits"
        synthetic_frame(frames / name, t, seed=k)
    return catalogue, frames


def params_file(tmp_path: Path, **acquire) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["source"] = "hmi"
    params["time_bins"] = [-3.2]
    params["acquire"].update({"min_good_fraction": N_FRAMES / 35,
                              "cache_dir": str(tmp_path / "cache"), **acquire})
    params["depth_study"]["time_h"] = params["realism"]["time_h"] = -3.2
    params["prune"]["time_bins"] = [-3.2]
    params["interpret"]["time_h"] = -3.2
    params["interpret"]["abs_field"]["time_bins"] = [-3.2]
    params["stats"]["leakage_guard"]["time_h"] = -3.2
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_regions_from_a_folder_of_frames(catalogue_and_frames, tmp_path):
    catalogue, frames = catalogue_and_frames
    params = params_file(tmp_path, catalogue=str(catalogue), frames_dir=str(frames))
    result = CliRunner().invoke(app, ["regions", "--params", str(params), "--out",
                                      str(tmp_path / "regions"), "--reports",
                                      str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    store = load_region_store(tmp_path / "regions", [-3.2])
    assert store.ids() == ["ILL-C1", "ILL-E1"]
    assert {r.source for r in store.regions} == {"real"}
    header, _ = read_region_map(tmp_path / "regions" / "ILL-E1" / "t-3.2h.fits")
    assert header["NFRAMES"] == N_FRAMES and header["SERIES"] == "hmi.M_720s"
    # the average of three independent noise frames: the noise drops by about sqrt(3)
    assert 0.3 < float(np.std(store.maps[-3.2][0])) / 8.0 < 0.9
    text = (tmp_path / "reports" / "regions.md").read_text()
    assert "| ILL-E1 | 3 |" in text and "Control criterion" in text


def test_a_window_short_of_frames_is_a_missing_bin_named_in_the_report(catalogue_and_frames,
                                                                       tmp_path):
    catalogue, frames = catalogue_and_frames
    params = params_file(tmp_path, catalogue=str(catalogue), frames_dir=str(frames),
                         min_good_fraction=(N_FRAMES + 1) / 35)
    result = CliRunner().invoke(app, ["regions", "--params", str(params), "--out",
                                      str(tmp_path / "regions"), "--reports",
                                      str(tmp_path / "reports")])
    assert result.exit_code == 2
    assert "no time bin of any region has enough good frames" in result.output
    assert not (tmp_path / "regions").exists()


@pytest.mark.slow
def test_regions_from_a_loopback_jsoc_then_nothing_fetched_again(catalogue_and_frames,
                                                                 tmp_path):
    import jsoc_server as srv     # tests/acquire/conftest.py puts it on the path
    catalogue, frames = catalogue_and_frames
    records = [srv.Record(t_rec=fits.getheader(p)["T_REC"], file=p)
               for p in sorted(frames.iterdir())]
    server = srv.LoopbackJsoc({"hmi.M_720s": records},
                              srv.Script(registered={"observer@solar-lab.org"}))
    server.start()
    try:
        params = params_file(tmp_path, catalogue=str(catalogue), jsoc_url=server.url,
                             cutout=False, backoff_s=0.001)
        args = ["regions", "--params", str(params), "--email", "observer@solar-lab.org",
                "--reports", str(tmp_path / "reports")]
        first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "regions")])
        assert first.exit_code == 0, first.output
        downloads = server.counts["download"]
        assert downloads == 2 * N_FRAMES
        again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "again"), "--force"])
        assert again.exit_code == 0, again.output
        assert server.counts["download"] == downloads              # all from the cache
        first_map = read_region_map(tmp_path / "regions" / "ILL-E1" / "t-3.2h.fits")[1]
        np.testing.assert_array_equal(
            first_map, read_region_map(tmp_path / "again" / "ILL-E1" / "t-3.2h.fits")[1])
    finally:
        server.stop()


@pytest.mark.parametrize("change, message", [
    ({"series": "hmi.M_90s"}, "acquire.series"),
    ({"catalogue": "missing.csv"}, "missing.csv"),
])
def test_bad_settings_are_one_line_and_exit_2(catalogue_and_frames, tmp_path, change, message):
    catalogue, frames = catalogue_and_frames
    params = params_file(tmp_path, catalogue=str(catalogue), frames_dir=str(frames))
    values = yaml.safe_load(params.read_text())
    values["acquire"].update(change)
    params.write_text(yaml.safe_dump(values))
    result = CliRunner().invoke(app, ["regions", "--params", str(params), "--out",
                                      str(tmp_path / "regions"), "--reports",
                                      str(tmp_path / "reports")])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "regions").exists()


def test_an_unregistered_looking_email_is_refused_before_anything_is_written(
        catalogue_and_frames, tmp_path):
    catalogue, _ = catalogue_and_frames
    params = params_file(tmp_path, catalogue=str(catalogue))
    result = CliRunner().invoke(app, ["regions", "--params", str(params), "--email",
                                      "user@example.com", "--out", str(tmp_path / "regions"),
                                      "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 2 and "example.com" in result.output
    assert not (tmp_path / "regions").exists()


def test_a_full_disk_is_one_line_exit_2_and_nothing_kept(catalogue_and_frames, tmp_path,
                                                         monkeypatch):
    import errno

    from preemergence.acquire import assemble

    def no_space(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(assemble, "write_region_map", no_space)
    catalogue, frames = catalogue_and_frames
    params = params_file(tmp_path, catalogue=str(catalogue), frames_dir=str(frames))
    result = CliRunner().invoke(app, ["regions", "--params", str(params), "--out",
                                      str(tmp_path / "regions"), "--reports",
                                      str(tmp_path / "reports")])
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert result.exit_code == 2 and len(errors) == 1
    assert "t-3.2h.fits: no space left on the device" in errors[0]
    assert not (tmp_path / "regions").exists()
    assert not list(tmp_path.glob(".regions.tmp-*"))
