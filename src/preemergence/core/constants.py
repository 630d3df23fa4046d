"""Physical constants and the fixed geometry of regions and segments (one place for all).

Conventions: a map is indexed ``map[y, x]`` (row = y = latitude direction, column = x =
longitude direction, west to the right), matching FITS NAXIS1 = x. Pixel (i, j) spans
[i, i+1) in pixel units; its centre is at i + 0.5.
"""

REGION_SIZE_PX = 256          # region maps are 256 x 256 pixels (30 deg x 30 deg)
PIXEL_SCALE_MM = 1.4          # Mm per pixel
SEGMENT_SIZE_PX = 85          # segments are 85 x 85 pixels (about 10 deg x 10 deg)
BOX_START_PX = 107            # emergence box: pixel index range [107, 149) on each axis
BOX_STOP_PX = 149             # 42 pixels (~5 deg), centred on pixel 127.5 (SCIENCE.md says 43;
                              # its range and centre, which we follow, give 42)
TILE_ORIGINS_PX = (0, 85, 170)  # evaluation tiles: x0, y0 in this set (9 per region)

CM_PER_MM = 1.0e8             # 1 Mm = 1e8 cm
PIXEL_AREA_CM2 = (PIXEL_SCALE_MM * CM_PER_MM) ** 2   # 1.96e16 cm^2 per pixel
MTOT_MAX_MX = 1.0e23          # physical upper bound on a segment's unsigned flux (Mx)

SOLAR_RADIUS_MM = 695.7       # IAU nominal solar radius (Mm), 1 heliographic deg = 12.14 Mm
SYNODIC_RATE_DEG_PER_DAY = 13.20  # Carrington rotation seen from Earth (14.18 - 0.99 deg/day)

# Time bins (h relative to emergence): 410-min averages spaced 320 min (Schunker et al. 2016).
TIME_BINS_H = (-3.2, -8.5, -13.9, -19.2, -24.5)
AVERAGING_WINDOW_MIN = 410.25
KINDS = ("EAR", "CR")


TIME_BIN_TOLERANCE_H = 0.05   # a map's time matches a time bin within this (h)


def time_bin_label(time_h: float) -> str:
    """File-name label of a time bin, e.g. -3.2 -> 't-3.2h'."""
    return f"t{time_h:+.1f}h".replace("+", "")


def sortable_time_label(time_h: float) -> str:
    """A time bin's label that sorts by time (the DVC metrics' keys): -3.2 -> 't-03.2h',
    before 't-08.5h' and 't-13.9h' (time_bin_label's 't-3.2h' sorts after 't-24.5h')."""
    return f"t-{abs(time_h):04.1f}h" if time_h < 0 else f"t+{time_h:04.1f}h"


def time_from_label(label: str) -> float:
    """Inverse of time_bin_label: 't-3.2h' -> -3.2 (h)."""
    return float(label[1:-1])
