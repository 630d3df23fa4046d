"""Realism statistics, figure and report on synthetic maps; sanity of the committed patches."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from preemergence.solar import realism
from preemergence.core.constants import PIXEL_AREA_CM2, PIXEL_SCALE_MM

HMI_QUIET_DIR = Path(__file__).resolve().parents[2] / "data" / "hmi_quiet"


def test_tile_mtot_of_uniform_map_is_exact():
    maps = np.full((2, 256, 256), 10.0)
    mtot = realism.tile_mtot_mx(maps)
    assert mtot.shape == (18,)
    np.testing.assert_allclose(mtot, 10.0 * 85 * 85 * 1.96e16, rtol=1e-12)
    assert PIXEL_AREA_CM2 == pytest.approx(1.96e16, rel=1e-12)


def test_tile_mtot_order_is_row_major_and_unsigned():
    image = np.zeros((256, 256))
    image[0:85, 85:170] = -2.0            # tile x0=85, y0=0
    image[170:255, 0:85] = 3.0            # tile x0=0, y0=170
    mtot = realism.tile_mtot_mx(image) / (85 * 85 * PIXEL_AREA_CM2)
    np.testing.assert_allclose(mtot, [0, 2, 0, 0, 0, 0, 3, 0, 0], atol=1e-12)


def test_mean_abs_b():
    checker = 7.0 * np.where(np.indices((256, 256)).sum(axis=0) % 2, 1.0, -1.0)
    assert realism.mean_abs_b(checker) == pytest.approx(7.0)
    assert realism.mean_abs_b([np.full((8, 8), 2.0), np.full((8, 8), -4.0)]) == pytest.approx(3.0)


def test_abs_b_histogram_is_a_density():
    maps = np.random.default_rng(0).normal(0.0, 5.0, (3, 64, 64))
    density, edges = realism.abs_b_histogram(maps, np.arange(0.0, 101.0, 1.0))
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0)


@pytest.mark.parametrize("mx, my", [(16, 0), (0, 10), (12, 9)])
def test_power_spectrum_of_sinusoid_peaks_at_its_wavenumber(mx, my):
    n, dx = 256, PIXEL_SCALE_MM
    y, x = np.mgrid[0:n, 0:n] * dx
    image = 50.0 * np.sin(2 * np.pi * (mx * x + my * y) / (n * dx))
    k, power = realism.radial_power_spectrum(image, dx)
    k0 = np.hypot(mx, my) / (n * dx)      # 1/Mm
    assert k[np.argmax(power)] == pytest.approx(k0, rel=1e-9)
    assert k[0] == pytest.approx(1.0 / (n * dx)) and k[-1] == pytest.approx(0.5 / dx)


def test_power_spectrum_of_white_noise_is_flat_at_sigma2_dx2():
    maps = np.random.default_rng(1).normal(0.0, 3.0, (4, 256, 256))
    k, power = realism.radial_power_spectrum(maps, 1.4)
    assert np.mean(power[k > 0.05]) == pytest.approx(9.0 * 1.4 ** 2, rel=0.05)


def test_noise_sigma_of_gaussian_noise():
    maps = np.random.default_rng(2).normal(0.0, 4.0, (2, 256, 256))
    assert realism.noise_sigma_g(maps) == pytest.approx(4.0, rel=0.05)


@pytest.fixture(scope="module")
def maps():
    rng = np.random.default_rng(3)
    sim = rng.laplace(0.0, 3.0, (4, 256, 256))
    real = rng.laplace(0.0, 2.0, (3, 256, 256)) + rng.normal(0.0, 3.0, (3, 256, 256))
    return sim, real


def test_compare_returns_flat_dict_of_floats(maps):
    stats = realism.compare(*maps)
    for key in ("sim_mean_abs_b_g", "real_mean_abs_b_g", "sim_tile_mtot_median_mx",
                "real_tile_mtot_median_mx", "real_tile_mtot_q25_mx", "sim_abs_b_p99_g",
                "real_frac_abs_b_gt_50g", "real_noise_sigma_g", "simnoise_mean_abs_b_g"):
        assert key in stats
    assert all(isinstance(value, float) for value in stats.values())
    assert stats["sim_mean_abs_b_g"] == pytest.approx(realism.mean_abs_b(maps[0]))
    assert stats["sim_n_maps"] == 4.0 and stats["real_n_maps"] == 3.0
    assert stats["simnoise_mean_abs_b_g"] > stats["sim_mean_abs_b_g"]


def test_figure_and_report(maps, tmp_path):
    sim, real = maps
    png = tmp_path / "reports" / "figures" / "realism.png"
    md = tmp_path / "reports" / "simulator_realism.md"
    stats = realism.compare(sim, real)
    realism.plot_comparison(sim, real, png)
    realism.write_report(stats, png, md, sim_source="test sim", real_source="test real")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    for phrase in ("single", "720 s", "410-min", "6.3 G", "Liu et al. 2012", "1/sqrt(34)",
                   "](figures/realism.png)", "HMI data courtesy of NASA/SDO",
                   f"{stats['real_noise_sigma_g']:.2f} G"):
        assert phrase in text
    assert sorted(p.name for p in md.parent.iterdir()) == ["figures", "simulator_realism.md"]


def test_load_patches_roundtrip(tmp_path):
    for i in range(2):
        fits.PrimaryHDU(np.full((4, 5), float(i), dtype=np.float32)).writeto(
            tmp_path / f"p{i}.fits")
    patches = realism.load_patches(tmp_path)
    assert [p.shape for p in patches] == [(4, 5), (4, 5)] and patches[1][0, 0] == 1.0
    with pytest.raises(FileNotFoundError):
        realism.load_patches(tmp_path / "missing")


def test_committed_hmi_quiet_patches_look_like_quiet_sun():
    patches = realism.load_patches(HMI_QUIET_DIR)
    assert len(patches) == 6
    for path, image in zip(sorted(HMI_QUIET_DIR.glob("*.fits")), patches):
        header = fits.getheader(path)
        assert image.shape == (256, 256) and np.all(np.isfinite(image))
        assert header["BUNIT"] == "G" and "NASA/SDO" in header["ATTRIB"]
        assert header["CTYPE1"] == "HGLN-ARC"
        assert 4.0 < realism.mean_abs_b(image) < 7.5
    assert (HMI_QUIET_DIR / "README.md").read_text().count("NASA/SDO") >= 1
