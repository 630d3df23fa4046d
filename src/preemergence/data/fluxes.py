"""Flux distributions shared by the simulator's components (all fluxes in Mx)."""

from __future__ import annotations


def power_law_sample(rng, n, lo, hi, slope):
    """n fluxes (Mx) from dN/dPhi ~ Phi**slope on [lo, hi] (inverse CDF)."""
    a = slope + 1.0
    u = rng.random(n)
    return (lo ** a + u * (hi ** a - lo ** a)) ** (1.0 / a)


def power_law_mean(lo, hi, slope):
    """Mean flux (Mx) of the truncated power law dN/dPhi ~ Phi**slope on [lo, hi]."""
    a, b = slope + 1.0, slope + 2.0
    return (a / b) * (hi ** b - lo ** b) / (hi ** a - lo ** a)
