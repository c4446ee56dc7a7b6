"""`python main.py WORD` with no such command or file; Pillow's bomb warning never on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _main(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
        timeout=120, cwd=cwd, env={**os.environ, **(env or {})},
    )


def test_unknown_word_is_refused_instead_of_opening_the_editor(tmp_path):
    proc = _main("inpiant", "photo.jpg", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "unknown command or file: 'inpiant'" in proc.stderr
    assert "inpaint" in proc.stderr  # the commands are listed


@pytest.mark.reliability
@pytest.mark.slow
def test_large_photo_gives_no_decompression_warning(tmp_path):
    """95 MP is over Pillow's 89.5 MP warning limit and under our 250 MP guard: handled on
    purpose, silently, even with every warning switched on."""
    import cv2

    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((9500, 10000), np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((10, 10), np.uint8))
    proc = _main("inpaint", str(tmp_path / "big.png"), "--mask", str(tmp_path / "small.png"),
                 cwd=tmp_path, env={"PYTHONWARNINGS": "always"})
    assert proc.returncode == 2  # the wrong-size mask: the photo itself was read
    assert "DecompressionBomb" not in proc.stderr and "could be decompression" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "10000x9500" in proc.stderr

    from app import imageio

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imageio.load_image(tmp_path / "big.png")  # in process too, even as errors: no warning
