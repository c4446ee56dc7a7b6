"""Canvas: tools hit the right image pixels at any zoom; zoom, pan, compare and brush keys."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QEnterEvent, QPointingDevice, QTabletEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.commands import HistoryStack
from app.document import Document
from app.widgets.canvas import CanvasView
from app.widgets.compare import ViewMode
from app.widgets.tools import Tool
from tests.conftest import make_photo

ZOOMS = [0.25, 0.5, 1.0, 2.0, 4.0]


@pytest.fixture
def canvas(qtbot):
    doc = Document()
    stack = HistoryStack()
    view = CanvasView(doc, stack)
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    qtbot.waitExposed(view)
    doc.load(make_photo(600, 800))
    view.stack = stack  # type: ignore[attr-defined]
    return view


def vp(view: CanvasView, x: float, y: float) -> QPoint:
    """Viewport position of image point (x, y), rounded as a real mouse event would be."""
    return view.map_from_image(QPointF(x, y)).toPoint()


def image_at(view: CanvasView, pos: QPoint) -> tuple[float, float]:
    p = view.map_to_image(QPointF(pos))
    return p.x(), p.y()


def drag(qtbot, view: CanvasView, points, modifier=Qt.KeyboardModifier.NoModifier):
    w = view.viewport()
    qtbot.mousePress(w, Qt.MouseButton.LeftButton, modifier, points[0])
    for p in points[1:]:
        qtbot.mouseMove(w, p)
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, modifier, points[-1])


def pixels_near_disc(mask, cx, cy, r):
    """Every set pixel lies within r (+1 px rounding) of (cx, cy), and the centre is set."""
    ys, xs = np.nonzero(mask)
    assert len(xs), "nothing was drawn"
    d = np.hypot(xs + 0.5 - cx, ys + 0.5 - cy)
    assert d.max() <= r + 1.0
    assert mask[int(math.floor(cy)), int(math.floor(cx))]


@pytest.mark.parametrize("zoom", ZOOMS)
def test_brush_dab_lands_on_the_pixel_under_the_cursor(qtbot, canvas, zoom):
    canvas.set_zoom(zoom)
    canvas.centerOn(400, 300)
    canvas.set_brush_size(9)
    pos = vp(canvas, 401.3, 297.8)
    cx, cy = image_at(canvas, pos)
    drag(qtbot, canvas, [pos])
    pixels_near_disc(canvas.doc.mask, cx, cy, 4.5)
    area = np.count_nonzero(canvas.doc.mask)
    assert abs(area - math.pi * 4.5**2) < 0.35 * math.pi * 4.5**2  # a disc of diameter 9
    assert canvas.stack.count() == 1  # one stroke = one step


@pytest.mark.parametrize("zoom", ZOOMS)
def test_fast_stroke_is_continuous_at_any_zoom(qtbot, canvas, zoom):
    """Mouse events far apart still give an unbroken line (segments are interpolated)."""
    canvas.set_zoom(zoom)
    canvas.centerOn(400, 300)
    canvas.set_brush_size(3)
    a = vp(canvas, 380, 300)
    b = vp(canvas, 420, 300)
    mid = QPoint((a.x() + b.x()) // 2, a.y() - 0)
    drag(qtbot, canvas, [a, mid, b])
    (ax, ay), (bx, _by) = image_at(canvas, a), image_at(canvas, b)
    mask = canvas.doc.mask
    row = int(math.floor(ay))
    assert mask[row, int(ax) + 1 : int(bx) - 1].all()  # no gaps between the events
    ys, xs = np.nonzero(mask)
    assert xs.min() >= math.floor(ax) - 3 and xs.max() <= math.floor(bx) + 3
    assert ys.min() >= row - 3 and ys.max() <= row + 3


@pytest.mark.parametrize("zoom", [0.25, 1.0, 4.0])
def test_rectangle_and_lasso_fill_the_dragged_area(qtbot, canvas, zoom):
    canvas.set_zoom(zoom)
    canvas.centerOn(400, 300)
    canvas.set_tool(Tool.RECT)
    a, b = vp(canvas, 380.2, 290.2), vp(canvas, 420.7, 310.7)
    drag(qtbot, canvas, [a, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2), b])
    (ax, ay), (bx, by) = image_at(canvas, a), image_at(canvas, b)
    ys, xs = np.nonzero(canvas.doc.mask)
    assert xs.min() == math.floor(ax) and xs.max() == math.ceil(bx) - 1
    assert ys.min() == math.floor(ay) and ys.max() == math.ceil(by) - 1
    assert canvas.doc.mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()
    # Alt+drag with the lasso removes a triangle from it
    canvas.set_tool(Tool.LASSO)
    tri = [vp(canvas, 385, 292), vp(canvas, 415, 292), vp(canvas, 400, 309), vp(canvas, 385, 292)]
    drag(qtbot, canvas, tri, Qt.KeyboardModifier.AltModifier)
    assert not canvas.doc.mask[296, 400]
    assert canvas.doc.mask[309, 382]
    assert canvas.stack.count() == 2
    canvas.stack.undo()
    assert canvas.doc.mask[296, 400]


def test_sketch_pen_is_thin_and_has_its_own_eraser(qtbot, canvas):
    canvas.set_zoom(2.0)
    canvas.centerOn(400, 300)
    canvas.set_brush_size(40)
    canvas.set_sketch_width(2)
    canvas.set_tool(Tool.SKETCH)
    drag(qtbot, canvas, [vp(canvas, 380, 300.5), vp(canvas, 420, 300.5)])
    sk = canvas.doc.sketch
    assert not canvas.doc.mask.any()
    ys, _ = np.nonzero(sk)
    assert ys.max() - ys.min() <= 3  # the sketch width, not the 40 px brush
    canvas.set_tool(Tool.SKETCH_ERASER)
    canvas.set_brush_size(10)
    drag(qtbot, canvas, [vp(canvas, 400, 300.5)])
    assert not sk[300, 398:402].any() and sk[300, 385]


def test_shift_click_draws_a_straight_line_from_the_last_stroke(qtbot, canvas):
    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    canvas.set_brush_size(3)
    a, b = vp(canvas, 350.5, 280.5), vp(canvas, 450.5, 320.5)
    drag(qtbot, canvas, [a])
    drag(qtbot, canvas, [b], Qt.KeyboardModifier.ShiftModifier)
    (ax, ay), (bx, by) = image_at(canvas, a), image_at(canvas, b)
    mask = canvas.doc.mask
    for t in np.linspace(0, 1, 25):
        x, y = ax + t * (bx - ax), ay + t * (by - ay)
        assert mask[int(y), int(x)], (x, y)
    assert canvas.stack.count() == 2


def test_escape_abandons_a_stroke(qtbot, canvas):
    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    w = canvas.viewport()
    qtbot.mousePress(w, Qt.MouseButton.LeftButton, pos=vp(canvas, 390, 300))
    qtbot.mouseMove(w, vp(canvas, 410, 300))
    assert canvas.doc.mask.any()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, pos=vp(canvas, 410, 300))
    assert not canvas.doc.mask.any()
    assert canvas.stack.count() == 0


def test_tablet_pressure_scales_the_brush(qtbot, canvas):
    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    canvas.set_brush_size(20)
    dev = QPointingDevice.primaryPointingDevice()

    def tablet(kind, pos, pressure, button, buttons):
        p = QPointF(pos)
        ev = QTabletEvent(
            kind,
            dev,
            p,
            QPointF(canvas.viewport().mapToGlobal(pos)),
            pressure,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            Qt.KeyboardModifier.NoModifier,
            button,
            buttons,
        )
        QApplication.sendEvent(canvas.viewport(), ev)
        return ev

    left = Qt.MouseButton.LeftButton
    pos = vp(canvas, 350, 300)
    ev = tablet(QTabletEvent.Type.TabletPress, pos, 0.25, left, left)
    assert ev.isAccepted()
    tablet(QTabletEvent.Type.TabletRelease, pos, 0.25, left, Qt.MouseButton.NoButton)
    light = np.count_nonzero(canvas.doc.mask)
    pos = vp(canvas, 450, 300)
    tablet(QTabletEvent.Type.TabletPress, pos, 1.0, left, left)
    tablet(QTabletEvent.Type.TabletRelease, pos, 1.0, left, Qt.MouseButton.NoButton)
    full = np.count_nonzero(canvas.doc.mask) - light
    assert 0 < light < full / 8  # diameter 5 vs 20: area about 16x smaller
    assert canvas.stack.count() == 2


def test_ctrl_wheel_zooms_about_the_cursor(qtbot, canvas):
    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    pos = QPointF(150, 120)
    before = canvas.map_to_image(pos)
    ev = QWheelEvent(
        pos,
        QPointF(canvas.viewport().mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), ev)
    assert canvas.zoom == pytest.approx(1.25**2)
    after = canvas.map_to_image(pos)
    assert abs(after.x() - before.x()) < 1.0 and abs(after.y() - before.y()) < 1.0


def test_the_brush_outline_stays_under_a_still_pointer(canvas):
    """A window opened under the pointer, then the image zooms or scrolls beneath it: the
    outline stays where the pointer is (it sat at the image's corner, or where the image was)."""
    canvas.set_tool(Tool.BRUSH)
    at = vp(canvas, 300, 200)
    glob = QPointF(canvas.viewport().mapToGlobal(at))
    QApplication.sendEvent(canvas, QEnterEvent(QPointF(at), QPointF(at), glob))

    def under_pointer() -> tuple[float, float]:
        p, want = canvas.brush_item.pos(), canvas.map_to_image(QPointF(at))
        return abs(p.x() - want.x()), abs(p.y() - want.y())

    assert max(under_pointer()) <= 1
    p = canvas.brush_item.pos()
    assert abs(p.x() - 300) <= 1 and abs(p.y() - 200) <= 1
    canvas.set_zoom(2.0)  # zooms about the centre, so the image moves under the pointer
    assert max(under_pointer()) <= 0.01
    bar = canvas.verticalScrollBar()
    bar.setValue(bar.value() + 40)
    assert max(under_pointer()) <= 0.01
    assert canvas.brush_item.pos().y() > 200 + 10


def test_alt_wheel_and_brackets_change_brush_size(qtbot, canvas):
    canvas.set_brush_size(40)
    ev = QWheelEvent(
        QPointF(100, 100),
        QPointF(100, 100),
        QPoint(0, 0),
        QPoint(120, 0),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.AltModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # Alt turns the wheel horizontal on some platforms
    QApplication.sendEvent(canvas.viewport(), ev)
    assert canvas.brush_size > 40
    size = canvas.brush_size
    canvas.change_brush_size(-1)
    assert canvas.brush_size < size
    canvas.set_brush_size(5000)
    assert canvas.brush_size == 1000


def test_fit_and_actual_size(qtbot, canvas):
    canvas.fit()
    vw, vh = canvas.viewport().width(), canvas.viewport().height()
    assert 800 * canvas.zoom <= vw and 600 * canvas.zoom <= vh
    assert 800 * canvas.zoom > vw * 0.8 or 600 * canvas.zoom > vh * 0.8
    canvas.actual_size()
    assert canvas.zoom == 1.0
    canvas.zoom_in()
    assert canvas.zoom == pytest.approx(1.25)


@pytest.mark.parametrize("button", ["middle", "space"])
def test_pan_with_middle_button_and_space_drag(qtbot, canvas, button):
    canvas.set_zoom(2.0)
    canvas.centerOn(400, 300)
    w = canvas.viewport()
    before = canvas.map_to_image(QPointF(320, 240))
    if button == "middle":
        btn = Qt.MouseButton.MiddleButton
    else:
        btn = Qt.MouseButton.LeftButton
        qtbot.keyPress(canvas, Qt.Key.Key_Space)
    qtbot.mousePress(w, btn, pos=QPoint(320, 240))
    qtbot.mouseMove(w, QPoint(300, 220))
    qtbot.mouseMove(w, QPoint(260, 200))
    qtbot.mouseRelease(w, btn, pos=QPoint(260, 200))
    if button == "space":
        qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.map_to_image(QPointF(320, 240))
    assert after.x() - before.x() == pytest.approx(30, abs=1)  # 60 screen px at 200 %
    assert after.y() - before.y() == pytest.approx(20, abs=1)
    assert not canvas.doc.mask.any()  # panning never paints


def test_hold_original_and_split_divider(qtbot, canvas):
    doc = canvas.doc
    doc.write_patch("image", (0, 0, 10, 10), np.zeros((10, 10, 3), np.uint8))
    canvas.hold_original(True)
    assert canvas.view_mode == ViewMode.ORIGINAL
    canvas.hold_original(False)
    assert canvas.view_mode == ViewMode.NORMAL
    canvas.set_view_mode(ViewMode.SPLIT)
    canvas.fit()
    assert canvas.item.split_x == pytest.approx(400)
    start = vp(canvas, 400, 300)
    drag(qtbot, canvas, [start, vp(canvas, 500, 300)])
    assert canvas.item.split_x == pytest.approx(500, abs=2 / canvas.zoom)
    assert not doc.mask.any()  # dragging the divider does not paint


def test_rendering_shows_mask_overlay_and_original(qtbot, canvas):
    """Pixels on screen: the mask tints the photo red; holding Tab shows the untouched original."""
    doc = canvas.doc
    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    doc.write_patch("image", (380, 280, 40, 40), np.full((40, 40, 3), 255, np.uint8))
    doc.write_patch("mask", (380, 280, 40, 40), np.full((40, 40), 255, np.uint8))
    pos = vp(canvas, 400, 300)
    shown = canvas.viewport().grab().toImage().pixelColor(pos)
    assert shown.red() > 200 and shown.green() < 200  # white photo under a red overlay
    canvas.hold_original(True)
    shown = canvas.viewport().grab().toImage().pixelColor(pos)
    original = make_photo(600, 800)[300, 400]
    assert abs(shown.red() - int(original[0])) <= 2 and abs(shown.green() - int(original[1])) <= 2


def test_pen_eraser_end_erases_the_mask(qtbot, canvas):
    from PySide6.QtGui import QInputDevice

    canvas.set_zoom(1.0)
    canvas.centerOn(400, 300)
    canvas.doc.write_patch("mask", (380, 280, 40, 40), np.full((40, 40), 255, np.uint8))
    canvas.set_brush_size(10)
    pen = QPointingDevice(
        "test pen eraser",
        4242,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Eraser,
        QInputDevice.Capability.Pressure,
        1,
        2,
    )
    pos = vp(canvas, 400, 300)
    left = Qt.MouseButton.LeftButton
    for kind, buttons in (
        (QTabletEvent.Type.TabletPress, left),
        (QTabletEvent.Type.TabletRelease, Qt.MouseButton.NoButton),
    ):
        ev = QTabletEvent(
            kind,
            pen,
            QPointF(pos),
            QPointF(canvas.viewport().mapToGlobal(pos)),
            1.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            Qt.KeyboardModifier.NoModifier,
            left,
            buttons,
        )
        QApplication.sendEvent(canvas.viewport(), ev)
    assert not canvas.doc.mask[300, 400]
    assert canvas.doc.mask[282, 382]
    assert canvas.tool == Tool.BRUSH  # back to the brush for the pen tip
