"""Planted-truth region sets: data whose discriminating pattern is known by construction.

Each interpretation probe (bipoles, occlusion, output against MTOT, |B| against B) is run
first on one of these sets, where the answer is known, before its verdict on the real or
simulated data is trusted (docs/simulator.md, "Planted truths"). Every set is one time bin
of EAR and CR maps (256 x 256 px, G) on a smoothed white-noise background of rms
``background_rms_g``; what tells PE from NE differs per set:

- ``length_scale``: every region carries a jittered grid of circular bipoles (touching
  discs, the probe's own shape, orientation random). EAR bipoles all have radius R*
  (``radius_mm``), CR bipoles radii drawn log-uniformly from ``ne_radii_mm``; all fluxes
  are drawn from one distribution, so size, not flux, tells the classes apart.
- ``location``: an EAR carries one bipole at its centre, inside the emergence box (Hale
  oriented: the west disc has Hale's leading sign); nothing else differs from a
  CR, so the signal lies inside the box and nowhere else.
- ``flux_only``: pure noise whose amplitude scatters from region to region (lognormal),
  EARs ``excess`` times stronger: PE differs from NE only by a spatially uniform excess of
  unsigned flux, with no pattern; a CNN can do no better than the MTOT discriminant.
- ``polarity``: grids of bipoles as in length_scale, one radius, EARs all Hale oriented and
  CRs all anti-Hale: the same |B|, so a network trained on |B| cannot tell them apart.
- ``size_trend``: grids of bipoles as in length_scale, EAR radii log-uniform in one range,
  CR radii in a range wholly below it, all fields from one distribution (not the fluxes:
  with equal fluxes the small CR bipoles would be the strong ones, and a network could tell
  the classes by field strength, which Fig. 16's fixed-field probe confounds with size). At
  any one field the larger bipole is the more likely PE, over the whole range of radii
  probed by Fig. 16 (0-30 Mm), whether a network reads the size or the flux.

In all sets but ``location`` an EAR is PE everywhere (its windows are all PE samples) and a
CR NE everywhere; in ``location`` the usual geometry holds (PE windows contain the box, an
EAR's NE windows do not touch it). Sampling, folds and standardisation are the prepare
stage's own (data/segments.py). Region metadata put every region in the northern
hemisphere at disc centre, so the composites' Hale/Joy flips leave the maps as drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter

from preemergence.core.constants import PIXEL_SCALE_MM, REGION_SIZE_PX
from preemergence.data.regionstore import RegionMeta, RegionStore
from preemergence.data.segments import SamplingPlan
from preemergence.interpret.bipole import synthetic_bipole

if TYPE_CHECKING:
    from preemergence.core.schema import InterpretValidate

# appended in order: a set's index seeds its maps, so an existing set keeps its data
PLANTED_SETS = ("length_scale", "location", "flux_only", "polarity", "size_trend")
LATITUDE_DEG = 15.0          # northern hemisphere: no Hale flip in the composites
CENTRE_PX = REGION_SIZE_PX / 2.0


def planted_store(name: str, section: "InterpretValidate", time_h: float, seed: int,
                  hale_leading_sign: int = -1) -> RegionStore:
    """The planted set ``name`` as a one-time-bin RegionStore (regions sorted by id).

    hale_leading_sign: sign of the west (leading) disc of a Hale-oriented bipole in the
    north (params.yaml simulate.emergence.hale_leading_sign_north)."""
    if name not in PLANTED_SETS:
        raise ValueError(f"no planted set {name!r}; the sets are {', '.join(PLANTED_SETS)}")
    draw = _DRAWERS[name]
    regions, maps = [], []
    for kind, n in (("CR", section.n_cr), ("EAR", section.n_ear)):
        for i in range(n):
            rng = np.random.default_rng([seed, PLANTED_SETS.index(name), kind == "EAR", i])
            regions.append(RegionMeta(f"{name}-{kind}{i:03d}", kind, LATITUDE_DEG, 0.0,
                                      PIXEL_SCALE_MM, "planted"))
            field = _background(rng, section.background_rms_g)
            maps.append(draw(rng, field, kind == "EAR", section, hale_leading_sign))
    order = np.argsort([r.region_id for r in regions], kind="stable")
    return RegionStore([regions[i] for i in order],
                       {time_h: np.stack([maps[i] for i in order]).astype(np.float32)})


def sampling_plan(name: str, section: "InterpretValidate") -> SamplingPlan:
    """Windows per region: location as prepare (PE windows contain the box, an EAR's NE
    windows avoid it); the other sets PE-only EARs and NE-only CRs."""
    n = section.samples_per_region
    if name == "location":
        return SamplingPlan(n, n // 2, n, section.n_folds)
    return SamplingPlan(n, 0, n, section.n_folds)


def _background(rng, rms_g: float) -> np.ndarray:
    """Smoothed white noise (1 px Gaussian) of rms rms_g (G)."""
    noise = gaussian_filter(rng.standard_normal((REGION_SIZE_PX, REGION_SIZE_PX)), 1.0)
    return noise * (rms_g / noise.std())


def paste(field: np.ndarray, stamp: np.ndarray, x_px: float, y_px: float) -> None:
    """Add a square stamp to field centred at (x_px, y_px) (pixel centres), clipped."""
    size = stamp.shape[0]
    x0, y0 = int(round(x_px - size / 2)), int(round(y_px - size / 2))
    xs, ys = slice(max(x0, 0), min(x0 + size, field.shape[1])), slice(
        max(y0, 0), min(y0 + size, field.shape[0]))
    field[ys, xs] += stamp[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]


def bipole_stamp(radius_mm: float, field_g: float, positive_west: bool) -> np.ndarray:
    """A touching-disc bipole (interpret.bipole) on a stamp just large enough for it."""
    size = int(np.ceil(4 * radius_mm / PIXEL_SCALE_MM)) + 4
    return synthetic_bipole(radius_mm, field_g, size + (size % 2 == 0),
                            positive_west=positive_west)


def grid_centres(rng, grid: int) -> np.ndarray:
    """grid x grid bipole centres (px) spread over the region, each jittered by up to a
    quarter of the spacing: every window (85 px) holds at least one centre."""
    spacing = REGION_SIZE_PX / grid
    base = (np.arange(grid) + 0.5) * spacing
    xs, ys = np.meshgrid(base, base)
    jitter = rng.uniform(-0.25, 0.25, size=(2, grid * grid)) * spacing
    return np.column_stack([xs.ravel() + jitter[0], ys.ravel() + jitter[1]])


def _flux_field_g(rng, spec, radius_mm: float) -> float:
    """Field (G) of a bipole of this radius whose flux is drawn from one distribution: that
    of a spec.radius_mm bipole of median field spec.field_g (lognormal, spec.field_sigma_ln)."""
    flux = spec.field_g * spec.radius_mm ** 2 * np.exp(rng.normal(0, spec.field_sigma_ln))
    return float(flux / radius_mm ** 2)


def _log_uniform(rng, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _bipole_grid(rng, field, grid: int, radius_of, field_of) -> np.ndarray:
    """A jittered grid x grid of randomly oriented bipoles: radius_of() Mm each, of field
    field_of(radius) G (drawn in that order, then the orientation)."""
    for x, y in grid_centres(rng, grid):
        radius = radius_of()
        paste(field, bipole_stamp(radius, field_of(radius), bool(rng.integers(2))), x, y)
    return field


def _length_scale(rng, field, is_ear, section, hale):
    s = section.length_scale

    def radius() -> float:
        if is_ear:
            return s.radius_mm
        return _log_uniform(rng, *s.ne_radii_mm[int(rng.integers(len(s.ne_radii_mm)))])
    return _bipole_grid(rng, field, s.grid, radius, lambda r: _flux_field_g(rng, s, r))


def _size_trend(rng, field, is_ear, section, hale):
    s = section.size_trend
    low, high = s.pe_radii_mm if is_ear else s.ne_radii_mm
    return _bipole_grid(rng, field, s.grid, lambda: _log_uniform(rng, low, high),
                        lambda r: s.field_g * np.exp(rng.normal(0, s.field_sigma_ln)))


def _location(rng, field, is_ear, section, hale):
    s = section.location
    if is_ear:
        west_sign = hale
        paste(field, bipole_stamp(s.radius_mm, s.field_g, west_sign > 0),
              CENTRE_PX, CENTRE_PX)
    return field


def _flux_only(rng, field, is_ear, section, hale):
    s = section.flux_only
    amplitude = np.exp(rng.normal(0, s.amplitude_sigma_ln)) * (s.excess if is_ear else 1.0)
    return field * amplitude


def _polarity(rng, field, is_ear, section, hale):
    s = section.polarity
    west_sign = hale * (1 if is_ear else -1)
    for x, y in grid_centres(rng, s.grid):
        strength = s.field_g * np.exp(rng.normal(0, s.field_sigma_ln))
        paste(field, bipole_stamp(s.radius_mm, strength, west_sign > 0), x, y)
    return field


_DRAWERS = {"length_scale": _length_scale, "location": _location, "flux_only": _flux_only,
            "polarity": _polarity, "size_trend": _size_trend}
