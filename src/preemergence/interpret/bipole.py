"""Synthetic circular bipoles that probe a trained CNN (paper Sect. 4.5, Figs. 14-17).

A synthetic bipole is two uniform discs of opposite sign, +field_g and -field_g (G), of
radius radius_mm (Mm), on a zero background, placed symmetrically about the segment centre
along x (map[y, x], x west to the right).

Separation (our choice, written down): by default the discs touch, i.e. their centres are
2 * radius_mm apart. The paper (Fig. 15 left: "circular synthetic bipole of uniform magnetic
field strength") shows two adjacent discs and quotes only the radius as the bipole's
length-scale; touching discs make the radius the only length-scale, as the paper's x-axis
("synthetic bipole scale (Mm)") implies. With touching discs the pair spans 4 * radius_mm in
x, so from radius ~ 30 Mm on (4 * 30 Mm > 85 px * 1.4 Mm = 119 Mm) the segment edge clips the
discs. Pass separation_mm for other geometries.

Discs are open sets sampled at pixel centres (a pixel belongs to a disc when its centre is at
a distance < radius_mm from the disc centre). The negative disc is the mirror image in x of
the positive one, so the two have exactly the same pixel count and the net flux is exactly
zero, also when the segment edge clips them (the segment is symmetric about its centre) and
when overlapping discs (separation_mm < 2 * radius_mm) cancel where they overlap.

The arrays are in G; a trained CNN sees standardised input (B - mean) / std, which the caller
applies (note that the zero background then becomes -mean / std).
"""

from __future__ import annotations

import numpy as np

from preemergence.core.constants import PIXEL_SCALE_MM, SEGMENT_SIZE_PX


def pixel_offsets_mm(size_px: int = SEGMENT_SIZE_PX, pixel_mm: float = PIXEL_SCALE_MM
                     ) -> np.ndarray:
    """Pixel-centre offsets (Mm) from the centre of a size_px-wide axis, symmetric about 0."""
    return (np.arange(size_px) + 0.5 - 0.5 * size_px) * pixel_mm


def disc_mask(radius_mm: float, centre_x_mm: float, size_px: int = SEGMENT_SIZE_PX,
              pixel_mm: float = PIXEL_SCALE_MM) -> np.ndarray:
    """Boolean (size_px, size_px) mask of pixels whose centre lies within radius_mm (Mm)
    of the point (centre_x_mm, 0) measured from the segment centre."""
    offsets = pixel_offsets_mm(size_px, pixel_mm)
    dx = offsets[None, :] - centre_x_mm
    dy = offsets[:, None]
    return dx * dx + dy * dy < radius_mm * radius_mm


def synthetic_bipole(radius_mm: float, field_g: float, size_px: int = SEGMENT_SIZE_PX,
                     pixel_mm: float = PIXEL_SCALE_MM, separation_mm: float | None = None,
                     positive_west: bool = True) -> np.ndarray:
    """Two uniform discs of +field_g and -field_g (G), radius radius_mm (Mm), as a
    (size_px, size_px) float map in G with exactly zero net flux.

    separation_mm: distance (Mm) between the disc centres; None means touching discs
    (2 * radius_mm). positive_west: the positive disc lies at +x (west, right), else at -x.
    radius_mm = 0 gives an all-zero map.
    """
    if radius_mm < 0:
        raise ValueError(f"radius must be >= 0 Mm, not {radius_mm}")
    separation = 2.0 * radius_mm if separation_mm is None else float(separation_mm)
    if separation < 0:
        raise ValueError(f"separation must be >= 0 Mm, not {separation}")
    if radius_mm == 0:
        return np.zeros((size_px, size_px))
    positive = disc_mask(radius_mm, 0.5 * separation, size_px, pixel_mm)
    negative = positive[:, ::-1]            # exact mirror in x: equal pixel counts
    field = field_g * (positive.astype(float) - negative.astype(float))
    return field if positive_west else field[:, ::-1].copy()


def bipole_series(radii_mm, fields_g, size_px: int = SEGMENT_SIZE_PX,
                  pixel_mm: float = PIXEL_SCALE_MM, separation_mm: float | None = None,
                  positive_west: bool = True) -> np.ndarray:
    """Bipoles for every (field, radius): array (n_fields, n_radii, size_px, size_px) in G.

    radii_mm: disc radii (Mm); fields_g: disc field strengths (G); other arguments as in
    synthetic_bipole (separation_mm None = touching discs at every radius).
    """
    radii = np.atleast_1d(np.asarray(radii_mm, dtype=float))
    fields = np.atleast_1d(np.asarray(fields_g, dtype=float))
    unit = np.stack([synthetic_bipole(r, 1.0, size_px, pixel_mm, separation_mm,
                                      positive_west) for r in radii])
    return fields[:, None, None, None] * unit[None]
