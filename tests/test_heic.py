"""HEIC/HEIF photos (phones) open in the editor, the CLI and batch, with EXIF and ICC kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from app import imageio
from app.cli import main as cli

from .conftest import make_photo, open_and_wait

pytest.importorskip("pillow_heif")

H, W = 64, 96


@pytest.fixture
def heic(tmp_path: Path) -> dict:
    """A HEIC made here, with a camera make in EXIF and an sRGB ICC profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    path = tmp_path / "IMG_0001.HEIC"
    Image.fromarray(make_photo(H, W)).save(path, format="HEIF", quality=95, exif=exif.tobytes(),
                                           icc_profile=icc)
    mask = np.zeros((H, W), np.uint8)
    mask[20:40, 30:60] = 255
    Image.fromarray(mask).save(tmp_path / "IMG_0001.png")
    return {"path": path, "icc": icc, "mask": tmp_path / "IMG_0001.png", "root": tmp_path}


def _camera(path: Path) -> str:
    with Image.open(path) as im:
        return im.getexif().get(0x010F)


def test_heic_opens_with_exif_and_icc(heic):
    loaded = imageio.load_image(heic["path"])
    assert loaded.format == "HEIF" and loaded.size == (W, H)
    assert loaded.icc == heic["icc"]
    assert loaded.exif and b"PhoneCam" in loaded.exif
    # lossy, but the picture it holds is ours
    assert np.abs(loaded.rgb.astype(int) - make_photo(H, W)).mean() < 12


def test_cli_fills_a_heic_into_heic_and_jpeg_keeping_metadata(heic, tiny_model_path):
    for out in (heic["root"] / "out.heic", heic["root"] / "out.jpg"):
        assert cli(["inpaint", str(heic["path"]), "--mask", str(heic["mask"]), "-o", str(out),
                    "--model", str(tiny_model_path)]) == 0
        with Image.open(out) as im:
            assert im.size == (W, H) and im.info.get("icc_profile") == heic["icc"]
        assert _camera(out) == "PhoneCam"


def test_batch_keeps_heic(heic, tiny_model_path):
    out = heic["root"] / "out"
    assert cli(["batch", str(heic["path"]), "--masks", str(heic["root"]), "-o", str(out),
                "--model", str(tiny_model_path)]) == 0
    result = out / "IMG_0001.HEIC"
    assert imageio.load_image(result).format == "HEIF" and _camera(result) == "PhoneCam"


def test_damaged_heic_is_one_clear_error(tmp_path, heic):
    broken = tmp_path / "cut.heic"
    broken.write_bytes(heic["path"].read_bytes()[:200])
    with pytest.raises(imageio.ImageLoadError, match="damaged HEIC"):
        imageio.load_image(broken)


def test_editor_opens_heic(qtbot, make_window, heic):
    win = make_window()
    open_and_wait(qtbot, win, heic["path"])
    assert win.doc.image.shape == (H, W, 3)
    assert win.doc.meta.icc == heic["icc"] and b"PhoneCam" in win.doc.meta.exif
