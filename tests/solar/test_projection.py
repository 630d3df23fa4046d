"""Postel projection of a synthetic full-disk HMI-like magnetogram (no real data needed).

The synthetic field is a known function of the native pixel coordinates. The expected value
at each target pixel is computed independently of astropy/sunpy/reproject: Postel (azimuthal
equidistant) inverse by spherical trigonometry, Stonyhurst -> helioprojective by the
formulas of Thompson (2006), gnomonic (TAN) projection and the FITS CROTA2 rotation by hand.
"""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from preemergence.solar.projection import ProjectionError, postel_project

NPIX = 512
CDELT_ARCSEC = 4.0
CRPIX = (256.7, 255.3)          # FITS 1-based
CROTA2 = 180.013
DSUN_M = 1.496e11
RSUN_M = 6.96e8
B0_DEG = 5.0
MM_PER_DEG = np.pi / 180.0 * RSUN_M / 1e6


def field(p1, p2):
    """Known smooth field (G) at 0-based native pixel (column p1, row p2)."""
    return 100.0 * np.sin(2 * np.pi * p1 / 23.0 + 0.3) * np.cos(2 * np.pi * p2 / 31.0) \
        + 0.5 * (p1 - 256.0) - 0.2 * (p2 - 256.0)


def hmi_header(drop=()):
    rsun_obs = np.degrees(np.arcsin(RSUN_M / DSUN_M)) * 3600.0
    cards = {
        "CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CUNIT1": "arcsec", "CUNIT2": "arcsec",
        "CDELT1": CDELT_ARCSEC, "CDELT2": CDELT_ARCSEC, "CRPIX1": CRPIX[0],
        "CRPIX2": CRPIX[1], "CRVAL1": 0.0, "CRVAL2": 0.0, "CROTA2": CROTA2,
        "DSUN_OBS": DSUN_M, "RSUN_REF": RSUN_M, "RSUN_OBS": rsun_obs,
        "HGLN_OBS": 0.0, "HGLT_OBS": B0_DEG, "CRLN_OBS": 120.0, "CRLT_OBS": B0_DEG,
        "DATE-OBS": "2016-07-07T00:58:47.300", "BUNIT": "Gauss", "TELESCOP": "SDO/HMI",
        "INSTRUME": "HMI_COMBINED", "WAVELNTH": 6173.0, "CONTENT": "MAGNETOGRAM",
    }
    header = fits.Header()
    for key, value in cards.items():
        if key not in drop:
            header[key] = value
    return header


def write_disk(path, drop=()):
    rows, cols = np.mgrid[0:NPIX, 0:NPIX].astype(float)
    data = field(cols, rows)
    radius_px = np.degrees(np.arcsin(RSUN_M / DSUN_M)) * 3600.0 / CDELT_ARCSEC
    off_disk = np.hypot(cols - (CRPIX[0] - 1), rows - (CRPIX[1] - 1)) > radius_px
    data[off_disk] = np.nan
    hdu = fits.CompImageHDU(data=data.astype(np.float32), header=hmi_header(drop),
                            compression_type="RICE_1", quantize_level=-0.01)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    return write_disk(tmp_path_factory.mktemp("hmi") / "synthetic_hmi.fits")


def expected_map(lon0, lat0, shape=(256, 256), scale_mm=1.4):
    """Field at each target pixel, by hand (see module docstring)."""
    ny, nx = shape
    rows, cols = np.mgrid[0:ny, 0:nx].astype(float)
    step = np.radians(scale_mm / MM_PER_DEG)
    x, y = (cols - (nx - 1) / 2) * step, (rows - (ny - 1) / 2) * step
    rho, bearing = np.hypot(x, y), np.arctan2(x, y)        # bearing from north toward west
    lat0, lon0 = np.radians(lat0), np.radians(lon0)
    lat = np.arcsin(np.sin(lat0) * np.cos(rho) + np.cos(lat0) * np.sin(rho) * np.cos(bearing))
    lon = lon0 + np.arctan2(np.sin(bearing) * np.sin(rho) * np.cos(lat0),
                            np.cos(rho) - np.sin(lat0) * np.sin(lat))
    b0 = np.radians(B0_DEG)                                 # observer at Stonyhurst lon 0
    hx = RSUN_M * np.cos(lat) * np.sin(lon)
    hy = RSUN_M * (np.sin(lat) * np.cos(b0) - np.cos(lat) * np.cos(lon) * np.sin(b0))
    hz = RSUN_M * (np.sin(lat) * np.sin(b0) + np.cos(lat) * np.cos(lon) * np.cos(b0))
    dist = np.sqrt(hx ** 2 + hy ** 2 + (DSUN_M - hz) ** 2)
    tx, ty = np.arctan2(hx, DSUN_M - hz), np.arcsin(hy / dist)
    cos_c = np.cos(ty) * np.cos(tx)                          # gnomonic projection
    xi = np.degrees(np.cos(ty) * np.sin(tx) / cos_c) * 3600.0
    eta = np.degrees(np.sin(ty) / cos_c) * 3600.0
    rot = np.radians(CROTA2)
    p1 = (np.cos(rot) * xi + np.sin(rot) * eta) / CDELT_ARCSEC + CRPIX[0] - 1
    p2 = (-np.sin(rot) * xi + np.cos(rot) * eta) / CDELT_ARCSEC + CRPIX[1] - 1
    return field(p1, p2)


@pytest.mark.parametrize("lon, lat", [(20.0, -10.0), (-35.0, 25.0)])
def test_projection_matches_independent_geometry(disk, lon, lat):
    data, header = postel_project(disk, lon, lat)
    expected = expected_map(lon, lat)
    assert data.shape == (256, 256) and data.dtype == np.float32
    assert np.corrcoef(data.ravel(), expected.ravel())[0, 1] >= 0.98
    assert np.median(np.abs(data - expected)) < 1.0      # G, against a 100 G amplitude
    assert header["CTYPE1"] == "HGLN-ARC" and header["CTYPE2"] == "HGLT-ARC"
    assert header["CRVAL1"] == pytest.approx(lon) and header["CRVAL2"] == pytest.approx(lat)
    assert header["CDELT1"] * MM_PER_DEG == pytest.approx(1.4, rel=1e-9)


def test_adaptive_method_agrees(disk):
    data, header = postel_project(disk, 10.0, 5.0, method="adaptive")
    assert header["METHOD"] == "adaptive"
    assert np.corrcoef(data.ravel(), expected_map(10.0, 5.0).ravel())[0, 1] >= 0.98


def test_far_side_is_rejected(disk):
    with pytest.raises(ProjectionError, match="far side"):
        postel_project(disk, 150.0, 0.0)


def test_beyond_max_center_angle_is_rejected(disk):
    with pytest.raises(ProjectionError, match="max 60"):
        postel_project(disk, 70.0, 0.0)


def test_off_disk_pixels_are_rejected(disk):
    with pytest.raises(ProjectionError, match="NaN"):
        postel_project(disk, 80.0, 0.0, max_center_angle_deg=89.0)


def test_unknown_method_is_rejected(disk):
    with pytest.raises(ProjectionError, match="method"):
        postel_project(disk, 0.0, 0.0, method="nearest")


@pytest.mark.filterwarnings("ignore:Missing CTYPE")
def test_missing_wcs_keywords(tmp_path):
    path = write_disk(tmp_path / "no_wcs.fits", drop=("CTYPE1", "CTYPE2", "CDELT1", "CDELT2"))
    with pytest.raises(ProjectionError, match="no_wcs.fits.*WCS"):
        postel_project(path, 0.0, 0.0)


def test_missing_observer_keywords(tmp_path):
    path = write_disk(tmp_path / "no_obs.fits",
                      drop=("DSUN_OBS", "HGLN_OBS", "HGLT_OBS", "CRLN_OBS", "CRLT_OBS"))
    with pytest.raises(ProjectionError, match="no_obs.fits.*observer"):
        postel_project(path, 0.0, 0.0)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.fits"
    path.write_bytes(b"SIMPLE  =  this is not a FITS file" * 200)
    with pytest.raises(ProjectionError, match="corrupt.fits"):
        postel_project(path, 0.0, 0.0)


def test_project_command_writes_a_region_store_map(disk, tmp_path):
    from typer.testing import CliRunner

    from preemergence.cli import app
    from preemergence.data.regionstore import read_region_map
    out = tmp_path / "r.fits"
    result = CliRunner().invoke(app, ["project", str(disk), "--lon", "5", "--lat", "-10",
                                      "--out", str(out), "--region-id", "11776",
                                      "--time-h", "-3.2"])
    assert result.exit_code == 0, result.output
    header, data = read_region_map(out)
    assert data.shape == (256, 256) and header["REGIONID"] == "11776"
    assert header["TREL_H"] == -3.2 and header["SOURCE"] == "real"
    assert header["CTYPE1"].startswith("HGLN")
    again = CliRunner().invoke(app, ["project", str(disk), "--lon", "5", "--lat", "-10",
                                     "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_project_command_far_side_is_a_clear_error(disk, tmp_path):
    from typer.testing import CliRunner

    from preemergence.cli import app
    out = tmp_path / "far.fits"
    result = CliRunner().invoke(app, ["project", str(disk), "--lon", "120", "--lat", "0",
                                      "--out", str(out)])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert not out.exists()


REAL_CUTOUT = Path(__file__).resolve().parents[1] / "fixtures" / "hmi_20190621_cutout.fits"


def _independent_postel(smap, lon0, lat0, n, scale_mm):
    """Sample the native image at the target pixels' heliographic positions (bilinear).

    Inverse azimuthal-equidistant projection written out by hand (not through a WCS), then
    Stonyhurst -> native pixel with the magnetogram's own WCS, then scipy interpolation.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from scipy.ndimage import map_coordinates
    from sunpy.coordinates import frames
    radius = float(smap.meta["rsun_ref"]) / 1e6
    offsets = (np.arange(n) - (n - 1) / 2) * scale_mm / radius          # radians on the sphere
    dx, dy = np.meshgrid(offsets, offsets)
    rho, theta = np.hypot(dx, dy), np.arctan2(dx, dy)                   # theta from north to west
    la0, lo0 = np.radians(lat0), np.radians(lon0)
    lat = np.arcsin(np.sin(la0) * np.cos(rho) + np.cos(la0) * np.sin(rho) * np.cos(theta))
    lon = lo0 + np.arctan2(np.sin(theta) * np.sin(rho) * np.cos(la0),
                           np.cos(rho) - np.sin(la0) * np.sin(lat))
    coords = SkyCoord(np.degrees(lon) * u.deg, np.degrees(lat) * u.deg,
                      frame=frames.HeliographicStonyhurst, obstime=smap.reference_date,
                      observer=smap.observer_coordinate, rsun=radius * u.Mm)
    px, py = smap.world_to_pixel(coords)
    return map_coordinates(np.asarray(smap.data, float), [py.value, px.value], order=1)


def test_real_cutout_projection_matches_independent_sampling():
    import warnings

    import sunpy.map
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, header = postel_project(REAL_CUTOUT, 0.0, 0.0, shape=(96, 96))
        smap = sunpy.map.Map(REAL_CUTOUT)
    reference = _independent_postel(smap, 0.0, 0.0, 96, 1.4)
    assert np.corrcoef(ours.ravel(), reference.ravel())[0, 1] >= 0.98
    flux_ours, flux_ref = np.abs(ours).sum(), np.abs(reference).sum()
    assert abs(flux_ours / flux_ref - 1) < 0.05
    assert 3.0 < np.abs(ours).mean() < 9.0                             # quiet Sun, 720 s, G


def test_non_hmi_fits_is_a_clear_error(tmp_path):
    path = tmp_path / "table.fits"
    fits.PrimaryHDU(np.zeros((10, 10), np.float32)).writeto(path)
    with pytest.raises(ProjectionError) as info:
        postel_project(path, 0.0, 0.0)
    assert str(info.value).startswith("table.fits: ") and "\n" not in str(info.value)


def test_project_into_a_folder_is_a_clear_error(disk, tmp_path):
    from typer.testing import CliRunner

    from preemergence.cli import app
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(app, ["project", str(disk), "--lon", "0", "--lat", "0",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'out'}: is a folder; give the path " \
                                    "of the file to write"
