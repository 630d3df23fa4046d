"""Window geometry: PE/NE admissible origins, evaluation tiles, box containment.

A window (segment) is identified by the origin (x0, y0) of its first pixel; it covers
columns [x0, x0 + 85) and rows [y0, y0 + 85) of a 256 x 256 region map.
"""

import numpy as np

from preemergence.core.constants import (BOX_START_PX, BOX_STOP_PX, REGION_SIZE_PX, SEGMENT_SIZE_PX,
                        TILE_ORIGINS_PX)

MAX_ORIGIN_PX = REGION_SIZE_PX - SEGMENT_SIZE_PX  # 171: last origin that keeps the window inside


def contains_box(x0, y0):
    """True where the window starting at (x0, y0) fully contains the emergence box."""
    x0, y0 = np.asarray(x0), np.asarray(y0)
    return _covers(x0) & _covers(y0)


def overlaps_box(x0, y0):
    """True where the window starting at (x0, y0) shares at least one pixel with the box."""
    x0, y0 = np.asarray(x0), np.asarray(y0)
    return _overlaps(x0) & _overlaps(y0)


def inside_region(x0, y0):
    """True where the window lies entirely inside the region map."""
    x0, y0 = np.asarray(x0), np.asarray(y0)
    return (x0 >= 0) & (y0 >= 0) & (x0 <= MAX_ORIGIN_PX) & (y0 <= MAX_ORIGIN_PX)


def _covers(origin):
    return (origin <= BOX_START_PX) & (origin + SEGMENT_SIZE_PX >= BOX_STOP_PX)


def _overlaps(origin):
    return (origin < BOX_STOP_PX) & (origin + SEGMENT_SIZE_PX > BOX_START_PX)


def pe_origins():
    """All (x0, y0) origins of PE windows (fully containing the box): x0, y0 in [64, 107]."""
    return _admissible(lambda x, y: contains_box(x, y))


def ear_ne_origins():
    """All origins of EAR NE windows: inside the map and not overlapping the box."""
    return _admissible(lambda x, y: ~overlaps_box(x, y))


def cr_ne_origins():
    """All origins of CR NE windows: anywhere inside the map."""
    return _admissible(lambda x, y: np.ones_like(x, dtype=bool))


def _admissible(predicate):
    ys, xs = np.mgrid[0:MAX_ORIGIN_PX + 1, 0:MAX_ORIGIN_PX + 1]
    keep = predicate(xs, ys)
    return np.column_stack([xs[keep], ys[keep]])


def tile_origins():
    """The 9 non-overlapping evaluation-tile origins (x0, y0), row-major."""
    return np.array([(x, y) for y in TILE_ORIGINS_PX for x in TILE_ORIGINS_PX])
