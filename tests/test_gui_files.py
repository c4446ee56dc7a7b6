"""Opening and saving in the editor: metadata round trips, safe names, errors, masks, paste."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from tests.conftest import make_photo, open_and_wait


def read_meta(path):
    with Image.open(path) as im:
        exif = im.getexif()
        return {
            "make": exif.get(0x010F),
            "icc": im.info.get("icc_profile"),
            "dpi": im.info.get("dpi"),
            "pixels": np.asarray(im.convert("RGB")),
        }


def test_open_reads_pixels_and_metadata_off_the_gui_thread(qtbot, make_window, photo_file):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    assert win.doc.size == (160, 120)
    assert win.doc.meta.exif and win.doc.meta.icc
    assert "holiday.jpg" in win.windowTitle()
    assert win.status.size.text() == "160 × 120"
    assert win.settings.recent_files()[0].endswith("holiday.jpg")
    assert win.history.count() == 0 and not win.isWindowModified()


def test_exif_orientation_is_applied_on_open(qtbot, make_window, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(make_photo(40, 100)).save(path, exif=exif.tobytes(), quality=95)
    win = make_window()
    open_and_wait(qtbot, win, path)
    assert win.doc.size == (40, 100)  # upright: width and height swapped


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_save_keeps_exif_icc_dpi_at_full_resolution(qtbot, make_window, photo_file, ext):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    win.doc.write_patch("image", (10, 10, 20, 20), np.zeros((20, 20, 3), np.uint8))
    out = photo_file.with_name("result" + ext)
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save_to(out)
    meta = read_meta(out)
    src = read_meta(photo_file)
    assert meta["make"] == "TestCam"
    assert meta["icc"] == src["icc"]
    assert meta["pixels"].shape == (120, 160, 3)
    if ext in (".png", ".tif"):
        assert np.array_equal(meta["pixels"], win.doc.image)
        assert meta["dpi"] and round(float(meta["dpi"][0])) == 300
    if ext == ".jpg":
        assert "quality" in win.prompts
        assert round(float(meta["dpi"][0])) == 300


def test_save_marks_clean_and_save_as_suggests_inpainted_name(qtbot, make_window, photo_file):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    assert win.suggested_save_path() == photo_file.with_name("holiday_inpainted.jpg")
    win.doc.mask[5:9, 5:9] = 255
    win.clear_mask()
    assert win.isWindowModified() and "[*]" in win.windowTitle()
    suggested = []
    win.ask_save_path = lambda s: suggested.append(s) or s
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save()  # never saved yet: behaves as Save As with the suggested name
    assert suggested == [photo_file.with_name("holiday_inpainted.jpg")]
    assert suggested[0].exists()
    assert not win.isWindowModified()


@pytest.mark.parametrize("confirm", [False, True])
def test_original_is_never_overwritten_without_confirmation(
    qtbot, make_window, photo_file, confirm
):
    win = make_window(answers={"overwrite": confirm})
    open_and_wait(qtbot, win, photo_file)
    before = photo_file.read_bytes()
    win.doc.write_patch("image", (0, 0, 8, 8), np.zeros((8, 8, 3), np.uint8))
    if confirm:
        with qtbot.waitSignal(win.saved, timeout=15000):
            assert win.save_to(photo_file)
        assert photo_file.read_bytes() != before
    else:
        assert not win.save_to(photo_file)
        assert photo_file.read_bytes() == before
    assert "overwrite" in win.prompts


def test_corrupt_file_shows_an_error_and_the_window_survives(
    qtbot, make_window, tmp_path, photo_file
):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 50)
    win = make_window()
    with qtbot.waitSignal(win.message_shown, timeout=15000) as msg:
        win.open_path(bad)
    assert "broken.jpg" in msg.args[1]
    assert win.doc.is_empty  # nothing was replaced
    open_and_wait(qtbot, win, photo_file)  # still works afterwards
    assert win.doc.size == (160, 120)
    # a failing open keeps the photo that is already open
    with qtbot.waitSignal(win.message_shown, timeout=15000):
        win.open_path(tmp_path / "missing.png")
    assert win.doc.size == (160, 120)


def test_mask_export_import_round_trip(qtbot, make_window, photo_file, tmp_path):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    win.doc.mask[20:50, 30:90] = 255
    win.doc.notify("mask", (0, 0, 160, 120))
    expected = win.doc.mask.copy()
    out = tmp_path / "m.png"
    assert win.export_mask(out)
    win.clear_mask()
    assert not win.doc.mask.any()
    assert win.import_mask(out)
    assert np.array_equal(win.doc.mask, expected)
    win.history.undo()
    assert not win.doc.mask.any()
    # a mask of the wrong size is refused with a message
    Image.new("L", (10, 10), 255).save(tmp_path / "small.png")
    with qtbot.waitSignal(win.message_shown, timeout=5000):
        assert not win.import_mask(tmp_path / "small.png")


def test_paste_image_from_clipboard(qtbot, make_window):
    win = make_window()
    rgb = make_photo(30, 50)
    img = QImage(rgb.data, 50, 30, rgb.strides[0], QImage.Format.Format_RGB888).copy()
    QGuiApplication.clipboard().setImage(img)
    win.paste()
    assert win.doc.size == (50, 30)
    assert np.array_equal(win.doc.image, rgb)
    assert "Pasted image" in win.windowTitle()


def test_drop_a_file_opens_it(qtbot, make_window, photo_file):
    win = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo_file))])
    ev = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    # offscreen Qt delivers no drop without a real drag in progress, so call the handlers
    win.dragEnterEvent(ev)
    assert ev.isAccepted()
    with qtbot.waitSignal(win.photo_loaded, timeout=15000):
        win.dropEvent(ev)
    assert win.doc.size == (160, 120)


@pytest.mark.parametrize("answer", ["cancel", "discard"])
def test_opening_another_photo_asks_about_unsaved_changes(
    qtbot, make_window, photo_file, tmp_path, answer
):
    other = tmp_path / "other.png"
    Image.fromarray(make_photo(50, 70)).save(other)
    win = make_window(answers={"unsaved": answer})
    open_and_wait(qtbot, win, photo_file)
    win.invert_mask()
    assert win.is_modified()
    if answer == "cancel":
        win.open_path(other)
        qtbot.wait(200)
        assert win.doc.size == (160, 120)
    else:
        open_and_wait(qtbot, win, other)
        assert win.doc.size == (70, 50)
    assert win.prompts == ["unsaved"]


def test_recent_files_menu_lists_opened_photos(qtbot, make_window, photo_file):
    win = make_window()
    open_and_wait(qtbot, win, photo_file)
    win._fill_recent_menu()
    names = [a.text() for a in win.recent_menu.actions()]
    assert "holiday.jpg" in names


def test_a_slow_decode_does_not_freeze_the_window(qtbot, make_window, photo_file, monkeypatch):
    """Decoding (seconds for a 50 MP photo) runs on a pool thread: the event loop keeps going."""
    import threading
    import time

    from PySide6.QtCore import QTimer

    import app.imageio as imageio

    real = imageio.load_image
    threads = []

    def slow_load(path, **kw):
        threads.append(threading.get_ident())
        time.sleep(0.6)
        return real(path, **kw)

    monkeypatch.setattr(imageio, "load_image", slow_load)
    win = make_window()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    open_and_wait(qtbot, win, photo_file)
    timer.stop()
    assert threads and threads[0] != threading.get_ident()
    assert len(ticks) >= 10  # the GUI thread kept serving events during the 0.6 s decode


def test_jpeg_quality_is_asked_once_per_file(qtbot, make_window, photo_file):
    win = make_window(answers={"quality": 77})
    open_and_wait(qtbot, win, photo_file)
    out = photo_file.with_name("q.jpg")
    win.ask_save_path = lambda s: out
    for _ in range(2):
        win.invert_mask()
        with qtbot.waitSignal(win.saved, timeout=15000):
            win.save()
    assert win.prompts.count("quality") == 1
