"""Full-disk scan: vectorised Postel patches, grid, FITS/PNG outputs and the CLI command.

Runs on the committed real HMI cutout (641 x 641 pixels around disk centre, 2019-06-21),
so no ../shared is needed; the correctness anchor is agreement with projection.project_map
(sunpy + reproject) on the same patch.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from typer.testing import CliRunner

from preemergence.solar import scan
from preemergence.cli import app
from preemergence.solar.projection import center_angles_deg, load_map, project_map

CUTOUT = Path(__file__).resolve().parents[1] / "fixtures" / "hmi_20190621_cutout.fits"
runner = CliRunner()


@pytest.fixture(scope="module")
def smap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_map(CUTOUT)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny untrained depth-1 CNN saved as a train-cv run folder."""
    from preemergence.model import cnn
    folder = tmp_path_factory.mktemp("models") / "fold0"
    folder.mkdir()
    cnn.build_model(depth=1, seed=0).save(folder / "model.keras")
    (folder / "result.json").write_text(json.dumps(
        {"config": {"depth": 1, "abs_field": False, "threshold": 0.5},
         "standardisation": {"mean": 0.0, "std": 30.0}}))
    return folder


@pytest.mark.parametrize("lon, lat", [(0.0, 0.0), (2.5, 4.0)])
def test_vectorised_patch_equals_project_map(smap, lon, lat):
    expected, _ = project_map(smap, lon, lat, shape=(85, 85))
    px, py = scan.patch_pixel_coords(smap, [lon], [lat])
    ours = scan.sample_patches(np.asarray(smap.data, float), px, py)[0]
    assert ours.shape == (85, 85) and np.all(np.isfinite(ours))
    assert np.corrcoef(ours.ravel(), expected.ravel())[0, 1] >= 0.99
    assert np.max(np.abs(ours - expected)) < 0.01                     # G


def test_heliographic_to_pixel_matches_sunpy(smap):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import frames
    lon, lat = np.array([0.0, 5.0, -8.0]), np.array([0.0, 3.0, 7.0])
    px, py = scan.heliographic_to_pixel(smap, lon, lat)
    coords = SkyCoord(lon * u.deg, lat * u.deg, frame=frames.HeliographicStonyhurst,
                      obstime=smap.reference_date, observer=smap.observer_coordinate,
                      rsun=smap.meta["rsun_ref"] * u.m)
    sx, sy = smap.world_to_pixel(coords)
    np.testing.assert_allclose(px, sx.value, atol=1e-3)
    np.testing.assert_allclose(py, sy.value, atol=1e-3)


def test_grid_keeps_centres_within_the_maximum_angle(smap):
    grid = scan.scan_grid(smap, step_deg=4.0, max_angle_deg=30.0)
    assert np.allclose(grid.lon_deg / 4.0, np.round(grid.lon_deg / 4.0))
    lon2, lat2 = np.meshgrid(grid.lon_deg, grid.lat_deg)
    angles = center_angles_deg(smap, lon2, lat2)
    assert np.array_equal(grid.inside, angles <= 30.0)
    assert grid.inside.any() and not grid.inside.all()
    with pytest.raises(ValueError, match="step"):
        scan.scan_grid(smap, step_deg=0.0)


def test_scan_map_probabilities(smap, model_dir):
    trained = scan.load_scan_model(model_dir)
    result = scan.scan_map(smap, trained.model, trained.mean_g, trained.std_g,
                           step_deg=4.0, max_angle_deg=16.0)
    grid, prob = result.grid, result.probability
    assert prob.shape == (len(grid.lat_deg), len(grid.lon_deg))
    assert np.all(np.isnan(prob[~grid.inside]))                 # beyond the maximum angle
    assert result.n_skipped > 0                                  # patches leaving the cutout
    assert result.n_scanned == np.isfinite(prob).sum() > 0
    assert np.all((prob[np.isfinite(prob)] >= 0) & (prob[np.isfinite(prob)] <= 1))
    row, col = np.argwhere(np.isfinite(prob))[0]
    patch, _ = project_map(smap, grid.lon_deg[col], grid.lat_deg[row], shape=(85, 85))
    direct = trained.model.predict(((patch - 0.0) / 30.0)[None, ..., None], verbose=0)
    assert prob[row, col] == pytest.approx(float(direct[0, 0]), abs=1e-4)


def test_training_source_and_caveat(tmp_path):
    assert scan.training_source({}, tmp_path / "none") == ("unknown", "not recorded")
    assert scan.training_source({}, None, "real")[0] == "real"
    (tmp_path / "dataset.json").write_text(json.dumps({"source": "synthetic"}))
    assert scan.training_source({}, tmp_path)[0] == "synthetic"
    assert "SIMULATED" in scan.caveat("synthetic") and "not a forecast" in scan.caveat("x")


def test_scan_command_writes_fits_and_png_and_refuses_overwrite(model_dir, tmp_path):
    segments = tmp_path / "segments"
    segments.mkdir()
    (segments / "dataset.json").write_text(json.dumps({"source": "synthetic"}))
    out, png = tmp_path / "scan.fits", tmp_path / "scan.png"
    args = ["scan", str(CUTOUT), "--model", str(model_dir), "--out", str(out), "--png",
            str(png), "--step-deg", "5", "--max-angle-deg", "12", "--segments", str(segments)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.output
    with fits.open(out) as hdul:
        header, data = hdul[0].header, hdul[0].data
    assert data.ndim == 2 and np.isnan(data).any() and np.isfinite(data).any()
    assert header["DATE-OBS"].startswith("2019-06-21T05:58")
    assert header["DATASRC"] == "synthetic" and "SIMULATED" in header["CAVEAT"]
    assert "model trained on simulated data" in str(header["COMMENT"])
    assert header["MODEL"] == str(model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lon, lat = WCS(header).wcs_pix2world([[0, 0]], 0)[0]
    assert (lon - header["LON_FRST"]) % 360 == pytest.approx(0)
    assert lat == pytest.approx(header["LAT_FRST"])
    assert png.stat().st_size > 10_000
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_scan_command_bad_inputs_are_clear_errors(model_dir, tmp_path):
    text = tmp_path / "notes.fits"
    text.write_text("not a FITS file\n" * 100)
    out = tmp_path / "scan.fits"
    result = runner.invoke(app, ["scan", str(text), "--model", str(model_dir), "--out",
                                 str(out)])
    assert result.exit_code == 2 and result.output.startswith("error: notes.fits")
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    result = runner.invoke(app, ["scan", str(CUTOUT), "--model", str(tmp_path / "nomodel"),
                                 "--out", str(out)])
    assert result.exit_code == 2 and "model.keras: not found" in result.output
