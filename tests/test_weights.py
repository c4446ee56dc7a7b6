"""Model files: our format, the PyTorch port's two layouts, and refusal of broken or unsafe files."""

import json
import pickle

import pytest
import torch

from app.engine.checkpoints.deepfill_checkpoints import _PORT_NETWORKS_RENAMES
from app.engine.checkpoints.loaders import load_model
from app.engine.checkpoints.weights import save_model
from app.engine.networks.generator import Generator, GeneratorConfig
from app.engine.types import ModelFileError

from .fixtures_path import LAYOUTS, REFERENCE, needs_fixtures

SMALL = GeneratorConfig(cnum=8, in_channels=6, padding="reflect", coarse_gate="single",
                        refine_gate="pixel", prefill="telea")


def test_own_format_round_trip(tmp_path):
    generator = Generator(SMALL)
    path = tmp_path / "m.pt"
    save_model(path, generator, color_order="RGB", metadata={"name": "small", "steps": 3,
                                                             "psnr": float("nan")})
    loaded = load_model(path)
    assert loaded.config == SMALL
    assert loaded.name == "small" and loaded.metadata["steps"] == 3
    assert loaded.metadata["psnr"] is None  # NaN is not kept
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.generator.state_dict()[key], value)
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary


def test_a_loaded_model_declares_its_capabilities_and_describes_itself(tmp_path):
    from app.engine.types import ModelCapabilities

    generator = Generator(SMALL)
    path = tmp_path / "m.pt"
    save_model(path, generator, color_order="BGR", metadata={"name": "small", "license": "L"})
    loaded = load_model(path)
    caps = ModelCapabilities(sketch=True, attention=True, color_order="BGR", prefill="telea")
    assert loaded.capabilities == caps
    info = loaded.describe()
    assert (info.name, info.license, info.source) == ("small", "L", str(path))
    assert info.parameters == sum(p.numel() for p in generator.parameters())
    assert info.capabilities == caps and info.device == ""
    plain = info.on_device("cpu").to_dict()
    assert plain["device"] == "cpu" and plain["color_order"] == "BGR" and plain["sketch"] is True
    assert plain["attention"] is True and plain["prefill"] == "telea"
    with pytest.raises(ValueError):
        ModelCapabilities(color_order="GBR")


@needs_fixtures
@pytest.mark.slow
def test_port_tf_layout_loads_the_official_architecture(tmp_path):
    reference = torch.load(REFERENCE, weights_only=False)
    path = tmp_path / "states_tf_places2.pth"
    torch.save({"G": reference["G"]}, path)
    model = load_model(path)
    assert model.color_order == "BGR"
    assert "CC BY-NC" in model.license
    assert model.config.padding == "same" and model.config.cnum == 48
    with torch.no_grad():
        out = model.generator(reference["input"][:, :3], reference["mask"])
    assert (out.refined - reference["stage2_fuse"]).abs().max() < 1e-4


@needs_fixtures
def test_port_networks_layout_is_recognised_by_its_keys(tmp_path):
    layouts = json.loads(LAYOUTS.read_text())["layouts"]
    networks = next(v for k, v in layouts.items() if k.startswith("networks ("))
    state = {k: torch.randn(v) * 0.01 for k, v in networks.items()}
    state["stage2.contextual_attention.fuse_weight"] = torch.eye(3).view(1, 1, 3, 3)
    path = tmp_path / "states_pt_places2.pth"
    torch.save({"G": state, "D": {}}, path)
    model = load_model(path)
    assert model.config.padding == "zero"
    ours = model.generator.state_dict()
    for old, new in _PORT_NETWORKS_RENAMES.items():
        suffix = ".conv.conv.weight" if "upsample" in old else ".conv.weight"
        assert torch.equal(ours[new + suffix], state[old + suffix])


@needs_fixtures
def test_both_port_layouts_have_our_shapes():
    layouts = json.loads(LAYOUTS.read_text())["layouts"]
    tf_layout = next(v for k, v in layouts.items() if k.startswith("networks_tf"))
    ours = {k: list(v.shape) for k, v in Generator(GeneratorConfig()).state_dict().items()}
    assert ours == tf_layout


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/deepfill_exploit_marker",))


@pytest.mark.reliability
@pytest.mark.parametrize("kind", ["missing", "empty", "text", "random", "truncated", "pickle",
                                  "wrong_keys", "wrong_shapes", "nan", "not_a_dict"])
def test_broken_or_hostile_model_files_are_refused(tmp_path, kind):
    import os

    marker = "/tmp/deepfill_exploit_marker"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "model.pt"
    good = tmp_path / "good.pt"
    save_model(good, Generator(SMALL))
    if kind == "missing":
        path = tmp_path / "nope.pt"
    elif kind == "empty":
        _write(path, b"")
    elif kind == "text":
        _write(path, b"this is not a model\n")
    elif kind == "random":
        _write(path, os.urandom(4096))
    elif kind == "truncated":
        _write(path, good.read_bytes()[:2000])
    elif kind == "pickle":
        with open(path, "wb") as fh:
            pickle.dump({"G": _Exploit()}, fh)
    elif kind == "wrong_keys":
        torch.save({"G": {"foo.weight": torch.zeros(3)}}, path)
    elif kind == "wrong_shapes":
        data = torch.load(good, weights_only=True)
        data["state_dict"]["conv1.conv.weight"] = torch.zeros(1, 1, 1, 1)
        torch.save(data, path)
    elif kind == "nan":
        data = torch.load(good, weights_only=True)
        data["state_dict"]["conv1.conv.weight"].fill_(float("nan"))
        torch.save(data, path)
    elif kind == "not_a_dict":
        torch.save([1, 2, 3], path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert not os.path.exists(marker), "unpickling ran code"
