"""The sketch fed to the refine stage as well (`GeneratorConfig.refine_sketch`): the layer
shapes, the sketch reaching the refine stage (masked to the hole), model files with and without
the setting, and zero-initialised new channels that reproduce the old model exactly."""

import dataclasses

import numpy as np
import pytest
import torch

from app.engine.checkpoints.library import import_model
from app.engine.checkpoints.loaders import load_model
from app.engine.checkpoints.weights import LoadedModel, save_model
from app.engine.inference.pipeline import Inpainter
from app.engine.networks.generator import (
    REFINE_INPUTS,
    Generator,
    GeneratorConfig,
    with_refine_sketch,
)
from app.engine.types import InpaintOptions, InpaintRequest

from .tiny import TINY, tiny_generator

REFINE = dataclasses.replace(TINY, refine_sketch=True)


def _inputs(seed: int = 0, size: int = 48):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., 12:36, 8:40] = 1
    sketch = (torch.rand(1, 1, size, size, generator=g) > 0.8).float()
    return image, mask, sketch


def _without_coarse_sketch(generator: Generator) -> Generator:
    """Zero the coarse stage's sketch weights: whatever the sketch changes, the refine stage did."""
    with torch.no_grad():
        generator.conv1.conv.weight[:, 3] = 0
        if hasattr(generator.conv1, "gate"):
            generator.conv1.gate.weight[:, 3] = 0
    return generator


def test_config_defaults_off_and_needs_the_sketch_channel():
    assert GeneratorConfig().refine_sketch is False
    assert "refine_sketch" not in TINY.to_dict()  # files without it stay readable by older versions
    assert GeneratorConfig.from_dict(REFINE.to_dict()) == REFINE
    old = {k: v for k, v in TINY.to_dict().items()}
    assert GeneratorConfig.from_dict(old) == TINY
    with pytest.raises(ValueError, match="sketch channel"):
        GeneratorConfig(in_channels=5, refine_sketch=True)


def test_the_refine_branches_take_one_more_channel():
    plain, refine = Generator(TINY), Generator(REFINE)
    for name in REFINE_INPUTS:
        assert getattr(plain, name).conv.weight.shape[1] == 3
        assert getattr(refine, name).conv.weight.shape[1] == 4
    changed = {k for k, v in refine.state_dict().items() if v.shape != plain.state_dict()[k].shape}
    assert {k.split(".")[0] for k in changed} == set(REFINE_INPUTS)
    v1 = dataclasses.replace(REFINE, refine_mask_input=True)
    assert Generator(v1).xconv1.conv.weight.shape[1] == 6


def test_the_sketch_reaches_the_refine_stage_inside_the_hole_only():
    generator = _without_coarse_sketch(tiny_generator(REFINE, seed=1))
    image, mask, sketch = _inputs()
    with torch.no_grad():
        plain = generator(image, mask)
        guided = generator(image, mask, sketch)
        outside = generator(image, mask, sketch * (1 - mask))
    assert torch.equal(plain.coarse, guided.coarse)  # the coarse stage ignores it here
    assert (plain.refined - guided.refined).abs().max() > 1e-3
    assert torch.equal(plain.refined, outside.refined)  # masked like in the coarse stage


def test_zero_initialised_channels_reproduce_the_old_model_exactly():
    old = tiny_generator(TINY, seed=2)
    new = Generator(REFINE).eval()
    new.load_state_dict(with_refine_sketch(old.state_dict(), new))
    for name in REFINE_INPUTS:
        assert not getattr(new, name).conv.weight[:, 3].any()
        assert torch.equal(getattr(new, name).conv.weight[:, :3], getattr(old, name).conv.weight)
    image, mask, sketch = _inputs(3)
    with torch.no_grad():
        a, b = old(image, mask, sketch), new(image, mask, sketch)
    assert torch.equal(a.coarse, b.coarse)
    # The zero terms add nothing; only a BLAS that blocks the longer sum differently rounds apart.
    assert torch.allclose(a.refined, b.refined, atol=1e-6, rtol=0)
    # A state that fits already, or a generator without the setting, is left as it is.
    fitted = new.state_dict()
    assert with_refine_sketch(fitted, new) == fitted
    old_state = old.state_dict()
    assert with_refine_sketch(old_state, old) is old_state
    with pytest.raises(RuntimeError):  # any other mismatch is still refused by the strict load
        Generator(REFINE).load_state_dict(with_refine_sketch(Generator(dataclasses.replace(
            TINY, cnum=16)).state_dict(), Generator(REFINE)))


def test_model_files_round_trip_and_import(tmp_path):
    generator = tiny_generator(REFINE, seed=4)
    path = tmp_path / "refine.pt"
    save_model(path, generator, metadata={"name": "refine", "license": "test"})
    loaded = load_model(path)
    assert loaded.config == REFINE
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.generator.state_dict()[key], value)
    dest, again = import_model(path, "refine-copy", dest_dir=tmp_path / "models")
    assert dest.exists() and again.config == REFINE
    image, mask, sketch = _inputs(5)
    with torch.no_grad():
        assert torch.equal(again.generator(image, mask, sketch).refined,
                           generator(image, mask, sketch).refined)
    # A file from before the setting existed (no key in its config) loads as refine_sketch off.
    plain = tmp_path / "plain.pt"
    save_model(plain, tiny_generator(TINY), metadata={"name": "plain", "license": "test"})
    assert "refine_sketch" not in torch.load(plain, weights_only=True)["config"]
    assert load_model(plain).config.refine_sketch is False


def test_inpainter_passes_the_sketch_to_a_refine_sketch_model():
    generator = _without_coarse_sketch(tiny_generator(REFINE, seed=6))
    inpainter = Inpainter(LoadedModel(generator, REFINE, "RGB", name="tiny-refine"), "cpu")
    rng = np.random.default_rng(6)
    image = rng.integers(0, 256, (56, 72, 3), dtype=np.uint8)
    mask = np.zeros((56, 72), bool)
    mask[12:44, 16:60] = True
    sketch = np.zeros_like(mask)
    sketch[28, :] = True
    plain = inpainter.infer(image, mask)
    guided = inpainter.infer(image, mask, sketch)
    assert np.array_equal(plain.image[~mask], image[~mask])
    assert np.array_equal(guided.image[~mask], image[~mask])
    assert not np.array_equal(plain.image[mask], guided.image[mask])
    full = InpaintOptions(strategy="full", texture=False)
    result = inpainter.run(InpaintRequest(image, mask, sketch, options=full)).image
    assert np.array_equal(result, guided.image)
