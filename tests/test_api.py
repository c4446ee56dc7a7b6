"""The Python API (app.api): NumPy arrays and PIL images in, the same kind out; the CLI's fill."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import api
from app.cli import main as cli
from app.engine.types import EngineError

from .conftest import make_photo


@pytest.fixture
def case(tiny_model_path: Path):
    photo = make_photo(64, 80)
    mask = np.zeros((64, 80), bool)
    mask[16:40, 24:56] = True
    return photo, mask, str(tiny_model_path)


def test_numpy_in_numpy_out_unchanged_outside_the_hole(case):
    photo, mask, model = case
    out = api.inpaint(photo, mask, model=model, device="cpu", strategy="full")
    assert isinstance(out, np.ndarray) and out.shape == photo.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], photo[~mask])
    assert not np.array_equal(out[mask], photo[mask])


def test_pil_in_pil_out_with_alpha_kept(case):
    photo, mask, model = case
    alpha = np.full(mask.shape, 200, np.uint8)
    rgba = Image.fromarray(np.dstack([photo, alpha]), "RGBA")
    mask_image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    out = api.inpaint(rgba, mask_image, model=model, strategy="full")
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (80, 64)
    arr = np.asarray(out)
    assert np.array_equal(arr[..., 3], alpha)
    assert np.array_equal(arr[..., :3][~mask], photo[~mask])


def test_same_result_as_the_cli(case, tmp_path):
    photo, mask, model = case
    sketch = np.zeros(mask.shape, bool)
    sketch[28, :] = True
    Image.fromarray(photo).save(tmp_path / "p.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m.png")
    Image.fromarray(sketch.astype(np.uint8) * 255).save(tmp_path / "s.png")
    assert cli(["inpaint", str(tmp_path / "p.png"), "--mask", str(tmp_path / "m.png"),
                "--sketch", str(tmp_path / "s.png"), "-o", str(tmp_path / "cli.png"),
                "--model", model, "--strategy", "full", "--threads", "1"]) == 0
    out = api.inpaint(photo, mask, sketch, model=model, threads=1, strategy="full")
    assert np.array_equal(out, np.asarray(Image.open(tmp_path / "cli.png")))


def test_the_model_is_loaded_once(case):
    photo, mask, model = case
    api.load_inpainter.cache_clear()
    api.inpaint(photo, mask, model=model, strategy="full")
    api.inpaint(photo, mask, model=model, strategy="full")
    assert api.load_inpainter.cache_info().misses == 1


def test_bad_input_is_one_clear_error(case):
    photo, mask, model = case
    with pytest.raises(TypeError, match="unknown option"):
        api.inpaint(photo, mask, model=model, stratgy="full")
    with pytest.raises(EngineError, match="mask is 10x10"):
        api.inpaint(photo, np.ones((10, 10), bool), model=model)
    with pytest.raises(EngineError, match="uint8"):
        api.inpaint(photo.astype(np.float32), mask, model=model)


def test_inpaint_file_and_batch(case, tmp_path):
    photo, mask, model = case
    Image.fromarray(photo).save(tmp_path / "p.jpg", quality=90)
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "m.png")
    done = api.inpaint_file(tmp_path / "p.jpg", tmp_path / "m.png", tmp_path / "r.jpg", model=model)
    assert done.output.exists() and done.size == (80, 64) and done.model == "tiny"
    report = api.inpaint_batch(tmp_path / "p.jpg", tmp_path / "m.png", tmp_path / "out",
                               model=model, progress=False)
    assert report.exit_code == 0 and (tmp_path / "out" / "p.jpg").exists()
