"""The README screenshot renderer drives the real window and writes a PNG."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "render_screenshot", ROOT / "tools" / "render_screenshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshot_renderer_writes_the_window_as_png(qapp, tmp_path, tiny_model_path):
    tool = load_tool()
    out = tool.render(
        tmp_path / "shot.png",
        theme="light",
        model=str(tiny_model_path),
        size=(1000, 680),
        scene_size=(400, 260),
        timeout=120,
    )
    with Image.open(out) as im:
        assert im.size == (1000, 680)
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 20  # a real window, not a blank image
    # the mask overlay (red) and the sketch (cyan) are visible on the canvas
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    assert ((r > 200) & (g < 120) & (b < 150)).sum() > 50
    assert ((r < 80) & (g > 190) & (b > 200)).sum() > 5
