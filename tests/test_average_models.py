"""tools/average_models.py: the weight average of fine-tunes loads and sits between its parts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from app.engine.checkpoints.loaders import load_model
from app.engine.networks.generator import Generator, GeneratorConfig
from app.engine.networks.widen import widen_state
from tests.tool_loader import load_tool

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "app" / "resources" / "models" / "deepfill-studio-default.pt"


def test_the_average_of_two_fine_tunes_is_their_mean_and_loads(tmp_path):
    tool = load_tool("average_models")
    base = torch.load(BUNDLED, map_location="cpu", weights_only=True)
    other = dict(base, state_dict={k: v + 1.0 for k, v in base["state_dict"].items()})
    other["metadata"] = dict(base["metadata"], steps=7)
    out = tmp_path / "avg.pt"
    torch.save(other, tmp_path / "other.pt")
    assert tool.main([str(out), str(BUNDLED), str(tmp_path / "other.pt")]) == 0
    avg = torch.load(out, map_location="cpu", weights_only=True)
    for name, value in base["state_dict"].items():
        assert torch.allclose(avg["state_dict"][name], value.float() + 0.5, atol=1e-6)  # float rounding near 0
    assert str(avg["metadata"]["steps"]).endswith("+ 7")
    assert len(avg["metadata"]["recipe"]["weight_average_of"]) == 2
    assert load_model(out).capabilities.sketch  # a model file the app reads


def test_a_narrower_part_is_widened_with_the_wider_ones_values_in_what_it_lacks(tmp_path):
    tool = load_tool("average_models")
    base = torch.load(BUNDLED, map_location="cpu", weights_only=True)
    config = GeneratorConfig(**dict(base["config"], cnum=base["config"]["cnum"] + 8))
    torch.manual_seed(0)
    target = Generator(config)
    wide_state = widen_state({k: v.float() for k, v in base["state_dict"].items()},
                             GeneratorConfig(**base["config"]), target)
    wide = dict(base, config=asdict(config), state_dict=wide_state)
    # The base carried to the wide one's width is exactly the wide one: their average is it.
    same = tool.average([base, wide])
    assert same["config"]["cnum"] == config.cnum
    for name, value in wide_state.items():
        assert torch.allclose(same["state_dict"][name], value, atol=1e-6), name
    # A wide part that moved: the average sits halfway wherever the narrow part has weights.
    moved = dict(wide, state_dict={k: v + 1.0 for k, v in wide_state.items()})
    avg = tool.average([base, moved])
    checked = 0
    for name, value in base["state_dict"].items():
        if name.startswith("allconv11."):  # reads two branches: its old columns are split
            continue
        old = value.float()  # this config's gates are not "full": old weights keep the corner
        corner = avg["state_dict"][name][tuple(slice(0, n) for n in old.shape)]
        assert torch.allclose(corner, old + 0.5, atol=1e-5), name
        checked += 1
    assert checked > 20
    torch.save(avg, tmp_path / "avg.pt")
    assert load_model(tmp_path / "avg.pt").capabilities.sketch


def test_different_networks_are_refused():
    tool = load_tool("average_models")
    base = torch.load(BUNDLED, map_location="cpu", weights_only=True)
    other = dict(base, config=dict(base["config"], cnum=48, padding="zeros"))
    with pytest.raises(ValueError, match="different networks"):
        tool.average([base, other])
    with pytest.raises(ValueError, match="at least two"):
        tool.average([base])
