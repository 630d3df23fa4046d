"""Simulator: determinism, physical units, Hale/Joy orientation, emergence signal."""

import numpy as np
import pytest

from preemergence.data import fluxes, precursor, simulate
from preemergence.core.config import with_overrides
from preemergence.core.constants import PIXEL_AREA_CM2
from preemergence.data.regionstore import RegionMeta, load_region_store


def test_power_law_sampler_matches_its_mean():
    rng = np.random.default_rng(0)
    x = fluxes.power_law_sample(rng, 200_000, 1e17, 3e19, -1.85)
    assert x.min() >= 1e17 and x.max() <= 3e19
    assert x.mean() == pytest.approx(fluxes.power_law_mean(1e17, 3e19, -1.85), rel=0.03)


def test_window_average_of_growth():
    # exp(t/tau) averaged over the 410-min window equals the numerical average
    t = np.linspace(-3.2 - simulate.WINDOW_H / 2, -3.2 + simulate.WINDOW_H / 2, 20001)
    growth = precursor.mean_exp_growth(-3.2, 6.0, simulate.WINDOW_H)
    assert growth == pytest.approx(np.exp(t / 6.0).mean(), rel=1e-4)


def test_same_seed_same_maps_different_seed_different_maps(tiny_params):
    p, bins = tiny_params.simulate, tiny_params.time_bins
    meta = simulate.region_metas(p, 42)[0]
    a = simulate.simulate_region(p, bins, 42, meta).maps
    b = simulate.simulate_region(p, bins, 42, meta).maps
    c = simulate.simulate_region(p, bins, 7, simulate.region_metas(p, 7)[0]).maps
    assert all(np.array_equal(a[t], b[t]) for t in bins)
    assert not np.array_equal(a[-3.2], c[-3.2])


def test_store_on_disk_is_deterministic_and_complete(tiny_params, tiny_store_dir, tmp_path):
    store = load_region_store(tiny_store_dir, tiny_params.time_bins)
    assert len(store.ids("EAR")) == 6 and len(store.ids("CR")) == 6
    assert {r.source for r in store.regions} == {"synthetic"}
    again = tmp_path / "again"
    simulate.simulate_store(tiny_params.simulate, tiny_params.time_bins,
                            tiny_params.seed, again, progress=False)
    store2 = load_region_store(again, tiny_params.time_bins)
    assert all(np.array_equal(store.maps[t], store2.maps[t]) for t in store.time_bins)


def test_crs_share_ear_positions(tiny_params):
    metas = simulate.region_metas(tiny_params.simulate, 42)
    ears = [m for m in metas if m.kind == "EAR"]
    crs = [m for m in metas if m.kind == "CR"]
    assert [(m.latitude_deg, m.cmd_deg) for m in ears] == \
        [(m.latitude_deg, m.cmd_deg) for m in crs]
    lo, hi = tiny_params.simulate.latitude_deg
    assert all(lo <= abs(m.latitude_deg) <= hi for m in metas)


def _simulate(params, **changes):
    """The simulate section of params with dotted keys under simulate changed
    (``_simulate(p, **{"quiet.noise_g": 0.0})``)."""
    return with_overrides(params, {f"simulate.{k}": v for k, v in changes.items()}).simulate


QUIET_OFF = {"quiet.network_flux_density_g": 0.0, "quiet.internetwork_flux_density_g": 0.0,
             "quiet.noise_g": 0.0, "ephemeral.rate_per_1e5_mm2_per_day": 0.0,
             "plage.probability": 0.0}


def _precursor_only(params, lat, model="elements", **changes):
    """The simulate section with the quiet Sun switched off and a guaranteed, strong
    precursor (and any further changes, dotted keys under simulate)."""
    p = _simulate(params, **QUIET_OFF, **{
        "emergence.model": model, "emergence.joy_scatter_deg": 0.0,
        "emergence.centre_offset_mm": 0.0,
        "emergence.compact.pole_spread_mm": 0.3, "emergence.compact.no_precursor_fraction": 0.0,
        "emergence.elements.pole_spread_mm": 0.3, "emergence.elements.mixed_fraction": 0.0,
        "emergence.elements.no_precursor_fraction": 0.0, **changes})
    return p, RegionMeta("SIM-EAR-0001", "EAR", lat, 0.0, 1.4, "synthetic")


@pytest.mark.parametrize("model", ["elements", "compact"])
@pytest.mark.parametrize("lat", [20.0, -20.0])
def test_hale_and_joy_orientation(tiny_params, lat, model):
    p, meta = _precursor_only(tiny_params, lat, model)
    field = simulate.simulate_region(p, (-3.2,), 1, meta).maps[-3.2].astype(float)
    ys, xs = np.indices(field.shape)
    pos, neg = np.clip(field, 0, None), np.clip(-field, 0, None)

    def centroid(w):
        return np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()

    lead_sign = -1 if lat > 0 else 1                       # cycle 24 (Hale)
    lead, follow = (neg, pos) if lead_sign < 0 else (pos, neg)
    lx, ly = centroid(lead)
    fx, fy = centroid(follow)
    assert lx > fx                                         # leading polarity to the west
    assert (ly < fy) if lat > 0 else (ly > fy)             # and nearer the equator (Joy)
    tilt = np.degrees(np.arctan2(abs(ly - fy), lx - fx))
    assert tilt == pytest.approx(0.5 * abs(lat), abs=3.0)  # Joy: 0.5 |latitude|


@pytest.mark.parametrize("model", ["elements", "compact"])
def test_precursor_flux_grows_towards_emergence(tiny_params, model):
    p, meta = _precursor_only(tiny_params, 15.0, model)
    maps = simulate.simulate_region(p, tiny_params.time_bins, 3, meta).maps
    flux = [np.abs(maps[t]).sum() * PIXEL_AREA_CM2 for t in sorted(maps)]
    assert all(np.diff(flux) > 0)                          # -24.5 h ... -3.2 h increasing
    assert 1e19 < flux[-1] < 1e22


def test_quiet_sun_is_hear_like(tiny_params):
    """Mean |B| and tile flux of simulated CRs sit in the ranges measured on real HMI."""
    p = tiny_params.simulate
    crs = [m for m in simulate.region_metas(p, 42) if m.kind == "CR"]
    maps = np.stack([simulate.simulate_region(p, (-3.2,), 42, m).maps[-3.2] for m in crs])
    mean_abs = np.abs(maps).mean()
    assert 2.0 < mean_abs < 8.0
    tile_mtot = np.abs(maps[:, :85, :85]).sum((1, 2)) * PIXEL_AREA_CM2
    assert 2e20 < np.median(tile_mtot) < 1.2e21


def test_components_have_independent_random_streams(tiny_params):
    """Changing a quiet-Sun parameter leaves the precursor (and vice versa) unchanged."""
    p = tiny_params.simulate
    meta = simulate.region_metas(p, 42)[0]
    bins = (-3.2,)
    base = simulate.simulate_region(p, bins, 42, meta).maps[-3.2]
    quiet_off = _simulate(tiny_params, **QUIET_OFF)       # the precursor as in params
    only_precursor = simulate.simulate_region(quiet_off, bins, 42, meta).maps[-3.2]
    denser = _simulate(tiny_params, **{"quiet.network_flux_density_g": 7.0})
    denser_off = _simulate(tiny_params, **{**QUIET_OFF,
                                           "quiet.network_flux_density_g": 0.0})
    assert np.array_equal(simulate.simulate_region(denser_off, bins, 42, meta).maps[-3.2],
                          only_precursor)
    changed = simulate.simulate_region(denser, bins, 42, meta).maps[-3.2]
    assert not np.array_equal(changed, base)
    # the same region at fewer time bins is the same realisation
    full = simulate.simulate_region(p, tiny_params.time_bins, 42, meta).maps
    assert np.array_equal(full[-3.2], base)


def test_line_of_sight_foreshortening(tiny_params):
    """Far from the central meridian, and earlier in time for an eastern region, |B| is lower."""
    p = tiny_params.simulate
    central = RegionMeta("SIM-CR-0001", "CR", 0.0, 0.0, 1.4, "synthetic")
    west = RegionMeta("SIM-CR-0001", "CR", 0.0, 50.0, 1.4, "synthetic")
    east = RegionMeta("SIM-CR-0001", "CR", 0.0, -40.0, 1.4, "synthetic")
    bins = (-3.2, -24.5)
    mean_abs = {m.cmd_deg: {t: np.abs(v).mean() for t, v in
                            simulate.simulate_region(p, bins, 1, m).maps.items()}
                for m in (central, west, east)}
    assert mean_abs[50.0][-3.2] < 0.8 * mean_abs[0.0][-3.2]
    # an eastern region is ~12 deg further east a day earlier: more foreshortened
    assert mean_abs[-40.0][-24.5] < mean_abs[-40.0][-3.2]


@pytest.mark.parametrize("model", ["elements", "compact"])
def test_no_precursor_fraction_and_crs_have_no_signal(tiny_params, model):
    p, meta = _precursor_only(tiny_params, 15.0, model,
                              **{f"emergence.{model}.no_precursor_fraction": 1.0})
    assert np.abs(simulate.simulate_region(p, (-3.2,), 3, meta).maps[-3.2]).max() == 0.0
    p, meta = _precursor_only(tiny_params, 15.0, model,
                              **{f"emergence.{model}.no_precursor_fraction": 0.0})
    cr = RegionMeta("SIM-CR-0001", "CR", 15.0, 0.0, 1.4, "synthetic")
    assert np.abs(simulate.simulate_region(p, (-3.2,), 3, cr).maps[-3.2]).max() == 0.0
    assert np.abs(simulate.simulate_region(p, (-3.2,), 3, meta).maps[-3.2]).max() > 10.0


def test_the_elements_precursor_is_made_of_network_like_elements(tiny_params):
    """Every element's flux lies in the quiet network's range (no element is unusual); both
    polarities; the persistent / abrupt mix follows persistent_fraction."""
    p = _simulate(tiny_params, **{"emergence.model": "elements",
                                  "emergence.elements.no_precursor_fraction": 0.0})
    e, q = p.emergence, p.quiet
    meta = RegionMeta("SIM-EAR-0001", "EAR", 15.0, 0.0, 1.4, "synthetic")
    draws = [precursor.draw(np.random.default_rng(i), meta, e, q, 152.0) for i in range(400)]
    flux = np.concatenate([d["flux"] for d in draws])
    assert flux.min() >= q.network_threshold_mx and flux.max() <= q.feature_flux_max_mx
    assert all(set(np.sign(d["sign"])) == {-1.0, 1.0} for d in draws[:20])
    assert all(d["flux"].sum() >= 2.0 * d["flux_e"] for d in draws)   # enough to arrive
    share = np.mean([d["persistent"] for d in draws])
    assert share == pytest.approx(e.elements.persistent_fraction, abs=0.08)


def test_a_time_bin_too_close_to_emergence_is_refused_not_capped(tiny_params):
    p, meta = _precursor_only(tiny_params, 15.0, **{
        "emergence.elements.persistent_fraction": 0.0,
        "emergence.elements.abrupt_timescale_h": 0.5})
    with pytest.raises(ValueError, match="simulate.emergence.elements: a precursor reaches"):
        simulate.simulate_region(p, (-0.5,), 3, meta)
    simulate.simulate_region(p, (-3.2,), 3, meta)          # far enough: fine
