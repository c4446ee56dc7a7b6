"""tools/average_models.py: the weight average of fine-tunes loads and sits between its parts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.engine.checkpoints.loaders import load_model
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


def test_different_networks_are_refused():
    tool = load_tool("average_models")
    base = torch.load(BUNDLED, map_location="cpu", weights_only=True)
    other = dict(base, config=dict(base["config"], cnum=48))
    with pytest.raises(ValueError, match="different networks"):
        tool.average([base, other])
    with pytest.raises(ValueError, match="at least two"):
        tool.average([base])
