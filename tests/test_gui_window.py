"""The whole editor: open, paint, sketch, fill, compare, undo to the exact pixels, redo, save."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.engine.types import ModelFileError
from app.widgets.compare import ViewMode
from app.widgets.tools import Tool
from tests.conftest import InstantRunner, open_and_wait
from tests.gui_helpers import drag as paint


def test_done_when_story_with_a_real_model(qtbot, shown, photo_file, tiny_model_path):
    """Open, paint a mask, draw a sketch line, fill, hold Tab, undo exactly, redo, save."""
    win = shown(model_path=tiny_model_path)
    # the engine loads in its thread after the window shows
    qtbot.waitUntil(lambda: win.panel.model_label.text() == "tiny", timeout=60000)
    open_and_wait(qtbot, win, photo_file)
    original = win.doc.image.copy()
    win.panel.set_strategy("full")
    win.canvas.set_brush_size(12)
    paint(qtbot, win, [(60, 50), (80, 55), (100, 60)])
    win.set_tool(Tool.SKETCH)
    paint(qtbot, win, [(55, 45), (105, 70)])
    mask, sketch = win.doc.mask.copy(), win.doc.sketch.copy()
    assert mask.any() and sketch.any()
    assert win.history.count() == 2
    with qtbot.waitSignal(win.fill_applied, timeout=60000):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    filled = win.doc.image.copy()
    hole = mask > 0
    assert np.array_equal(filled[~hole], original[~hole])  # outside the hole: untouched
    assert not np.array_equal(filled[hole], original[hole])
    assert not win.doc.mask.any()  # the mask was used up by the fill
    assert win.history.count() == 3 and win.isWindowModified()
    assert win.status.last_run.text().startswith("last fill")
    # hold Tab: the original is shown; release: the result again
    qtbot.keyPress(win.canvas, Qt.Key.Key_Tab)
    assert win.canvas.view_mode == ViewMode.ORIGINAL
    qtbot.keyRelease(win.canvas, Qt.Key.Key_Tab)
    assert win.canvas.view_mode == ViewMode.NORMAL
    # undo the fill: exact original pixels and the mask that produced it
    win.act_undo.trigger()
    assert np.array_equal(win.doc.image, original)
    assert np.array_equal(win.doc.mask, mask) and np.array_equal(win.doc.sketch, sketch)
    win.act_redo.trigger()
    assert np.array_equal(win.doc.image, filled)
    # undo everything: back to the photo as opened, clean again
    for _ in range(3):
        win.act_undo.trigger()
    assert np.array_equal(win.doc.image, original) and not win.doc.mask.any()
    assert not win.isWindowModified()
    for _ in range(3):
        win.act_redo.trigger()
    out = photo_file.with_name("final.png")
    with qtbot.waitSignal(win.saved, timeout=15000):
        win.save_to(out)
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), filled)
        assert im.getexif().get(0x010F) == "TestCam"
        assert im.info.get("icc_profile") == win.doc.meta.icc


def test_history_panel_jumps_to_any_state(qtbot, shown, photo_file):
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    original_mask = win.doc.mask.copy()
    paint(qtbot, win, [(40, 40)])
    after_one = win.doc.mask.copy()
    paint(qtbot, win, [(100, 80)])
    win.invert_mask()
    view = win.history_panel.view
    view.setCurrentIndex(view.model().index(1, 0))  # row 0 is the opened photo
    assert win.history.index() == 1
    assert np.array_equal(win.doc.mask, after_one)
    view.setCurrentIndex(view.model().index(0, 0))
    assert np.array_equal(win.doc.mask, original_mask)


def test_auto_run_fills_when_a_stroke_ends(qtbot, shown, photo_file):
    runner = InstantRunner()
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    win.act_auto.setChecked(True)
    with qtbot.waitSignal(win.fill_applied, timeout=10000):
        paint(qtbot, win, [(70, 60), (90, 60)])
    assert len(runner.requests) == 1
    assert (win.doc.image[60, 80] == (10, 200, 30)).all()
    # the flow overlay of the fill is available and can be shown
    assert win.doc.flow is not None
    win.act_flow.setChecked(True)
    assert win.canvas.item.show_flow


def test_failed_fill_shows_a_message_and_changes_nothing(qtbot, shown, photo_file):
    class Broken:
        device = "cpu"

        def run(self, req, progress=None, cancel=None):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 90 GB")

    win = shown(runner=Broken())
    open_and_wait(qtbot, win, photo_file)
    paint(qtbot, win, [(70, 60)])
    image, mask = win.doc.image.copy(), win.doc.mask.copy()
    with qtbot.waitSignal(win.message_shown, timeout=10000) as msg:
        win.fill()
    assert "out of memory" in msg.args[1] and "unchanged" in msg.args[1]
    assert np.array_equal(win.doc.image, image) and np.array_equal(win.doc.mask, mask)
    assert win.history.count() == 1
    assert win.findChild(QMessageBox) is not None  # shown, not blocking


def test_window_opens_without_a_model_and_says_so(qtbot, shown, photo_file):
    def none(model, device):
        raise ModelFileError("no default model is installed: pass --model PATH")

    win = shown()
    win.worker._factory = none  # as if no model file were installed
    with qtbot.waitSignal(win.worker.model_failed, timeout=10000):
        win.worker.start()
    assert "No model is installed yet" in win.panel.engine_note.text()
    assert win.status.device.text() == "no model"
    open_and_wait(qtbot, win, photo_file)
    paint(qtbot, win, [(70, 60)])
    with qtbot.waitSignal(win.message_shown, timeout=5000) as msg:
        win.fill()
    assert "models import" in msg.args[1]


@pytest.mark.parametrize("via", ["button", "esc"])
def test_cancel_button_cancels_a_running_fill(qtbot, shown, photo_file, via):
    import threading

    from app.engine.types import Cancelled

    started = threading.Event()

    class Slow:
        device = "cpu"

        def run(self, req, progress=None, cancel=None):
            started.set()
            while not cancel():
                progress(0.3, "filling")
                threading.Event().wait(0.01)
            raise Cancelled()

    win = shown(runner=Slow())
    open_and_wait(qtbot, win, photo_file)
    paint(qtbot, win, [(70, 60)])
    win.fill()
    assert started.wait(10)
    qtbot.waitUntil(lambda: win.status.cancel_button.isVisible(), timeout=5000)
    with qtbot.waitSignal(win.worker.cancelled, timeout=10000):
        if via == "button":
            qtbot.mouseClick(win.status.cancel_button, Qt.MouseButton.LeftButton)
        else:
            win.canvas.setFocus()
            qtbot.keyClick(win.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not win.status.cancel_button.isVisible(), timeout=5000)
    assert win.history.count() == 1  # only the stroke


def test_stale_result_is_not_applied_after_the_photo_changed(qtbot, shown, photo_file):
    runner = InstantRunner()
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    paint(qtbot, win, [(70, 60)])
    with qtbot.waitSignal(win.worker.finished, timeout=10000):
        rid = win.fill()
        # an edit to the photo before the result arrives makes the result stale
        win.doc.write_patch("image", (0, 0, 2, 2), np.zeros((2, 2, 3), np.uint8))
    assert rid is not None and runner.requests
    assert not (win.doc.image[60, 70] == (10, 200, 30)).all()


def test_a_fill_lends_the_photo_and_the_engine_thread_copies_it(qtbot, shown, photo_file):
    """A copy of the photo for the request froze the window for seconds on 50 MP: the request
    carries the photo itself, read-only, and the engine copies it on its own thread (an edit
    made meanwhile makes the result stale, as the test above shows)."""
    import threading

    runner = InstantRunner()
    seen = []
    fill_of = runner.run

    def run(req, progress=None, cancel=None):
        seen.append((threading.current_thread() is threading.main_thread(), req.image))
        return fill_of(req, progress, cancel)

    runner.run = run
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    paint(qtbot, win, [(70, 60)])
    sent = []
    submit = win.worker.submit
    win.worker.submit = lambda request: (sent.append(request), submit(request))[1]
    before = win.doc.image.copy()
    with qtbot.waitSignal(win.fill_applied, timeout=10000):
        win.fill()
    (request,) = sent
    assert not request.image.flags.writeable and np.shares_memory(request.image, win.doc.image)
    ((on_gui_thread, copy),) = seen
    assert not on_gui_thread and copy.flags.writeable
    assert not np.shares_memory(copy, win.doc.image) and np.array_equal(copy, before)
    assert (win.doc.image[60, 70] == (10, 200, 30)).all()


def test_settings_persist_between_sessions(qtbot, make_window, settings):
    win = make_window()
    win.resize(700, 560)
    win.canvas.set_brush_size(77)
    win.set_tool(Tool.LASSO)
    win.act_auto.setChecked(True)
    win.panel.set_strategy("crop")
    win.panel.sketch_spin.setValue(5)
    win.history_dock.hide()
    win.save_settings()
    again = make_window()
    assert again.canvas.brush_size == 77
    assert again.canvas.tool == Tool.LASSO
    assert again.act_auto.isChecked()
    assert again.strategy() == "crop"
    assert again.canvas.sketch_width == 5
    assert again.size().width() == 700
    assert again.history_dock.isHidden()


def test_first_run_dock_split_holds_when_the_window_grows_after_showing(qtbot, shown):
    """A window manager may resize the editor right after it shows; Qt alone would share the new
    height between the docks in proportion and leave the tools squeezed."""
    win = shown(size=(1200, 560))
    qtbot.waitUntil(lambda: win.history_dock.height() == 160)
    squeezed = win.tools_dock.height()
    win.resize(1200, 820)
    qtbot.waitUntil(lambda: win.tools_dock.height() == squeezed + 260)
    assert win.history_dock.height() == 160
    assert win.panel.sizeHint().height() > win.tools_dock.height()  # the tools still want more


def test_a_dock_split_the_user_sets_is_kept_when_the_window_grows(qtbot, shown):
    win = shown(size=(1200, 560))
    qtbot.waitUntil(lambda: win.history_dock.height() == 160)
    tools = win.tools_dock.geometry()
    between = QPoint(tools.center().x(), tools.bottom() + 2)  # the docks' separator
    qtbot.mousePress(win, Qt.MouseButton.LeftButton, pos=between)
    qtbot.mouseRelease(win, Qt.MouseButton.LeftButton, pos=between)
    assert not win.dock_layout.live
    total = win.tools_dock.height() + win.history_dock.height()
    win.resizeDocks(
        [win.tools_dock, win.history_dock], [200, total - 200], Qt.Orientation.Vertical
    )
    qtbot.waitUntil(lambda: win.tools_dock.height() == 200)
    win.resize(1200, 820)
    qtbot.waitUntil(lambda: win.tools_dock.height() + win.history_dock.height() == total + 260)
    qtbot.wait(50)
    # both grew with the window: the user's split, not the default one
    assert win.tools_dock.height() > 200 and win.history_dock.height() > total - 200


def test_close_with_unsaved_changes_asks_first(qtbot, shown, photo_file):
    win = shown(answers={"unsaved": "cancel"})
    open_and_wait(qtbot, win, photo_file)
    win.invert_mask()
    win.close()
    assert win.isVisible() and win.prompts == ["unsaved"]
    win.answers["unsaved"] = "discard"
    win.close()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)


def test_brush_keys_tools_and_zoom_shortcuts(qtbot, shown, photo_file):
    win = shown()
    open_and_wait(qtbot, win, photo_file)
    win.canvas.setFocus()
    size = win.canvas.brush_size
    qtbot.keyClick(win.canvas, Qt.Key.Key_BracketRight)
    assert win.canvas.brush_size > size
    assert win.panel.brush_spin.value() == win.canvas.brush_size
    assert str(win.canvas.brush_size) in win.status.brush.text()
    qtbot.keyClick(win.canvas, Qt.Key.Key_E)
    assert win.canvas.tool == Tool.ERASER
    qtbot.keyClick(win.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert win.canvas.zoom == 1.0 and win.status.zoom.text() == "100 %"
    win.panel.brush_slider.setValue(120)
    assert win.canvas.brush_size == 120


def test_help_dialogs_show_shortcuts_version_and_model_license(qtbot, shown):
    win = shown()
    dlg = win.show_shortcuts()
    texts = [dlg.table.item(r, 2).text() for r in range(dlg.table.rowCount())]
    keys = [dlg.table.item(r, 1).text() for r in range(dlg.table.rowCount())]
    assert "Fill" in texts and any("Tab" in k for k in keys)
    from app.engine.types import ModelDescription

    win.worker.model_info = ModelDescription("deepfill", license="CC BY-NC 4.0", device="cpu")
    about = win.show_about()
    text = about.label.text()
    assert "0.1.0" in text and "CC BY-NC 4.0" in text and "cpu" in text


def test_every_action_of_the_table_is_declared_on_the_window():
    """create_actions sets act_<name> for each ACTIONS row; the window declares them all
    (typed), and nothing else."""
    from app.main_window import MainWindow
    from app.widgets.actions import ACTIONS

    declared = {n for n in MainWindow.__annotations__ if n.startswith("act_")}
    assert declared == {f"act_{spec.name}" for spec in ACTIONS}


def test_all_icons_exist():
    import qtawesome as qta

    from app.widgets.icons import ICONS

    for name in ICONS.values():
        assert not qta.icon(name).isNull(), name


def test_missing_x11_libraries_give_a_friendly_message(monkeypatch):
    from app import gui

    monkeypatch.setattr(gui.sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert "no display" in gui.check_display()

    monkeypatch.setenv("DISPLAY", ":0")

    def fail(*a, **k):
        raise OSError("libxcb-cursor.so.0: cannot open shared object file")

    monkeypatch.setattr(gui.ctypes, "CDLL", fail)
    message = gui.check_display()
    if gui._platform_plugin_dir() is not None:
        assert "libxcb-cursor0" in message and "libxkbcommon-x11-0" in message
        assert "apt-get install" in message
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui.check_display() is None


def test_window_module_does_not_import_torch():
    """The window must appear fast: torch is imported by the engine thread, later."""
    import subprocess
    import sys

    code = "import sys, app.main_window, app.gui, app.engine.worker\nprint('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"


def test_run_editor_opens_the_photo_given_on_the_command_line(
    qapp, qtbot, monkeypatch, photo_file, tmp_path
):
    from PySide6.QtWidgets import QApplication

    from app import gui
    from app.main_window import MainWindow

    monkeypatch.setenv("DEEPFILL_STUDIO_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("DEEPFILL_STUDIO_CONFIG", str(tmp_path / "models.json"))
    from app.engine.checkpoints import models

    monkeypatch.setattr(models, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    monkeypatch.setattr(gui, "check_display", lambda: None)
    seen = {}

    def fake_exec(*_args):
        win = next(
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        )
        qtbot.waitUntil(lambda: not win.doc.is_empty, timeout=15000)
        qtbot.waitUntil(lambda: bool(win.panel.engine_note.text()), timeout=30000)
        seen["title"] = win.windowTitle()
        seen["note"] = win.panel.engine_note.text()
        win.close()
        win.deleteLater()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert gui.run_editor(str(photo_file)) == 0
    assert seen["title"].startswith("holiday.jpg")
    assert "No model is installed yet" in seen["note"]


def test_theme_follows_choice_light_and_dark(qapp):
    from PySide6.QtGui import QPalette

    from app.widgets.theme import apply_theme

    assert apply_theme(qapp, "dark")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert not apply_theme(qapp, "light")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 200


def test_broken_model_file_is_explained_and_the_window_still_works(qtbot, tmp_path, settings):
    from app.engine.worker import EngineWorker
    from app.main_window import MainWindow

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"this is not a model")
    win = MainWindow(settings=settings, worker=EngineWorker(model=str(broken), device="cpu"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "could not be loaded" in win.panel.engine_note.text(), timeout=60000)
    assert "broken.pt" in win.worker.model_error
    assert win.isVisible()
    win.close()


def test_failed_device_switch_keeps_the_working_model(qtbot, shown):
    from app.engine.types import EngineError

    runner = InstantRunner()

    def factory(model, device):
        if device == "cuda":
            raise EngineError("no CUDA GPU is available here: use --device cpu or auto")
        return runner

    win = shown()
    win.worker._factory = factory
    qtbot.waitUntil(lambda: win.panel.device_label.text() == "CPU", timeout=10000)
    with qtbot.waitSignal(win.message_shown, timeout=10000) as msg:
        win.panel.set_device_choice("cuda")
    assert "no CUDA GPU" in msg.args[1] and "Still using" in msg.args[1]
    assert win.worker.model_info is not None and win.worker.model_error is None
    assert win.panel.device.currentData() == "cpu"
