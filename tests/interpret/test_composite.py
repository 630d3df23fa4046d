"""Hale/Joy flips to the northern convention and composite (average) maps (paper Fig. 3)."""

import numpy as np
import pytest

from preemergence.core.config import with_overrides
from preemergence.data.hemisphere import average_maps, flip_stack_to_north, flip_to_north
from preemergence.interpret.composite import store_composites
from preemergence.data.regionstore import RegionMeta, RegionStore
from preemergence.data import precursor
from preemergence.data.simulate import (EMERGENCE_CENTRE_PX, PAD_PX, WINDOW_H, RegionSimulator,
                                       _Sources)


def test_flip_twice_is_identity_and_north_untouched():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(16, 12))
    np.testing.assert_array_equal(flip_to_north(flip_to_north(m, -20.0), -20.0), m)
    np.testing.assert_array_equal(flip_to_north(m, 15.0), m)
    np.testing.assert_array_equal(flip_to_north(m, 0.0), m)
    south = flip_to_north(m, -5.0)
    assert south[0, 3] == -m[-1, 3]                 # sign reversed, y mirrored, x kept
    flipped = flip_to_north(m, 15.0)
    flipped[0, 0] = 99.0
    assert m[0, 0] != 99.0                          # a copy, never a view


def toy_bipole(latitude_deg, hale_leading_sign_north=-1, joy_factor=0.5, size=64):
    """A leading/following pair of single pixels, built with the simulator's conventions:
    leading pole west (+x) and nearer the equator (tilt joy_factor * |lat|), sign from Hale."""
    north = latitude_deg >= 0
    tilt = np.deg2rad(joy_factor * abs(latitude_deg))
    axis = np.array([np.cos(tilt), -np.sin(tilt) if north else np.sin(tilt)])
    lead = hale_leading_sign_north * (1 if north else -1)
    m = np.zeros((size, size))
    centre = np.array([size / 2, size / 2])
    for direction, sign in ((1, lead), (-1, -lead)):
        x, y = centre + direction * 10 * axis
        m[int(np.floor(y)), int(np.floor(x))] = 100.0 * sign
    return m


def test_flipped_southern_toy_bipole_matches_northern():
    north, south = toy_bipole(20.0), toy_bipole(-20.0)
    assert not np.array_equal(north, south)
    np.testing.assert_array_equal(flip_to_north(south, -20.0), north)
    # the leading (west) pole of the flipped map: Hale's northern sign, below the centre (equator)
    ys, xs = np.nonzero(flip_to_north(south, -20.0))
    lead = np.argmax(xs)
    assert flip_to_north(south, -20.0)[ys[lead], xs[lead]] < 0 and ys[lead] < 32


def simulator_precursor_map(params, latitude_deg):
    """The simulator's own emergence bipole (no scatter: joy_scatter, pole spread and
    centre offset 0) rendered at -3.2 h for an EAR at latitude_deg."""
    p = with_overrides(params, {
        "simulate.emergence.joy_scatter_deg": 0.0, "simulate.emergence.centre_offset_mm": 0.0,
        "simulate.emergence.elements.pole_spread_mm": 0.0,
        "simulate.emergence.elements.mixed_fraction": 0.0,
        "simulate.emergence.elements.no_precursor_fraction": 0.0}).simulate
    e = p.emergence
    sim = RegionSimulator(p, (-3.2,))
    meta = RegionMeta("x", "EAR", latitude_deg, 0.0, 1.4, "synthetic")
    pre = precursor.draw(np.random.default_rng(7), meta, e, p.quiet,
                         EMERGENCE_CENTRE_PX + PAD_PX)
    sources = _Sources()
    precursor.add(sources, pre, -3.2, e, p.quiet, WINDOW_H)
    return sources.render(sim.size)[PAD_PX:-PAD_PX, PAD_PX:-PAD_PX]


def test_flipped_southern_simulated_bipole_matches_northern(params):
    north = simulator_precursor_map(params, 25.0)
    south = simulator_precursor_map(params, -25.0)
    scale = np.abs(north).max()
    assert scale > 0 and np.abs(north - south).max() > 0.5 * scale
    np.testing.assert_allclose(flip_to_north(south, -25.0), north, atol=1e-9 * scale)


def test_average_maps():
    a = np.arange(12.0).reshape(3, 4)
    b = np.ones((3, 4))
    mean = average_maps([a, b], [10.0, 30.0])
    np.testing.assert_allclose(mean, (a + b) / 2)
    mean = average_maps([a, b], [10.0, -30.0])        # b flipped to -1
    np.testing.assert_allclose(mean, (a - 1) / 2)
    # a southern bipole and the same northern bipole add up coherently
    north, south = toy_bipole(20.0), toy_bipole(-20.0)
    np.testing.assert_allclose(average_maps([north, south], [20.0, -20.0]), north)
    assert np.abs(np.mean([north, south], axis=0)).max() < np.abs(north).max()
    with pytest.raises(ValueError):
        average_maps(np.zeros((0, 3, 3)), [])
    with pytest.raises(ValueError):
        flip_stack_to_north(np.zeros((2, 3, 3)), [1.0])


def test_store_composites():
    metas = [RegionMeta("a", "EAR", 10.0, 0.0, 1.4, "synthetic"),
             RegionMeta("b", "EAR", -10.0, 0.0, 1.4, "synthetic"),
             RegionMeta("c", "CR", -12.0, 0.0, 1.4, "synthetic")]
    rng = np.random.default_rng(3)
    maps = {t: rng.normal(size=(3, 8, 8)) for t in (-3.2, -8.5)}
    comps = store_composites(RegionStore(metas, maps))
    assert set(comps) == {("EAR", -3.2), ("CR", -3.2), ("EAR", -8.5), ("CR", -8.5)}
    for t, cube in maps.items():
        np.testing.assert_allclose(comps[("EAR", t)], (cube[0] - cube[1][::-1]) / 2)
        np.testing.assert_allclose(comps[("CR", t)], -cube[2][::-1])
    only = store_composites(RegionStore(metas[:2], {-3.2: maps[-3.2][:2]}), time_bins=[-3.2])
    assert set(only) == {("EAR", -3.2)}


def test_composite_intervals_hold_their_estimates_and_the_ratio_gets_a_range(params):
    """Fig. 3's numbers on 30 EAR maps with a Hale bipole (west -10 G, east +10 G) in noise
    and 30 CR maps of noise: the EAR west/east means get region-bootstrap intervals around
    their estimates; the |B| ratio gets only the range of its resamples, which lies below
    the estimate (resampling with repeats raises the CR composite's noise floor)."""
    from preemergence.core.constants import BOX_START_PX, BOX_STOP_PX
    from preemergence.interpret.composite import box_numbers
    from preemergence.interpret.intervals import composite_numbers
    rng = np.random.default_rng(5)
    maps = rng.normal(0.0, 20.0, (60, BOX_STOP_PX + 4, BOX_STOP_PX + 4))
    half = (BOX_START_PX + BOX_STOP_PX) // 2
    maps[:30, BOX_START_PX:BOX_STOP_PX, half:BOX_STOP_PX] -= 10.0       # west: leading
    maps[:30, BOX_START_PX:BOX_STOP_PX, BOX_START_PX:half] += 10.0
    kinds = ["EAR"] * 30 + ["CR"] * 30
    settings = params.stats.model_copy(update={"confidence": 0.95, "bootstrap_resamples": 300,
                                               "interval_method": "BCa"})
    out = composite_numbers(maps, kinds, [f"R{i}" for i in range(60)], settings, 1)
    ear = box_numbers(maps[:30].mean(axis=0))
    for side in ("west", "east"):
        entry = out[f"ear_{side}_mean_g"]
        assert entry["estimate"] == pytest.approx(ear[f"box_{side}_mean_g"])
        assert entry["low"] < entry["estimate"] < entry["high"]
    assert out["ear_west_mean_g"]["high"] < 0 < out["ear_east_mean_g"]["low"]
    ratio = out["ratio_range"]
    assert ratio["low"] < ratio["high"] < ratio["estimate"]
