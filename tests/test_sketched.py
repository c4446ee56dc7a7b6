"""Sketched lines carried into the texture stage's guide (app/engine/inference/sketched.py):
a trench's lip with a dark wall below it, sketched through a hole the network smeared."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from app.engine.inference import texture
from app.engine.inference.pipeline import Inpainter
from app.engine.inference.prefill import prefill_telea
from app.engine.inference.sketched import sketch_guide, sketched_curves, straight_lines
from app.engine.inference.strategies import texture_scale
from app.engine.inference.texture import TextureOptions, synthesize
from app.engine.types import InpaintOptions, InpaintRequest
from tests.test_texture import disk, flat_guide, noise_texture
from tests.tiny import tiny_model

H, W = 200, 240
SLOPE = 0.3


def lip_y(x: np.ndarray | float) -> np.ndarray | float:
    return 100 + SLOPE * (np.asarray(x) - 120)


def trench() -> np.ndarray:
    """Grass above a sloping lip, a 14 px dark wall below it, bare soil below that."""
    grass = noise_texture(H, W, (70, 130, 50), 14, 1)
    wall = noise_texture(H, W, (30, 24, 20), 6, 2)
    soil = noise_texture(H, W, (150, 120, 95), 14, 3)
    below = np.arange(H)[:, None] - lip_y(np.arange(W))[None, :]  # px below the lip
    img = np.where((below < 0)[..., None], grass, np.where((below < 14)[..., None], wall, soil))
    return img.astype(np.uint8)


def line_mask(x0: int, x1: int, width: int = 3) -> np.ndarray:
    line = np.zeros((H, W), np.uint8)
    cv2.line(line, (x0, round(lip_y(x0))), (x1, round(lip_y(x1))), 255, width)
    return line > 0


def below_lip(lo: float, hi: float) -> np.ndarray:
    """Pixels between `lo` and `hi` px below the lip (negative: above it)."""
    below = np.arange(H)[:, None] - lip_y(np.arange(W))[None, :]
    return (below >= lo) & (below < hi)


def test_a_stroke_becomes_its_centre_line_from_tip_to_tip():
    drawn = np.zeros((H, W), np.uint8)
    path = np.array([(30, 150), (90, 110), (150, 100), (200, 60)], np.int32)
    cv2.polylines(drawn, [path], False, 255, 4)
    cv2.line(drawn, (20, 20), (26, 22), 255, 2)  # a dab shorter than a line: left out
    cv2.line(drawn, (20, 190), (120, 190), 255, 1)  # a second stroke
    cv2.circle(drawn, (185, 140), 36, 255, -1)  # a blob painted with the pen: no line
    curves = sketched_curves(drawn > 0)
    assert len(curves) == 2
    bent = max(curves, key=lambda c: np.ptp(c.points[:, 1]))
    tips = {tuple(np.rint(bent.points[i]).astype(int)) for i in (0, -1)}
    ends = [np.array(p) for p in ((30, 150), (200, 60))]
    assert all(min(np.hypot(*(np.array(t) - e)) for t in tips) <= 2.5 for e in ends)
    # Every point of the drawn path lies within a pixel or so of the centre line.
    centre = np.zeros((H, W), np.uint8)
    cv2.polylines(centre, [np.rint(bent.points).astype(np.int32)], False, 255, 1)
    near = cv2.distanceTransform((centre == 0).view(np.uint8), cv2.DIST_L2, 5)
    ref = np.zeros((H, W), np.uint8)
    cv2.polylines(ref, [path], False, 255, 1)
    yy, xx = np.mgrid[:H, :W]
    inner = (ref > 0) & (np.hypot(xx - 30, yy - 150) > 6) & (np.hypot(xx - 200, yy - 60) > 6)
    assert near[inner].max() <= 1.6


def test_beside_a_sketched_edge_the_guide_carries_the_photos_bands():
    img = trench()
    hole = disk(H, W, 100, 120, 50)
    guide = flat_guide(img, hole)
    before = guide.copy()
    curves = sketched_curves(line_mask(40, 200) & hole)
    changed = sketch_guide(guide, hole, hole, curves, reach=24)
    inside = cv2.erode(hole.view(np.uint8), np.ones((9, 9), np.uint8)) > 0
    wall = inside & below_lip(3, 11)
    grass = inside & below_lip(-15, -4)
    soil = inside & below_lip(17, 20)
    assert wall.sum() > 300 and grass.sum() > 300 and soil.sum() > 50
    assert guide[wall].mean() < 45  # the wall continues (the smeared guide: ~90)
    green = guide[..., 1].astype(int) - guide[..., 2].astype(int)
    assert green[grass].mean() > 60  # grass above the lip (the smear: ~35)
    assert guide[soil][:, 0].mean() > 120  # and soil below the wall
    # Far from the line the guide is the network's, untouched; the photo never changes.
    far = hole & (np.abs(np.arange(H)[:, None] - lip_y(np.arange(W))[None, :]) > 26)
    assert far.sum() > 500 and np.array_equal(guide[far], before[far])
    assert np.array_equal(guide[~hole], before[~hole]) and not changed[~hole].any()


def test_nothing_is_carried_past_a_line_that_stops_inside_the_hole():
    img = trench()
    hole = disk(H, W, 100, 120, 50)
    guide = flat_guide(img, hole)
    before = guide.copy()
    # Drawn in from the left edge, stopping at the hole's centre.
    sketch_guide(guide, hole, hole, sketched_curves(line_mask(40, 120) & hole), reach=24)
    wall = hole & below_lip(3, 11)
    xs = np.arange(W)[None, :]
    assert guide[wall & (xs > 80) & (xs < 110)].mean() < 60  # carried along the line
    past = wall & (xs > 128)  # beyond its inner tip the user said nothing
    assert np.array_equal(guide[past], before[past])
    # A line drawn wholly inside the hole, far from its edge, has no profile to carry.
    guide = before.copy()
    sketch_guide(guide, hole, hole, sketched_curves(line_mask(100, 140) & hole), reach=24)
    assert np.array_equal(guide, before)


def test_the_texture_stage_continues_a_sketched_wall_the_network_smeared():
    img = trench()
    hole = disk(H, W, 100, 120, 50)
    sketch = line_mask(40, 200) & hole
    wall = hole & below_lip(3, 11) & (np.abs(np.arange(W) - 120) < 30)[None, :]
    plain = dataclasses.replace(TextureOptions(), sketch_guide=0.0)
    for seed in range(2):
        guided = synthesize(img, hole, flat_guide(img, hole), sketch, seed=seed)
        smeared = synthesize(img, hole, flat_guide(img, hole), sketch, seed=seed, options=plain)
        assert np.array_equal(guided[~hole], img[~hole])
        # The middle of the hole, 3-11 px under the lip: the wall (~25) with the carried
        # guide; without it, grass or soil matched to the smear.
        assert guided[wall].mean() < 50 < smeared[wall].mean()


@pytest.mark.parametrize("size", [(96, 128), (1400, 2100)])
def test_the_carried_band_widens_where_the_network_ran_downscaled(monkeypatch, size):
    seen: list[float] = []
    real = texture.synthesize

    def spy(*args, options: TextureOptions | None = None, **kwargs):
        if options is not None:  # (not the warm-up call)
            seen.append(options.sketch_guide)
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(texture, "synthesize", spy)
    image = np.full((*size, 3), 120, np.uint8)
    mask = np.zeros(size, bool)
    mask[40:60, 40:70] = True
    request = InpaintRequest(image, mask, options=InpaintOptions(strategy="crop"))
    Inpainter(tiny_model(), "cpu").run(request)
    assert seen == [TextureOptions().sketch_guide * texture_scale(size)]
    assert texture_scale(size) == (1 if size[0] < 500 else 2)


def test_strokes_that_meet_give_one_curve_per_strand():
    """A T: the bar and the stem each come out as their own centre line, straight and whole
    (binned together, the stem's pixels would pull the bar's line towards it)."""
    drawn = np.zeros((H, W), np.uint8)
    cv2.line(drawn, (30, 60), (210, 60), 255, 3)  # the bar
    cv2.line(drawn, (120, 60), (120, 170), 255, 3)  # the stem
    curves = sketched_curves(drawn > 0)
    assert len(curves) == 2
    long, short = sorted(curves, key=lambda c: -len(c.points))
    # The longest path runs along the bar and down the stem; the leftover arm is the second.
    spans = sorted([np.ptp(long.points[:, 0]), np.ptp(short.points[:, 0])])
    assert spans[0] >= 75 and spans[1] >= 75  # each arm of the bar belongs to one curve
    for curve in curves:
        on_bar = np.abs(curve.points[:, 1] - 60) <= 1.6
        on_stem = np.abs(curve.points[:, 0] - 120) <= 1.6
        away = np.hypot(curve.points[:, 0] - 120, curve.points[:, 1] - 60) > 8
        assert (on_bar | on_stem)[away].all()  # nowhere pulled off the lines but at the joint


def test_the_prefill_carries_a_sketched_wall_into_the_hole():
    """What the network starts from: Telea smears grass and soil across the lip; with the
    sketch the wall is in place under the line."""
    img = trench()
    hole = disk(H, W, 100, 120, 50)
    sketch = line_mask(40, 200)  # drawn beyond the hole: only its part inside counts
    plain = prefill_telea(img, hole)
    carried = prefill_telea(img, hole, sketch)
    telea = cv2.inpaint(img, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    assert np.array_equal(plain, telea)
    wall = hole & below_lip(3, 11) & (np.abs(np.arange(W) - 120) < 30)[None, :]
    assert carried[wall].mean() < 45 < 60 < plain[wall].mean()
    assert np.array_equal(carried[~hole], img[~hole])
    assert np.array_equal(prefill_telea(img, hole, np.zeros((H, W), bool)), telea)


def test_the_network_starts_from_the_carried_prefill():
    """A fresh Telea-residual model returns its pre-fill: through the pipeline, with a sketch,
    that is the pre-fill with the lines carried."""
    from app.engine.checkpoints.weights import LoadedModel
    from app.engine.networks.generator import Generator, GeneratorConfig

    config = GeneratorConfig(cnum=8, in_channels=6, padding="reflect", coarse_gate="single",
                             refine_gate="pixel", prefill="telea")
    model = LoadedModel(generator=Generator(config).eval(), config=config, color_order="RGB")
    img = trench()
    hole = disk(H, W, 100, 120, 50)
    sketch = line_mask(40, 200) & hole
    options = InpaintOptions(strategy="full", texture=False, grow_mask=0)
    inpainter = Inpainter(model, "cpu")
    with_lines = inpainter.run(InpaintRequest(img, hole, sketch, options=options)).image
    without = inpainter.run(InpaintRequest(img, hole, options=options)).image
    assert np.array_equal(with_lines[hole], prefill_telea(img, hole, sketch)[hole])
    assert np.array_equal(without[hole], prefill_telea(img, hole)[hole])


def test_a_line_drawn_straight_across_the_hole_is_continued_exactly():
    """A thin cable on sky, drawn over with a Shift+click line: it comes out whole and in
    place (the guide alone let the search break it); a bent stroke stays with the guide."""
    sky = noise_texture(H, W, (110, 150, 200), 4, 5)
    img = sky.copy()
    cable = line_mask(0, W - 1, 2)
    img[cable] = (20, 25, 40)
    hole = disk(H, W, 100, 120, 45)
    drawn = line_mask(0, W - 1, 3) & hole
    straight, others = straight_lines(sketched_curves(drawn), hole)
    assert len(straight) == 1 and not others
    (x0, y0), (x1, y1) = straight[0].start, straight[0].end
    assert abs((y1 - y0) / (x1 - x0) - SLOPE) < 0.01 and abs(x1 - x0) > 85  # edge to edge
    bent = np.zeros((H, W), np.uint8)
    cv2.polylines(bent, [np.array([(70, 100), (120, 85), (170, 100)], np.int32)], False, 1, 3)
    assert straight_lines(sketched_curves((bent > 0) & hole), hole)[0] == []
    inner = hole & (cv2.erode(hole.view(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    for seed in range(2):
        out = synthesize(img, hole, flat_guide(img, hole), drawn, seed=seed)
        on = inner & cable
        assert out[on].mean() < 45  # the cable, dark all along (the sky ~150)
        assert (out[on].mean(axis=1) < 80).mean() > 0.9  # (92 %; through the guide alone 0-58 %)
