"""Evaluation: metric values on synthetic cases, the held-out rule, fixed cases, model vs Telea."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.training.evaluate import (
    EvalCase,
    default_methods,
    evaluate,
    format_table,
    l1,
    make_cases,
    metrics,
    psnr,
    split_holdout,
    ssim,
    write_json,
)


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = (xx * 2) % 200
    image[..., 1] = 60 + yy
    image[..., 2] = 40 + 150 * ((xx // 16 + yy // 16) % 2)
    return image


def _mask(h: int = 96, w: int = 128) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[30:60, 40:90] = True
    return mask


def test_metrics_of_identical_and_known_degraded_images():
    image = _photo()
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)
    worse = image.copy()
    worse[..., :] = np.clip(image.astype(int) + 10, 0, 255).astype(np.uint8)
    exact = worse.astype(int) - image.astype(int) == 10
    assert exact.all()  # no clipping in this image
    assert psnr(worse, image) == pytest.approx(10 * math.log10(255**2 / 100))
    assert l1(worse, image) == pytest.approx(10 / 255)
    assert ssim(worse, image) < 1.0


def test_hole_and_whole_image_numbers_for_a_degraded_hole():
    image, mask = _photo(), _mask()
    case = EvalCase("synthetic", image, mask, np.zeros_like(mask))

    def shift_hole(img, m, sketch=None):
        out = img.copy()
        out[m] = img[m] + 10
        return out

    report = evaluate([case], {"identity": lambda i, m, s=None: i.copy(), "shift": shift_hole})
    ident, shift = report["methods"]["identity"], report["methods"]["shift"]
    assert ident["psnr_hole"] == math.inf and ident["ssim_hole"] == pytest.approx(1.0)
    assert ident["l1"] == 0.0
    assert shift["psnr_hole"] == pytest.approx(10 * math.log10(255**2 / 100))
    frac = mask.mean()
    assert shift["psnr"] == pytest.approx(10 * math.log10(255**2 / (100 * frac)))
    assert shift["l1_hole"] == pytest.approx(10 / 255)
    assert shift["l1"] == pytest.approx(10 / 255 * frac)
    assert "shift" in format_table(report)


def test_holdout_rule_is_every_seventh_sorted_name():
    paths = [Path(f"p{i:02d}.jpg") for i in range(15)][::-1]
    train, val = split_holdout(paths)
    assert [p.name for p in val] == ["p00.jpg", "p07.jpg", "p14.jpg"]
    assert len(train) == 12 and not set(train) & set(val)


def test_cases_are_fixed_by_seed_with_sketches_inside_the_hole(tmp_path):
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"a{i}.png"), np.roll(_photo(300, 600), 17 * i, axis=1))
    a = make_cases(sorted(tmp_path.iterdir()), long_side=512, masks_per_image=2, seed=3)
    b = make_cases(sorted(tmp_path.iterdir()), long_side=512, masks_per_image=2, seed=3)
    assert len(a) == 4 and a[0].image.shape == (256, 512, 3)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.mask, y.mask) and np.array_equal(x.sketch, y.sketch)
        assert 0.08 <= x.mask.mean() <= 0.34
        assert not (x.sketch & ~x.mask).any()
    assert not np.array_equal(a[0].mask, a[1].mask)


def test_user_style_cases_keep_the_holes_and_draw_seeded_strokes(tmp_path):
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"a{i}.png"), np.roll(_photo(300, 600), 17 * i, axis=1))
    paths = sorted(tmp_path.iterdir())
    canny = make_cases(paths, long_side=512, masks_per_image=2, seed=3)
    user = make_cases(paths, long_side=512, masks_per_image=2, seed=3, sketch_style="user")
    again = make_cases(paths, long_side=512, masks_per_image=2, seed=3, sketch_style="user")
    for c, u, v in zip(canny, user, again, strict=True):
        assert np.array_equal(c.mask, u.mask)  # the same holes, only the sketch differs
        assert np.array_equal(u.sketch, v.sketch)
        assert not (u.sketch & ~u.mask).any()
    drawn = [u for u in user if u.sketch.any()]
    assert drawn  # the photo has edges through the holes
    assert any(not np.array_equal(c.sketch, u.sketch) for c, u in zip(canny, user, strict=True))
    with pytest.raises(ValueError, match="sketch style"):
        make_cases(paths, sketch_style="scribble")


def test_fresh_prefill_model_scores_exactly_like_telea(tmp_path):
    # A new Telea-residual model starts at its pre-fill exactly; through the real pipeline it
    # must therefore score the same numbers as the classical Telea fill without a sketch, and as
    # Telea with the sketch's lines carried (prefill_telea with the sketch) with one.
    from app.engine.inference.prefill import prefill_telea
    from app.engine.networks.generator import Generator, GeneratorConfig

    generator = Generator(GeneratorConfig(cnum=8, in_channels=6, padding="reflect",
                                          coarse_gate="single", refine_gate="pixel",
                                          prefill="telea"))
    image, mask = _photo(), _mask()
    case = EvalCase("synthetic", image, mask, mask & (np.arange(128)[None, :] % 9 == 0))
    report = evaluate([case], default_methods(generator))
    methods = report["methods"]
    assert set(methods) == {"telea", "navier-stokes", "model", "model+sketch"}
    carried = metrics(prefill_telea(image, mask, case.sketch), image, mask)
    for key in ("psnr_hole", "ssim_hole", "l1"):
        assert methods["model"][key] == pytest.approx(methods["telea"][key], abs=1e-9)
        assert methods["model+sketch"][key] == pytest.approx(carried[key], abs=1e-9)
    assert carried["l1_hole"] != methods["telea"]["l1_hole"]  # the lines were carried
    assert methods["navier-stokes"]["l1_hole"] != methods["telea"]["l1_hole"]
    write_json(report, tmp_path / "r.json")
    assert '"psnr_hole"' in (tmp_path / "r.json").read_text()
