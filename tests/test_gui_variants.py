"""The editor's texture option and "Another variant": the option reaches the engine, a variant
re-runs only the texture stage (no network) with the next seed, changes only the hole, is one
undo step, and is offered only while the last fill is the latest change."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.engine.types import Cancelled, Guide, InpaintResult
from tests.conftest import InstantRunner, open_and_wait


def hole_mask(win) -> np.ndarray:
    """A blob-shaped hole in the 160 x 120 test photo (0/255, like the document's mask)."""
    mask = np.zeros(win.doc.mask.shape, np.uint8)
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    mask[((xx - 80) / 22.0) ** 2 + ((yy - 60) / 15.0) ** 2 <= 1] = 255
    return mask


class TinyInpainter:
    """The real Inpainter with a tiny random network; counts the network runs."""

    device = "cpu"

    def __init__(self) -> None:
        from app.engine.inference.pipeline import Inpainter
        from tests.tiny import tiny_model

        self.inner = Inpainter(tiny_model(), "cpu", threads=1)
        self.requests: list = []
        self.network_runs = 0
        network_fill = self.inner._network_fill

        def counted(*args, **kwargs):
            self.network_runs += 1
            return network_fill(*args, **kwargs)

        self.inner._network_fill = counted  # type: ignore[method-assign]

    def run(self, req, progress=None, cancel=None):
        self.requests.append(req)
        return self.inner.run(req, progress, cancel)


@pytest.fixture(scope="module")
def tiny_inpainter() -> TinyInpainter:
    return TinyInpainter()


def fill_and_wait(qtbot, win, trigger) -> None:
    with qtbot.waitSignal(win.fill_applied, timeout=120000):
        trigger()


def test_texture_checkbox_reaches_the_request_and_is_remembered(
    qtbot, shown, make_window, photo_file, settings
):
    runner = InstantRunner()
    win = shown(runner=runner)
    assert win.panel.texture.isChecked()  # on by default
    assert "texture from the photo" in win.panel.texture.toolTip()
    open_and_wait(qtbot, win, photo_file)
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    assert runner.requests[-1].options.texture is True
    assert runner.requests[-1].guide is None

    win.panel.texture.setChecked(False)
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    assert runner.requests[-1].options.texture is False
    assert settings.get("run/texture") is False
    # a fill without a guide (texture off, or an engine without one) offers no variants
    assert not win.act_variant.isEnabled()

    again = make_window(runner=InstantRunner())
    assert not again.panel.texture.isChecked()


def test_continue_lines_checkbox_reaches_the_request_follows_texture_and_is_remembered(
    qtbot, shown, make_window, photo_file, settings
):
    runner = InstantRunner()
    win = shown(runner=runner)
    assert win.panel.lines.isChecked() and win.panel.lines.isEnabled()  # on by default
    open_and_wait(qtbot, win, photo_file)
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    assert runner.requests[-1].options.lines is True

    win.panel.lines.setChecked(False)
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    assert runner.requests[-1].options.lines is False
    assert settings.get("run/lines") is False
    win.panel.texture.setChecked(False)
    assert not win.panel.lines.isEnabled()  # a texture-stage option
    win.panel.texture.setChecked(True)
    assert win.panel.lines.isEnabled()

    again = make_window(runner=InstantRunner())
    assert not again.panel.lines.isChecked()


def test_another_variant_reruns_only_the_texture_stage_one_undo_step_each(
    qtbot, shown, photo_file, tiny_inpainter
):
    runner = tiny_inpainter
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    win.panel.set_strategy("full")
    assert not win.act_variant.isEnabled()  # nothing filled yet
    assert win.act_variant.shortcut().toString() == "Ctrl+Shift+Return"
    assert win.panel.variant_button.defaultAction() is win.act_variant
    run_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Run")
    assert win.act_variant in run_menu.actions()
    original = win.doc.image.copy()
    mask = hole_mask(win)
    hole = mask > 0
    win._mask_op(mask, "test hole")

    fill_and_wait(qtbot, win, win.fill)
    fill_request = runner.requests[-1]
    assert fill_request.options.texture and fill_request.guide is None
    runs = runner.network_runs
    assert runs >= 1
    first = win.doc.image.copy()
    assert np.array_equal(first[~hole], original[~hole])
    assert win.act_variant.isEnabled()
    steps = win.history.count()

    # the shortcut triggers it, like the menu and the panel button
    win.canvas.setFocus()
    fill_and_wait(
        qtbot,
        win,
        lambda: qtbot.keyClick(
            win.canvas,
            Qt.Key.Key_Return,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        ),
    )
    request = runner.requests[-1]
    assert request.guide is not None
    assert request.options.seed == fill_request.options.seed + 1
    assert request.options.texture and request.options.strategy == "full"
    assert np.array_equal(request.mask, hole)
    assert runner.network_runs == runs  # the network did not run again
    second = win.doc.image.copy()
    assert np.array_equal(second[~hole], original[~hole])  # only the hole changes
    assert not np.array_equal(second[hole], first[hole])  # another seed, other texture
    assert win.history.count() == steps + 1
    assert "Variant 2" in win.history.text(win.history.index() - 1)
    assert "variant 2" in win.status.last_run.text()

    fill_and_wait(qtbot, win, win.panel.variant_button.click)
    assert runner.requests[-1].options.seed == fill_request.options.seed + 2
    assert runner.network_runs == runs
    third = win.doc.image.copy()
    assert np.array_equal(third[~hole], original[~hole])
    assert win.history.count() == steps + 2

    win.history.undo()
    assert np.array_equal(win.doc.image, second)  # back to the previous variant, exactly
    win.history.undo()
    assert np.array_equal(win.doc.image, first)
    win.history.undo()
    assert np.array_equal(win.doc.image, original)  # before the fill
    assert np.array_equal(win.doc.mask, mask)  # with its mask
    assert not win.act_variant.isEnabled()
    win.history.redo()
    assert win.act_variant.isEnabled()
    win.history.redo()
    assert np.array_equal(win.doc.image, second)
    # from variant 2 again: the next variant takes a seed never used, not the undone one's
    fill_and_wait(qtbot, win, win.act_variant.trigger)
    assert runner.requests[-1].options.seed == fill_request.options.seed + 3
    assert runner.network_runs == runs
    assert np.array_equal(win.doc.image[~hole], original[~hole])
    assert win.history.count() == steps + 2  # replaced the undone variant 3
    win.history.undo()
    assert np.array_equal(win.doc.image, second)


def test_variants_stop_once_the_mask_changes(qtbot, shown, photo_file, tiny_inpainter):
    runner = tiny_inpainter
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    win.panel.set_strategy("full")
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    assert win.act_variant.isEnabled()

    stroke = np.zeros_like(win.doc.mask)
    stroke[10:20, 10:30] = 255
    win._mask_op(stroke, "another hole")
    assert not win.act_variant.isEnabled()
    sent = len(runner.requests)
    messages: list[str] = []
    win.status.messageChanged.connect(messages.append)
    assert win.another_variant() is None
    assert len(runner.requests) == sent  # nothing reached the engine
    assert any("changed after the last fill" in m for m in messages)

    win.history.undo()  # the stroke is gone: the fill is the latest change again
    assert win.act_variant.isEnabled()


class GuidedRunner:
    """Fills instantly with a guide; a variant (a guided request) runs until cancelled."""

    device = "cpu"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.requests: list = []

    def run(self, req, progress=None, cancel=None):
        self.requests.append(req)
        out = req.image.copy()
        ys, xs = np.nonzero(req.mask)
        rect = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        if req.guide is not None:
            self.started.set()
            while not cancel():
                progress(0.4, "adding texture")
                threading.Event().wait(0.01)
            raise Cancelled()
        out[req.mask] = (30, 160, 40)
        x, y, w, h = rect
        guide = Guide(out[y : y + h, x : x + w].copy(), rect)
        return InpaintResult(out, rect, timings={"total": 0.01}, guide=guide)


def test_a_variant_shows_progress_and_esc_cancels_it(qtbot, shown, photo_file):
    runner = GuidedRunner()
    win = shown(runner=runner)
    open_and_wait(qtbot, win, photo_file)
    win._mask_op(hole_mask(win), "test hole")
    fill_and_wait(qtbot, win, win.fill)
    filled = win.doc.image.copy()
    steps = win.history.count()

    assert win.another_variant() is not None
    assert runner.started.wait(10)
    qtbot.waitUntil(lambda: win.status.cancel_button.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: win.status.progress.value() == 400, timeout=5000)
    assert not win.act_variant.isEnabled()  # one at a time
    with qtbot.waitSignal(win.worker.cancelled, timeout=10000):
        win.canvas.setFocus()
        qtbot.keyClick(win.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not win.status.cancel_button.isVisible(), timeout=5000)
    assert np.array_equal(win.doc.image, filled)
    assert win.history.count() == steps
    assert win.act_variant.isEnabled()  # and it can be asked for again
