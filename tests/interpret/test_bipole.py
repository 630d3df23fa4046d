"""Synthetic bipoles: geometry in Mm, field in G, exactly zero net flux, symmetry."""

import numpy as np
import pytest

from preemergence.core.constants import PIXEL_SCALE_MM, SEGMENT_SIZE_PX
from preemergence.interpret.bipole import (
    bipole_series,
    disc_mask,
    pixel_offsets_mm,
    synthetic_bipole,
)

PIXEL_AREA_MM2 = PIXEL_SCALE_MM ** 2


def test_shape_values_and_zero_radius():
    b = synthetic_bipole(10.0, 100.0)
    assert b.shape == (SEGMENT_SIZE_PX, SEGMENT_SIZE_PX)
    assert set(np.unique(b)) == {-100.0, 0.0, 100.0}
    assert not synthetic_bipole(0.0, 1000.0).any()
    with pytest.raises(ValueError):
        synthetic_bipole(-1.0, 100.0)


@pytest.mark.parametrize("radius_mm", [5.0, 7.3, 10.0, 15.0, 20.0, 25.0])
def test_disc_area_in_mm2(radius_mm):
    """Each unclipped disc covers pi r^2 (Mm^2) to within pixelisation (5 % for r >= 5 Mm)."""
    b = synthetic_bipole(radius_mm, 100.0)
    area = np.count_nonzero(b > 0) * PIXEL_AREA_MM2
    assert area == pytest.approx(np.pi * radius_mm ** 2, rel=0.05)


def test_radius_and_touching_discs_in_mm():
    """Touching discs: the positive disc spans x in (0, 2r) Mm, the negative (-2r, 0)."""
    r = 14.0
    b = synthetic_bipole(r, 50.0)
    x = pixel_offsets_mm()
    xs_pos = np.broadcast_to(x[None, :], b.shape)[b > 0]
    xs_neg = np.broadcast_to(x[None, :], b.shape)[b < 0]
    assert xs_pos.min() > 0 and xs_pos.max() < 2 * r
    assert xs_pos.max() > 2 * r - 2 * PIXEL_SCALE_MM
    assert xs_neg.max() < 0 and xs_neg.min() > -2 * r
    centre_row = b[SEGMENT_SIZE_PX // 2]
    # pixel centres in an open interval of 2r Mm: 2r/p - 1 ... 2r/p + 1 pixels
    n_diameter = np.count_nonzero(centre_row > 0)
    assert abs(n_diameter * PIXEL_SCALE_MM - 2 * r) <= PIXEL_SCALE_MM * (1 + 1e-9)


def test_positive_west_option():
    east = synthetic_bipole(10.0, 100.0, positive_west=False)
    west = synthetic_bipole(10.0, 100.0)
    np.testing.assert_array_equal(east, west[:, ::-1])
    half = SEGMENT_SIZE_PX // 2
    assert west[:, half + 1:].max() == 100.0 and east[:, half + 1:].min() == -100.0


@pytest.mark.parametrize("size_px", [85, 84])
def test_zero_net_flux_all_radii_including_clipped(size_px):
    """Equal pixel counts per sign and zero sum, also when the segment edge clips the discs."""
    for r in np.arange(0.0, 80.0, 0.7):
        for field in (10.0, 100.0, 1000.0, 0.37):
            b = synthetic_bipole(r, field, size_px=size_px)
            assert np.count_nonzero(b > 0) == np.count_nonzero(b < 0)
            assert abs(b.sum()) <= 1e-9 * field * b.size
    big = synthetic_bipole(60.0, 100.0)
    assert np.count_nonzero(big > 0) * PIXEL_AREA_MM2 < 0.6 * np.pi * 60.0 ** 2  # clipped


def test_symmetry():
    """Antisymmetric under x -> -x, symmetric under y -> -y."""
    for r in (3.0, 12.5, 40.0):
        b = synthetic_bipole(r, 100.0)
        np.testing.assert_array_equal(b[:, ::-1], -b)
        np.testing.assert_array_equal(b[::-1, :], b)


def test_overlapping_discs_cancel_and_keep_zero_flux():
    b = synthetic_bipole(20.0, 100.0, separation_mm=10.0)
    assert b[SEGMENT_SIZE_PX // 2, SEGMENT_SIZE_PX // 2] == 0.0
    assert np.count_nonzero(b > 0) == np.count_nonzero(b < 0) > 0
    coincident = synthetic_bipole(20.0, 100.0, separation_mm=0.0)
    assert not coincident.any()


def test_disc_mask_pixel_scale():
    """The same radius in Mm covers 4x the pixels at half the pixel scale."""
    coarse = np.count_nonzero(disc_mask(20.0, 0.0, size_px=85, pixel_mm=1.4))
    fine = np.count_nonzero(disc_mask(20.0, 0.0, size_px=170, pixel_mm=0.7))
    assert fine / coarse == pytest.approx(4.0, rel=0.03)


def test_series_shape_and_linearity():
    radii = np.array([0.0, 5.0, 15.0, 30.0, 60.0])
    fields = [10.0, 100.0, 1000.0]
    s = bipole_series(radii, fields)
    assert s.shape == (3, 5, SEGMENT_SIZE_PX, SEGMENT_SIZE_PX)
    for i, f in enumerate(fields):
        for j, r in enumerate(radii):
            np.testing.assert_array_equal(s[i, j], synthetic_bipole(r, f))
    assert np.all(np.abs(s.sum(axis=(2, 3))) < 1e-9)
