"""`batch --ray` on a local Ray instance with 2 CPUs: the same results as the single-photo CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.api import inpaint_batch
from app.cli import main as cli

from .conftest import make_photo

pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'deepfill-studio[ray]'")

H, W = 64, 80


@pytest.mark.slow
@pytest.mark.slow
def test_ray_batch_equals_the_single_photo_cli(tmp_path: Path, tiny_model_path: Path) -> None:
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    for i in range(3):
        Image.fromarray(make_photo(H, W, seed=10 + i)).save(photos / f"p{i}.png")
        mask = np.zeros((H, W), np.uint8)
        mask[10 + 5 * i : 40, 20:50] = 255
        Image.fromarray(mask).save(masks / f"p{i}.png")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    Image.fromarray(mask).save(masks / "broken.png")
    out = tmp_path / "out"

    # a local Ray instance with 2 CPUs, started and stopped by the run; 1 thread per actor
    report = inpaint_batch(
        photos, masks, out, ray="local", ray_cpus=2, model=str(tiny_model_path), strategy="full",
    )
    assert report.backend == "ray" and report.workers == 2 and report.exit_code == 1
    saved = json.loads((out / "report.json").read_text())
    assert saved["counts"] == {"ok": 3, "failed": 1, "skipped": 0}
    assert [r["status"] for r in saved["photos"]] == ["failed", "ok", "ok", "ok"]
    for i in range(3):
        single = tmp_path / f"single{i}.png"
        assert cli(["inpaint", str(photos / f"p{i}.png"), "--mask", str(masks / f"p{i}.png"),
                    "-o", str(single), "--model", str(tiny_model_path), "--strategy", "full",
                    "--threads", "1"]) == 0
        assert (out / f"p{i}.png").read_bytes() == single.read_bytes()
