"""Select object (GrabCut from a box) and the magic wand: engine functions and `select` CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main as cli
from app.engine.geometry import grow_mask
from app.engine.selection import (
    Hints,
    SelectionError,
    clip_box,
    magic_wand,
    parse_box,
    select_object,
)
from tests.synthetic_objects import coverage, pasted_object_photo

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("disc", 0, (200, 40, 50)),
    ("ellipse", 1, (40, 60, 200)),
    ("star", 2, (230, 230, 220)),
    ("ell", 3, (150, 100, 60)),
    ("star", 4, (60, 90, 60)),
]


@pytest.mark.parametrize(("kind", "seed", "colour"), CASES)
def test_box_selects_the_whole_object_with_a_thin_margin(kind, seed, colour):
    img, obj, box = pasted_object_photo(kind, seed=seed, colour=colour)
    mask = select_object(img, box)
    covered, extra = coverage(mask, obj)
    assert covered >= 0.98, (kind, covered)
    assert extra <= 0.45, (kind, extra)
    x0, y0, x1, y1 = box
    assert not mask[:, : max(0, x0 - 6)].any() and not mask[: max(0, y0 - 6)].any()


def test_large_photo_runs_on_a_downscaled_copy_and_still_fits():
    img, obj, box = pasted_object_photo("ell", h=1800, w=2400, seed=5)
    mask = select_object(img, box, grow_px=8)
    covered, extra = coverage(mask, obj)
    assert covered >= 0.98 and extra <= 0.45, (covered, extra)


def test_grow_margin_is_the_users_choice():
    img, obj, box = pasted_object_photo("disc", seed=6)
    tight = select_object(img, box, grow_px=0)
    wide = select_object(img, box, grow_px=10)
    assert tight.sum() < wide.sum()
    assert (wide | tight).sum() == wide.sum()  # the wider selection contains the tight one
    assert np.array_equal(grow_mask(tight, 10), wide)


def test_same_box_gives_the_same_mask():
    img, _obj, box = pasted_object_photo("star", seed=7)
    assert np.array_equal(select_object(img, box), select_object(img, box))


def test_not_object_stroke_removes_a_region_and_object_stroke_adds_one():
    img, obj, box = pasted_object_photo("disc", seed=8)
    ys, xs = np.nonzero(obj)
    cx, cy = float(xs.mean()), float(ys.mean())
    # a blue blob touching the red disc inside the box: GrabCut takes it as part of the object
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    r = (xs.max() - xs.min()) / 2
    bx, by = int(cx + 0.75 * r), int(cy + 0.75 * r)
    blob = (xx - bx) ** 2 + (yy - by) ** 2 <= 14**2
    img = img.copy()
    img[blob & ~obj] = (30, 60, 220)
    base = select_object(img, box, grow_px=0)
    assert base[by, bx] and (base & obj).sum() >= 0.98 * obj.sum()
    # "not object" scribbled over the blob drops it and keeps the disc
    cut = Hints(background=[([(bx - 8.0, by), (bx + 8.0, by)], 20.0)])
    cut_mask = select_object(img, box, grow_px=0, hints=cut)
    assert not cut_mask[blob & ~obj].any()
    assert (cut_mask & obj).sum() >= 0.98 * obj.sum()
    # an "object" stroke on background next to the box pulls that region in
    add = Hints(object=[([(box[2] + 10.0, cy), (box[2] + 30.0, cy)], 6.0)])
    add_mask = select_object(img, box, grow_px=0, hints=add)
    assert add_mask[int(cy), box[2] + 20]
    assert (add_mask & obj).sum() >= 0.98 * obj.sum()


def test_bad_boxes_are_refused():
    img = np.zeros((50, 60, 3), np.uint8)
    with pytest.raises(SelectionError):
        select_object(img, (100, 100, 200, 200))
    with pytest.raises(SelectionError):
        select_object(img, (10, 10, 11, 40))
    with pytest.raises(SelectionError):
        parse_box("1,2,3")
    with pytest.raises(SelectionError):
        parse_box("a,b,c,d")
    assert parse_box("30, 40, 10, 5") == (10, 5, 30, 40)
    assert clip_box((-5, -5, 20, 20), 10, 10) == (0, 0, 10, 10)


def test_magic_wand_contiguous_and_global():
    img = np.full((40, 60, 3), 200, np.uint8)
    img[:, 28:32] = (20, 20, 20)  # a dark wall splits two equally bright areas
    img[5:10, 5:10] = (205, 195, 210)  # close in colour: part of the left area
    left = magic_wand(img, (10, 20), tolerance=16, contiguous=True)
    assert left[:, :28].all() and not left[:, 28:].any()
    both = magic_wand(img, (10, 20), tolerance=16, contiguous=False)
    assert both[:, :28].all() and both[:, 32:].all() and not both[:, 28:32].any()
    strict = magic_wand(img, (10, 20), tolerance=2, contiguous=True)
    assert not strict[5:10, 5:10].any() and strict[20, 20]
    with pytest.raises(SelectionError):
        magic_wand(img, (60, 0))


def test_magic_wand_selects_the_sky_of_the_sample_photo():
    photo = np.asarray(Image.open(ROOT / "app/resources/sample/picos.jpg").convert("RGB"))
    sky = magic_wand(photo, (800, 150), tolerance=32)
    assert sky[40, 40] and sky[60, 1200] and sky[250, 900]  # blue sky, left, right, low
    assert not sky[150, 250]  # the white cloud
    assert not sky[:500, 800:].any(axis=1)[420:].any()  # nothing below the ridge on the right
    assert not sky[700:].any()  # the meadow


# ------------------------------------------------------------------ the `select` command


def test_select_command_writes_the_mask_the_tool_makes(tmp_path, capsys):
    img, obj, box = pasted_object_photo("star", seed=9)
    Image.fromarray(img).save(tmp_path / "photo.png")
    code = cli(["select", str(tmp_path / "photo.png"), "--box", ",".join(map(str, box)),
                "--grow", "3", "-o", str(tmp_path / "m.png")])
    assert code == 0
    written = np.asarray(Image.open(tmp_path / "m.png"))
    assert written.dtype == np.uint8 and set(np.unique(written)) <= {0, 255}
    assert np.array_equal(written > 0, select_object(img, box, grow_px=3))
    covered, extra = coverage(written > 0, obj)
    assert covered >= 0.98 and extra <= 0.45
    assert "m.png" in capsys.readouterr().out
    # default name: beside the photo
    assert cli(["select", str(tmp_path / "photo.png"), "--box", ",".join(map(str, box))]) == 0
    assert (tmp_path / "photo_selection.png").exists()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--box", "1,2,3"], "four numbers"),
        (["--box", "900,900,1000,1000"], "inside"),
        (["--box", "10,10,40,40", "--grow", "-3"], "--grow"),
        ([], "--box"),
    ],
)
def test_select_bad_box_exits_2_with_one_line(tmp_path, capsys, args, expect):
    Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(tmp_path / "photo.png")
    before = set(tmp_path.iterdir())
    assert cli(["select", str(tmp_path / "photo.png"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err, err
    assert set(tmp_path.iterdir()) == before


def test_select_bad_image_exits_2_with_one_line(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    for path in (tmp_path / "notes.png", tmp_path / "missing.png"):
        run = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "select", str(path), "--box", "1,1,20,20"],
            capture_output=True, text=True, timeout=60,
        )
        assert run.returncode == 2
        assert len(run.stderr.strip().splitlines()) == 1 and path.name in run.stderr
        assert "Traceback" not in run.stderr


def test_selection_engine_imports_no_qt_and_no_torch():
    code = (
        "import sys, app.engine.selection, app.cli_select; "
        "assert not any(m.startswith(('PySide6', 'torch')) for m in sys.modules), "
        "[m for m in sys.modules if m.startswith(('PySide6', 'torch'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
