"""Average EAR and CR maps per time bin after Hale's and Joy's law flips (paper Fig. 3).

Hale's law gives the leading polarity opposite signs in the two hemispheres; Joy's law tilts
bipoles so that the leading polarity lies nearer the equator, i.e. towards -y in the north
and +y in the south (maps are map[y, x], y northward, x west to the right). Reversing the
sign of B and mirroring y in the southern hemisphere (latitude < 0 deg) therefore brings
every region to the northern convention, so that emerging bipoles add up coherently.
Latitude 0 counts as north (as in the simulator).
"""

from __future__ import annotations

import numpy as np

from preemergence.core.constants import KINDS


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


def store_composites(store, kinds=KINDS, time_bins=None) -> dict:
    """Composite maps of a RegionStore: {(kind, time_h): mean flipped map (G)}.

    store: a regionstore.RegionStore (regions, and per time bin a cube (n_regions, h, w) in
    G in the order of store.regions); kinds: region kinds to average ('EAR', 'CR'); a kind
    without regions is left out. time_bins: time bins (h), default all of the store's.
    """
    kind_of = np.array([r.kind for r in store.regions])
    latitudes = np.array([r.latitude_deg for r in store.regions], dtype=float)
    out = {}
    for time_h in store.time_bins if time_bins is None else time_bins:
        for kind in kinds:
            rows = np.flatnonzero(kind_of == kind)
            if len(rows):
                out[(kind, time_h)] = average_maps(store.maps[time_h][rows], latitudes[rows])
    return out
