"""The canvas: photo, mask, sketch and flow overlays in a QGraphicsView, plus the tools.

All drawing goes into the document's numpy layers in image coordinates (see tools.py);
the view only maps pointer positions to image pixels and repaints changed rectangles.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPointingDevice,
    QPolygonF,
    QTabletEvent,
    QTransform,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from app.commands import StrokeRecorder, layer_change_command
from app.document import Document
from app.signal_emit import emit
from app.widgets.canvas_items import BrushCursorItem, DocumentItem
from app.widgets.compare import SplitDividerItem, ViewBadges, ViewMode
from app.widgets.select_pointer import SelectMode, SelectPointer
from app.widgets.tools import (
    Tool,
    draw_segment,
    fill_polygon,
    fill_rect,
    rect_from_points,
    segment_rect,
    step_brush,
)

MIN_ZOOM, MAX_ZOOM = 1 / 64, 32.0
ZOOM_STEP = 1.25
MIN_BRUSH, MAX_BRUSH = 1, 1000


class CanvasView(QGraphicsView):
    """Zoomable, pannable canvas that turns pointer input into document edits."""

    zoom_changed = Signal(float)
    cursor_moved = Signal(object)  # (x, y) image pixel or None
    brush_size_changed = Signal(int)
    edit_finished = Signal(str)  # "stroke" | "mask-op": a step was pushed (auto-run hook)
    view_mode_changed = Signal(str)

    def __init__(self, doc: Document, history: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.history = history
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.item = DocumentItem(doc)
        self._scene.addItem(self.item)
        self.brush_item = BrushCursorItem()
        self.brush_item.setVisible(False)
        self._scene.addItem(self.brush_item)
        self.divider = SplitDividerItem()
        self.divider.setVisible(False)
        self._scene.addItem(self.divider)
        self._shape_item = QGraphicsPathItem()
        self._shape_item.setZValue(150)
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._shape_item.setPen(pen)
        self._shape_item.setBrush(QColor(255, 45, 85, 60))
        self._scene.addItem(self._shape_item)
        self.picker = SelectPointer(self._scene, self)  # Select object and Magic wand
        self.badges = ViewBadges(self.viewport())

        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window handles drops
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_TabletTracking, True)

        self.tool = Tool.BRUSH
        self.brush_size = 40
        self.sketch_width = 3
        self.fit_mode = True
        self._zoom = 1.0
        self._space = False
        self._pan_from: QPointF | None = None
        self._dragging_divider = False
        self._recorder: StrokeRecorder | None = None
        self._last_point: QPointF | None = None  # end of the previous stroke (Shift+click)
        self._last_layer = "mask"
        self._stroke_point: QPointF | None = None
        self._shape_points: list[QPointF] = []
        self._shape_subtract = False
        self._pressure = 1.0
        self._tool_before_eraser: Tool | None = None
        self._mode_before_hold: ViewMode | None = None
        self._hover: QPointF | None = None  # pointer position over the viewport
        self.last_edit: QPointF | None = None  # image point of the latest edit (Ctrl+1)
        doc.replaced.connect(self._on_replaced)
        self._on_replaced()

    # --- geometry -----------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self._zoom

    def _on_replaced(self) -> None:
        self.cancel_interaction()
        self._scene.setSceneRect(QRectF(0, 0, max(1, self.doc.width), max(1, self.doc.height)))
        self._last_point = None
        self.last_edit = None
        self.fit()
        self._update_divider()

    def fit(self) -> None:
        """Zoom so the whole photo fits the window (and keep fitting on resize)."""
        self.fit_mode = True
        vw, vh = max(1, self.viewport().width() - 16), max(1, self.viewport().height() - 16)
        z = min(vw / max(1, self.doc.width), vh / max(1, self.doc.height))
        self._apply_zoom(min(max(z, MIN_ZOOM), MAX_ZOOM), None)
        self.centerOn(self.doc.width / 2, self.doc.height / 2)

    def actual_size(self) -> None:
        """100 %: the point under the pointer stays put, else the latest edit if on screen."""
        self.set_zoom(1.0, self.zoom_anchor())

    def zoom_anchor(self) -> QPointF | None:
        """Viewport point that keyboard zooms keep in place (None: the centre)."""
        area = QRectF(self.viewport().rect())
        if self._hover is not None and area.contains(self._hover):
            return QPointF(self._hover)
        if self.last_edit is not None:
            at = self.map_from_image(self.last_edit)
            if area.contains(at):
                return at
        return None

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def set_zoom(self, z: float, anchor: QPointF | None = None) -> None:
        """Zoom to z; the image point under `anchor` (viewport coords) stays put."""
        self.fit_mode = False
        self._apply_zoom(min(max(z, MIN_ZOOM), MAX_ZOOM), anchor)

    def _apply_zoom(self, z: float, anchor: QPointF | None) -> None:
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        scene_pt = self.map_to_image(anchor)
        self.setTransform(QTransform.fromScale(z, z))
        self._zoom = z
        moved = self.viewportTransform().map(scene_pt) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(moved.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(moved.y()))
        self._update_brush_item()
        self._update_divider()
        self._update_badges()
        emit(self.zoom_changed, z)

    def map_to_image(self, viewport_pos: QPointF) -> QPointF:
        """Viewport position (float) -> image coordinates (pixel (i, j) spans [i, i+1))."""
        inv, _ = self.viewportTransform().inverted()
        return inv.map(QPointF(viewport_pos))

    def map_from_image(self, image_pos: QPointF) -> QPointF:
        return self.viewportTransform().map(QPointF(image_pos))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fit_mode:
            self.fit()
        self._update_badges()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self._follow_pointer()
        self._update_badges()

    # --- view modes ---------------------------------------------------------------------
    @property
    def view_mode(self) -> ViewMode:
        return self.item.mode

    def set_view_mode(self, mode: ViewMode) -> None:
        if self.item.mode == mode:
            return
        self.item.mode = mode
        self.divider.setVisible(mode == ViewMode.SPLIT and not self.doc.is_empty)
        self.item.update()
        self._update_badges()
        emit(self.view_mode_changed, mode.value)

    def hold_original(self, held: bool) -> None:
        """Show the original while a key is held; restore the previous mode on release."""
        if held and self._mode_before_hold is None:
            self._mode_before_hold = self.view_mode
            self.set_view_mode(ViewMode.ORIGINAL)
        elif not held and self._mode_before_hold is not None:
            mode, self._mode_before_hold = self._mode_before_hold, None
            self.set_view_mode(mode)

    def set_split_x(self, x: float) -> None:
        self.item.split_x = min(max(0.0, x), float(self.doc.width))
        self._update_divider()
        self.item.update()
        self._update_badges()

    def _update_badges(self) -> None:
        """On-screen signs: "Original" while Tab is held, "Before" / "After" in split view."""
        if not hasattr(self, "badges"):
            return
        mode = self.view_mode if not self.doc.is_empty else ViewMode.NORMAL
        x0 = self.map_from_image(QPointF(0, 0))
        x1 = self.map_from_image(QPointF(self.doc.width, self.doc.height))
        split = self.map_from_image(QPointF(self.item.split_x, 0)).x()
        self.badges.update_for(mode, x0.x(), x1.x(), split)

    def _update_divider(self) -> None:
        self.divider.set_geometry(self.item.split_x, self.doc.height, self._zoom)

    def set_show_flow(self, on: bool) -> None:
        self.item.show_flow = on
        self.item.update()

    # --- tools --------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.cancel_interaction()
        self.tool = Tool(tool)
        self._update_cursor()
        self._update_brush_item()

    def current_diameter(self) -> float:
        return float(self.sketch_width if self.tool == Tool.SKETCH else self.brush_size)

    def set_brush_size(self, size: int) -> None:
        size = int(min(max(size, MIN_BRUSH), MAX_BRUSH))
        if size != self.brush_size:
            self.brush_size = size
            self._update_brush_item()
            emit(self.brush_size_changed, size)

    def change_brush_size(self, steps: int) -> None:
        """`[` / `]` and Alt+wheel: about 12 % per step, and `]` then `[` comes back."""
        self.set_brush_size(step_brush(self.brush_size, steps))

    def set_sketch_width(self, width: int) -> None:
        self.sketch_width = int(min(max(width, 1), 50))
        self._update_brush_item()

    def _update_brush_item(self) -> None:
        self.brush_item.set_diameter(self.current_diameter(), self._zoom)
        self._follow_pointer()

    def _follow_pointer(self) -> None:
        """Keep the outline under a still pointer while the image moves (zoom, scroll, load)."""
        if self._hover is not None:
            self.brush_item.setPos(self.map_to_image(self._hover))

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space:
            shape = Qt.CursorShape.OpenHandCursor
        elif self.shows_brush:
            shape = Qt.CursorShape.BlankCursor
        elif self.tool == Tool.WAND:
            shape = Qt.CursorShape.PointingHandCursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(shape)
        self.brush_item.setVisible(
            self.shows_brush and not self._space and self._pan_from is None and self.underMouse()
        )

    @property
    def shows_brush(self) -> bool:
        """The brush outline follows the pointer (brushes and the select tool's hint strokes)."""
        return self.tool.is_brush or (
            self.tool == Tool.SELECT and self.picker.mode != SelectMode.BOX
        )

    def set_select_mode(self, mode: SelectMode) -> None:
        self.picker.mode = SelectMode(mode)
        self._update_cursor()

    def cancel_interaction(self) -> None:
        """Esc: abandon a stroke or shape in progress without leaving a trace."""
        if self._recorder is not None:
            self._recorder.cancel()
            self._recorder = None
        self._stroke_point = None
        self._shape_points = []
        self._shape_item.setPath(QPainterPath())
        self.picker.cancel()

    @property
    def interacting(self) -> bool:
        return bool(self._recorder is not None or self._shape_points or self.picker.active)

    # --- stroke handling (shared by mouse and tablet) ----------------------------------
    def _begin(self, pos: QPointF, modifiers: Qt.KeyboardModifier, pressure: float) -> None:
        if self.doc.is_empty:
            return
        p = self.map_to_image(pos)
        if self.tool in (Tool.SELECT, Tool.WAND):
            self.picker.press(p, modifiers, self.tool == Tool.WAND, float(self.brush_size))
            if self.tool == Tool.WAND:
                self.last_edit = p
            return
        if self.tool.is_brush:
            layer = self.tool.layer
            self._recorder = StrokeRecorder(self.doc, layer)
            start = p
            if (
                modifiers & Qt.KeyboardModifier.ShiftModifier
                and self._last_point is not None
                and self._last_layer == layer
            ):
                start = self._last_point  # Shift+click: straight line from the last stroke
            self._stroke_point = start
            self._pressure = pressure
            self._segment(start, p, pressure)
        else:
            self._shape_subtract = bool(modifiers & Qt.KeyboardModifier.AltModifier)
            self._shape_points = [p]
            self._update_shape_preview()

    def _segment(self, a: QPointF, b: QPointF, pressure: float) -> None:
        assert self._recorder is not None
        d = self.current_diameter()
        if self.tool != Tool.SKETCH:  # the guide-line width stays fixed
            d = max(1.0, d * max(0.05, min(pressure, 1.0)))
        p0, p1 = (a.x(), a.y()), (b.x(), b.y())
        rect = self.doc.clip(segment_rect(p0, p1, d))
        if rect[2] <= 0 or rect[3] <= 0:
            return
        self._recorder.touch(rect)
        draw_segment(self.doc.layer(self.tool.layer), p0, p1, d, self.tool.paint_value)
        self.doc.notify(self.tool.layer, rect)

    def _move(self, pos: QPointF, pressure: float) -> None:
        p = self.map_to_image(pos)
        if self.picker.active:
            self.picker.move(p, self._zoom)
            return
        if self._recorder is not None and self._stroke_point is not None:
            self._segment(self._stroke_point, p, pressure)
            self._stroke_point = p
        elif self._shape_points:
            if self.tool == Tool.RECT:
                self._shape_points = [self._shape_points[0], p]
            else:
                last = self._shape_points[-1]
                # skip points closer than one screen pixel: keeps long lassos light
                if (p - last).manhattanLength() * self._zoom >= 1.0:
                    self._shape_points.append(p)
            self._update_shape_preview()

    def _end(self, pos: QPointF) -> None:
        if self.picker.active:
            p = self.map_to_image(pos)
            self.last_edit = p
            self.picker.release(p, self._zoom)
            return
        if self._recorder is not None:
            self._move(pos, self._pressure)
            rec, self._recorder = self._recorder, None
            self._last_point = self._stroke_point
            self._last_layer = rec.layer
            self._stroke_point = None
            cmd = rec.finish(self.tool.label)
            self.last_edit = self._last_point
            if cmd is not None:
                self.history.push(cmd)
                emit(self.edit_finished, "stroke")
        elif self._shape_points:
            self._move(pos, 1.0)
            self._commit_shape()

    def _update_shape_preview(self) -> None:
        path = QPainterPath()
        pts = self._shape_points
        if self.tool == Tool.RECT and len(pts) == 2:
            path.addRect(QRectF(pts[0], pts[1]).normalized())
        elif len(pts) >= 2:
            path.addPolygon(QPolygonF(pts))
            path.closeSubpath()
        self._shape_item.setPath(path)

    def _commit_shape(self) -> None:
        pts, self._shape_points = self._shape_points, []
        self._shape_item.setPath(QPainterPath())
        if pts:
            self.last_edit = pts[-1]
        value = 0 if self._shape_subtract else 255
        new = self.doc.mask.copy()
        if self.tool == Tool.RECT:
            if len(pts) < 2:
                return
            a, b = pts[0], pts[-1]
            # a click without a drag is not a rectangle
            if (b - a).manhattanLength() * self._zoom < 3:
                return
            fill_rect(new, rect_from_points((a.x(), a.y()), (b.x(), b.y())), value)
            text = "Rectangle" + (" (subtract)" if self._shape_subtract else "")
        else:
            if fill_polygon(new, [(p.x(), p.y()) for p in pts], value) is None:
                return
            text = "Lasso" + (" (subtract)" if self._shape_subtract else "")
        cmd = layer_change_command(self.doc, "mask", new, text)
        if cmd is not None:
            self.history.push(cmd)
            emit(self.edit_finished, "mask-op")

    # --- Qt events ----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        btn = event.button()
        if btn == Qt.MouseButton.MiddleButton or (btn == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self._update_cursor()
            event.accept()
            return
        if btn == Qt.MouseButton.LeftButton:
            if self.view_mode == ViewMode.SPLIT and self.divider.hit(self.map_to_image(pos).x()):
                self._dragging_divider = True
                event.accept()
                return
            self._begin(pos, event.modifiers(), 1.0)
            event.accept()
            return
        if btn == Qt.MouseButton.RightButton and self.interacting:
            self.cancel_interaction()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._hover = QPointF(pos)
        p = self.map_to_image(pos)
        self._report_cursor(p)
        self.brush_item.setPos(p)
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(
                self.horizontalScrollBar().value() - round(delta.x())
            )
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            self.fit_mode = False
        elif self._dragging_divider:
            self.set_split_x(p.x())
        elif event.buttons() & Qt.MouseButton.LeftButton:
            self._move(pos, 1.0)
        elif self.view_mode == ViewMode.SPLIT and self.divider.hit(p.x()):
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
            self.brush_item.setVisible(False)
            return
        self._update_cursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        btn = event.button()
        if self._pan_from is not None and btn in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self._update_cursor()
        elif self._dragging_divider and btn == Qt.MouseButton.LeftButton:
            self._dragging_divider = False
        elif btn == Qt.MouseButton.LeftButton:
            self._end(event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # a double click is two dabs, not a special gesture
        self.mousePressEvent(event)

    def event(self, event: QEvent) -> bool:
        # while drawing, Esc abandons the stroke instead of triggering the window's Esc (cancel fill)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and self.interacting
        ):
            event.accept()
            return True
        return super().event(event)

    def viewportEvent(self, event: QEvent) -> bool:
        t = event.type()
        if isinstance(event, QTabletEvent) and t in (
            QEvent.Type.TabletPress, QEvent.Type.TabletMove, QEvent.Type.TabletRelease
        ):
            return self._tablet(event)
        return super().viewportEvent(event)

    def _tablet(self, event: QTabletEvent) -> bool:
        """Pen input with pressure; accepted so Qt does not also synthesise mouse events."""
        pos = event.position()
        pressure = float(event.pressure()) if event.pressure() > 0 else 1.0
        t = event.type()
        if self._space or self._pan_from is not None or self.view_mode == ViewMode.SPLIT:
            event.ignore()  # let the synthesised mouse events pan / drag the divider
            return False
        p = self.map_to_image(pos)
        self._report_cursor(p)
        self.brush_item.setPos(p)
        if t == QEvent.Type.TabletPress and event.button() == Qt.MouseButton.LeftButton:
            eraser_end = event.pointerType() == QPointingDevice.PointerType.Eraser
            if eraser_end and self.tool in (Tool.BRUSH, Tool.SKETCH):
                # the pen's eraser end erases the layer the current tool paints on
                self._tool_before_eraser = self.tool
                self.tool = Tool.ERASER if self.tool == Tool.BRUSH else Tool.SKETCH_ERASER
            self._begin(pos, event.modifiers(), pressure)
        elif t == QEvent.Type.TabletMove and self.interacting:
            self._pressure = pressure
            self._move(pos, pressure)
        elif t == QEvent.Type.TabletRelease and event.button() == Qt.MouseButton.LeftButton:
            self._end(pos)
            if self._tool_before_eraser is not None:
                self.tool, self._tool_before_eraser = self._tool_before_eraser, None
        event.accept()
        return True

    def wheelEvent(self, event: QWheelEvent) -> None:
        mods = event.modifiers()
        d = event.angleDelta()
        delta = d.y() if d.y() else d.x()  # some platforms turn Alt+wheel into horizontal
        if not delta:
            event.accept()
            return
        if mods & Qt.KeyboardModifier.ControlModifier:
            factor = math.pow(ZOOM_STEP, delta / 120.0)
            self.set_zoom(self._zoom * factor, event.position())
            event.accept()
        elif mods & Qt.KeyboardModifier.AltModifier:
            self.change_brush_size(1 if delta > 0 else -1)
            event.accept()
        else:
            super().wheelEvent(event)
            self.fit_mode = False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._update_cursor()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self.interacting:
            self.cancel_interaction()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = False
                self._pan_from = None
                self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space = False
        super().focusOutEvent(event)

    def enterEvent(self, event) -> None:
        super().enterEvent(event)
        # A window that opens under the pointer gets no move before the outline shows: place it
        # where the pointer is, not at the image's corner.
        self._hover = QPointF(self.viewport().mapFromGlobal(event.globalPosition().toPoint()))
        self._follow_pointer()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        QTimer.singleShot(0, self._update_cursor)

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        self._hover = None
        self.brush_item.setVisible(False)
        emit(self.cursor_moved, None)

    def _report_cursor(self, p: QPointF) -> None:
        x, y = math.floor(p.x()), math.floor(p.y())
        inside = 0 <= x < self.doc.width and 0 <= y < self.doc.height and not self.doc.is_empty
        emit(self.cursor_moved, (x, y) if inside else None)

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        painter.fillRect(rect, self.palette().color(self.backgroundRole()).darker(125))
