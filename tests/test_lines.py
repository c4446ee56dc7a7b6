"""Straight lines a hole cuts: found on both sides, continued across (app/engine/inference/lines.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.engine.inference import texture
from app.engine.inference.lines import Line, LineOptions, carry_along, continued_lines
from app.engine.inference.texture import TextureOptions, synthesize

H, W = 160, 240


def shore(slope: float = 0.05, step: float = 0.0, dark_right: int = 60) -> np.ndarray:
    """Light sky above a 3-px dark line, mid-grey water below, with mild noise; on the right
    half the line may sit `step` px lower and have another darkness."""
    rng = np.random.default_rng(3)
    y = np.arange(H)[:, None].astype(np.float32)
    x = np.arange(W)[None, :].astype(np.float32)
    centre = 70 + slope * (x - W / 2) + np.where(x >= W / 2, step, 0.0)
    img = np.where(y < centre - 1.5, 200.0, 130.0)
    dark = np.where(x >= W / 2, dark_right, 60)
    img = np.where(np.abs(y - centre) <= 1.5, dark, img) + rng.normal(0, 3, (H, W))
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return np.dstack([grey, grey, grey])


def hole_on_the_line() -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (W // 2, 70), 30, 1, -1)
    return mask > 0


def smooth_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A network-like fill: the hole blurred to a grey band."""
    out = image.copy()
    out[mask] = cv2.GaussianBlur(image, (0, 0), 12)[mask]
    return out


def line_inside(mask: np.ndarray) -> np.ndarray:
    """The shore line's centre row, inside the hole at least 2 px from its edge."""
    line = np.zeros((H, W), bool)
    xs = np.arange(W)
    line[np.round(70 + 0.05 * (xs - W / 2)).astype(int), xs] = True
    return line & cv2.erode(mask.view(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)


def test_a_straight_line_through_the_hole_is_found_where_it_runs():
    image, mask = shore(), hole_on_the_line()
    lines = continued_lines(smooth_fill(image, mask), mask, mask)
    assert 1 <= len(lines) <= 2  # the line's two borders
    for line in lines:
        xa, xb = sorted((line.start[0], line.end[0]))
        assert xa < W / 2 - 25 and xb > W / 2 + 25  # across the hole
        for x, y in line.start, line.end:  # on the line's borders, 1.5 px from its centre
            assert abs(abs(y - (70 + 0.05 * (x - W / 2))) - 1.5) <= 0.5


def test_a_large_window_is_searched_shrunk_and_the_lines_come_back_at_full_size():
    image, mask = shore(), hole_on_the_line()
    fill = smooth_fill(image, mask)
    full = continued_lines(fill, mask, mask)
    shrunk = continued_lines(fill, mask, mask, LineOptions(max_pixels=H * W // 4))  # half size
    assert len(shrunk) >= 1
    for line in shrunk:
        for x, y in line.start, line.end:
            assert abs(abs(y - (70 + 0.05 * (x - W / 2))) - 1.5) <= 1.5
    assert len(full) >= len(shrunk)


@pytest.mark.parametrize(
    "kind", ["offset", "other darkness", "only inside the hole", "other angle"]
)
def test_lines_that_do_not_continue_each_other_are_left_alone(kind):
    mask = hole_on_the_line()
    if kind == "offset":
        image = shore(step=8.0)
    elif kind == "other darkness":
        image = shore(dark_right=175)  # darker than the water on the left, lighter on the right
    elif kind == "other angle":
        image = shore(slope=0.0)
        rotated = shore(slope=0.2)
        image[:, W // 2 :] = rotated[:, W // 2 :]
    else:
        image = np.full((H, W, 3), 150, np.uint8)
        image[mask] = 255
        cv2.line(image, (W // 2 - 25, 70), (W // 2 + 25, 72), (0, 0, 0), 2)
        image[~mask] = 150
    assert continued_lines(smooth_fill(image, mask), mask, mask) == []


def test_carrying_the_photo_along_a_line_continues_a_straight_structure_exactly():
    stripes = np.zeros((H, W, 3), np.uint8)
    stripes[:, :, 0] = (np.arange(H) * 37 % 251)[:, None]  # every row its own value
    mask = hole_on_the_line()
    image = stripes.copy()
    image[mask] = 0
    done = carry_along(image, mask, mask, [Line((W / 2 - 40, 70.0), (W / 2 + 40, 70.0))], 12)
    band = mask & (np.abs(np.arange(H) - 70) <= 12)[:, None]
    assert band.sum() > 1000
    np.testing.assert_array_equal(done, band)
    np.testing.assert_array_equal(image[band], stripes[band])
    assert (image[mask & ~band] == 0).all()  # nothing outside the band changes
    assert (image[~mask] == stripes[~mask]).all()


def test_the_texture_stage_continues_a_thin_line_the_network_blurred():
    image, mask = shore(), hole_on_the_line()
    guide = smooth_fill(image, mask)
    on_line = line_inside(mask)

    def darkness(options: TextureOptions) -> float:
        out = synthesize(image, mask, guide, options=options)
        return float(out[on_line].mean())

    with_lines = darkness(TextureOptions(lowfix_share=0.0))
    without = darkness(TextureOptions(lowfix_share=0.0, continue_lines=False))
    assert with_lines < 95  # the dark line (60) continues through the hole
    assert without > with_lines + 30  # without it, the blurred band's grey (or sky, or water)


def test_a_users_sketch_in_the_region_is_used_instead(monkeypatch):
    image, mask = shore(), hole_on_the_line()
    calls = []
    monkeypatch.setattr(texture, "continued_lines", lambda *a, **k: calls.append(1) or [])
    sketch = np.zeros((H, W), bool)
    sketch[60, W // 2 - 20 : W // 2 + 20] = True
    synthesize(image, mask, smooth_fill(image, mask), sketch)
    assert calls == []
    synthesize(image, mask, smooth_fill(image, mask))
    assert calls == [1]


def test_the_option_reaches_the_texture_stage_from_the_cli_and_the_pipeline():
    from app.cli import build_parser
    from app.cli_options import fill_options
    from app.engine.inference.pipeline import Inpainter
    from app.engine.types import Guide, InpaintOptions, InpaintRequest
    from tests.tiny import tiny_model

    args = build_parser().parse_args(["inpaint", "a.png", "--mask", "m.png", "--lines", "off"])
    assert fill_options(args).lines is False
    assert InpaintOptions().lines is True

    image, mask = shore(), hole_on_the_line()
    guide = Guide(smooth_fill(image, mask), (0, 0, W, H), native=False)  # the network is skipped
    inpainter = Inpainter(tiny_model(), "cpu", threads=1)
    on_line = line_inside(mask)
    dark = {}
    for lines in (True, False):
        options = InpaintOptions(lines=lines)
        out = inpainter.run(InpaintRequest(image, mask, options=options, guide=guide)).image
        dark[lines] = float(out[on_line].mean())
    assert dark[True] < 95 and dark[False] > dark[True] + 30


@pytest.mark.parametrize("stripe", [True, False])
def test_a_wide_stripe_is_carried_whole_from_one_border(stripe):
    # Only the left border of a 9-px dark stripe (a thick cable) is joined: the band carried
    # reaches the stripe's far border, so no sliver of it is left beside the searched fill.
    # A step edge (dark all the way to the right) is carried only `width` px either side.
    rng = np.random.default_rng(5)
    x = np.arange(W)[None, :].repeat(H, 0)
    far = 109 if stripe else W
    grey = np.where((x >= 100) & (x < far), 40.0, 180.0) + rng.normal(0, 2, (H, W))
    photo = np.dstack([np.clip(grey, 0, 255).astype(np.uint8)] * 3)
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (104, 80), 30, 1, -1)
    mask = mask > 0
    image = photo.copy()
    image[mask] = 0
    done = carry_along(image, mask, mask, [Line((99.5, 50.0), (99.5, 110.0))], 3.0)
    cols = np.nonzero(done.any(axis=0))[0]
    if stripe:
        assert cols.min() >= 96 and cols.max() in (109, 110, 111)  # the whole stripe, then sky
        inner = mask & (x >= 101) & (x <= 107)
        assert (done[inner]).all() and image[inner].mean() < 50
    else:
        assert cols.min() >= 96 and cols.max() <= 103
    assert (image[~mask] == photo[~mask]).all()


def test_beside_a_carried_line_the_fill_takes_the_background_not_the_networks_smear():
    # A thin dark cable across a sky that brightens to the right. The network (here a wide
    # blur) smears the cable into a dark band, and the search would match it with the darker
    # sky further left; beside the carried cable the guide is the photo carried along it, so
    # the fill keeps the sky's own brightness there.
    rng = np.random.default_rng(2)
    x = np.arange(W)[None, :].repeat(H, 0).astype(float)
    sky = 60 + 0.8 * x
    grey = np.where(np.abs(x - 120) <= 3, 10.0, sky) + rng.normal(0, 2, (H, W))
    image = np.dstack([np.clip(grey, 0, 255).astype(np.uint8)] * 3)
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (120, 80), 40, 1, -1)
    mask = mask > 0
    guide = image.copy()
    guide[mask] = cv2.GaussianBlur(image, (0, 0), 14)[mask]
    beside = mask & (np.abs(x - 120) > 7) & (np.abs(x - 120) < 25)

    def error(options: TextureOptions) -> float:
        out = synthesize(image, mask, guide, options=options).astype(float)
        return float(np.abs(out[..., 0] - sky)[beside].mean())

    along = error(TextureOptions(lowfix_share=0.0))
    network = error(TextureOptions(lowfix_share=0.0, line_guide=0.0))
    assert along < 3
    assert network > along + 3
