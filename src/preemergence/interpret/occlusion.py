"""Occlusion maps (Zeiler & Fergus 2014; paper Sect. 4.6, App. D) and their recombination
over the overlapping segments of a region (Eqs. D7-D8).

Occlusion rule (paper Sect. 4.6): Y_pred is the predicted class label (1 = PE if the CNN
output y >= threshold, else 0) of the unmasked segment; Y_mask the label with one
mask_px x mask_px patch set to `fill`. The pixels under the patch get Y_pred - Y_mask, so
+1 marks input that the CNN correlates with emergence (masking it loses a PE call) and -1
input anti-correlated with emergence. With use_labels=False the continuous variant
y_pred - y_mask (probabilities) is returned instead.

Choices written down here:
- Patch positions: origins 0, stride, 2 * stride, ... along each axis, plus the last origin
  size - mask_px, so that every pixel, edges included, is covered at least once.
- A pixel covered by several patch positions gets the mean of their values (the paper
  overwrites the map patch after patch, which depends on the scan order; the mean does not).
  Every pixel is covered, so the paper's initial value Y_pred is never left in the map.
- fill is in the units of the image that predict_fn receives. For standardised input
  (B - mean) / std, fill = 0 masks with the mean field of the training set; to mask with a
  physical field B_fill (G), pass fill = (B_fill - mean) / std (B_fill = 0 G: -mean / std).
"""

from __future__ import annotations

import numpy as np

from preemergence.core.constants import REGION_SIZE_PX, SEGMENT_SIZE_PX

MASK_SIZE_PX = 25        # the paper's occlusion patch (App. D)
MASK_STRIDE_PX = 5       # our default step between patch positions (13 x 13 positions)
BATCH_SIZE = 256         # masked copies per predict_fn call


def mask_origins(size_px: int, mask_px: int = MASK_SIZE_PX,
                 stride_px: int = MASK_STRIDE_PX) -> np.ndarray:
    """Patch origins (px) along one axis: 0, stride, ... and size - mask, covering all pixels."""
    if not 0 < mask_px <= size_px:
        raise ValueError(f"mask of {mask_px} px does not fit an axis of {size_px} px")
    if not 0 < stride_px <= mask_px:
        raise ValueError(f"stride must be in 1..mask ({mask_px}) px, not {stride_px}")
    origins = np.arange(0, size_px - mask_px + 1, stride_px)
    if origins[-1] != size_px - mask_px:
        origins = np.append(origins, size_px - mask_px)
    return origins


def mask_stack(shape: tuple[int, int], mask_px: int = MASK_SIZE_PX,
               stride_px: int = MASK_STRIDE_PX) -> np.ndarray:
    """Boolean (n_positions, height, width) stack: True under the patch at each position."""
    height, width = shape
    rows = _axis_masks(height, mask_origins(height, mask_px, stride_px), mask_px)
    cols = _axis_masks(width, mask_origins(width, mask_px, stride_px), mask_px)
    stack = rows[:, None, :, None] & cols[None, :, None, :]
    return stack.reshape(-1, height, width)


def _axis_masks(size_px: int, origins: np.ndarray, mask_px: int) -> np.ndarray:
    """(n_origins, size_px) booleans: pixel i is in [origin, origin + mask_px)."""
    i = np.arange(size_px)[None, :]
    return (i >= origins[:, None]) & (i < origins[:, None] + mask_px)


def predict_batched(predict_fn, images: np.ndarray, batch_size: int = BATCH_SIZE
                    ) -> np.ndarray:
    """predict_fn over images in chunks of batch_size; flat float array of outputs (n,)."""
    chunks = [np.asarray(predict_fn(images[i:i + batch_size]), dtype=float).reshape(-1)
              for i in range(0, len(images), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def occlusion_map(predict_fn, image, mask_px: int = MASK_SIZE_PX,
                  stride_px: int = MASK_STRIDE_PX, fill: float = 0.0,
                  use_labels: bool = True, batch_size: int = BATCH_SIZE, *,
                  threshold: float) -> np.ndarray:
    """Occlusion map of one segment, a (height, width) array in [-1, 1].

    predict_fn: maps a batch shaped (n, *image.shape) -- e.g. (n, 85, 85) or (n, 85, 85, 1)
    -- to CNN outputs y in [0, 1], shape (n,) or (n, 1). image: (height, width) or
    (height, width, 1), in the units predict_fn expects (see the module note on fill).
    Returns per pixel the mean over the patch positions covering it of Y_pred - Y_mask
    (labels at `threshold`; use_labels=False: y_pred - y_mask, probabilities).
    """
    image = np.asarray(image)
    masks = mask_stack(image.shape[:2], mask_px, stride_px)
    batch_masks = masks.reshape(masks.shape + (1,) * (image.ndim - 2))
    reference = predict_batched(predict_fn, image[None], batch_size)[0]
    masked = np.where(batch_masks, np.asarray(fill, dtype=image.dtype), image[None])
    outputs = predict_batched(predict_fn, masked, batch_size)
    if use_labels:
        reference = float(reference >= threshold)
        outputs = (outputs >= threshold).astype(float)
    deltas = reference - outputs
    return np.tensordot(deltas, masks, axes=1) / masks.sum(axis=0)


def recombine(values_per_segment, origins, region_shape: tuple[int, int] = (
        REGION_SIZE_PX, REGION_SIZE_PX), size: int = SEGMENT_SIZE_PX
              ) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. D7-D8: average per region pixel over the C_ij segments that contain it.

    values_per_segment: (n,) scalars -- e.g. each segment's CNN output y_k, spread over its
    size x size footprint (Eq. D7) -- or (n, size, size) maps such as occlusion maps
    (Eq. D8). origins: (n, 2) segment origins (x0, y0) in px; a segment covers
    map[y0:y0 + size, x0:x0 + size]. Returns (mean map, count map C); pixels in no segment
    are NaN in the mean map and 0 in C.
    """
    values = np.asarray(values_per_segment, dtype=float)
    origins = np.asarray(origins, dtype=np.intp).reshape(-1, 2)
    if values.ndim == 1:
        values = np.broadcast_to(values[:, None, None], (len(values), size, size))
    if values.shape != (len(origins), size, size):
        raise ValueError(f"values shape {values.shape} does not match {len(origins)} "
                         f"segments of {size} x {size} px")
    height, width = region_shape
    x0, y0 = origins[:, 0], origins[:, 1]
    if len(origins) and (min(x0.min(), y0.min()) < 0 or x0.max() > width - size
                         or y0.max() > height - size):
        raise ValueError("a segment lies outside the region")
    total = np.zeros(region_shape)
    counts = np.zeros(region_shape, dtype=np.int64)
    rows = y0[:, None, None] + np.arange(size)[None, :, None]
    cols = x0[:, None, None] + np.arange(size)[None, None, :]
    np.add.at(total, (rows, cols), values)
    np.add.at(counts, (rows, cols), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, total / counts, np.nan)
    return mean, counts
