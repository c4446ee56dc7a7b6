"""The texture stage (app/engine/inference/texture.py): real texture copied from the photo, guided by the
network's fill. Engine-level tests on synthetic textures with known answers."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from app.engine.inference.texture import (
    TextureOptions,
    _detail_plane,
    _lowfix,
    _valid_sources,
    search_windows,
    synthesize,
)

MAGENTA = np.array([255, 0, 255], np.uint8)


def noise_texture(h: int, w: int, base: tuple[int, int, int], amp: float, seed: int) -> np.ndarray:
    """A photo-like texture: blurred noise around a base colour (no pure magenta anywhere)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    noise /= noise.std() + 1e-6
    img = np.array(base, np.float32)[None, None] + amp * noise[..., None]
    return np.clip(img, 10, 240).astype(np.uint8)


def disk(h: int, w: int, cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def flat_guide(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A smooth 'network' fill: the mean colour of the known pixels (no texture at all)."""
    guide = image.copy()
    guide[mask] = image[~mask].mean(axis=0).astype(np.uint8)
    return guide


def test_outside_pixels_are_unchanged_and_the_hole_is_filled():
    img = noise_texture(160, 200, (90, 140, 60), 25, 1)
    mask = disk(160, 200, 80, 100, 30)
    shown = img.copy()
    shown[mask] = MAGENTA
    out = synthesize(shown, mask, flat_guide(shown, mask), seed=0)
    assert np.array_equal(out[~mask], shown[~mask])
    assert not (out[mask] == MAGENTA).all(axis=1).any()


def test_sources_never_lie_in_or_touch_the_hole():
    img = noise_texture(120, 160, (120, 120, 120), 20, 2)
    mask = disk(120, 160, 60, 80, 20)
    img[mask] = MAGENTA  # the object: must never be copied
    out = synthesize(img, mask, flat_guide(img, mask), seed=3)
    # No copied pixel comes from the hole or its edge: no magenta in the fill, not even blended.
    fill = out[mask].astype(int)
    magenta_like = (fill[:, 0] > 200) & (fill[:, 1] < 60) & (fill[:, 2] > 200)
    assert not magenta_like.any()
    r = 3
    valid = _valid_sources(mask, np.ones_like(mask), r)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    assert not (valid & grown).any()  # a valid centre's whole patch is outside the hole
    assert valid.any()


def test_the_fill_has_the_photos_texture_not_the_guides_smoothness():
    img = noise_texture(200, 200, (100, 150, 70), 30, 4)
    mask = disk(200, 200, 100, 100, 35)
    # A network that knows the colours but paints no texture: the truth blurred.
    guide = img.copy()
    guide[mask] = cv2.GaussianBlur(img, (0, 0), 4)[mask]
    out = synthesize(img, mask, guide, seed=0)
    hp = lambda a: a.astype(np.float32) - cv2.GaussianBlur(a.astype(np.float32), (0, 0), 2)  # noqa: E731
    g_true = hp(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))[mask].std()
    g_out = hp(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))[mask].std()
    assert 0.8 < g_out / g_true < 1.25  # as detailed as the photo (the guide has none)
    assert abs(out[mask].mean() - img[mask].mean()) < 8


def test_the_detail_plane_lets_the_hole_ask_only_for_its_nearest_surroundings_detail():
    # Blurred background above, a sharp textured band below; a hole between them.
    h, w = 120, 160
    img = cv2.GaussianBlur(noise_texture(h, w, (90, 130, 160), 6, 11), (0, 0), 3)
    img[80:] = noise_texture(40, w, (90, 130, 160), 45, 12)
    hole = np.zeros((h, w), bool)
    hole[30:78, 40:120] = True
    img[hole] = MAGENTA  # never read
    plane = _detail_plane(img, hole, scale=4.0, slack=2.0).astype(int)
    smooth, sharp = plane[5:25, 40:120].mean(), plane[90:115, 40:120].mean()
    assert sharp > 4 * smooth  # known pixels: the photo's own detail
    near_top, near_band = plane[32, 50:110].mean(), plane[76, 50:110].mean()
    assert near_top < 2.5 * smooth + 8  # the blurred side allows little detail
    assert near_band > 2 * near_top  # the sharp side allows its own


def test_only_a_source_more_detailed_than_the_target_allows_costs_more():
    from app.engine.inference.patchmatch import patch_cost

    tgt = np.full((20, 20, 3), 100, np.uint8)
    low = np.full((20, 20, 4), 100, np.uint8)
    low[..., 3] = 10  # sources around (5, 5): as detailed as the target allows
    low[12:18, 12:18, 3] = 60  # sources around (15, 15): far more detailed
    low[2:8, 12:18, 3] = 0  # sources around (5, 15): smoother than allowed
    edge = np.zeros((1, 1), np.uint8)
    cost = lambda sy, sx: patch_cost(tgt, tgt, low, edge, 5, 5, sy, sx, 1, 1.0, 0.0, 3.0e38)  # noqa: E731
    assert cost(5, 5) == 0.0 and cost(5, 15) == 0.0
    assert cost(15, 15) == pytest.approx(9 * 50.0**2)
    assert patch_cost(tgt, tgt, low[..., :3].copy(), edge, 5, 5, 15, 15, 1, 1.0, 0.0, 3.0e38) == 0.0


def test_a_downscaled_fill_is_healed_to_the_tone_around_the_hole():
    # Dark texture around the hole, a pale patch of texture further right; the (downscaled)
    # network guessed pale, so the search copies the pale texture. Healing shifts the fill's
    # tone to meet the photo along the hole's edge, as a healing brush does.
    h, w = 160, 240
    img = noise_texture(h, w, (80, 90, 70), 18, 5)
    img[:, 170:] = noise_texture(h, 70, (150, 160, 140), 18, 6)
    mask = disk(h, w, 80, 90, 32)
    guide = img.copy()
    guide[mask] = (150, 160, 140)
    edge = mask & (cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) <= 4)
    ring = (cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~mask
    around = img[ring].mean()

    def fill(heal: bool) -> np.ndarray:
        opts = TextureOptions(lowfix_share=0.0, heal=heal)  # as for a downscaled network fill
        return synthesize(img, mask, guide, seed=0, options=opts)

    healed, raw = fill(True), fill(False)
    assert raw[edge].mean() - around > 25  # without healing the pale fill shows its outline
    assert abs(healed[edge].mean() - around) < 12
    assert abs(healed[mask].mean() - around) < 12  # the whole fill, not only its rim
    assert np.array_equal(healed[~mask], img[~mask])
    hp = lambda a: a.astype(np.float32) - cv2.GaussianBlur(a.astype(np.float32), (0, 0), 2)  # noqa: E731
    detail = hp(cv2.cvtColor(healed, cv2.COLOR_RGB2GRAY))[mask].std()
    assert detail > 0.8 * hp(cv2.cvtColor(raw, cv2.COLOR_RGB2GRAY))[mask].std()  # texture kept


def test_the_same_seed_gives_the_same_fill_and_another_seed_a_variant():
    img = noise_texture(140, 180, (80, 120, 160), 25, 5)
    mask = disk(140, 180, 70, 90, 25)
    guide = flat_guide(img, mask)
    a = synthesize(img, mask, guide, seed=7)
    b = synthesize(img, mask, guide, seed=7)
    c = synthesize(img, mask, guide, seed=8)
    assert np.array_equal(a, b)
    assert (a[mask] != c[mask]).any(axis=1).mean() > 0.3


def test_writing_over_the_guide_in_place_gives_the_same_bytes():
    """The pipeline passes the network's result as both guide and output (one 8K copy less)."""
    img = noise_texture(160, 240, (90, 110, 150), 25, 9)
    mask = disk(160, 240, 50, 60, 22) | disk(160, 240, 110, 190, 18)  # two windows, in parallel
    guide = flat_guide(img, mask)
    expected = synthesize(img, mask, guide, seed=4)
    in_place = guide.copy()
    out = synthesize(img, mask, in_place, seed=4, out=in_place)
    assert out is in_place and np.array_equal(out, expected)


def test_a_large_lone_hole_solved_in_bands_is_deterministic_and_textured():
    """Levels with many hole pixels run in two row bands at once; the bytes stay fixed."""
    img = noise_texture(200, 240, (100, 150, 70), 30, 11)
    mask = disk(200, 240, 100, 120, 45)
    guide = img.copy()
    guide[mask] = cv2.GaussianBlur(img, (0, 0), 4)[mask]
    banded = TextureOptions(band_pixels=500)
    runs = [synthesize(img, mask, guide, seed=2, options=banded) for _ in range(3)]
    assert all(np.array_equal(runs[0], r) for r in runs[1:])
    whole = synthesize(img, mask, guide, seed=2, options=TextureOptions(band_pixels=10**9))
    assert not np.array_equal(runs[0], whole)  # the bands really ran
    hp = lambda a: a.astype(np.float32) - cv2.GaussianBlur(a.astype(np.float32), (0, 0), 2)  # noqa: E731
    g_true = hp(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))[mask].std()
    g_out = hp(cv2.cvtColor(runs[0], cv2.COLOR_RGB2GRAY))[mask].std()
    assert 0.8 < g_out / g_true < 1.25
    assert np.array_equal(runs[0][~mask], img[~mask])


def test_a_sketch_line_keeps_each_side_to_its_own_texture():
    """Two textures meet at a straight vertical edge; the hole crosses it; the guide is a smear
    (one flat colour), so only the sketch can say where the edge runs."""
    h, w, edge_x = 200, 240, 120
    left = noise_texture(h, w, (60, 140, 50), 22, 6)  # grass green
    right = noise_texture(h, w, (150, 150, 155), 22, 7)  # rock grey
    img = np.where(np.arange(w)[None, :, None] < edge_x, left, right).astype(np.uint8)
    mask = disk(h, w, 100, edge_x, 50)
    sketch = np.zeros((h, w), bool)
    sketch[:, edge_x] = True
    sketch &= mask
    rows = slice(60, 141)

    def switches(out: np.ndarray) -> np.ndarray:
        """Per filled row, how far from the line the fill turns from grass to rock."""
        cls = out[..., 1].astype(int) - out[..., 2].astype(int)
        return np.array([abs(int(np.argmax(cls[y, edge_x - 30 : edge_x + 30] < 25)) - 30)
                         for y in range(60, 141)])

    for seed in range(3):
        # Without the low-frequency correction (as where the network ran downscaled) the
        # sides are the photo's own: colour class by green minus blue (grass > 40, rock < 10).
        out = synthesize(img, mask, flat_guide(img, mask), sketch, seed=seed,
                         options=TextureOptions(lowfix_share=0.0))
        cls = out[..., 1].astype(int) - out[..., 2].astype(int)
        grass_left = (cls[rows, : edge_x - 3][mask[rows, : edge_x - 3]] > 40).mean()
        rock_right = (cls[rows, edge_x + 3 :][mask[rows, edge_x + 3 :]] < 20).mean()
        assert grass_left > 0.93 and rock_right > 0.93  # (a random fill scores about 0.5)
        # The boundary follows the line (without the sketch: 20-45 % of rows within 3 px, up
        # to 6 px off) and stays there when the correction pulls the colours towards the
        # smeared guide away from the line.
        for fill in (out, synthesize(img, mask, flat_guide(img, mask), sketch, seed=seed)):
            off = switches(fill)
            assert (off <= 3).mean() >= 0.95 and off.max() <= 4, (seed, off.max())


def test_a_sketched_edge_does_not_ask_for_smooth_sources_away_from_the_line():
    """Away from the line the user said nothing about edges: the fill there must keep the
    photo's texture, not take the smoothest sources because they hold no edges."""
    h, w = 200, 240
    rng = np.random.default_rng(3)
    busy = np.clip(rng.normal(110, 45, (h, w, 1)), 0, 255).repeat(3, axis=2).astype(np.uint8)
    img = busy.copy()
    img[:, 200:] = 110  # a flat strip of the same mean: the edge-free source
    mask = disk(h, w, 100, 100, 45)
    sketch = np.zeros((h, w), bool)
    sketch[100, :] = True
    sketch &= mask
    out = synthesize(img, mask, flat_guide(img, mask), sketch, seed=0)
    far = mask & (np.abs(np.arange(h) - 100)[:, None] > 10)  # the hole away from the line
    grey = out[..., 0].astype(float)
    detail = np.abs(grey - cv2.blur(grey, (5, 5)))[far].mean()
    truth = np.abs(busy[..., 0] - cv2.blur(busy[..., 0].astype(float), (5, 5)))[far].mean()
    assert detail > 0.9 * truth  # (asking for no edges there: 0.73; the flat strip alone: 0)


def test_the_networks_colours_hold_with_a_sketch_as_without():
    """The low frequencies of the fill are the network's, sketch or not: the network saw the
    sketch too. Here the 'network' asks for a brighter hole than any source offers."""
    img = noise_texture(200, 240, (100, 100, 100), 20, 4)
    mask = disk(200, 240, 100, 120, 40)
    guide = img.copy()
    guide[mask] = 150
    sketch = np.zeros((200, 240), bool)
    sketch[100, :] = True
    sketch &= mask
    # Inside, away from the line: along it the search's edge is kept (a fade over ~14 px), and
    # a line drawn straight across is continued from the photo within `sketch_guide` (16) px.
    inner = disk(200, 240, 100, 120, 36) & (np.abs(np.arange(200) - 100) > 22)[:, None]
    for lines in (None, sketch):
        out = synthesize(img, mask, guide, lines, seed=0)
        assert abs(out[inner].mean() - 150) < 6  # the sources alone would give about 100
        assert out[inner].std() > 8  # with the photo's texture on top


def test_holes_touching_the_border_and_one_pixel_holes():
    img = noise_texture(100, 130, (110, 100, 90), 20, 8)
    mask = np.zeros((100, 130), bool)
    mask[:25, :30] = True  # a corner
    mask[60:100, 110:] = True  # bottom right, touching two borders
    mask[50, 60] = True  # one pixel
    mask[10, 100] = True  # one pixel near the top border
    shown = img.copy()
    shown[mask] = MAGENTA
    out = synthesize(shown, mask, flat_guide(shown, mask), seed=1)
    assert np.array_equal(out[~mask], shown[~mask])
    assert not (out[mask] == MAGENTA).all(axis=1).any()
    # A one-pixel hole takes a neighbour-like value, not something far off.
    assert np.abs(out[50, 60].astype(int) - img[49:52, 59:62].reshape(-1, 3).mean(0)).max() < 40


def test_a_hole_with_no_room_for_sources_keeps_the_guide():
    img = noise_texture(12, 12, (100, 100, 100), 20, 9)
    mask = np.ones((12, 12), bool)
    mask[0, 0] = False
    guide = flat_guide(img, mask)
    out = synthesize(img, mask, guide, seed=0)
    assert np.array_equal(out[mask], guide[mask])


def test_nearby_holes_share_one_window_and_far_ones_do_not():
    mask = np.zeros((400, 1200), bool)
    mask[100:120, 100:120] = True
    mask[100:120, 150:170] = True  # close: same window
    mask[300:320, 1000:1020] = True  # far: its own window
    windows = search_windows(mask, TextureOptions())
    assert len(windows) == 2
    covered = np.zeros_like(mask)
    for (x0, y0, x1, y1), own in windows:
        covered[y0:y1, x0:x1] |= own
    assert np.array_equal(covered, mask)


def test_memory_stays_bounded_on_a_large_photo():
    """A 24 MP photo with a small object: the stage works in a window around the hole, so its
    allocations stay near one copy of the photo (the result), never float copies of it."""
    h, w = 4000, 6000
    img = np.full((h, w, 3), 120, np.uint8)
    img[::2] = 130  # some texture
    mask = disk(h, w, 2000, 3000, 60)
    guide = flat_guide(img[1800:2200, 2800:3200], mask[1800:2200, 2800:3200])
    full_guide = img.copy()
    full_guide[1800:2200, 2800:3200] = guide
    tracemalloc.start()
    try:
        synthesize(img, mask, full_guide, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * img.nbytes, peak / img.nbytes


@pytest.mark.parametrize("seed", [0, 1])
def test_cancel_stops_the_stage(seed):
    from app.engine.types import Cancelled

    img = noise_texture(120, 120, (100, 100, 100), 20, 10)
    mask = disk(120, 120, 60, 60, 25)
    with pytest.raises(Cancelled):
        synthesize(img, mask, flat_guide(img, mask), seed=seed, cancel=lambda: True)


@pytest.mark.parametrize("sigma", [4.0, 12.0])  # 12: the shrunken wide blur
def test_low_frequency_correction_reaches_the_hole_edge(sigma):
    # A fill that is 30 levels too bright everywhere in the hole is brought to the network's
    # colour all the way to the hole's edge (a plain blur of the difference, zero outside the
    # hole, corrected the edge pixels only by half), and nothing outside the hole moves.
    network = noise_texture(96, 96, (90, 120, 80), 12, seed=3)
    hole = disk(96, 96, 48, 48, 30)
    filled = network.copy()
    filled[hole] = network[hole] + 30  # the texture's base colours stay far below 225
    _lowfix(filled, network, hole, sigma)
    diff = filled.astype(int) - network
    edge = hole & ~cv2.erode(hole.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.abs(diff[edge]).max() <= 2
    assert np.abs(diff[hole]).max() <= 2
    assert (diff[~hole] == 0).all()


def test_low_frequency_correction_keeps_more_of_the_copied_colour():
    # The copied fill's brightness is corrected to the network's below sigma, its colour only
    # below a wider sigma: a uniform cast still goes entirely, while stripes of colour a few
    # sigma wide keep more of their contrast than stripes of brightness as wide.
    h = w = 160
    network = np.full((h, w, 3), 120, np.uint8)
    hole = disk(h, w, 80, 80, 60)
    wave = np.sin(np.arange(w) * 2 * np.pi / 24)[None, :].repeat(h, 0)  # period 24 px
    luma_axis = np.array([1.0, 1.0, 1.0])  # adds brightness only
    chroma_axis = np.array([1.0, -0.299 / 0.587, 0.0])  # Rec. 601 luma unchanged
    for axis in (luma_axis, chroma_axis):
        cast = network.astype(float)
        cast[hole] += 25 * axis  # a uniform cast: corrected all the way
        filled = np.clip(np.rint(cast), 0, 255).astype(np.uint8)
        _lowfix(filled, network, hole, 4.0, chroma=2.2)
        assert np.abs(filled.astype(int) - network)[hole].max() <= 2
    kept = []
    for axis in (luma_axis, chroma_axis):
        striped = network.astype(float) + 20 * wave[..., None] * axis
        filled = np.clip(np.rint(np.where(hole[..., None], striped, network)), 0, 255).astype(np.uint8)
        _lowfix(filled, network, hole, 4.0, chroma=2.2)
        inner = cv2.erode(hole.view(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
        kept.append(np.abs(filled[..., 0].astype(float) - 120)[inner].mean())
        assert (filled[~hole] == network[~hole]).all()
    assert kept[1] > 1.5 * kept[0]
