"""Pointer side of the Select object and Magic wand tools, hosted by the canvas.

It only turns presses, drags and releases (in image coordinates) into requests: a box, a
hint stroke ("object" / "not object") or a wand click. The selection itself is computed off
the GUI thread by the window's SelectionController (app/widgets/selection.py).
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from app.signal_emit import emit

OBJECT_COLOR = QColor(40, 220, 90)
NOT_OBJECT_COLOR = QColor(255, 70, 40)


class SelectMode(str, Enum):
    BOX = "box"  # drag a loose box around the object
    OBJECT = "object"  # strokes over what surely is the object
    NOT_OBJECT = "not_object"  # strokes over what surely is not


def hint_pen(is_object: bool, diameter: float) -> QPen:
    color = QColor(OBJECT_COLOR if is_object else NOT_OBJECT_COLOR)
    color.setAlpha(170)
    pen = QPen(color, max(1.0, diameter))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


class SelectPointer(QObject):
    """Box / hint-stroke / wand-click gestures; previews live in the canvas scene."""

    box_drawn = Signal(object, bool)  # (x0, y0, x1, y1) image px, subtract
    hint_drawn = Signal(object, float, bool)  # [(x, y), ...], diameter px, is_object
    wand_clicked = Signal(int, int, str)  # x, y, "replace" | "add" | "subtract"

    def __init__(self, scene: QGraphicsScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mode = SelectMode.BOX
        self._points: list[QPointF] = []
        self._kind: str | None = None  # "box" | "object" | "not_object" while dragging
        self._subtract = False
        self._diameter = 1.0
        self._preview = QGraphicsPathItem()
        self._preview.setZValue(150)
        scene.addItem(self._preview)

    @property
    def active(self) -> bool:
        return self._kind is not None

    def press(
        self, p: QPointF, modifiers: Qt.KeyboardModifier, wand: bool, diameter: float
    ) -> None:
        if wand:
            op = "replace"
            if modifiers & Qt.KeyboardModifier.AltModifier:
                op = "subtract"
            elif modifiers & Qt.KeyboardModifier.ShiftModifier:
                op = "add"
            emit(self.wand_clicked, int(p.x() // 1), int(p.y() // 1), op)
            return
        kind = self.mode.value
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            kind = SelectMode.OBJECT.value
        elif modifiers & Qt.KeyboardModifier.ControlModifier:
            kind = SelectMode.NOT_OBJECT.value
        self._kind = kind
        self._subtract = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        self._diameter = diameter
        self._points = [p]
        self._update_preview()

    def move(self, p: QPointF, zoom: float) -> None:
        if self._kind == "box":
            self._points = [self._points[0], p]
        elif self._kind is not None and (p - self._points[-1]).manhattanLength() * zoom >= 1.0:
            self._points.append(p)
        self._update_preview()

    def release(self, p: QPointF, zoom: float) -> None:
        if self._kind is None:
            return
        self.move(p, zoom)
        kind, pts = self._kind, self._points
        self.cancel()
        if kind == "box":
            a, b = pts[0], pts[-1]
            if abs(b.x() - a.x()) * zoom < 3 or abs(b.y() - a.y()) * zoom < 3:
                return  # a click is not a box
            r = QRectF(a, b).normalized()
            box = (int(r.left() // 1), int(r.top() // 1), int(-(-r.right() // 1)), int(-(-r.bottom() // 1)))
            emit(self.box_drawn, box, self._subtract)
        else:
            emit(self.hint_drawn, [(q.x(), q.y()) for q in pts], self._diameter, kind == "object")

    def cancel(self) -> None:
        self._kind = None
        self._points = []
        self._preview.setPath(QPainterPath())

    def _update_preview(self) -> None:
        path = QPainterPath()
        pts = self._points
        if self._kind == "box":
            pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._preview.setPen(pen)
            self._preview.setBrush(QColor(255, 255, 255, 30))
            if len(pts) == 2:
                path.addRect(QRectF(pts[0], pts[1]).normalized())
        elif self._kind is not None and pts:
            self._preview.setPen(hint_pen(self._kind == "object", self._diameter))
            self._preview.setBrush(Qt.BrushStyle.NoBrush)
            path.moveTo(pts[0])
            for q in pts[1:]:
                path.lineTo(q)
            if len(pts) == 1:
                path.lineTo(pts[0] + QPointF(0.01, 0))
        self._preview.setPath(path)
