"""Hostile and unusual images, masks and model files through the editor.

Every refusal must be a message box (captured here instead of shown) and leave the window
working with the document it already had, untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from app.engine.inference.pipeline import Inpainter
from tests.conftest import make_photo, open_and_wait
from tests.reliability.conftest import shorten
from tests.reliability.hostile import IMAGE_CASES, MASK_CASES, Case, H, MaskCase, W
from tests.reliability.hostile_models import MODEL_CASES, ModelCase, sentinel
from tests.tiny import tiny_model

pytestmark = pytest.mark.reliability


class CapturedBox(QMessageBox):
    """Stands in for QMessageBox in the main window: records instead of showing."""

    shown: list[tuple[str, str]] = []

    def open(self) -> None:  # type: ignore[override]
        CapturedBox.shown.append((self.windowTitle(), self.text()))

    def exec(self) -> int:  # type: ignore[override]
        CapturedBox.shown.append((self.windowTitle(), self.text()))
        return int(QMessageBox.StandardButton.Ok)


@pytest.fixture
def boxes(monkeypatch) -> list[tuple[str, str]]:
    import app.main_window

    CapturedBox.shown = []
    monkeypatch.setattr(app.main_window, "QMessageBox", CapturedBox)
    return CapturedBox.shown


@pytest.fixture
def good_photo(tmp_path):
    path = tmp_path / "good.png"
    Image.fromarray(make_photo(H, W, seed=9)).save(path)
    return path


def with_document(qtbot, make_window, good_photo, **kw):
    """A window holding a photo with a painted mask and a fill in its history."""
    win = make_window(answers={"unsaved": "discard"}, **kw)
    open_and_wait(qtbot, win, good_photo)
    win.doc.mask[10:20, 10:30] = 255
    win.doc.notify("mask", (0, 0, W, H))
    with qtbot.waitSignal(win.fill_applied, timeout=30000):
        win.fill()
    win.doc.mask[30:40, 40:50] = 255
    win.doc.notify("mask", (0, 0, W, H))
    return win


def state(win) -> dict[str, np.ndarray]:
    return {k: win.doc.layer(k).copy() for k in ("image", "mask", "sketch")}


def assert_same(win, before: dict[str, np.ndarray]) -> None:
    for layer, arr in before.items():
        assert np.array_equal(win.doc.layer(layer), arr), f"the {layer} changed"


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("case", IMAGE_CASES, ids=lambda c: c.name)
def test_opening_unusual_or_hostile_images(
    case: Case, qtbot, make_window, good_photo, tmp_path, boxes, report
):
    win = with_document(qtbot, make_window, good_photo)
    before = state(win)
    path = case.write(tmp_path)
    loaded: list[str] = []
    win.photo_loaded.connect(loaded.append)
    win.open_path(path)
    qtbot.waitUntil(lambda: bool(loaded) or bool(boxes), timeout=15000)
    if case.expect == "refused":
        title, text = boxes[0]
        report.add("Editor: images", case.name, f"message box “{title}”: {shorten(text, tmp_path)}",
                   case.match in text and not loaded)
        assert not loaded
        assert title == "Could not open the photo"
        assert case.match in text and path.name in text
        assert_same(win, before)  # the open document is untouched ...
        assert win.doc.meta.path == good_photo and win.is_modified()
        with qtbot.waitSignal(win.fill_applied, timeout=30000):  # ... and still works
            win.fill()
    else:
        message = win.status.currentMessage()
        report.add("Editor: images", case.name, f"opened {win.doc.size[0]}x{win.doc.size[1]}; "
                   f"status: {shorten(message, tmp_path)}", not boxes and win.doc.size == case.size)
        assert boxes == []
        assert win.doc.size == case.size
        assert case.match in message
        assert not win.is_modified() and not win.doc.has_mask()
        assert win.doc.meta.path == path


def test_one_pixel_photo_in_the_editor(qtbot, make_window, tmp_path, boxes, report):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "dot.png")
    win = make_window(runner=Inpainter(tiny_model(), "cpu"))
    win.resize(800, 600)
    win.show()
    qtbot.waitExposed(win)
    open_and_wait(qtbot, win, tmp_path / "dot.png")
    win.canvas.fit()
    assert win.doc.size == (1, 1) and 0 < win.canvas.zoom < 10_000
    win.invert_mask()  # the whole (one-pixel) photo is now the hole
    assert win.doc.mask.all()
    win.fill()
    qtbot.waitUntil(lambda: bool(boxes), timeout=15000)
    report.add("Editor: images", "1x1 photo, whole photo masked, Fill",
               f"message box: {boxes[0][1].splitlines()[0]}", "whole photo" in boxes[0][1])
    assert "whole photo" in boxes[0][1]
    assert win.doc.image.tolist() == [[[10, 20, 30]]]


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("case", MASK_CASES, ids=lambda c: c.name)
def test_importing_unusual_or_hostile_masks(
    case: MaskCase, qtbot, make_window, good_photo, tmp_path, boxes, report
):
    win = with_document(qtbot, make_window, good_photo, runner=Inpainter(tiny_model(), "cpu"))
    before = state(win)
    steps = win.history.count()
    path = case.write(tmp_path)
    ok = win.import_mask(path)
    if case.expect == "refused":
        report.add("Editor: masks", case.name,
                   f"message box: {shorten(boxes[0][1], tmp_path) if boxes else 'none'}",
                   not ok and bool(boxes) and case.match in boxes[0][1])
        assert not ok
        assert boxes and boxes[0][0] == "Could not import the mask"
        assert case.match in boxes[0][1]
        assert_same(win, before)
        assert win.history.count() == steps
        return
    expected = case.hole()
    assert ok and boxes == []
    assert np.array_equal(win.doc.mask > 0, expected)
    outcome = f"imported {int(expected.sum())} hole pixels"
    if case.fill == "empty":
        assert not win.act_fill.isEnabled()  # nothing to fill: Fill is disabled
        assert win.fill() is None and "Paint over" in win.status.currentMessage()
        outcome += "; Fill disabled"
    elif case.fill != "ok":
        win.fill()
        qtbot.waitUntil(lambda: bool(boxes), timeout=30000)
        assert case.fill in boxes[0][1]
        assert np.array_equal(win.doc.image, before["image"])
        outcome += f"; Fill refused: {boxes[0][1].splitlines()[0]}"
    else:
        with qtbot.waitSignal(win.fill_applied, timeout=30000):
            win.fill()
        changed = (win.doc.image != before["image"]).any(axis=2)
        assert not changed[~expected].any()
        outcome += "; filled inside the hole only"
    report.add("Editor: masks", case.name, outcome, True)


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: c.name)
def test_hostile_model_in_the_editor_is_refused_and_runs_nothing(
    case: ModelCase, qtbot, make_window, good_photo, tmp_path, boxes, report
):
    model = case.write(tmp_path)
    win = make_window(model_path=model)
    with qtbot.waitSignal(win.worker.model_failed, timeout=60000) as sig:
        win.worker.start()
    message = sig.args[0]
    ran = sentinel(tmp_path).exists()
    report.add("Editor: model files", case.name,
               f"model panel: {shorten(win.panel.engine_note.text(), tmp_path)}"
               + (" — CODE RAN" if ran else ""), not ran and case.match in message)
    assert not ran, "loading the model executed code"
    assert case.match in message and "\n" not in message
    assert "could not be loaded" in win.panel.engine_note.text()
    # the editor still opens and paints; Fill explains that there is no model
    open_and_wait(qtbot, win, good_photo)
    win.doc.mask[5:15, 5:15] = 255
    win.doc.notify("mask", (0, 0, W, H))
    win.fill()
    assert boxes and boxes[0][0] == "No model"
    assert win.doc.has_mask()
