"""Mask and sketch generators: coverage ranges, shapes, determinism by seed."""

import cv2
import numpy as np
import pytest

from app.engine.training.masks import (
    blob_mask,
    box_mask,
    coverage,
    eval_mask,
    stroke_mask,
    training_mask,
)
from app.engine.training.sketch import edge_map, hole_sketch


def test_stroke_mask_is_deterministic_by_seed_and_varies_across_seeds():
    a = stroke_mask(128, 160, np.random.default_rng(3))
    b = stroke_mask(128, 160, np.random.default_rng(3))
    c = stroke_mask(128, 160, np.random.default_rng(4))
    assert a.shape == (128, 160) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.any()


def test_stroke_width_scales_with_size():
    # Same seed at 2x the size: the hole fraction stays about the same (lengths and widths scale).
    small = np.mean([coverage(stroke_mask(128, 128, np.random.default_rng(s))) for s in range(40)])
    large = np.mean([coverage(stroke_mask(512, 512, np.random.default_rng(s))) for s in range(40)])
    assert 0.5 < large / small < 2.0


@pytest.mark.parametrize("seed", range(12))
def test_eval_mask_coverage_is_in_range_and_fixed(seed):
    mask = eval_mask(340, 512, seed)
    assert 0.08 <= coverage(mask) <= 0.34
    assert np.array_equal(mask, eval_mask(340, 512, seed))


def test_box_mask_size_follows_the_official_rule():
    for seed in range(20):
        mask = box_mask(256, 256, np.random.default_rng(seed))
        ys, xs = np.nonzero(mask)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert 96 <= h <= 128 and 96 <= w <= 128
        assert mask.sum() == h * w  # one solid rectangle


def test_blob_mask_is_one_solid_region_of_bounded_area():
    for seed in range(20):
        mask = blob_mask(200, 300, np.random.default_rng(seed))
        assert 0.01 < coverage(mask) < 0.5
        count, _ = cv2.connectedComponents(mask.astype(np.uint8))
        assert count == 2  # background + one object


def test_training_masks_are_never_empty_nor_full():
    rng = np.random.default_rng(0)
    fractions = [coverage(training_mask(128, 128, rng)) for _ in range(200)]
    assert min(fractions) > 0.0 and max(fractions) < 0.9
    assert 0.1 < float(np.median(fractions)) < 0.45


def _square_image() -> np.ndarray:
    image = np.full((96, 96, 3), 40, np.uint8)
    image[24:72, 24:72] = 220
    return image


def test_edges_follow_the_outline_thinly():
    edges = edge_map(_square_image())
    assert edges.any()
    ys, xs = np.nonzero(edges)
    # Every edge pixel lies within 2 px of the square's border, none in the flat areas.
    near = (np.minimum.reduce([abs(ys - 24), abs(ys - 71), abs(xs - 24), abs(xs - 71)]) <= 2)
    assert near.all()
    # One line along each side: about 4 x 48 pixels, not a thick band.
    assert 150 < edges.sum() < 260
    assert edge_map(_square_image(), width=2).sum() > edges.sum()


def test_flat_image_has_no_edges_and_sketch_stays_inside_the_hole():
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert not edge_map(flat).any()
    image = _square_image()
    mask = np.zeros((96, 96), bool)
    mask[:, :48] = True
    sketch = hole_sketch(image, mask)
    assert sketch.any()
    assert not (sketch & ~mask).any()
    assert np.array_equal(sketch, edge_map(image) & mask)


def test_training_mask_scale_widens_the_strokes():
    def mean_coverage(scale):
        rng = np.random.default_rng(4)
        return np.mean([coverage(training_mask(128, 128, rng, scale)) for _ in range(150)])

    assert mean_coverage((1.5, 2.0)) > mean_coverage((0.5, 0.75)) + 0.05
