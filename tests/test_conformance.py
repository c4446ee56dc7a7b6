"""Our generator in TF-SAME mode reproduces the official DeepFill v2 architecture."""

import pytest
import torch

from app.engine.networks.attention import contextual_attention, downscale_mask, tf_nearest_indices
from app.engine.networks.generator import Generator, GeneratorConfig

from .fixtures_path import REFERENCE, needs_fixtures

pytestmark = needs_fixtures
TOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    return torch.load(REFERENCE, weights_only=False)


@pytest.mark.parametrize("fuse", [True, False], ids=["fuse", "nofuse"])
@pytest.mark.slow
def test_generator_matches_official_outputs(reference, fuse):
    generator = Generator(GeneratorConfig(fuse=fuse)).eval()
    generator.load_state_dict(reference["G"], strict=True)
    image = reference["input"][:, :3]
    with torch.no_grad():
        out = generator(image, reference["mask"])
    tag = "fuse" if fuse else "nofuse"
    assert (out.coarse - reference[f"stage1_{tag}"]).abs().max() < TOL
    assert (out.refined - reference[f"stage2_{tag}"]).abs().max() < TOL


@pytest.mark.parametrize("fuse", [True, False], ids=["fuse", "nofuse"])
def test_attention_layer_alone_matches(reference, fuse):
    features = reference["ca_input"]
    mask = downscale_mask(reference["ca_mask"], features.shape[-2:], "tf")
    out = contextual_attention(features, features, mask, fuse=fuse, resize="tf")
    expected = reference["ca_output_fuse" if fuse else "ca_output_nofuse"]
    assert out.features.shape == expected.shape
    assert (out.features - expected).abs().max() < TOL


def test_fuse_changes_the_output(reference):
    """The reference separates fuse on and off, so a layer ignoring `fuse` cannot pass both."""
    diff = (reference["ca_output_fuse"] - reference["ca_output_nofuse"]).abs().max()
    assert diff > 0.25


def test_tf_nearest_indices_drift_like_tensorflow():
    # align_corners=True maps 60 -> 30 with indices round(j * 59 / 29), drifting from 2j to 2j+1.
    idx = tf_nearest_indices(60, 30).tolist()
    assert idx[0] == 0 and idx[-1] == 59
    assert idx[:8] == [0, 2, 4, 6, 8, 10, 12, 14]
    assert idx[20] == 41
