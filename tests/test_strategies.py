"""Strategies for big photos: choosing, crop windows, resize + CRA wiring, and the contracts
(outside pixels unchanged, rect, flow, timings, progress, cancel)."""

import math

import cv2
import numpy as np
import pytest
import torch

from app.engine.inference import strategies
from app.engine.inference.cra import plan_grid
from app.engine.inference.network_call import NetworkOutput
from app.engine.inference.pipeline import Inpainter
from app.engine.inference.strategies import (
    MAX_WINDOWS,
    choose_strategy,
    crop_size,
    hole_regions,
    plan_windows,
    run_crop,
    run_resize,
    texture_scale,
)
from app.engine.types import Cancelled, InpaintOptions, InpaintRequest

from .test_cra import PERIOD, detail, psnr, texture
from .tiny import tiny_model

AUTO = InpaintOptions()


def noise_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def disk(shape, centre, radius) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    return mask.astype(bool)


class Recorder:
    """Wraps an Inpainter and records the size of every network call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[tuple[int, int], bool]] = []

    def infer(self, image, mask, sketch=None, **kwargs):
        self.calls.append((mask.shape, sketch is not None))
        return self.inner.infer(image, mask, sketch, **kwargs)


@pytest.fixture(scope="module")
def tiny():
    return Inpainter(tiny_model(), "cpu")


class PerfectNetwork:
    """Stands in for the network: its fill is the photo's own (box-averaged) content, and every
    cell attends to the nearest hole-free cell a whole texture period away, the correct match."""

    def __init__(self, period_cells: int):
        self.step = period_cells
        self.calls: list[tuple[int, int]] = []

    def infer(self, image, mask, sketch=None, *, bf16=False, attention=True, cancel=None):
        h, w = mask.shape
        assert h % 8 == 0 and w % 8 == 0  # the resize path hands over whole cells
        self.calls.append((h, w))
        rows, cols, step = h // 8, w // 8, self.step
        cells = mask.reshape(rows, 8, cols, 8).any(axis=(1, 3))
        near = cv2.dilate(cells.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        near[:2], near[-2:], near[:, :2], near[:, -2:] = True, True, True, True
        ky, kx = np.nonzero(~near)
        att = torch.zeros(rows * cols, rows, cols)
        offsets = np.zeros((2, rows, cols), np.int64)
        for r in range(rows):
            for c in range(cols):
                ok = ((ky - r) % step == 0) & ((kx - c) % step == 0)
                if ok.any():
                    i = int(np.argmin((ky[ok] - r) ** 2 + (kx[ok] - c) ** 2))
                    att[ky[ok][i] * cols + kx[ok][i], r, c] = 1.0
                    offsets[:, r, c] = ky[ok][i] - r, kx[ok][i] - c
        return NetworkOutput(image.copy(), att, offsets, (rows, cols), (h, w))


# ------------------------------------------------------------------------------ choosing


def test_small_photos_run_whole_and_explicit_choices_are_kept():
    mask = disk((400, 500), (200, 200), 50)
    assert choose_strategy((400, 500, 3), mask, AUTO) == "full"
    for name in ("crop", "resize", "full"):
        assert choose_strategy((400, 500, 3), mask, InpaintOptions(strategy=name)) == name


@pytest.mark.parametrize(
    "long_side, scale", [(512, 1), (1024, 1), (1500, 1), (1600, 2), (4000, 4), (6000, 6), (7680, 8)]
)
def test_texture_scale_brings_photos_near_the_training_size(long_side, scale):
    assert texture_scale((long_side * 2 // 3, long_side)) == scale
    assert texture_scale((long_side, long_side // 2, 3)) == scale


def test_a_photo_near_the_training_size_gets_native_windows():
    mask = disk((900, 1200), (300, 300), 60)
    (win,) = plan_windows(mask)
    assert win.native
    # The minimum context (256 px, +1 for the odd-sized disk), at full size.
    assert max(win.x1 - win.x0, win.y1 - win.y0) in (256, 257)


def test_a_large_hole_on_a_768px_photo_runs_natively():
    """Not downscaled to the crop size and upscaled again: the window runs at native size."""
    mask = disk((600, 768), (380, 300), 200)
    (win,) = plan_windows(mask)
    assert win.native and max(win.x1 - win.x0, win.y1 - win.y0) == 768
    assert choose_strategy((600, 768, 3), mask, AUTO) == "crop"


@pytest.mark.parametrize("shape, radius", [((768, 1024), 260), ((1100, 1500), 450)])
def test_a_window_larger_than_native_size_is_downscaled(shape, radius):
    """Beyond 1.5x the working size a native fill of a large hole was worse, and slower."""
    mask = disk(shape, (shape[1] // 2, shape[0] // 2), radius)
    (win,) = plan_windows(mask)
    assert win.scale >= 2
    assert max(win.x1 - win.x0, win.y1 - win.y0) <= crop_size(512) * win.scale


@pytest.mark.parametrize("radius", [20, 80, 140])
def test_small_object_on_a_24mp_photo_is_cropped_at_the_texture_scale(radius):
    mask = disk((4000, 6000), (4100, 1500), radius)
    assert choose_strategy((4000, 6000, 3), mask, AUTO) == "crop"
    (win,) = plan_windows(mask)
    assert win.scale == 6
    side = max(win.x1 - win.x0, win.y1 - win.y0)
    # At least half the working size of context in network pixels, within the crop size.
    assert 256 * 6 <= side <= crop_size(512) * 6
    assert win.x0 < 4100 - radius and win.x1 > 4100 + radius


def test_a_huge_object_gets_more_context_and_a_larger_downscale():
    mask = disk((4000, 6000), (3000, 2000), 700)  # 1400 px: 2x it would not fit at scale 6
    (win,) = plan_windows(mask)
    assert win.scale > 6
    assert win.x1 - win.x0 >= 3 * 1400 - 2 and win.y1 - win.y0 == 4000  # margin = size
    assert max(win.x1 - win.x0, win.y1 - win.y0) <= crop_size(512) * win.scale


def test_big_hole_on_an_8k_frame_goes_through_resize():
    mask = np.zeros((4320, 7680), bool)
    cv2.ellipse(mask.view(np.uint8), (3800, 2100), (1300, 800), 0, 0, 360, 1, -1)
    assert 0.09 < mask.mean() < 0.11
    assert choose_strategy(mask.shape + (3,), mask, AUTO) == "resize"


def test_medium_object_gets_a_tight_window_at_the_texture_scale():
    mask = disk((4000, 6000), (1200, 1000), 400)  # an 800 px object
    (win,) = plan_windows(mask)
    assert win.scale == 6
    assert win.x1 - win.x0 == 801 + 2 * 401  # margin = half the size
    assert choose_strategy((4000, 6000, 3), mask, AUTO) == "crop"


# ------------------------------------------------------------------------------ windows


def covers(windows, mask) -> bool:
    covered = np.zeros_like(mask)
    for win in windows:
        covered[win.slices] = True
    return not (mask & ~covered).any()


def test_far_regions_get_their_own_disjoint_windows_and_close_ones_merge():
    shape = (3000, 4000)
    mask = disk(shape, (500, 500), 40) | disk(shape, (3300, 2400), 30)
    windows = plan_windows(mask)
    assert len(windows) == 2 and all(w.scale == 4 for w in windows)
    assert covers(windows, mask)
    a, b = windows
    assert a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0

    close = disk(shape, (500, 500), 40) | disk(shape, (620, 520), 30)
    merged = plan_windows(close)
    assert len(merged) == 1 and covers(merged, close)


def test_windows_at_the_border_stay_inside_and_keep_their_context():
    shape = (2000, 3000)
    mask = np.zeros(shape, bool)
    mask[0:60, 2950:3000] = True  # the top-right corner
    (win,) = plan_windows(mask)
    assert win.x1 == 3000 and win.y0 == 0
    # 256 network pixels at scale 3; shifted, not cut.
    assert (win.x1 - win.x0, win.y1 - win.y0) == (50 + 2 * 354, 60 + 2 * 354)


def test_many_specks_are_covered_by_a_bounded_number_of_windows():
    rng = np.random.default_rng(2)
    mask = np.zeros((3000, 4000), bool)
    mask[rng.integers(0, 3000, 600), rng.integers(0, 4000, 600)] = True
    windows = plan_windows(mask)
    assert 1 <= len(windows) <= MAX_WINDOWS
    assert covers(windows, mask)
    for i, a in enumerate(windows):
        for b in windows[i + 1 :]:
            assert a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0


def test_regions_are_labelled_with_tight_boxes():
    mask = np.zeros((5000, 7000), bool)  # large enough for pooled labelling
    mask[100:110, 200:207] = True
    mask[4000:4300, 6000:6990] = True
    boxes = sorted(hole_regions(mask))
    assert boxes == [(200, 100, 207, 110), (6000, 4000, 6990, 4300)]


# ------------------------------------------------------------------------------ filling


def test_crop_fills_each_region_in_its_own_window_and_keeps_everything_else(tiny):
    h, w = 1201, 1803
    image = noise_photo(h, w)
    mask = disk((h, w), (300, 300), 60)
    mask[h // 2, w // 2] = True  # one pixel
    mask[h - 40 : h, w - 70 : w] = True  # the bottom-right corner
    net = Recorder(tiny)
    result = run_crop(net, InpaintRequest(image, mask))
    assert result.strategy == "crop"
    assert len(net.calls) == 3
    assert all(max(shape) <= crop_size(512) for shape, _ in net.calls)
    assert np.array_equal(result.image[~mask], image[~mask])
    changed = (result.image != image).any(axis=2)
    assert changed.sum() > 0.9 * mask.sum()
    x, y, rw, rh = result.rect
    assert changed[y : y + rh, x : x + rw].sum() == changed.sum()
    assert result.flow is not None and result.flow.shape == image.shape
    assert not result.flow[~mask].any()
    assert result.timings["network"] > 0


def test_crop_sends_a_large_region_through_resize_in_its_window(tiny):
    h, w = 1500, 4000
    image = noise_photo(h, w, seed=1)
    mask = disk((h, w), (900, 700), 300)  # 600 px: too big to run natively
    net = Recorder(tiny)
    result = run_crop(net, InpaintRequest(image, mask))
    ((shape, _),) = net.calls
    assert max(shape) <= crop_size(512) and shape[0] % 8 == 0 and shape[1] % 8 == 0
    assert np.array_equal(result.image[~mask], image[~mask])
    assert "cra" in result.timings


def test_a_large_hole_on_a_768px_photo_is_filled_at_native_size(tiny):
    h, w = 600, 768
    image = noise_photo(h, w, seed=3)
    mask = disk((h, w), (380, 300), 200)
    net = Recorder(tiny)
    result = run_crop(net, InpaintRequest(image, mask))
    ((shape, _),) = net.calls
    assert max(shape) > crop_size(512)  # the whole window, not a downscaled copy
    assert result.native and "cra" not in result.timings
    assert np.array_equal(result.image[~mask], image[~mask])
    big = InpaintRequest(noise_photo(1500, 4000, seed=1), disk((1500, 4000), (900, 700), 300))
    assert not run_crop(tiny, big).native


@pytest.mark.parametrize("size", [(1001, 1503), (1503, 1001)])
def test_resize_keeps_the_aspect_ratio_and_the_outside_pixels(tiny, size):
    h, w = size
    image = noise_photo(h, w, seed=2)
    mask = disk((h, w), (w // 2, h // 2), 150)
    mask[0:30, 0:30] = True
    sketch = np.zeros((h, w), bool)
    sketch[h // 2, :] = True
    net = Recorder(tiny)
    result = run_resize(net, InpaintRequest(image, mask, sketch))
    ((shape, with_sketch),) = net.calls
    scale = math.ceil(max(h, w) / 512)
    assert shape == (8 * math.ceil(h / (8 * scale)), 8 * math.ceil(w / (8 * scale)))
    assert with_sketch
    assert np.array_equal(result.image[~mask], image[~mask])
    assert (result.image[mask] != image[mask]).any()
    assert result.strategy == "resize" and result.flow is not None


def test_resize_brings_back_full_resolution_detail_through_cra():
    """With a network that fills perfectly at low resolution and attends to the right cells,
    the full-resolution hole is nearly the photo itself; without CRA it is only a blur."""
    h, w = 1500, 2000
    image = texture(h, w)
    grid = plan_grid(h, w)  # s = 4: cells of 32 px, the texture repeats every 3 cells
    mask = np.zeros((h, w), bool)
    cv2.ellipse(mask.view(np.uint8), (1100, 700), (300, 200), 0, 0, 360, 1, -1)
    net = PerfectNetwork(period_cells=PERIOD // grid.cell)
    with_cra = run_resize(net, InpaintRequest(image, mask))
    plain = run_resize(net, InpaintRequest(image, mask, options=InpaintOptions(cra=False)))
    assert net.calls == [grid.net_size, grid.net_size]
    assert psnr(with_cra.image[mask], image[mask]) > psnr(plain.image[mask], image[mask]) + 10
    assert detail(with_cra.image, mask) > 0.7 * detail(image, mask)
    assert detail(plain.image, mask) < 0.3 * detail(image, mask)
    assert with_cra.flow is not None and with_cra.flow[mask].any()


def test_small_object_on_a_24mp_photo_costs_one_small_network_call(tiny):
    h, w = 4000, 6000
    image = noise_photo(h, w, seed=3)
    mask = disk((h, w), (5000, 900), 100)
    inpainter = Inpainter(tiny_model(), "cpu")
    calls = []
    original = inpainter.infer
    inpainter.infer = lambda *a, **k: calls.append(a[1].shape) or original(*a, **k)
    result = inpainter.run(InpaintRequest(image, mask))
    assert result.strategy == "crop"
    assert len(calls) == 1 and max(calls[0]) <= crop_size(512)
    assert np.array_equal(result.image[~mask], image[~mask])
    x, y, rw, rh = result.rect
    assert x >= 4890 and x + rw <= 5110 and y >= 790 and y + rh <= 1010


def test_progress_rises_and_cancel_stops(tiny):
    image = noise_photo(900, 1400, seed=4)
    mask = disk((900, 1400), (700, 450), 200)
    seen = []
    run_resize(tiny, InpaintRequest(image, mask), progress=lambda f, s: seen.append(f))
    assert seen == sorted(seen) and len(seen) >= 4 and seen[-1] <= 1.0

    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        run_resize(tiny, InpaintRequest(image, mask), cancel=cancel)
    with pytest.raises(Cancelled):
        run_crop(tiny, InpaintRequest(image, mask), cancel=lambda: True)


def test_the_pipeline_dispatches_to_the_strategies(tiny, monkeypatch):
    image = noise_photo(700, 1300, seed=5)
    mask = disk((700, 1300), (300, 300), 40)
    used = []
    monkeypatch.setattr(
        strategies, "run_crop", lambda *a, **k: used.append("crop") or run_crop(*a, **k)
    )
    result = tiny.run(InpaintRequest(image, mask))
    assert used == ["crop"] and result.strategy == "crop"
    result = tiny.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="resize")))
    assert result.strategy == "resize"
    assert np.array_equal(result.image[~mask], image[~mask])
