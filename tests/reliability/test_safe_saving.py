"""Safe saving: never a half-written file (killed or failing mid-write), a warning before
replacing a file that changed on disk, and metadata and alpha kept through a fill."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import imageio
from app.imageio import ImageSaveError, save_image
from tests.conftest import InstantRunner, make_photo, open_and_wait
from tests.reliability.hostile import icc_srgb

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


def edit(win) -> None:
    win.doc.mask[20:50, 30:80] = 255
    win.doc.notify("mask", (0, 0, win.doc.width, win.doc.height))
    win.invert_mask()  # an undo step, so the document counts as modified


def change_on_disk(path: Path) -> bytes:
    """Another program rewrites the file (different size, newer time)."""
    other = make_photo(30, 40, seed=5)
    Image.fromarray(other).save(path, format="PNG" if path.suffix == ".png" else "JPEG")
    later = time.time() + 5
    os.utime(path, (later, later))
    return path.read_bytes()


# --------------------------------------------------------------------------- changed on disk


@pytest.mark.parametrize("answer", [False, True])
def test_saving_over_the_original_after_it_changed_on_disk_asks_first(
    qtbot, make_window, photo_file, answer, report
):
    win = make_window(answers={"overwrite": True})
    asked: list[Path] = []
    win.confirm_replace_changed = lambda p: asked.append(p) or answer
    open_and_wait(qtbot, win, photo_file)
    edit(win)
    theirs = change_on_disk(photo_file)
    if answer:
        with qtbot.waitSignal(win.saved, timeout=15000):
            assert win.save_to(photo_file)
        assert photo_file.read_bytes() != theirs
        assert Image.open(photo_file).size == (160, 120)
    else:
        assert not win.save_to(photo_file)
        assert photo_file.read_bytes() == theirs  # the other program's version is kept
        assert "Not saved" in win.status.currentMessage()
        assert win.is_modified()
    assert asked == [photo_file]
    report.add("Safe saving", f"original changed on disk, then Save over it (answer {answer})",
               "asked first; " + ("replaced" if answer else "left the other program's file"),
               True)


def test_saving_again_after_the_result_changed_on_disk_asks_first(
    qtbot, make_window, photo_file, tmp_path, report
):
    win = make_window()
    asked: list[Path] = []
    win.confirm_replace_changed = lambda p: asked.append(p) or False
    open_and_wait(qtbot, win, photo_file)
    edit(win)
    out = tmp_path / "result.png"
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save_to(out)
    win.invert_mask()
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save()  # unchanged on disk: saved again without a question
    assert asked == []
    theirs = change_on_disk(out)
    win.invert_mask()
    win.save()
    assert asked == [out]
    assert out.read_bytes() == theirs
    report.add("Safe saving", "result changed on disk by another program, then Save",
               "asked first; unchanged files are saved without a question", True)


# --------------------------------------------------------------------------- killed mid-write

WRITER = """
import sys, numpy as np
from app.imageio import save_image
target, n = sys.argv[1], 0
rng = np.random.default_rng(0)
versions = [rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8) for _ in range(2)]
print("writing", flush=True)
while True:
    save_image(target, versions[n % 2])
    n += 1
"""


def _versions() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8) for _ in range(2)]


@pytest.mark.parametrize("ext, delay", [(".png", 0.0), (".png", 0.13), (".tif", 0.0)])
def test_killed_while_saving_leaves_the_old_or_the_new_file_never_half(
    tmp_path, ext, delay, report
):
    target = tmp_path / f"result{ext}"
    initial = make_photo(1200, 1600, seed=2)
    save_image(target, initial)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], cwd=ROOT, stdout=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert proc.stdout.readline().strip() == b"writing"
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f".{target.name}.*.tmp")):  # a write has begun
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    pixels = np.asarray(Image.open(target).convert("RGB"))  # decodes completely
    same = [np.array_equal(pixels, v) for v in (initial, *_versions())]
    leftovers = [p.name for p in tmp_path.glob(".*.tmp")]
    report.add("Safe saving", f"writer killed (SIGKILL) {delay * 1000:.0f} ms into a {ext} save",
               f"target is a complete {['old', 'new (A)', 'new (B)'][same.index(True)] if any(same) else 'BROKEN'} "
               f"file; temporary left: {leftovers or 'none'}", any(same))
    assert any(same), "the target is neither the old nor a complete new file"


def test_failing_mid_write_keeps_the_old_file(tmp_path, monkeypatch, report):
    target = tmp_path / "result.png"
    save_image(target, make_photo(60, 80, seed=1))
    old = target.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(imageio.save.os, "fsync", full_disk)
    with pytest.raises(ImageSaveError) as info:
        save_image(target, make_photo(60, 80, seed=2))
    assert "disk is full" in str(info.value)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]
    report.add("Safe saving", "disk full while writing (fsync fails)", str(info.value), True)


def test_failed_save_in_the_editor_keeps_file_and_edits(
    qtbot, make_window, photo_file, tmp_path, monkeypatch, report
):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    edit(win)
    target = tmp_path / "result.png"
    save_image(target, make_photo(10, 10))
    old = target.read_bytes()
    before = win.doc.image.copy()

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(imageio.save.os, "replace", refuse)
    with qtbot.waitSignal(win.message_shown, timeout=15000) as msg:
        win.save_to(target)
    assert msg.args[0] == "Could not save" and "not writable" in msg.args[1]
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert win.is_modified() and np.array_equal(win.doc.image, before)
    report.add("Safe saving", "rename refused while saving from the editor",
               f"message box: {msg.args[1].splitlines()[0]}", True)


# --------------------------------------------------------------------------- what is kept


@pytest.fixture
def rgba_photo(tmp_path) -> Path:
    """RGBA PNG with EXIF, an ICC profile and 300 dpi; the left part is transparent."""
    rgb = make_photo(120, 160)
    alpha = np.full((120, 160), 255, np.uint8)
    alpha[:, :50] = 0
    alpha[:, 50:70] = 100
    exif = Image.Exif()
    exif[0x010F] = "AlphaCam"
    path = tmp_path / "cut-out.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(
        path, exif=exif.tobytes(), icc_profile=icc_srgb(), dpi=(300, 300)
    )
    return path


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp", ".jpg"])
def test_fill_and_save_keep_exif_icc_dpi_and_alpha_outside_the_hole(
    qtbot, make_window, rgba_photo, ext, report
):
    win = make_window(runner=InstantRunner(colour=(1, 2, 3)), answers={"quality": 100})
    open_and_wait(qtbot, win, rgba_photo)
    alpha = win.doc.meta.alpha.copy()
    hole = np.zeros((120, 160), bool)
    hole[40:80, 30:100] = True  # across transparent, half-transparent and opaque parts
    win.doc.mask[hole] = 255
    win.doc.notify("mask", (0, 0, 160, 120))
    with qtbot.waitSignal(win.fill_applied, timeout=15000):
        win.fill()
    out = rgba_photo.with_name("out" + ext)
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save_to(out)
    with Image.open(out) as im:
        exif, icc, dpi = im.getexif(), im.info.get("icc_profile"), im.info.get("dpi")
        if ext == ".webp":  # WebP has no resolution field: the DPI travels in the EXIF
            dpi = (exif.get(0x011A), exif.get(0x011B))
        pixels = np.asarray(im.convert("RGBA"))
    kept = [exif.get(0x010F) == "AlphaCam", icc == icc_srgb(), dpi and round(float(dpi[0])) == 300]
    outcome = f"EXIF {kept[0]}, ICC {kept[1]}, DPI {bool(kept[2])}"
    assert all(kept), outcome
    if ext == ".jpg":
        assert (pixels[..., 3] == 255).all()  # JPEG cannot hold alpha
        outcome += ", alpha dropped (JPEG)"
    else:
        assert np.array_equal(pixels[..., 3][~hole], alpha[~hole])
        assert np.array_equal(pixels[..., :3][~hole & (alpha > 0)], win.doc.image[~hole & (alpha > 0)])
        assert (pixels[..., :3][hole & (alpha == 255)] == (1, 2, 3)).all()
        outcome += ", alpha and pixels outside the hole exact"
    report.add("Safe saving", f"RGBA PNG with EXIF/ICC/300 dpi, fill, save as {ext}", outcome, True)


def test_rotated_photo_is_saved_upright_without_a_rotation_tag(
    qtbot, make_window, tmp_path, report
):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "RotCam"
    src = tmp_path / "portrait.jpg"
    Image.fromarray(make_photo(80, 120)).save(src, exif=exif.tobytes(), quality=95)
    win = make_window()
    open_and_wait(qtbot, win, src)
    assert win.doc.size == (80, 120)
    edit(win)
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save_to(tmp_path / "portrait_out.png")
    with Image.open(tmp_path / "portrait_out.png") as im:
        assert im.getexif().get(0x0112) in (None, 1) and im.getexif().get(0x010F) == "RotCam"
        assert np.array_equal(np.asarray(im.convert("RGB")), win.doc.image)
    report.add("Safe saving", "EXIF orientation 6 JPEG, edit, save as PNG",
               "written upright, orientation tag reset, camera make kept", True)
