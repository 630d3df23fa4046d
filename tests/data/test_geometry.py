"""Window geometry: PE windows contain the emergence box, EAR NE windows miss it."""

import numpy as np

from preemergence.data import geometry
from preemergence.core.constants import BOX_START_PX, BOX_STOP_PX, SEGMENT_SIZE_PX


def _window_mask(x0, y0):
    mask = np.zeros((256, 256), bool)
    mask[y0:y0 + SEGMENT_SIZE_PX, x0:x0 + SEGMENT_SIZE_PX] = True
    return mask


BOX = np.zeros((256, 256), bool)
BOX[BOX_START_PX:BOX_STOP_PX, BOX_START_PX:BOX_STOP_PX] = True


def test_box_is_central_42_pixels():
    # SCIENCE.md: index range [107, 149), centred on pixel 127.5 -> 42 pixels per axis
    assert BOX.sum() == 42 * 42
    rows = np.flatnonzero(BOX.any(1))
    assert rows.mean() == 127.5


def test_pe_origins_are_exactly_the_windows_containing_the_box():
    pe = geometry.pe_origins()
    assert pe.min() == 64 and pe.max() == 107 and len(pe) == 44 * 44
    for x0, y0 in pe[::97]:
        assert (BOX & _window_mask(x0, y0)).sum() == BOX.sum()
    # one step outside the admissible range loses part of the box
    assert (BOX & _window_mask(63, 80)).sum() < BOX.sum()
    assert (BOX & _window_mask(108, 80)).sum() < BOX.sum()


def test_ear_ne_origins_never_touch_the_box():
    ne = geometry.ear_ne_origins()
    for x0, y0 in ne[::53]:
        assert not (BOX & _window_mask(x0, y0)).any()
        assert geometry.inside_region(x0, y0)
    # every window that misses the box is admissible (brute force over a coarse grid)
    admissible = {tuple(o) for o in ne}
    for x0 in range(0, 172, 7):
        for y0 in range(0, 172, 7):
            misses = not (BOX & _window_mask(x0, y0)).any()
            assert ((x0, y0) in admissible) == misses


def test_tiles_one_central_pe_eight_ne():
    tiles = geometry.tile_origins()
    assert len(tiles) == 9
    inside = geometry.contains_box(tiles[:, 0], tiles[:, 1])
    assert inside.sum() == 1 and tuple(tiles[inside][0]) == (85, 85)
    assert geometry.overlaps_box(tiles[:, 0], tiles[:, 1]).sum() == 1
    union = sum(_window_mask(x, y).astype(int) for x, y in tiles)
    assert union.max() == 1  # non-overlapping
