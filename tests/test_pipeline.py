"""The inpainting pipeline: compositing, padding, colour order, progress, cancel and bad requests."""

import numpy as np
import pytest
import torch

from app.engine.checkpoints.loaders import load_model
from app.engine.geometry import bbox, box_to_rect, changed_rect, grow_mask
from app.engine.geometry import bounding_rect as mask_rect
from app.engine.inference.pipeline import Inpainter
from app.engine.types import Cancelled, EngineError, InpaintOptions, InpaintRequest

from .fixtures_path import REFERENCE, needs_fixtures
from .tiny import tiny_model

FULL = InpaintOptions(strategy="full", texture=False)  # the network alone


def photo(h, w, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def inpainter():
    return Inpainter(tiny_model(), "cpu")


@pytest.mark.parametrize("size", [(37, 53), (2, 1), (64, 64), (101, 230)])
def test_outside_pixels_are_unchanged_and_hole_is_filled(inpainter, size):
    h, w = size
    image = photo(h, w)
    mask = np.zeros((h, w), bool)
    mask[h // 3 : h // 3 + max(1, h // 3), w // 4 : w // 4 + max(1, w // 2)] = True
    result = inpainter.run(InpaintRequest(image, mask, options=FULL))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert np.array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask])
    x, y, rw, rh = result.rect
    assert mask[y : y + rh, x : x + rw].sum() == mask.sum()
    assert result.flow is not None and result.flow.shape == image.shape
    assert result.strategy == "full" and "network" in result.timings


def test_progress_is_reported_in_order(inpainter):
    seen = []
    image, mask = photo(64, 64), np.zeros((64, 64), bool)
    mask[10:20, 10:20] = True
    inpainter.run(InpaintRequest(image, mask, options=FULL), progress=lambda f, s: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3


@pytest.mark.parametrize("after_calls", [0, 1, 2])
def test_cancel_stops_at_a_checkpoint(inpainter, after_calls):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > after_calls

    image, mask = photo(64, 64), np.zeros((64, 64), bool)
    mask[5:30, 5:30] = True
    with pytest.raises(Cancelled):
        inpainter.run(InpaintRequest(image, mask, options=FULL), cancel=cancel)


def test_cancel_between_stages_skips_the_refine_network(monkeypatch):
    model = tiny_model()
    inpainter = Inpainter(model, "cpu")
    refined = []
    monkeypatch.setattr(model.generator.allconv17, "forward",
                        lambda x: refined.append(1) or x[:, :3])
    state = {"n": 0}

    def cancel():  # False before the network, True at the stage checkpoint
        state["n"] += 1
        return state["n"] >= 2

    image, mask = photo(64, 64), np.zeros((64, 64), bool)
    mask[5:30, 5:30] = True
    with pytest.raises(Cancelled):
        inpainter.run(InpaintRequest(image, mask, options=FULL), cancel=cancel)
    assert refined == []


@pytest.mark.parametrize(
    "mask_shape, fill, message",
    [((64, 64), False, "empty"), ((64, 64), True, "whole photo"), ((32, 64), True, "64x32")],
)
def test_bad_masks_are_refused_with_a_clear_message(inpainter, mask_shape, fill, message):
    mask = np.full(mask_shape, fill, bool)
    with pytest.raises(EngineError, match=message):
        inpainter.run(InpaintRequest(photo(64, 64), mask, options=FULL))


def test_bad_image_and_strategy_are_refused(inpainter):
    mask = np.zeros((8, 8), bool)
    mask[2, 2] = True
    with pytest.raises(EngineError, match="8-bit RGB"):
        inpainter.run(InpaintRequest(np.zeros((8, 8), np.uint8), mask))
    with pytest.raises(EngineError, match="strategy"):
        inpainter.run(InpaintRequest(photo(8, 8), mask, options=InpaintOptions(strategy="zoom")))


def test_grow_mask_dilates_and_shrinks():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    grown = grow_mask(mask, 3)
    assert grown.sum() > 20 and grown[10, 13] and not grown[10, 14]
    assert grow_mask(grown, -3).sum() < grown.sum()
    assert mask_rect(grown) == (7, 7, 7, 7)


def test_sketch_guides_the_fill(inpainter):
    image, mask = photo(64, 96, seed=3), np.zeros((64, 96), bool)
    mask[16:48, 24:72] = True
    sketch = np.zeros_like(mask)
    sketch[32, :] = True
    plain = inpainter.run(InpaintRequest(image, mask, options=FULL)).image
    guided = inpainter.run(InpaintRequest(image, mask, sketch, options=FULL)).image
    assert not np.array_equal(plain[mask], guided[mask])
    outside_hole = np.zeros_like(mask)
    outside_hole[32, :] = ~mask[32, :]
    # The sketch is used only inside the hole: a sketch outside it changes nothing.
    only_outside = inpainter.run(InpaintRequest(image, mask, outside_hole, options=FULL)).image
    assert np.array_equal(plain, only_outside)


def test_bgr_models_get_bgr_input():
    rgb = Inpainter(tiny_model("RGB"), "cpu")
    bgr = Inpainter(tiny_model("BGR"), "cpu")
    image, mask = photo(48, 48), np.zeros((48, 48), bool)
    mask[10:30, 10:30] = True
    out_rgb = rgb.run(InpaintRequest(image, mask, options=FULL)).image
    swapped = np.ascontiguousarray(image[..., ::-1])
    out_bgr = bgr.run(InpaintRequest(swapped, mask, options=FULL)).image
    assert np.array_equal(out_rgb, out_bgr[..., ::-1])


@needs_fixtures
def test_bf16_autocast_stays_close_to_fp32(tmp_path):
    from app.engine.device import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16")
    reference = torch.load(REFERENCE, weights_only=False)
    torch.save({"G": reference["G"]}, tmp_path / "official.pth")
    inpainter = Inpainter(load_model(tmp_path / "official.pth"), "cpu")
    image, mask = photo(240, 256), reference["mask"][0, 0].numpy() > 0.5
    fp32 = inpainter.run(InpaintRequest(image, mask, options=FULL)).image.astype(int)
    bf16 = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(
        strategy="full", bf16=True, texture=False))).image.astype(int)
    assert np.array_equal(fp32[~mask], bf16[~mask])
    error = np.abs(fp32 - bf16)[mask].mean()
    assert 0 < error < 8.0, error


@needs_fixtures
def test_official_port_weights_fill_as_the_official_architecture(tmp_path):
    """The pipeline (pad to 8, BGR order, composite) around the official generator, odd size."""
    reference = torch.load(REFERENCE, weights_only=False)
    path = tmp_path / "states_tf_places2.pth"
    torch.save({"G": reference["G"]}, path)
    model = load_model(path)
    bgr = ((reference["input"][0, :3].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    image = np.ascontiguousarray(bgr[:235, :250, ::-1])  # RGB, sides not multiples of 8
    mask = reference["mask"][0, 0, :235, :250].numpy() > 0.5
    result = Inpainter(model, "cpu").run(InpaintRequest(image, mask, options=FULL))
    assert np.array_equal(result.image[~mask], image[~mask])
    # Same computation by hand: bottom/right reflect padding to 240 x 256, BGR in, BGR out.
    padded = np.pad(image[..., ::-1], ((0, 5), (0, 6), (0, 0)), mode="reflect")
    pmask = np.pad(mask, ((0, 5), (0, 6)), mode="reflect")
    x = torch.from_numpy(padded.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        out = model.generator(x, torch.from_numpy(pmask)[None, None].float())
    expected = ((out.refined[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte()
    expected = expected.numpy()[:235, :250, ::-1]
    assert np.abs(result.image[mask].astype(int) - expected[mask].astype(int)).max() <= 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_fill_matches_cpu():
    model = tiny_model()
    image, mask = photo(64, 64), np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    cpu = Inpainter(model, "cpu").run(InpaintRequest(image, mask, options=FULL)).image
    gpu = Inpainter(model, "cuda")
    assert gpu.device == "cuda"
    out = gpu.run(InpaintRequest(image, mask, options=FULL)).image
    assert np.abs(out.astype(int) - cpu.astype(int)).max() <= 2


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(EngineError, match="no CUDA GPU"):
        Inpainter(tiny_model(), "cuda")


# ------------------------------------------------------------------ the texture stage in the pipeline


def _counting(inpainter: Inpainter) -> list[int]:
    calls: list[int] = []
    real = inpainter.infer

    def infer(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    inpainter.infer = infer  # type: ignore[method-assign]
    return calls


def test_the_texture_stage_runs_by_default_and_keeps_the_network_fill_for_variants():
    inpainter = Inpainter(tiny_model(), "cpu")
    image, mask = photo(96, 128), np.zeros((96, 128), bool)
    mask[30:60, 40:80] = True
    plain = inpainter.run(InpaintRequest(image, mask, options=FULL))
    result = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="full")))
    assert "texture" in result.timings and result.guide is not None
    assert np.array_equal(result.image[~mask], image[~mask])
    assert (result.image[mask] != plain.image[mask]).any()
    # The kept guide is the network's fill (texture off) over the hole's box.
    x, y, w, h = result.guide.rect
    assert np.array_equal(result.guide.image[mask[y : y + h, x : x + w]],
                          plain.image[y : y + h, x : x + w][mask[y : y + h, x : x + w]])


def test_a_variant_runs_only_the_texture_stage_and_is_deterministic_per_seed():
    inpainter = Inpainter(tiny_model(), "cpu")
    image, mask = photo(96, 128, seed=3), np.zeros((96, 128), bool)
    mask[20:70, 30:90] = True
    first = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="full")))
    calls = _counting(inpainter)
    seed1 = InpaintOptions(strategy="full", seed=1)
    a = inpainter.run(InpaintRequest(first.image, mask, options=seed1, guide=first.guide))
    b = inpainter.run(InpaintRequest(first.image, mask, options=seed1, guide=first.guide))
    assert calls == []  # no network call for a variant
    assert np.array_equal(a.image, b.image)
    assert (a.image[mask] != first.image[mask]).any()
    assert np.array_equal(a.image[~mask], image[~mask])
    again = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="full")))
    assert np.array_equal(again.image, first.image)  # seed 0 again: the same fill


def test_a_variant_refuses_a_hole_that_grew_since_the_fill():
    inpainter = Inpainter(tiny_model(), "cpu")
    image, mask = photo(96, 128), np.zeros((96, 128), bool)
    mask[30:50, 40:60] = True
    first = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="full")))
    bigger = mask.copy()
    bigger[10:20, 10:20] = True
    with pytest.raises(EngineError, match="changed since the fill"):
        inpainter.run(InpaintRequest(image, bigger, guide=first.guide))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_changed_and_bounding_rects_match_a_pixel_by_pixel_search(channels):
    # The fast paths (the channels read as one wide plane) give the same rect as comparing
    # every pixel, including a change in the last channel of the last column.
    rng = np.random.default_rng(channels)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        before = rng.integers(0, 3, (h, w, channels)).astype(np.uint8)
        after = before.copy()
        for _ in range(int(rng.integers(0, 4))):
            after[rng.integers(h), rng.integers(w), rng.integers(channels)] ^= 1
        if rng.random() < 0.2:
            after[-1, -1, -1] ^= 1
        want = bbox((before != after).any(axis=2))
        assert changed_rect(before, after) == (None if want is None else box_to_rect(want))
        lit = bbox(before.any(axis=2))
        assert mask_rect(before) == (None if lit is None else box_to_rect(lit))
        assert mask_rect(before.astype(bool)) == (None if lit is None else box_to_rect(lit))
