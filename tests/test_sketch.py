"""User-like training sketches (`sketch.user_sketch`): strokes inside the hole only, 1-4 px wide,
along the true edges within the allowed offset, partial, preferring the long strong lines;
deterministic per seed; empty without edges. And the per-sample style choice."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.training.masks import training_mask
from app.engine.training.sketch import (
    edge_map,
    edges_and_strength,
    training_sketch,
    user_sketch,
)

SAMPLE = Path(__file__).resolve().parents[1] / "app" / "resources" / "sample" / "picos.jpg"


def _photo() -> np.ndarray:
    bgr = cv2.imread(str(SAMPLE))
    return np.ascontiguousarray(cv2.resize(bgr, (320, 240), interpolation=cv2.INTER_AREA)[..., ::-1])


def _step(h: int = 96, w: int = 128, row: int = 48) -> np.ndarray:
    """A horizontal edge across the whole image: dark above `row`, light below."""
    image = np.full((h, w, 3), 40, np.uint8)
    image[row:] = 210
    return image


def _box_hole(h: int = 96, w: int = 128) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[20:76, 24:104] = True
    return mask


def _distance_to_edges(image: np.ndarray) -> np.ndarray:
    edges, _ = edges_and_strength(image)
    return cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 5)


def test_strokes_lie_inside_the_hole_and_near_the_true_edges():
    photo = _photo()
    distance = _distance_to_edges(photo)
    drawn = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        mask = training_mask(*photo.shape[:2], rng)
        sketch = user_sketch(photo, mask, rng)
        assert sketch.shape == mask.shape and sketch.dtype == bool
        assert not (sketch & ~mask).any()
        if sketch.any():
            drawn += 1
            # At most 2 px off the line, plus half of a 4 px brush.
            assert distance[sketch].max() <= 2.0 + 4 / 2 + 0.5
    assert drawn >= 30


def test_without_offset_a_one_pixel_stroke_is_part_of_the_edge_itself():
    photo = _photo()
    edges = edge_map(photo)
    moved = 0
    for seed in range(20):
        mask = training_mask(*photo.shape[:2], np.random.default_rng(seed))
        exact = user_sketch(photo, mask, np.random.default_rng(seed), widths=(1, 1), max_offset=0)
        assert not (exact & ~(edges & mask)).any()
        shifted = user_sketch(photo, mask, np.random.default_rng(seed), widths=(1, 1))
        moved += int((shifted & ~edges).any())
    assert moved >= 10  # the default offset does move strokes off the line


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_a_stroke_is_as_wide_as_the_brush(width):
    image, mask = _step(), _box_hole()
    sketch = user_sketch(image, mask, np.random.default_rng(0), widths=(width, width), max_offset=0)
    columns = sketch.sum(axis=0)
    drawn = columns[columns > 0]
    assert len(drawn) > 20
    assert drawn.max() == width and np.median(drawn) == width


def test_default_brushes_are_one_to_four_pixels_and_vary():
    image, mask = _step(), _box_hole()
    seen = set()
    for seed in range(40):
        columns = user_sketch(image, mask, np.random.default_rng(seed)).sum(axis=0)
        drawn = columns[columns > 0]
        assert drawn.max() <= 4 + 1  # where the wobbling line steps, a column holds one more
        seen.add(int(np.median(drawn)))
    assert seen == {1, 2, 3, 4}


def test_a_stroke_keeps_a_contiguous_part_of_the_line():
    image, mask = _step(), _box_hole()
    inside = int((edge_map(image) & mask).sum())  # the edge runs through the whole hole
    lengths = []
    for seed in range(20):
        sketch = user_sketch(image, mask, np.random.default_rng(seed), widths=(1, 1),
                             keep=(0.5, 0.5), max_offset=0)
        assert cv2.connectedComponents(sketch.astype(np.uint8), connectivity=8)[0] == 2  # one piece
        lengths.append(int(sketch.sum()))
    assert all(0.45 * inside <= n <= 0.6 * inside for n in lengths)
    full = user_sketch(image, mask, np.random.default_rng(0), widths=(1, 1), keep=(1.0, 1.0),
                       max_offset=0)
    assert full.sum() == inside


def test_long_strong_lines_are_preferred_and_strokes_are_one_to_four():
    image = np.full((128, 128, 3), 60, np.uint8)
    image[64:] = 200  # one long strong edge across the hole
    for x in range(20, 110, 12):  # short faint ticks
        image[20:26, x : x + 3] = 95
    mask = np.zeros((128, 128), bool)
    mask[10:110, 10:118] = True
    edges = edge_map(image)
    long_edge = edges & mask
    long_edge[:50] = False
    single = [user_sketch(image, mask, np.random.default_rng(s), strokes=(1, 1), max_offset=0,
                          widths=(1, 1)) for s in range(30)]
    on_long = sum(bool((s & long_edge).any()) for s in single)
    assert on_long >= 27
    counts = []
    for seed in range(60):
        sketch = user_sketch(image, mask, np.random.default_rng(seed), max_offset=0, widths=(1, 1))
        counts.append(cv2.connectedComponents(sketch.astype(np.uint8), connectivity=8)[0] - 1)
    assert min(counts) == 1 and max(counts) <= 4 and len(set(counts)) >= 3


def test_deterministic_per_seed_and_varied_across_seeds():
    photo = _photo()
    mask = training_mask(*photo.shape[:2], np.random.default_rng(7))
    a = user_sketch(photo, mask, np.random.default_rng(3))
    b = user_sketch(photo, mask, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.any()
    others = [user_sketch(photo, mask, np.random.default_rng(s)) for s in range(4, 8)]
    assert any(not np.array_equal(a, o) for o in others)


def test_empty_without_edges_in_the_hole():
    mask = _box_hole()
    flat = np.full((96, 128, 3), 128, np.uint8)
    assert not user_sketch(flat, mask, np.random.default_rng(0)).any()
    # Edges outside the hole only: nothing to draw either.
    image = _step(row=90)
    assert edge_map(image).any() and not (edge_map(image) & mask).any()
    assert not user_sketch(image, mask, np.random.default_rng(0)).any()


def test_training_sketch_styles():
    photo = _photo()
    mask = training_mask(*photo.shape[:2], np.random.default_rng(2))
    edges = edge_map(photo, 2)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    # "canny" is the old sketch and draws nothing from the generator (old runs replay exactly).
    assert np.array_equal(training_sketch(photo, mask, rng, "canny", edges), edges & mask)
    assert rng.bit_generator.state == state
    found = edges_and_strength(photo)
    user = training_sketch(photo, mask, np.random.default_rng(1), "user", edges, found)
    assert np.array_equal(user, user_sketch(photo, mask, np.random.default_rng(1)))
    kinds = {
        np.array_equal(training_sketch(photo, mask, np.random.default_rng(s), "mix", edges),
                       edges & mask)
        for s in range(12)
    }
    assert kinds == {True, False}
    with pytest.raises(ValueError, match="sketch style"):
        training_sketch(photo, mask, rng, "hed", edges)
