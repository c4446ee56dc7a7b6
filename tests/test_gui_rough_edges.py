"""The rough edges a new user hit (issue 14), each pinned by a test."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtWidgets import QApplication

from app.engine.types import ModelDescription
from app.widgets.compare import ViewMode
from app.widgets.dialogs import about_html, shortcut_rows
from app.widgets.tools import Tool, step_brush
from tests.conftest import make_photo, open_and_wait

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def shown(shown):
    """The shared shown-window factory at this module's window size."""
    return functools.partial(shown, size=(1000, 700))


def photo_of(tmp_path, h, w, name="p.png"):
    Image.fromarray(make_photo(h, w)).save(tmp_path / name)
    return tmp_path / name


def vp(win, x, y):
    return win.canvas.map_from_image(QPointF(x, y)).toPoint()


# ------------------------------------------------------------------ save
def test_save_and_save_as_actions_save_without_an_error(qtbot, shown, photo_file, tmp_path):
    """The actions pass checked=False; it must not land in save(then=...)."""
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    win.doc.write_patch("image", (0, 0, 4, 4), np.zeros((4, 4, 3), np.uint8))
    target = tmp_path / "out.png"
    win.ask_save_path = lambda suggested: target
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.act_save_as.trigger()  # pytest-qt fails the test on an exception in the slot
    assert target.exists()
    target.unlink()
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.act_save.trigger()
    assert target.exists() and not win.is_modified()


# ------------------------------------------------------------------ Ctrl+1
def test_actual_size_keeps_the_point_under_the_cursor(qtbot, shown, tmp_path):
    win = shown()
    open_and_wait(qtbot, win, photo_of(tmp_path, 1200, 1600))
    c = win.canvas
    assert c.zoom < 0.7
    pos = vp(win, 500, 420)
    qtbot.mouseMove(c.viewport(), pos)
    before = c.map_to_image(QPointF(pos))
    qtbot.keyClick(c, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert c.zoom == 1.0
    after = c.map_to_image(QPointF(pos))
    assert abs(after.x() - before.x()) <= 1 and abs(after.y() - before.y()) <= 1


def test_actual_size_keeps_the_last_edit_in_place_when_the_pointer_is_away(qtbot, shown, tmp_path):
    win = shown()
    open_and_wait(qtbot, win, photo_of(tmp_path, 1200, 1600))
    c = win.canvas
    w = c.viewport()
    qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=vp(win, 1100, 800))
    qtbot.mouseMove(w, vp(win, 1150, 820))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=vp(win, 1150, 820))
    end = c.map_to_image(QPointF(vp(win, 1150, 820)))
    screen_before = c.map_from_image(end)
    QApplication.sendEvent(w, QEvent(QEvent.Type.Leave))  # the pointer goes to the menu
    QApplication.sendEvent(c, QEvent(QEvent.Type.Leave))
    win.act_actual.trigger()
    assert c.zoom == 1.0
    screen_after = c.map_from_image(end)
    assert abs(screen_after.x() - screen_before.x()) <= 1
    assert abs(screen_after.y() - screen_before.y()) <= 1


# ------------------------------------------------------------------ status while loading
def test_status_bar_says_no_zoom_and_opening_while_a_photo_loads(qtbot, shown, tmp_path, monkeypatch):
    import app.imageio as imageio

    gate = threading.Event()
    real = imageio.load_image

    def slow_load(path, **kw):
        assert gate.wait(20)
        return real(path, **kw)

    monkeypatch.setattr(imageio, "load_image", slow_load)
    win = shown()
    assert win.status.zoom.text() == "–" and "3200" not in win.status.zoom.text()
    assert win.status.size.text() == "no photo"
    path = photo_of(tmp_path, 300, 400)
    win.open_path(path)
    assert win.status.size.text() == "opening…"
    assert win.status.zoom.text() == "–"
    with qtbot.waitSignal(win.photo_loaded, timeout=15000):
        gate.set()
    assert win.status.size.text() == "400 × 300"
    assert win.status.zoom.text() == f"{win.canvas.zoom * 100:.0f} %"


# ------------------------------------------------------------------ Original / Before / After
def test_holding_tab_shows_an_original_sign_and_split_view_labels(qtbot, shown, photo_file):
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    badges = win.canvas.badges
    assert not badges.original.isVisible()
    qtbot.keyPress(win.canvas, Qt.Key.Key_Tab)
    assert win.canvas.view_mode == ViewMode.ORIGINAL
    assert badges.original.isVisible() and badges.original.text() == "Original"
    qtbot.keyRelease(win.canvas, Qt.Key.Key_Tab)
    assert win.canvas.view_mode == ViewMode.NORMAL and not badges.original.isVisible()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Y)
    assert win.canvas.view_mode == ViewMode.SPLIT
    assert badges.before.isVisible() and badges.after.isVisible()
    split = win.canvas.map_from_image(QPointF(win.canvas.item.split_x, 0)).x()
    assert badges.before.geometry().right() < split < badges.after.geometry().left()
    # the labels are drawn on screen: light text pixels inside the dark badge
    shot = win.canvas.viewport().grab().toImage()
    g = badges.after.geometry()
    colours = {shot.pixelColor(x, g.center().y()).lightness() for x in range(g.left(), g.right())}
    assert max(colours) > 200 and min(colours) < 110


# ------------------------------------------------------------------ [ and ]
def test_bracket_steps_are_proportional_and_symmetric(qtbot, shown, photo_file):
    for size in range(1, 890):
        up = step_brush(size, 1)
        assert step_brush(up, -1) == size
        if size >= 20:
            assert 1.08 <= up / size <= 1.16
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    win.canvas.set_brush_size(40)
    seen = [40]
    for key in [Qt.Key.Key_BracketRight] * 3 + [Qt.Key.Key_BracketLeft] * 3:
        qtbot.keyClick(win.canvas, key)
        seen.append(win.canvas.brush_size)
    assert seen == [40, 45, 50, 56, 50, 45, 40]


# ------------------------------------------------------------------ shortcuts sheet, About
def test_shortcut_sheet_shows_one_clean_key_per_action(qtbot, shown, photo_file):
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    win.canvas.set_tool(Tool.BRUSH)
    w = win.canvas.viewport()
    qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=vp(win, 30, 30))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=vp(win, 30, 30))
    assert win.act_undo.text() != "&Undo"  # Qt's text follows the history ...
    dlg = win.show_shortcuts()
    rows = [tuple(dlg.table.item(r, c).text() for c in range(3)) for r in range(dlg.table.rowCount())]
    actions = [r for r in rows if r[0] != "Canvas"]
    assert ("Edit", "Ctrl+Z", "Undo") in actions  # ... the sheet's does not
    assert ("File", "Ctrl+S", "Save") in actions and ("Edit", "Ctrl+V", "Paste Image") in actions
    for _section, keys, _what in actions:
        assert "," not in keys or keys == ",", keys
        assert not re.search(r"F1[3-9]|F2\d|\bUndo\b|\bPaste\b|\bCopy\b|\bSave\b", keys), keys
    whats = [r[2] for r in actions]
    assert len(whats) == len(set(whats))
    assert ("Tools", "O", "Select object") in actions and ("Tools", "W", "Magic wand") in actions
    assert len(shortcut_rows(win.actions())) == len(rows)


def test_about_shows_the_models_license_and_no_path_outside_the_project():
    torch = pytest.importorskip("torch")
    path = ROOT / "app/resources/models/deepfill-studio-default.pt"
    meta = torch.load(path, weights_only=True, map_location="cpu")["metadata"]
    info = ModelDescription(meta["name"], license=meta["license"], device="cpu",
                            parameters=550000, source=str(path))
    html = about_html(info, None, "cpu")
    assert "Model license:" in html and meta["license"].split(";")[0] in html
    for word in re.findall(r"[\w./-]+/[\w./-]+", re.sub(r"<[^>]+>", " ", html)):
        if "." in word.split("/")[-1]:  # looks like a file
            assert (ROOT / word).exists(), f"About cites {word}, which is not in the project"
    assert "shared/" not in html and str(ROOT) not in html


# ------------------------------------------------------------------ README's headless command
def test_readme_headless_output_is_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    readme = (ROOT / "README.md").read_text()
    assert "python main.py inpaint app/resources/sample/picos.jpg" in readme
    for name in ("picos_inpainted.jpg", "picos_inpainted_2.jpg", "picos_selection.png"):
        run = subprocess.run(["git", "check-ignore", "-q", f"app/resources/sample/{name}"], cwd=ROOT)
        assert run.returncode == 0, f"resources/sample/{name} would show up as untracked"
    for kept in ("picos.jpg", "picos_mask.png", "CREDITS.md"):
        run = subprocess.run(["git", "check-ignore", "-q", f"app/resources/sample/{kept}"], cwd=ROOT)
        assert run.returncode == 1


# ------------------------------------------------------------------ brush follows the photo
def test_default_brush_is_a_share_of_the_photo_and_shown_in_both_units(qtbot, shown, tmp_path):
    win = shown()
    open_and_wait(qtbot, win, photo_of(tmp_path, 384, 512, "small.png"))
    assert win.canvas.brush_size == 15  # 3 % of the long side
    open_and_wait(qtbot, win, photo_of(tmp_path, 1500, 2000, "big.png"))
    assert win.canvas.brush_size == 60
    text = win.status.brush.text()
    screen = 60 * win.canvas.zoom
    assert "60 px" in text and f"{screen:.0f} on screen" in text
    win.canvas.set_brush_size(100)  # the user's choice is kept as a share of the photo
    open_and_wait(qtbot, win, photo_of(tmp_path, 384, 512, "small2.png"))
    assert win.canvas.brush_size == round(100 / 2000 * 512)
    win.canvas.zoom_in()
    assert f"{win.canvas.brush_size * win.canvas.zoom:.0f} on screen" in win.status.brush.text()
