"""Occlusion maps on toy models with a known sensitive block; recombination (Eqs. D7-D8)."""

import numpy as np
import pytest

from preemergence.interpret.occlusion import mask_origins, mask_stack, occlusion_map, recombine

SIZE = 85
MASK = 25
BLOCK = (slice(30, 36), slice(50, 58))      # rows (y), columns (x) the toy model looks at


def block_model(image_batch):
    """y = 1 when every pixel of BLOCK is 1, else 0.2 (PE only with the block intact)."""
    x = np.asarray(image_batch).reshape(len(image_batch), SIZE, SIZE)
    return np.where(x[:, BLOCK[0], BLOCK[1]].min(axis=(1, 2)) == 1.0, 0.9, 0.2)


def anti_block_model(image_batch):
    return 1.0 - block_model(image_batch)


def block_image():
    img = np.zeros((SIZE, SIZE))
    img[BLOCK] = 1.0
    return img


def expected_map(stride, weight_fn):
    """Brute force: per pixel, the mean over patch positions covering it of weight_fn(patch)."""
    origins = mask_origins(SIZE, MASK, stride)
    total, count = np.zeros((SIZE, SIZE)), np.zeros((SIZE, SIZE))
    for y0 in origins:
        for x0 in origins:
            patch = (slice(y0, y0 + MASK), slice(x0, x0 + MASK))
            total[patch] += weight_fn(y0, x0)
            count[patch] += 1
    return total / count


def overlaps_block(y0, x0):
    return float(y0 < BLOCK[0].stop and y0 + MASK > BLOCK[0].start
                 and x0 < BLOCK[1].stop and x0 + MASK > BLOCK[1].start)


def reach():
    """Pixels within one mask size of the block: the only ones a patch over it can touch."""
    near = np.zeros((SIZE, SIZE), bool)
    near[max(BLOCK[0].start - MASK + 1, 0):BLOCK[0].stop + MASK - 1,
         max(BLOCK[1].start - MASK + 1, 0):BLOCK[1].stop + MASK - 1] = True
    return near


def test_mask_origins_cover_every_pixel_including_edges():
    for size, mask, stride in ((85, 25, 5), (85, 25, 7), (85, 25, 25), (30, 25, 4)):
        origins = mask_origins(size, mask, stride)
        assert origins[0] == 0 and origins[-1] == size - mask
        assert np.all(np.diff(origins) <= stride)
        assert mask_stack((size, size), mask, stride).sum(axis=0).min() >= 1
    assert len(mask_origins(85, 25, 5)) == 13
    with pytest.raises(ValueError):
        mask_origins(85, 25, 26)


@pytest.mark.parametrize("stride", [5, 8])
def test_occlusion_highlights_exactly_the_block(stride):
    occ = occlusion_map(block_model, block_image(), mask_px=MASK, stride_px=stride,
                        threshold=0.5)
    assert occ.shape == (SIZE, SIZE)
    np.testing.assert_allclose(occ, expected_map(stride, overlaps_block), atol=1e-12)
    assert np.all(occ[BLOCK] == 1.0)              # every patch over the block kills the PE call
    assert np.all(occ >= 0)                       # positive: correlated with emergence
    assert not occ[~reach()].any()                # zero wherever no patch can touch the block
    assert np.all((occ > 0) == (expected_map(stride, overlaps_block) > 0))


def test_occlusion_sign_for_anticorrelated_input():
    occ = occlusion_map(anti_block_model, block_image(), mask_px=MASK, stride_px=5,
                        threshold=0.5)
    np.testing.assert_allclose(occ, -expected_map(5, overlaps_block), atol=1e-12)
    assert np.all(occ[BLOCK] == -1.0)


def test_channel_axis_batches_and_fill():
    """(85, 85, 1) images, chunked batches and a physical fill give the same map."""
    calls = []

    def model(batch):
        calls.append(batch.shape)
        return block_model(batch)[:, None]         # (n, 1) outputs are accepted

    img = block_image()[..., None]
    occ = occlusion_map(model, img, batch_size=50, threshold=0.5)
    assert all(shape[1:] == (SIZE, SIZE, 1) and shape[0] <= 50 for shape in calls)
    np.testing.assert_allclose(occ, expected_map(5, overlaps_block), atol=1e-12)
    # masking with the block's own value changes nothing
    assert not occlusion_map(block_model, block_image(), fill=1.0, threshold=0.5).any()


def test_continuous_variant():
    """use_labels=False: y_pred - y_mask with probabilities (the block's mean here)."""
    def mean_model(batch):
        x = np.asarray(batch).reshape(len(batch), SIZE, SIZE)
        return x[:, BLOCK[0], BLOCK[1]].mean(axis=(1, 2))

    occ = occlusion_map(mean_model, block_image(), stride_px=5, use_labels=False,
                        threshold=0.5)
    block_size = block_image().sum()

    def masked_fraction(y0, x0):
        m = np.zeros((SIZE, SIZE))
        m[y0:y0 + MASK, x0:x0 + MASK] = 1
        return (m * block_image()).sum() / block_size

    np.testing.assert_allclose(occ, expected_map(5, masked_fraction), atol=1e-12)
    assert 0 < occ[BLOCK].min() and occ.max() <= 1
    # the label variant of the same model: y_pred = 1 >= 0.5; a patch masking >= half the
    # block flips the label
    labels = occlusion_map(mean_model, block_image(), stride_px=5, threshold=0.5)
    np.testing.assert_allclose(
        labels, expected_map(5, lambda y0, x0: float(masked_fraction(y0, x0) > 0.5)),
        atol=1e-12)


def test_recombine_constant_output_is_constant_on_covered_pixels():
    origins = [(0, 0), (40, 10), (171, 171), (100, 60)]
    mean, counts = recombine(np.full(4, 0.7), origins)
    covered = counts > 0
    assert np.allclose(mean[covered], 0.7) and np.isnan(mean[~covered]).all()
    assert counts.sum() == 4 * SIZE * SIZE


def test_recombine_two_overlapping_segments():
    """Values 1 and 3 -> 2 in the overlap, 1 and 3 outside it; counts 2 in the overlap."""
    mean, counts = recombine([1.0, 3.0], [(0, 0), (40, 20)])
    assert counts[20:85, 40:85].min() == 2 and counts.max() == 2
    assert np.all(mean[20:85, 40:85] == 2.0)
    assert np.all(mean[0:20, 0:85] == 1.0) and np.all(mean[0:85, 0:40] == 1.0)
    assert np.all(mean[85:105, 40:125] == 3.0) and np.all(mean[20:105, 85:125] == 3.0)
    assert np.isnan(mean[105:, :]).all() and np.isnan(mean[:, 125:]).all()
    assert counts[105:, :].sum() == 0
    assert (counts == 1).sum() == 2 * SIZE * SIZE - 2 * 65 * 45


def test_recombine_maps_three_segments():
    """Per-pixel maps: a pixel in three segments gets the mean of the three map values."""
    maps = np.stack([np.full((SIZE, SIZE), v) for v in (0.0, 1.0, -1.0)])
    maps[1, 84, 84] = 4.0                     # region pixel (y, x) = (94, 94)
    mean, counts = recombine(maps, [(10, 10), (10, 10), (50, 60)])
    assert counts[94, 94] == 3 and mean[94, 94] == pytest.approx((0 + 4 - 1) / 3)
    assert counts[10, 10] == 2 and mean[10, 10] == pytest.approx(0.5)
    assert counts[140, 120] == 1 and mean[140, 120] == -1.0


def test_recombine_rejects_bad_input():
    with pytest.raises(ValueError):
        recombine([1.0], [(200, 0)])
    with pytest.raises(ValueError):
        recombine(np.zeros((2, 10, 10)), [(0, 0), (1, 1)])
