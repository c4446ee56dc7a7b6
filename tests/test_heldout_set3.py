"""tools/heldout_set3.py cuts the photo out of a jigzo puzzle file and leaves out the NC one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.tool_loader import load_tool


def puzzle(photo: np.ndarray) -> bytes:
    """A .pzl as jigzo writes it: a header naming the photo's region, a JPEG thumbnail, the
    pieces' map (a PNG as large as the atlas), the texture atlas (JPEG)."""
    atlas = np.zeros((256, 256, 3), np.uint8)
    h, w = photo.shape[:2]
    atlas[:h, :w] = photo
    thumb = cv2.resize(photo, (w // 4, h // 4))
    pieces = np.full((256, 256, 4), 255, np.uint8)
    header = f"PzlF\n0.1\nx-2x2\n#texture map data\nimage 0 0 {w} {h} 1 1\nx-t.jpg\n".encode()
    return (header + cv2.imencode(".jpg", thumb)[1].tobytes() + b"\n"
            + cv2.imencode(".png", pieces)[1].tobytes() + b"\n"
            + cv2.imencode(".jpg", atlas, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes())


def test_the_photo_region_of_each_puzzle_is_written_and_the_nc_one_left_out(tmp_path):
    tool = load_tool("heldout_set3")
    yy, xx = np.mgrid[:120, :180]
    photo = np.stack([xx, yy, (xx + yy) // 2], axis=2).astype(np.uint8)  # smooth: survives JPEG
    src = tmp_path / "puzzles"
    src.mkdir()
    (src / "bike-3x4.pzl").write_bytes(puzzle(photo))
    (src / "penguin-3x2.pzl").write_bytes(puzzle(photo))
    written = tool.build(tmp_path / "out", src, None)
    assert [p.name for p in written] == ["jigzo-bike.png"]
    got = cv2.imread(str(written[0])).astype(int)
    assert got.shape == photo.shape and np.abs(got - photo).mean() < 3  # not the white map


def test_a_file_without_a_photo_region_is_refused():
    with pytest.raises(ValueError, match="not a jigzo puzzle"):
        load_tool("heldout_set3").puzzle_photo(b"PzlF\n0.1\nno image line here")
