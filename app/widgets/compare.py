"""Before/after comparison: the view modes and the draggable split divider."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QLabel, QStyleOptionGraphicsItem, QWidget


class ViewMode(str, Enum):
    NORMAL = "normal"  # current image with mask/sketch/flow overlays
    ORIGINAL = "original"  # the photo as opened (hold Tab or backslash)
    SPLIT = "split"  # original left of the divider, current right of it


class SplitDividerItem(QGraphicsItem):
    """Vertical before/after line with a round handle; x is in image coordinates."""

    HANDLE_PX = 13  # handle radius in screen pixels
    GRAB_PX = 10  # how close (screen px) the pointer must be to grab the line

    def __init__(self) -> None:
        super().__init__()
        self._x = 0.0
        self._height = 1.0
        self._scale = 1.0
        self.setZValue(100)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    @property
    def x_image(self) -> float:
        return self._x

    def set_geometry(self, x: float, height: float, scale: float) -> None:
        self.prepareGeometryChange()
        self._x, self._height, self._scale = x, height, max(scale, 1e-6)
        self.update()

    def hit(self, scene_x: float) -> bool:
        return abs(scene_x - self._x) * self._scale <= self.GRAB_PX

    def boundingRect(self) -> QRectF:
        half = (self.HANDLE_PX + 4) / self._scale
        return QRectF(self._x - half, -half, 2 * half, self._height + 2 * half)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        shadow = QPen(QColor(0, 0, 0, 140), 3)
        shadow.setCosmetic(True)
        line = QPen(QColor(255, 255, 255), 1.5)
        line.setCosmetic(True)
        painter.setPen(shadow)
        painter.drawLine(QPointF(self._x, 0), QPointF(self._x, self._height))
        painter.setPen(line)
        painter.drawLine(QPointF(self._x, 0), QPointF(self._x, self._height))
        # handle in the middle, constant screen size
        r = self.HANDLE_PX / self._scale
        centre = QPointF(self._x, self._height / 2)
        painter.setPen(shadow)
        painter.setBrush(QBrush(QColor(255, 255, 255, 230)))
        painter.drawEllipse(centre, r, r)
        arrow = QPen(QColor(40, 40, 40), 1.6)
        arrow.setCosmetic(True)
        painter.setPen(arrow)
        a = r * 0.45
        for sign in (-1, 1):
            tip = QPointF(self._x + sign * a * 1.3, centre.y())
            painter.drawLine(tip, QPointF(self._x + sign * a * 0.4, centre.y() - a * 0.7))
            painter.drawLine(tip, QPointF(self._x + sign * a * 0.4, centre.y() + a * 0.7))


_BADGE_STYLE = (
    "QLabel { background: rgba(20, 20, 20, 185); color: white; border-radius: 4px;"
    " padding: 3px 9px; font-weight: 600; }"
)


class ViewBadges:
    """Labels over the canvas that say what is on screen: "Original" while Tab is held,
    "Before" and "After" on either side of the split divider."""

    MARGIN = 10

    def __init__(self, viewport: QWidget) -> None:
        self.viewport = viewport
        self.original = self._label("Original", "Showing the photo as opened (release Tab)")
        self.before = self._label("Before", "The photo as opened")
        self.after = self._label("After", "The photo with your edits")

    def _label(self, text: str, tip: str) -> QLabel:
        label = QLabel(text, self.viewport)
        label.setObjectName(f"{text.lower()}Badge")
        label.setStyleSheet(_BADGE_STYLE)
        label.setToolTip(tip)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        label.adjustSize()
        label.hide()
        return label

    def update_for(self, mode: ViewMode, left: float, right: float, split: float) -> None:
        """Place the labels; left / right / split are viewport x of the photo's edges and
        the divider."""
        w, m = self.viewport.width(), self.MARGIN
        self.original.setVisible(mode == ViewMode.ORIGINAL)
        if mode == ViewMode.ORIGINAL:
            self.original.move(max(m, int(left) + m), m)
            self.original.raise_()
        show_split = mode == ViewMode.SPLIT
        lo, hi = max(0.0, left), min(float(w), right)
        before_room = split - lo
        after_room = hi - split
        self.before.setVisible(show_split and before_room > self.before.width() + 2 * m)
        self.after.setVisible(show_split and after_room > self.after.width() + 2 * m)
        if show_split:
            self.before.move(int(split) - self.before.width() - m, m)
            self.after.move(int(split) + m, m)
            self.before.raise_()
            self.after.raise_()
