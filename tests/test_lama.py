"""LaMa: the big-lama layout, the Fourier unit, and the release / TorchScript file layouts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from app.engine.checkpoints import lama_checkpoints, loaders
from app.engine.networks.lama import (
    FourierUnit,
    LaMaConfig,
    LaMaGenerator,
    LaMaModel,
    LaMaTorchScript,
    config_from_state_dict,
    generator_state_dict,
)
from app.engine.types import ModelFileError

from .fixtures_path import FIXTURES

LAYOUT = FIXTURES / "lama_big_generator_layout.json"
needs_layout = pytest.mark.skipif(not LAYOUT.exists(), reason="shared fixtures not present")
SMALL = LaMaConfig(ngf=8, n_blocks=2)
# building TorchScript exports in these tests uses APIs torch now marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _random_state(layout: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors in a layout (cut from one random pool, which is fast for 51 M values),
    with BatchNorm statistics that keep activations finite."""
    gen = torch.Generator().manual_seed(seed)
    pool = torch.randn(1 << 21, generator=gen)
    state = {}
    for i, (key, shape) in enumerate(layout.items()):
        n = int(np.prod(shape))
        start = (i * 7919) % (pool.numel() - n) if n < pool.numel() else 0
        values = pool[start : start + n].reshape(shape).clone()
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = values.abs() + 0.5
        elif key.endswith("running_mean"):
            state[key] = values * 0.1
        elif len(shape) == 4:
            state[key] = values / float(np.prod(shape[1:])) ** 0.5
        else:
            state[key] = values * 0.1 + float(key.endswith("weight"))
    return state


@needs_layout
def test_big_lama_names_shapes_and_size_equal_the_release_listing() -> None:
    listing = json.loads(LAYOUT.read_text())["generator"]
    net = LaMaGenerator()  # defaults are big-lama
    state = net.state_dict()
    assert list(state) == list(listing)  # same names in the same order
    assert {k: list(v.shape) for k, v in state.items()} == listing
    assert len(state) == 989
    params = sum(p.numel() for p in net.parameters())
    assert round(params / 1e6, 2) == 50.98
    assert config_from_state_dict(state) == LaMaConfig()


@needs_layout
def test_big_lama_loads_a_state_dict_in_the_release_layout_and_fills() -> None:
    listing = json.loads(LAYOUT.read_text())["generator"]
    state = {f"generator.{k}": v for k, v in _random_state(listing).items()}
    state["discriminator.model0.0.ffc.convl2l.weight"] = torch.zeros(64, 4, 3, 3)  # skipped
    model = lama_checkpoints.lama_from_state_dict(state, "best.ckpt")
    assert model.config == LaMaConfig()
    torch.testing.assert_close(
        model.net.state_dict()["model.5.conv1.ffc.convg2g.fu.conv_layer.weight"],
        state["generator.model.5.conv1.ffc.convg2g.fu.conv_layer.weight"],
        rtol=0,
        atol=0,
    )
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:40, 20:48] = 1
    calls = []
    with torch.inference_mode():
        out = model(image, mask, between_stages=lambda: calls.append(1))
    assert calls == [1]
    assert out.refined.shape == (1, 3, 64, 64) and out.attention is None and out.offsets is None
    assert out.refined.min() >= -1 and out.refined.max() <= 1
    assert out.refined.std() > 1e-3  # not a constant image


def test_fourier_unit_matches_an_independent_spectral_formulation() -> None:
    torch.manual_seed(0)
    fu = FourierUnit(5).eval()
    with torch.no_grad():
        fu.bn.weight.uniform_(0.5, 1.5)
        fu.bn.bias.normal_()
        fu.bn.running_mean.normal_()
        fu.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 5, 12, 18)
    # channel c of the spectrum feeds conv inputs 2c (real part) and 2c + 1 (imaginary part)
    spec = torch.fft.rfft2(x, norm="ortho")
    z = torch.empty(2, 10, 12, 10)
    z[:, 0::2], z[:, 1::2] = spec.real, spec.imag
    w = fu.conv_layer.weight[:, :, 0, 0]
    y = torch.einsum("oi,bihw->bohw", w, z)
    scale = fu.bn.weight / torch.sqrt(fu.bn.running_var + fu.bn.eps)
    y = torch.relu(
        (y - fu.bn.running_mean[:, None, None]) * scale[:, None, None] + fu.bn.bias[:, None, None]
    )
    expected = torch.fft.irfft2(torch.complex(y[:, 0::2], y[:, 1::2]), s=(12, 18), norm="ortho")
    with torch.no_grad():
        torch.testing.assert_close(fu(x), expected, rtol=1e-5, atol=1e-5)


def test_global_branch_reaches_across_the_whole_image() -> None:
    """One pixel changed in a corner moves the output in the opposite corner (FFC's point)."""
    torch.manual_seed(1)
    net = LaMaGenerator(LaMaConfig(ngf=8, n_blocks=1, n_downsampling=1)).eval()
    x = torch.rand(1, 4, 64, 64)
    y = x.clone()
    y[..., 0, 0] += 1.0
    with torch.no_grad():
        diff = (net(x) - net(y)).abs()
    # 1 down-sampling + one 3x3 block: the convolutions alone reach ~13 px; the FFT reaches all
    assert diff[..., 48:, 48:].max() > 1e-6


def test_generator_state_dict_strips_any_prefix() -> None:
    state = {"model.generator.model.1.ffc.convl2l.weight": 1, "model.generator.model.34.bias": 2,
             "model.discriminator.x": 3}  # fmt: skip
    assert generator_state_dict(state) == {"model.1.ffc.convl2l.weight": 1, "model.34.bias": 2}
    assert generator_state_dict({"model.1.ffc.convl2l.weight": 5}) == {
        "model.1.ffc.convl2l.weight": 5
    }
    assert generator_state_dict({"other": 1}) == {}


class _Hyper:
    """Stands for the OmegaConf config a Lightning checkpoint pickles as hyper-parameters."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


class _Bomb:
    """Unpickling this with a plain unpickler would create a file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _lightning_checkpoint(path: Path, net: LaMaGenerator, extra: dict | None = None) -> None:
    state = {f"generator.{k}": v for k, v in net.state_dict().items()}
    state["discriminator.model0.0.ffc.convl2l.weight"] = torch.zeros(4, 4, 3, 3)
    state["loss_resnet_pl.impl.conv1.weight"] = torch.zeros(2, 3, 3, 3)
    ckpt = {
        "epoch": 40,
        "global_step": 1000,
        "pytorch-lightning_version": "1.2.9",
        "state_dict": state,
        "hyper_parameters": _Hyper(generator={"kind": "ffc_resnet"}, **(extra or {})),
    }
    torch.save(ckpt, path)


def test_lightning_checkpoint_loads_without_running_its_pickled_objects(tmp_path: Path) -> None:
    torch.manual_seed(2)
    net = LaMaGenerator(SMALL).eval()
    marker = tmp_path / "pwned"
    path = tmp_path / "best.ckpt"
    _lightning_checkpoint(path, net, {"payload": _Bomb(str(marker))})
    with pytest.raises(Exception):  # noqa: B017 - plain safe loading refuses the file
        torch.load(path, weights_only=True)
    model = loaders.load_model(path)
    assert not marker.exists()
    assert model.architecture == "lama" and model.color_order == "RGB" and model.config is None
    assert isinstance(model.generator, LaMaModel) and model.generator.config == SMALL
    for key, value in net.state_dict().items():
        assert torch.equal(model.generator.net.state_dict()[key], value)
    # declared by LaMaModel, not guessed from the missing DeepFill config
    caps = model.capabilities
    assert not caps.sketch and not caps.attention and caps.color_order == "RGB"


def test_damaged_lama_checkpoint_is_a_model_file_error(tmp_path: Path) -> None:
    net = LaMaGenerator(SMALL)
    state = {f"generator.{k}": v for k, v in net.state_dict().items()}
    del state["generator.model.1.bn_l.weight"]
    torch.save({"state_dict": state}, tmp_path / "cut.ckpt")
    with pytest.raises(ModelFileError, match="does not fit the LaMa generator"):
        loaders.load_model(tmp_path / "cut.ckpt")
    blob = (tmp_path / "cut.ckpt").read_bytes()
    (tmp_path / "trunc.ckpt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelFileError):
        loaders.load_model(tmp_path / "trunc.ckpt")


class _ExportWrapper(nn.Module):
    """What LaMa's own JIT export wraps around the training module: (image, mask) -> image."""

    def __init__(self, net: LaMaGenerator) -> None:
        super().__init__()
        self.generator = net

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        predicted = self.generator(torch.cat([image * (1 - mask), mask], dim=1))
        return mask * predicted + (1 - mask) * image


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    image = torch.rand(1, 3, 32, 48)
    mask = torch.zeros(1, 1, 32, 48)
    mask[..., 8:24, 10:30] = 1
    return image, mask


def test_torchscript_export_of_lama_reuses_its_weights(tmp_path: Path) -> None:
    net = LaMaGenerator(SMALL).eval()
    image, mask = _inputs()
    with torch.no_grad():
        traced = torch.jit.trace(_ExportWrapper(net), (image, mask), check_trace=False)
        expected = traced(image, mask)
    torch.jit.save(traced, str(tmp_path / "big-lama.pt"))
    model = loaders.load_model(tmp_path / "big-lama.pt")
    assert isinstance(model.generator.net, LaMaGenerator)  # rebuilt natively
    with torch.no_grad():
        out = model.generator(image * 2 - 1, mask).refined
    hole = mask.bool().expand_as(out)
    torch.testing.assert_close(((out + 1) / 2)[hole], expected[hole], rtol=1e-4, atol=1e-5)


class _Opaque(nn.Module):
    """A TorchScript export whose weights are not LaMa's: run as a black box."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([image * (1 - mask), mask], dim=1)))


def test_opaque_torchscript_export_is_called_with_image_and_mask(tmp_path: Path) -> None:
    torch.manual_seed(4)
    scripted = torch.jit.script(_Opaque().eval())
    torch.jit.save(scripted, str(tmp_path / "export.pt"))
    model = loaders.load_model(tmp_path / "export.pt")
    assert model.architecture == "lama_torchscript"
    assert isinstance(model.generator.net, LaMaTorchScript)
    image, mask = _inputs()
    with torch.no_grad():
        out = model.generator(image * 2 - 1, mask)
        expected = scripted(image, mask)
    assert out.attention is None
    torch.testing.assert_close((out.refined + 1) / 2, expected, rtol=1e-5, atol=1e-6)


def test_lama_fills_through_the_pipeline(tmp_path: Path) -> None:
    from app.engine.inference.pipeline import Inpainter
    from app.engine.types import InpaintOptions, InpaintRequest

    torch.manual_seed(5)
    net = LaMaGenerator(SMALL).eval()
    _lightning_checkpoint(tmp_path / "best.ckpt", net)
    inpainter = Inpainter(loaders.load_model(tmp_path / "best.ckpt"), device="cpu")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 100, 3), dtype=np.uint8)
    mask = np.zeros((90, 100), bool)
    mask[30:60, 40:70] = True
    result = inpainter.run(InpaintRequest(image, mask, options=InpaintOptions(strategy="full")))
    assert result.image.shape == image.shape
    assert np.array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask])
    assert result.flow is None  # no attention, no flow
