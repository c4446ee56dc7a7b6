"""Select object and Magic wand in the editor: off the GUI thread, one undo step each, refine
strokes, fill right after selecting."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from app.engine.selection import Hints, magic_wand, select_object
from app.widgets.select_pointer import SelectMode
from app.widgets.tools import Tool
from tests.conftest import open_and_wait
from tests.gui_helpers import drag, vp
from tests.synthetic_objects import coverage, pasted_object_photo


@pytest.fixture
def scene(qtbot, make_window, tmp_path):
    img, obj, box = pasted_object_photo("star", seed=11)
    Image.fromarray(img).save(tmp_path / "photo.png")
    win = make_window()
    win.resize(1100, 800)
    win.show()
    qtbot.waitExposed(win)
    open_and_wait(qtbot, win, tmp_path / "photo.png")
    return win, img, obj, box


def select(qtbot, win, points, modifier=Qt.KeyboardModifier.NoModifier):
    with qtbot.waitSignal(win.selection.applied, timeout=30000):
        drag(qtbot, win, points, modifier)


def test_box_drag_selects_the_object_as_one_undo_step(qtbot, scene):
    win, img, obj, box = scene
    qtbot.keyClick(win.canvas, Qt.Key.Key_O)
    assert win.canvas.tool == Tool.SELECT
    before = win.history.count()
    select(qtbot, win, [(box[0], box[1]), ((box[0] + box[2]) / 2, box[3] - 5), (box[2], box[3])])
    mask = win.doc.mask > 0
    covered, extra = coverage(mask, obj)
    assert covered >= 0.98 and extra <= 0.45
    assert np.array_equal(mask, select_object(img, box, grow_px=win.select_panel.grow_spin.value()))
    assert win.history.count() == before + 1
    assert win.history.undoText() == "Select object"
    win.history.undo()
    assert not win.doc.mask.any()


def test_alt_box_removes_the_object_from_the_mask(qtbot, scene):
    win, _img, obj, box = scene
    win.set_tool(Tool.RECT)
    drag(qtbot, win, [(2, 2), (win.doc.width - 2, win.doc.height - 2)])
    assert win.doc.mask[obj].all()
    win.set_tool(Tool.SELECT)
    select(qtbot, win, [(box[0], box[1]), (box[2], box[3])], Qt.KeyboardModifier.AltModifier)
    mask = win.doc.mask > 0
    assert not mask[obj].any()
    assert mask[5, 5] and mask[-5, -5]  # the rest of the rectangle stays
    assert "subtract" in win.history.undoText()


def test_refine_strokes_rerun_the_selection_and_undo_one_by_one(qtbot, scene):
    win, img, obj, box = scene
    win.set_tool(Tool.SELECT)
    select(qtbot, win, [(box[0], box[1]), (box[2], box[3])])
    first = win.doc.mask.copy()
    # an "object" stroke (Shift+drag) on the background right of the box pulls it in
    ys = (box[1] + box[3]) / 2
    line = [(box[2] + 8.0, ys), (box[2] + 30.0, ys)]
    select(qtbot, win, line, Qt.KeyboardModifier.ShiftModifier)
    second = win.doc.mask.copy()
    assert second[int(ys), box[2] + 20] and not first[int(ys), box[2] + 20]
    diameter = float(win.canvas.brush_size)
    pts = [(win.canvas.map_to_image(QPointF(vp(win, *p))).x(),
            win.canvas.map_to_image(QPointF(vp(win, *p))).y()) for p in line]
    expected = select_object(img, box, grow_px=win.select_panel.grow_spin.value(),
                             hints=Hints(object=[(pts, diameter)]))
    assert np.array_equal(second > 0, expected)
    # a "not object" stroke (panel mode) takes that part back out
    win.select_panel.set_mode(SelectMode.NOT_OBJECT)
    assert win.canvas.tool == Tool.SELECT and win.canvas.picker.mode == SelectMode.NOT_OBJECT
    select(qtbot, win, [(box[2] + 12.0, ys), (box[2] + 26.0, ys)])
    third = win.doc.mask.copy()
    assert not third[int(ys), box[2] + 20]
    assert win.history.undoText() == "Refine selection (not object)"
    win.history.undo()
    assert np.array_equal(win.doc.mask, second)
    win.history.undo()
    assert np.array_equal(win.doc.mask, first)
    win.history.undo()
    assert not win.doc.mask.any()


def test_refine_without_a_box_says_what_to_do(qtbot, scene):
    win, _img, _obj, box = scene
    win.set_tool(Tool.SELECT)
    messages = []
    win.selection.message.connect(messages.append)
    drag(qtbot, win, [(box[0], box[1]), (box[0] + 20, box[1] + 20)], Qt.KeyboardModifier.ShiftModifier)
    assert not win.doc.mask.any() and win.history.count() == 0
    assert messages and "box" in messages[-1]


def test_brush_stroke_after_a_selection_ends_the_refine_session(qtbot, scene):
    win, _img, _obj, box = scene
    win.set_tool(Tool.SELECT)
    select(qtbot, win, [(box[0], box[1]), (box[2], box[3])])
    win.set_tool(Tool.BRUSH)
    drag(qtbot, win, [(10, 10), (20, 10)])
    painted = win.doc.mask.copy()
    win.set_tool(Tool.SELECT)
    drag(qtbot, win, [(box[0] + 5, box[1] + 5), (box[0] + 25, box[1] + 5)],
         Qt.KeyboardModifier.ShiftModifier)
    qtbot.wait(50)
    assert np.array_equal(win.doc.mask, painted)  # nothing re-ran over the brush stroke


def test_selection_runs_off_the_gui_thread(qtbot, scene, monkeypatch):
    """The GUI keeps handling events while the engine is stuck in GrabCut."""
    import threading

    import app.widgets.selection as sel

    gate = threading.Event()
    threads = []
    real = sel.select_object

    def slow(*args, **kw):
        threads.append(threading.current_thread())
        assert gate.wait(20)
        return real(*args, **kw)

    monkeypatch.setattr(sel, "select_object", slow)
    win, _img, obj, box = scene
    win.set_tool(Tool.SELECT)
    drag(qtbot, win, [(box[0], box[1]), (box[2], box[3])])
    qtbot.waitUntil(lambda: bool(threads), timeout=10000)
    assert threads[0] is not threading.main_thread()
    assert win.selection.busy and not win.doc.mask.any()
    qtbot.keyClick(win.canvas, Qt.Key.Key_BracketRight)  # the window still answers
    with qtbot.waitSignal(win.selection.applied, timeout=30000):
        gate.set()
    assert win.doc.mask[obj].mean() >= 0.98


def test_fill_right_after_selecting(qtbot, scene):
    win, _img, obj, box = scene
    win.select_panel.fill_after.setChecked(True)
    win.set_tool(Tool.SELECT)
    with qtbot.waitSignal(win.fill_applied, timeout=30000):
        drag(qtbot, win, [(box[0], box[1]), (box[2], box[3])])
    assert (win.doc.image[obj] == (10, 200, 30)).all()  # InstantRunner's colour
    assert [win.history.text(i) for i in range(win.history.count())][0] == "Select object"


def test_magic_wand_replace_add_subtract(qtbot, make_window, tmp_path):
    img = np.zeros((120, 160, 3), np.uint8)
    img[:60] = (70, 130, 220)  # sky
    img[60:] = (60, 140, 50)  # meadow
    img[80:100, 20:40] = (70, 130, 220)  # a pond the colour of the sky
    Image.fromarray(img).save(tmp_path / "p.png")
    win = make_window()
    win.resize(900, 700)
    win.show()
    qtbot.waitExposed(win)
    open_and_wait(qtbot, win, tmp_path / "p.png")
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert win.canvas.tool == Tool.WAND

    def click(x, y, mod=Qt.KeyboardModifier.NoModifier):
        with qtbot.waitSignal(win.selection.applied, timeout=30000):
            qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, mod, vp(win, x + 0.5, y + 0.5))

    click(80, 20)
    sky = win.doc.mask > 0
    assert sky[:60].all() and not sky[60:].any()  # contiguous: the pond is not part of it
    click(100, 100)  # a plain click replaces
    assert (win.doc.mask[60:] > 0).sum() > 0 and not win.doc.mask[:60].any()
    click(80, 20, Qt.KeyboardModifier.ShiftModifier)  # Shift adds
    assert (win.doc.mask > 0)[:60].all() and (win.doc.mask > 0)[110, 100]
    click(100, 100, Qt.KeyboardModifier.AltModifier)  # Alt subtracts
    assert np.array_equal(win.doc.mask > 0, sky)
    win.select_panel.contiguous.setChecked(False)
    click(80, 20)
    assert np.array_equal(win.doc.mask > 0, magic_wand(img, (80, 20), 32, contiguous=False))
    assert (win.doc.mask[80:100, 20:40] > 0).all()
    assert win.history.count() == 5
    for _ in range(5):
        win.history.undo()
    assert not win.doc.mask.any()


def test_select_and_wand_settings_persist(qtbot, make_window):
    win = make_window()
    win.select_panel.grow_spin.setValue(9)
    win.select_panel.tolerance.setValue(50)
    win.select_panel.contiguous.setChecked(False)
    win.select_panel.fill_after.setChecked(True)
    again = make_window()
    assert again.select_panel.grow_spin.value() == 9
    assert again.select_panel.tolerance.value() == 50
    assert not again.select_panel.contiguous.isChecked()
    assert again.select_panel.fill_after.isChecked()


def test_undoing_a_fill_brings_the_refine_session_back(qtbot, scene):
    win, _img, obj, box = scene
    win.set_tool(Tool.SELECT)
    select(qtbot, win, [(box[0], box[1]), (box[2], box[3])])
    ys = (box[1] + box[3]) / 2
    select(qtbot, win, [(box[2] + 8.0, ys), (box[2] + 30.0, ys)], Qt.KeyboardModifier.ShiftModifier)
    ctl = win.selection
    assert not ctl._box_item.path().isEmpty() and len(ctl._overlay) == 1
    with qtbot.waitSignal(win.fill_applied, timeout=30000):
        win.fill()
    assert ctl._box_item.path().isEmpty() and not ctl._overlay  # a fill ends what is shown
    win.history.undo()
    assert not ctl._box_item.path().isEmpty() and len(ctl._overlay) == 1
    refined = win.doc.mask.copy()
    # a "not object" stroke continues the session from here
    select(qtbot, win, [(box[2] + 12.0, ys), (box[2] + 26.0, ys)], Qt.KeyboardModifier.ControlModifier)
    assert not win.doc.mask[int(ys), box[2] + 20] and refined[int(ys), box[2] + 20]
    assert len(ctl._overlay) == 2
    assert win.doc.mask[obj].mean() >= 0.98
