"""The pre-emergence signal of a simulated EAR (docs/simulator.md, "Precursor models").

Two models, chosen by ``simulate.emergence.model``:

- ``elements`` (default): the precursor's flux arrives as flux elements drawn from the
  same power-law distribution as the quiet-Sun network around it (no element is stronger
  than a network element; the precursor is an excess density of them), blurred like network
  features, and organised into two opposite-polarity concentrations whose flux, separation
  and tilt (Hale, Joy) grow towards emergence. A population mix: ``persistent_fraction`` of
  EARs build up slowly, the others emerge abruptly (short e-folding time), the two kinds
  Alley & Schunker (2023) contrast.
- ``compact``: the earlier model, two compact poles of a few large fragments each (kept as
  a named variant so that its results can be reproduced).

All fluxes in Mx, lengths in Mm (px where named), times in h before emergence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from preemergence.core.constants import PIXEL_SCALE_MM
from preemergence.data.fluxes import power_law_mean, power_law_sample

if TYPE_CHECKING:
    from preemergence.core.schema import Emergence, Quiet


def mean_exp_growth(t_centre, tau_h, window_h):
    """Window average of exp(t / tau) over the averaging window centred at t_centre (h)."""
    tau_h = np.asarray(tau_h, dtype=float)
    hi, lo = (t_centre + window_h / 2) / tau_h, (t_centre - window_h / 2) / tau_h
    return tau_h / window_h * (np.exp(hi) - np.exp(lo))


def _orientation(rng, meta, e: "Emergence") -> dict:
    """Bipole axis (unit vector, Joy tilt with scatter) and the leading sign (Hale)."""
    north = meta.latitude_deg >= 0
    tilt = np.deg2rad(e.joy_factor * abs(meta.latitude_deg)
                      + rng.normal(0, e.joy_scatter_deg))
    return dict(axis=np.array([np.cos(tilt), -np.sin(tilt) if north else np.sin(tilt)]),
                lead_sign=e.hale_leading_sign_north * (1 if north else -1))


def _centre(rng, e: "Emergence", centre_px: float) -> np.ndarray:
    """The bipole's centre (padded px), scattered about the map centre."""
    return centre_px + rng.normal(0, e.centre_offset_mm / PIXEL_SCALE_MM, 2)


def draw(rng, meta, e: "Emergence", quiet: "Quiet", centre_px: float) -> dict | None:
    """One EAR's precursor (None: this EAR has none), from ``simulate.emergence`` (the
    section of its model holds its calibrated rate of EARs without one and flux level)."""
    if rng.random() < getattr(e, e.model).no_precursor_fraction:
        return None
    if e.model == "compact":
        return _draw_compact(rng, meta, e, centre_px)
    return _draw_elements(rng, meta, e, quiet, centre_px)


def add(sources, pre: dict, t: float, e: "Emergence", quiet: "Quiet", window_h: float) -> None:
    """Add the precursor at time bin t to sources (point sources, padded px, Mx)."""
    growth = float(mean_exp_growth(t, pre["tau"], window_h))
    lo, hi = e.separation_mm
    half = 0.5 * (lo + (hi - lo) * min(growth, 1.0)) / PIXEL_SCALE_MM
    if pre["model"] == "compact":
        _add_compact(sources, pre, growth, half, e)
    else:
        _add_elements(sources, pre, growth, half, quiet)


# --- compact: two poles of a few large fragments -------------------------------------------

def _draw_compact(rng, meta, e: "Emergence", centre_px: float) -> dict:
    orientation = _orientation(rng, meta, e)
    k = e.compact.fragments_per_pole
    return dict(
        model="compact",
        flux_e=e.compact.flux_at_emergence_median_mx * np.exp(
            rng.normal(0, e.flux_at_emergence_sigma_ln)),
        tau=e.growth_timescale_median_h * np.exp(
            rng.normal(0, e.growth_timescale_sigma_ln)),
        centre=_centre(rng, e, centre_px), **orientation,
        offsets=rng.normal(0, e.compact.pole_spread_mm / PIXEL_SCALE_MM, (2, 2, k)),
        shares=rng.dirichlet(np.ones(k), 2))


def _add_compact(sources, pre: dict, growth: float, half: float, e: "Emergence") -> None:
    """Leading pole (west, nearer the equator) and following pole, fragments shared out."""
    flux = pre["flux_e"] * growth
    for pole, sign in ((0, pre["lead_sign"]), (1, -pre["lead_sign"])):
        direction = 1.0 if pole == 0 else -1.0
        cx, cy = pre["centre"] + direction * half * pre["axis"]
        sources.add(e.compact.blur_mm / PIXEL_SCALE_MM, cx + pre["offsets"][pole, 0],
                    cy + pre["offsets"][pole, 1], sign * 0.5 * flux * pre["shares"][pole])


# --- elements: network-like flux elements organised into a growing bipole -----------------

def _draw_elements(rng, meta, e: "Emergence", quiet: "Quiet", centre_px: float) -> dict:
    el = e.elements
    geometry = _orientation(rng, meta, e)
    geometry["centre"] = _centre(rng, e, centre_px)
    persistent = rng.random() < el.persistent_fraction
    tau_median = e.growth_timescale_median_h if persistent else el.abrupt_timescale_h
    flux_e = el.flux_at_emergence_median_mx * np.exp(
        rng.normal(0, e.flux_at_emergence_sigma_ln))
    lo, hi, slope = (quiet.network_threshold_mx, quiet.feature_flux_max_mx,
                     quiet.feature_flux_slope)
    budget = 2.0 * flux_e                  # enough for time bins up to about -3 h (see add)
    n = int(np.ceil(1.2 * budget / power_law_mean(lo, hi, slope))) + 16
    flux = power_law_sample(rng, n, lo, hi, slope)
    pole = np.arange(n) % 2                # arrival order alternates between the poles
    sign = np.where(pole == 0, 1.0, -1.0) * geometry["lead_sign"]
    sign *= np.where(rng.random(n) < el.mixed_fraction, -1.0, 1.0)
    return dict(model="elements", persistent=persistent, flux_e=flux_e,
                tau=tau_median * np.exp(rng.normal(0, e.growth_timescale_sigma_ln)),
                flux=flux, arrived_before=np.cumsum(flux) - flux, pole=pole, sign=sign,
                offsets=rng.normal(0, el.pole_spread_mm / PIXEL_SCALE_MM, (2, n)),
                **geometry)


def _add_elements(sources, pre: dict, growth: float, half: float, quiet: "Quiet") -> None:
    """The elements that have arrived by then (the last one in part), around their poles.
    The drawn elements carry twice the flux at emergence: a time bin so close to emergence
    that an abrupt riser exceeds that is refused rather than silently capped."""
    if pre["flux_e"] * growth > pre["arrived_before"][-1] + pre["flux"][-1]:
        raise ValueError(f"simulate.emergence.elements: a precursor reaches {growth:.1f} times "
                         "its flux at emergence in a time bin this close to emergence; the "
                         "elements model supports time bins up to about -3 h")
    arrived = np.clip((pre["flux_e"] * growth - pre["arrived_before"]) / pre["flux"], 0.0, 1.0)
    live = arrived > 0
    direction = np.where(pre["pole"][live] == 0, 1.0, -1.0)
    x = pre["centre"][0] + direction * half * pre["axis"][0] + pre["offsets"][0, live]
    y = pre["centre"][1] + direction * half * pre["axis"][1] + pre["offsets"][1, live]
    sources.add(quiet.feature_blur_mm / PIXEL_SCALE_MM, x, y,
                pre["sign"][live] * pre["flux"][live] * arrived[live])
