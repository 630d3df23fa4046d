"""Assembly of region maps from HMI frames: tracking, screening, averaging, writing.

Real pixels: the committed cutouts tests/fixtures/hmi_20160707_plage_cutout.fits
(QUALITY 0) and hmi_20190621_cutout.fits (QUALITY 0x00010000). Tracking and the limb:
synthetic full-disk maps seen from the Earth, a bright blob planted where a fixed
Carrington point is seen at each observation time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS
from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst, Helioprojective
from sunpy.coordinates import get_earth
from sunpy.map.header_helper import make_fitswcs_header

from preemergence.acquire.assemble import (
    assemble_window,
    frame_from_file,
    region_meta,
    tracked_centre,
    write_real_map,
)
from preemergence.acquire.records import CatalogueRegion, averaging_window, t_rec_text
from preemergence.acquire.screening import screen_frame
from preemergence.core.constants import SYNODIC_RATE_DEG_PER_DAY
from preemergence.data.regionstore import load_region_store, read_region_map
from preemergence.solar.projection import load_map, project_map

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PLAGE = FIXTURES / "hmi_20160707_plage_cutout.fits"      # T_REC 2016.07.07_01:00:00_TAI
FLAGGED = FIXTURES / "hmi_20190621_cutout.fits"          # QUALITY 0x00010000
CADENCE_S = 720.0
SMALL = (64, 64)                                          # 90 Mm at 1.4 Mm/px


@pytest.fixture(autouse=True)
def _quiet_sunpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # sunpy metadata notes on HMI and synthetic maps
        yield


def carrington_of(smap, lon_deg, lat_deg):
    """Carrington (lon, lat) deg of a Stonyhurst point at the map's observation time."""
    point = SkyCoord(lon_deg * u.deg, lat_deg * u.deg, frame=HeliographicStonyhurst,
                     obstime=smap.reference_date)
    hgc = point.transform_to(HeliographicCarrington(observer=smap.observer_coordinate,
                                                    obstime=smap.reference_date))
    return float(hgc.lon.to_value(u.deg)), float(hgc.lat.to_value(u.deg))


def plage_region(time_h=-3.2, region_id="12555", offset_deg=(0.0, 0.0)):
    """A region whose Carrington location is the cutout's centre (plus an offset), with t0
    such that the window of ``time_h`` is centred on the frame's T_REC."""
    smap = load_map(PLAGE)
    centre = smap.center.transform_to(HeliographicStonyhurst(obstime=smap.reference_date))
    lon, lat = carrington_of(smap, centre.lon.to_value(u.deg) + offset_deg[0],
                             centre.lat.to_value(u.deg) + offset_deg[1])
    t0 = Time("2016-07-07T01:00:00", scale="tai") - TimeDelta(time_h * 3600.0, format="sec")
    return CatalogueRegion(region_id, "EAR", t0, lon, lat, noaa=region_id)


def copy_with(src: Path, dst: Path, **cards) -> Path:
    """A byte copy of a FITS file with only the given header cards rewritten in place (80
    bytes each; astropy's update mode would recompress a compressed image)."""
    raw = bytearray(src.read_bytes())
    for key, value in cards.items():
        starts = [i for i in range(0, len(raw), 80) if raw[i:i + 10] == f"{key:<8}= ".encode()]
        assert len(starts) == 1, f"{src.name}: {len(starts)} {key} cards"
        old = fits.Card.fromstring(raw[starts[0]:starts[0] + 80].decode("ascii"))
        raw[starts[0]:starts[0] + 80] = fits.Card(key, value, old.comment).image.encode("ascii")
    dst.write_bytes(bytes(raw))
    return dst


def shifted_copies(tmp_path, src, n, start_s=-CADENCE_S, region_id="12555", time_h=-3.2,
                   **cards):
    """n copies of src at T_REC = 2016-07-07 01:00 TAI + start_s + k x 720 s, as Frames."""
    frames = []
    for k in range(n):
        t_rec = Time("2016-07-07T01:00:00", scale="tai") + TimeDelta(start_s + k * CADENCE_S,
                                                                     format="sec")
        path = copy_with(src, tmp_path / f"frame{k:02d}.fits", T_REC=t_rec_text(t_rec), **cards)
        frames.append(frame_from_file(path, region_id, time_h))
    return frames


def test_repeated_real_frame_averages_to_its_own_tracked_projection(tmp_path):
    region = plage_region()
    window = averaging_window(region, -3.2)
    frames = shifted_copies(tmp_path, PLAGE, 3)
    (tmp_path / "late").mkdir()
    outside = shifted_copies(tmp_path / "late", PLAGE, 1, start_s=4 * 3600.0)   # after window
    result = assemble_window(frames + outside, region, window, shape=SMALL,
                             min_good_fraction=0.05)
    smap = load_map(PLAGE)
    centre = tracked_centre(region, smap.reference_date, smap.observer_coordinate)
    expected, _ = project_map(smap, *centre, shape=SMALL)
    assert result.data is not None and result.data.dtype == np.float32
    assert np.isfinite(result.data).all()
    assert np.max(np.abs(result.data - expected)) < 1e-4                       # G
    assert np.abs(expected).max() > 200.0                                       # plage, G
    assert [f.path.name for f in result.used] == ["frame00.fits", "frame01.fits",
                                                  "frame02.fits"]
    assert result.rejected == []                                 # the late copy is ignored
    assert t_rec_text(result.first_t_rec) == "2016.07.07_00:48:00_TAI"
    assert t_rec_text(result.last_t_rec) == "2016.07.07_01:12:00_TAI"


def test_frame_with_quality_flag_is_dropped_and_named(tmp_path):
    region = plage_region()
    good = shifted_copies(tmp_path, PLAGE, 2)
    (tmp_path / "bad").mkdir()
    bad = shifted_copies(tmp_path / "bad", PLAGE, 1, start_s=2 * CADENCE_S, QUALITY=0x10000)
    result = assemble_window(good + bad, region, averaging_window(region, -3.2),
                             shape=SMALL, min_good_fraction=0.05)
    assert len(result.used) == 2 and result.data is not None
    assert len(result.rejected) == 1
    frame, reason = result.rejected[0]
    assert frame.path == bad[0].path
    assert reason.startswith("frame00.fits: QUALITY 0x00010000")
    assert "LOWINTERPNUM" in reason and "\n" not in reason


def test_real_flagged_frame_and_a_header_without_quality_are_refused(tmp_path):
    assert "QUALITY 0x00010000 is not 0" in screen_frame(FLAGGED, (0.0, 0.0), SMALL)
    no_quality = tmp_path / "noq.fits"
    with fits.open(PLAGE) as hdul:      # the cutout written again without QUALITY
        header = hdul[1].header.copy()
        del header["QUALITY"]
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(hdul[1].data, header)]).writeto(
            no_quality)
    reason = screen_frame(no_quality, (17.9, 21.1), SMALL)
    assert reason == "noq.fits: no QUALITY keyword (a frame whose quality cannot be " \
                     "confirmed is not used)"


def test_window_short_of_good_frames_is_a_missing_bin(tmp_path):
    region = plage_region()
    frames = shifted_copies(tmp_path, PLAGE, 2)
    result = assemble_window(frames, region, averaging_window(region, -3.2), shape=SMALL,
                             min_good_fraction=0.5, expected=35)
    assert result.missing and result.data is None
    assert result.reason.startswith("region 12555 at -3.2 h: 2 good frame(s) of 35 expected")
    assert len(result.used) == 2


def test_box_outside_a_cutout_is_refused(tmp_path):
    region = plage_region(offset_deg=(4.0, 0.0))     # box edge 7.7 deg east of cutout centre
    frames = shifted_copies(tmp_path, PLAGE, 1)
    result = assemble_window(frames, region, averaging_window(region, -3.2), shape=SMALL,
                             min_good_fraction=0.01, expected=1)
    assert result.missing
    assert "extends outside the 448x448-pixel image" in result.rejected[0][1]


# --- synthetic full-disk maps seen from the Earth -------------------------------------

NPIX, ARCSEC_PER_PX = 1024, 2.0
T1 = Time("2016-07-07T00:00:00", scale="utc")
BLOB_SIGMA_PX = 3.0


def write_disk(path, obstime, carrington=None, t_rec=None, quality=0):
    """A full-disk map (Earth's view at obstime, 2 arcsec/px, off-disk NaN, weak gradient
    field) with a 1000 G Gaussian blob at the pixel where the Carrington point is seen."""
    earth = get_earth(obstime)
    ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=Helioprojective(observer=earth,
                                                                      obstime=obstime))
    meta = make_fitswcs_header((NPIX, NPIX), ref, reference_pixel=[(NPIX - 1) / 2] * 2 * u.pix,
                               scale=[ARCSEC_PER_PX] * 2 * u.arcsec / u.pix, unit=u.G)
    header = fits.Header(meta)
    header["QUALITY"] = quality
    header["T_REC"] = t_rec or t_rec_text(obstime)
    rows, cols = np.mgrid[0:NPIX, 0:NPIX].astype(float)
    data = 5.0 + 0.01 * (cols - rows)
    if carrington is not None:
        point = SkyCoord(carrington[0] * u.deg, carrington[1] * u.deg,
                         frame=HeliographicCarrington(observer=earth, obstime=obstime))
        px, py = WCS(header).world_to_pixel(point)
        data += 1000.0 * np.exp(-((cols - px) ** 2 + (rows - py) ** 2) / (2 * BLOB_SIGMA_PX**2))
    radius_px = float(meta["rsun_obs"]) / ARCSEC_PER_PX
    data[np.hypot(cols - (NPIX - 1) / 2, rows - (NPIX - 1) / 2) > radius_px] = np.nan
    fits.PrimaryHDU(data.astype(np.float32), header).writeto(path)
    return path


def centroid_px(image):
    """Centroid (x, y) in pixels of the image's excess over its median."""
    weight = np.clip(image - np.median(image), 0, None)
    rows, cols = np.indices(image.shape)
    return float((weight * cols).sum() / weight.sum()), float((weight * rows).sum() / weight.sum())


def synthetic_region(lon_deg=-6.6, lat_deg=10.0, time_h=-3.2, region_id="900"):
    """A region at Stonyhurst (lon, lat) at T1 (Earth's view); its window centred on T1."""
    point = SkyCoord(lon_deg * u.deg, lat_deg * u.deg, frame=HeliographicStonyhurst,
                     obstime=T1)
    hgc = point.transform_to(HeliographicCarrington(observer=get_earth(T1), obstime=T1))
    t0 = T1 - TimeDelta(time_h * 3600.0, format="sec")
    return CatalogueRegion(region_id, "EAR", t0, float(hgc.lon.to_value(u.deg)),
                           float(hgc.lat.to_value(u.deg)))


def test_tracking_keeps_a_carrington_point_at_the_map_centre(tmp_path):
    region = synthetic_region()
    t2 = T1 + TimeDelta(1.0, format="jd")
    spot = (region.carr_lon_deg, region.lat_deg)
    centres = []
    for k, (obstime, time_h) in enumerate([(T1, -3.2), (t2, 20.8)]):
        path = write_disk(tmp_path / f"disk{k}.fits", obstime, carrington=spot)
        frame = frame_from_file(path, region.region_id, time_h)
        result = assemble_window([frame], region, averaging_window(region, time_h),
                                 shape=SMALL, min_good_fraction=0.01, expected=1)
        assert result.data is not None, result.reason
        x, y = centroid_px(result.data)
        assert abs(x - (SMALL[1] - 1) / 2) < 0.5 and abs(y - (SMALL[0] - 1) / 2) < 0.5
        smap = load_map(path)
        centres.append(tracked_centre(region, smap.reference_date, smap.observer_coordinate))
    assert centres[0][0] == pytest.approx(-6.6, abs=1e-3)
    assert centres[1][0] - centres[0][0] == pytest.approx(SYNODIC_RATE_DEG_PER_DAY, abs=0.15)
    assert centres[1][1] == pytest.approx(centres[0][1], abs=1e-3)       # latitude fixed


def test_geometry_follows_the_observation_time_not_t_rec(tmp_path):
    """A frame observed at T1 but filed 3 h later (T_REC) is still centred on the spot:
    using T_REC would move the centre by 13.2 deg/day x 3 h = 1.65 deg (~14 px)."""
    region = synthetic_region()
    late = t_rec_text(T1.tai + TimeDelta(3 * 3600.0, format="sec"))
    path = write_disk(tmp_path / "disk.fits", T1, carrington=(region.carr_lon_deg,
                                                             region.lat_deg), t_rec=late)
    result = assemble_window([frame_from_file(path, region.region_id, -3.2)], region,
                             averaging_window(region, -3.2), shape=SMALL,
                             min_good_fraction=0.01, expected=1)
    x, y = centroid_px(result.data)
    assert abs(x - (SMALL[1] - 1) / 2) < 0.5 and abs(y - (SMALL[0] - 1) / 2) < 0.5


def test_region_box_across_the_limb_is_rejected_as_off_disk(tmp_path):
    region = synthetic_region(lon_deg=78.0, lat_deg=0.0)
    frame = frame_from_file(write_disk(tmp_path / "disk.fits", T1), region.region_id, -3.2)
    result = assemble_window([frame], region, averaging_window(region, -3.2),
                             min_good_fraction=0.01, expected=1, max_center_angle_deg=85.0)
    assert result.missing
    assert result.rejected[0][1].startswith("disk.fits: off-disk:")
    assert "beyond the limb" in result.rejected[0][1]


def test_region_meta_is_latitude_and_cmd_at_t0():
    region = synthetic_region(time_h=0.0)          # t0 = T1: Stonyhurst (-6.6, 10) at t0
    meta = region_meta(region)
    assert (meta.kind, meta.source, meta.pixel_scale_mm) == ("EAR", "real", 1.4)
    assert meta.cmd_deg == pytest.approx(-6.6, abs=1e-3)
    assert meta.latitude_deg == pytest.approx(10.0, abs=1e-3)


def test_written_map_reads_back_from_the_region_store(tmp_path):
    region = synthetic_region()
    frames = [frame_from_file(write_disk(tmp_path / f"d{k}.fits", T1 + TimeDelta(k * 60.0,
                                                                                  format="sec"),
                                         carrington=(region.carr_lon_deg, region.lat_deg),
                                         t_rec=t_rec_text(T1.tai + TimeDelta(k * CADENCE_S,
                                                                             format="sec"))),
                              region.region_id, -3.2) for k in range(2)]
    result = assemble_window(frames, region, averaging_window(region, -3.2),
                             min_good_fraction=0.05)
    path = write_real_map(tmp_path / "store", result, region_meta(region))
    assert path == tmp_path / "store" / region.region_id / "t-3.2h.fits"
    store = load_region_store(tmp_path / "store", [-3.2])
    assert store.ids() == [region.region_id] and store.regions[0].source == "real"
    assert np.array_equal(store.maps[-3.2][0], result.data)
    header, _ = read_region_map(path)
    assert header["SOURCE"] == "real" and header["SERIES"] == "hmi.M_720s"
    assert header["TRECBEG"] == t_rec_text(T1.tai)
    assert header["TRECEND"] == t_rec_text(T1.tai + TimeDelta(CADENCE_S, format="sec"))
    assert (header["NFRAMES"], header["NEXPECT"]) == (2, 35)
    assert header["CARRLON"] == pytest.approx(region.carr_lon_deg)
    assert header["CARRLAT"] == pytest.approx(region.lat_deg)
    assert all(len(key) <= 8 for key in header)
    assert not list(path.parent.glob(".*tmp*"))                        # atomic write


def test_missing_bin_is_not_written(tmp_path):
    region = synthetic_region()
    result = assemble_window([], region, averaging_window(region, -3.2),
                             min_good_fraction=0.5)
    with pytest.raises(ValueError, match="no map to write"):
        write_real_map(tmp_path / "store", result, region_meta(region))
    assert not (tmp_path / "store").exists()
