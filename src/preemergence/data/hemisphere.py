"""Maps in the northern convention (Hale's and Joy's laws; used by the Fig. 3 composites in
interpret/composite.py and the precursor check in solar/precursor_check.py).

Hale's law gives the leading polarity opposite signs in the two hemispheres; Joy's law tilts
bipoles so that the leading polarity lies nearer the equator, i.e. towards -y in the north
and +y in the south (maps are map[y, x], y northward, x west to the right). Reversing the
sign of B and mirroring y in the southern hemisphere (latitude < 0 deg) therefore brings
every region to the northern convention. Latitude 0 counts as north (as in the simulator).
"""

from __future__ import annotations

import numpy as np


def is_southern(latitude_deg) -> np.ndarray:
    """True where the latitude (deg) is in the southern hemisphere (< 0)."""
    return np.asarray(latitude_deg, dtype=float) < 0


def flip_to_north(map_g: np.ndarray, latitude_deg: float) -> np.ndarray:
    """A map (G) in the northern convention: southern maps get -B and y mirrored (a copy)."""
    map_g = np.asarray(map_g)
    return -map_g[::-1, :].copy() if is_southern(latitude_deg) else map_g.copy()


def flip_stack_to_north(maps_g: np.ndarray, latitudes_deg) -> np.ndarray:
    """flip_to_north for a stack (n, height, width) of maps (G) with n latitudes (deg)."""
    maps_g = np.asarray(maps_g)
    south = is_southern(latitudes_deg).reshape(-1, 1, 1)
    if len(south) != len(maps_g):
        raise ValueError(f"{len(maps_g)} maps but {len(south)} latitudes")
    return np.where(south, -maps_g[:, ::-1, :], maps_g)


def average_maps(maps_g, latitudes_deg) -> np.ndarray:
    """Mean (G) of maps (n, height, width) after flipping the southern ones to the north."""
    maps_g = np.asarray(maps_g, dtype=float)
    if len(maps_g) == 0:
        raise ValueError("no maps to average")
    return flip_stack_to_north(maps_g, latitudes_deg).mean(axis=0)
