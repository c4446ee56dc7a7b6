"""tools/extra_training_photos.py: reads Qt resource bundles, takes each photo's licence from
its README (refusing unknown ones) and writes bounded JPEGs."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.tool_loader import load_tool

RCC = "import sys; from PySide6.scripts.pyside_tool import rcc; sys.argv[0] = 'pyside6-rcc'; sys.exit(rcc())"


def test_files_come_out_of_a_qt_resource_bundle(tmp_path):
    tool = load_tool("extra_training_photos")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "photo.webp").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "a" / "README").write_text("License: CC0\n")
    (tmp_path / "t.qrc").write_text(
        '<RCC><qresource prefix="/"><file>a/b/photo.webp</file><file>a/README</file></qresource></RCC>')
    subprocess.run([sys.executable, "-c", RCC, "--binary", "t.qrc", "-o", "t.rcc"], cwd=tmp_path, check=True)
    files = tool.read_resources(tmp_path / "t.rcc")
    assert files == {"a/b/photo.webp": bytes(range(256)) * 40, "a/README": b"License: CC0\n"}
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        tool.read_resources(tmp_path / "a" / "README")


def test_each_file_gets_its_own_stanzas_licence():
    tool = load_tool("extra_training_photos")
    readme = (
        "alpaca.webp\nCopyright: Someone / Wikimedia Commons\nLicense: CC BY-SA 4.0\n"
        "Source: https://example.org/alpaca\n\n"
        "Files: bee.webp cat.webp\nLicense: public domain\n\n"
        "bird.webp\nLicense: CC-BY-NC 2.0\n"
    )
    credits = tool.parse_readme(readme)
    assert credits["alpaca.webp"]["Source"] == "https://example.org/alpaca"
    assert tool.licence_name(credits["alpaca.webp"]["License"]) == "CC-BY-SA-4.0"
    assert tool.licence_name(credits["cat.webp"]["License"]) == "Public domain"
    assert tool.licence_name("CC0 1.0") == "CC0-1.0"
    assert tool.licence_name("cc-by-2.0") == "CC-BY-2.0"
    with pytest.raises(ValueError, match="unrecognised licence"):
        tool.licence_name(credits["bird.webp"]["License"])  # non-commercial: never taken


def test_photos_are_shrunk_to_the_long_side_never_enlarged_and_small_ones_refused(tmp_path):
    tool = load_tool("extra_training_photos")
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 255, (1000, 2400, 4), np.uint8), "RGBA")
    assert tool.save_photo(big, tmp_path / "big.jpg") == (1600, 667)
    with Image.open(tmp_path / "big.jpg") as saved:
        assert (saved.format, saved.mode, saved.size) == ("JPEG", "RGB", (1600, 667))
    assert tool.save_photo(big.resize((600, 450)), tmp_path / "mid.jpg") == (600, 450)
    with pytest.raises(ValueError, match="short side"):
        tool.save_photo(big.resize((800, 300)), tmp_path / "small.jpg")


def test_a_pinned_package_with_an_epoch_is_found_under_apts_file_name(tmp_path, monkeypatch):
    tool = load_tool("extra_training_photos")
    deb = tmp_path / "palapeli-data_4%3a22.12.3-1_all.deb"  # apt writes the epoch's ':' as %3a
    deb.write_bytes(b"not really a package")
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    monkeypatch.setitem(tool.PACKAGES, "palapeli-data", ("4:22.12.3-1", digest))
    monkeypatch.setattr(tool.subprocess, "run", lambda *a, **k: pytest.fail("downloaded again"))
    assert tool.download("palapeli-data", tmp_path) == deb
    monkeypatch.setitem(tool.PACKAGES, "palapeli-data", ("4:22.12.3-1", "0" * 64))
    with pytest.raises(SystemExit, match="sha256"):
        tool.download("palapeli-data", tmp_path)
