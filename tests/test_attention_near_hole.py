"""Contextual attention limited to the cells near the hole gives the dense layer's hole pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from app.engine.checkpoints.loaders import load_model
from app.engine.checkpoints.models import bundled_models_dir
from app.engine.networks import generator as gen
from app.engine.networks.attention import contextual_attention

ROOT = bundled_models_dir().parents[1]


@pytest.mark.parametrize("resize", ["tf", "native"])
@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("size", [(32, 48), (40, 24)])
def test_scores_of_any_query_cells_equal_the_dense_layers(resize, fuse, size):
    """Random query sets include cells at row ends and column ends, where the fuse passes wrap."""
    h, w = size
    torch.manual_seed(1)
    f = torch.randn(2, 6, h, w)
    mask = torch.zeros(2, 1, h, w)
    mask[0, :, 5:15, 10:30] = 1
    mask[1, :, 20:, :8] = 1
    queries = torch.rand(2, h // 2, w // 2) > 0.6
    dense = contextual_attention(f, f, mask, fuse=fuse, resize=resize, return_scores=True)
    sparse = contextual_attention(
        f, f, mask, fuse=fuse, resize=resize, return_scores=True, queries=queries
    )
    picked = queries[:, None].expand_as(dense.scores)
    assert torch.allclose(sparse.scores[picked], dense.scores[picked], atol=2e-5)
    assert not sparse.scores[~picked].any()
    assert torch.equal(sparse.offsets[:, 0][queries], dense.offsets[:, 0][queries])
    assert torch.equal(sparse.offsets[:, 1][queries], dense.offsets[:, 1][queries])


def _photo_and_hole() -> tuple[torch.Tensor, torch.Tensor]:
    rgb = Image.open(ROOT / "resources/sample/picos.jpg").convert("RGB").resize((384, 256))
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    mask = torch.zeros(1, 1, 256, 384)
    mask[..., 100:160, 100:200] = 1
    return x * (1 - mask), mask


def test_the_bundled_model_fills_the_hole_the_same_with_near_hole_attention(monkeypatch):
    generator = load_model(bundled_models_dir() / "deepfill-studio-default.pt").generator.eval()
    x, mask = _photo_and_hole()
    sketch = torch.zeros_like(mask)
    hole = mask.bool().expand(1, 3, -1, -1)
    with torch.inference_mode():
        dense = generator(x, mask, sketch).refined
        near = generator(x, mask, sketch, near_hole_only=True).refined
        assert (dense - near)[hole].abs().max() < 1e-5
        assert (dense - near)[~hole].abs().max() > 0.05  # far cells were really left out
        # ... and the reach matters: with too narrow a band the hole changes.
        monkeypatch.setattr(gen, "HOLE_REACH_CELLS", 1)
        narrow = generator(x, mask, sketch, near_hole_only=True).refined
    assert (dense - narrow)[hole].abs().max() > 1e-2


def test_attention_cells_cover_the_hole_and_its_reach():
    mask = torch.zeros(1, 1, 160, 240)
    mask[..., 80:81, 120:121] = 1  # one pixel: cell (10, 15)
    cells = gen.attention_cells(mask)[0]
    reach = gen.HOLE_REACH_CELLS
    ys, xs = torch.nonzero(cells, as_tuple=True)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (10 - reach, 10 + reach, 15 - reach, 15 + reach)
