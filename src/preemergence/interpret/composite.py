"""Average EAR and CR maps per time bin after Hale's and Joy's law flips (paper Fig. 3);
the flips themselves (the northern convention) are in data/hemisphere.py."""

from __future__ import annotations

import numpy as np

from preemergence.core.constants import BOX_START_PX, BOX_STOP_PX, KINDS
from preemergence.data.hemisphere import average_maps


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


def box_numbers(composite_map: np.ndarray) -> dict:
    """Fig. 3's numbers of one composite map's central emergence box (G): mean |B| and the
    mean B of its west (+x, leading) and east halves."""
    centre = composite_map[BOX_START_PX:BOX_STOP_PX, BOX_START_PX:BOX_STOP_PX]
    half = centre.shape[1] // 2
    return {"box_mean_abs_g": float(np.abs(centre).mean()),
            "box_west_mean_g": float(centre[:, half:].mean()),
            "box_east_mean_g": float(centre[:, :half].mean())}


def box_ratio(ear: dict, cr: dict) -> float:
    """Fig. 3's EAR/CR ratio of box mean |B| from the two composites' box_numbers."""
    return ear["box_mean_abs_g"] / max(cr["box_mean_abs_g"], 1e-9)
