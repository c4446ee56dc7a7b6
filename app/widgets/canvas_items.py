"""What the canvas shows: the document (photo, mask, sketch and flow layers) and the brush
outline, as QGraphicsItems."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.document import Document
from app.engine.geometry import Rect
from app.widgets.compare import ViewMode
from app.widgets.raster import RasterLayer, alpha_ramp

MASK_COLOR = QColor(255, 45, 85)
SKETCH_COLOR = QColor(0, 229, 255)


class DocumentItem(QGraphicsItem):
    """Paints the document: photo (or original), flow, mask and sketch overlays."""

    def __init__(self, doc: Document) -> None:
        super().__init__()
        self.doc = doc
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.image_layer = RasterLayer("rgb")
        self.original_layer = RasterLayer("rgb")
        self.mask_layer = RasterLayer("index", alpha_ramp(MASK_COLOR, 0.55))
        self.sketch_layer = RasterLayer("index", alpha_ramp(SKETCH_COLOR, 1.0), downsample="max")
        self.flow_layer = RasterLayer("rgba")
        self.mode = ViewMode.NORMAL
        self.split_x = 0.0
        self.show_flow = False
        self.show_mask = True
        self.show_sketch = True
        self._rect = QRectF()
        doc.replaced.connect(self.reload)
        doc.image_changed.connect(self._on_image)
        doc.mask_changed.connect(lambda r: self._on_layer(self.mask_layer, r))
        doc.sketch_changed.connect(lambda r: self._on_layer(self.sketch_layer, r))
        doc.flow_changed.connect(self._on_flow)
        self.reload()

    def reload(self) -> None:
        self.prepareGeometryChange()
        d = self.doc
        self._rect = QRectF(0, 0, d.width, d.height) if not d.is_empty else QRectF()
        self.image_layer.set_array(d.image if not d.is_empty else None)
        self.original_layer.set_array(None)
        self.mask_layer.set_array(d.mask if not d.is_empty else None)
        self.sketch_layer.set_array(d.sketch if not d.is_empty else None)
        self._on_flow()
        self.split_x = d.width / 2
        self.update()

    def set_mask_opacity(self, opacity: float) -> None:
        self.mask_layer.set_color_table(alpha_ramp(MASK_COLOR, opacity))
        self.update()

    def _on_image(self, rect: Rect) -> None:
        self.image_layer.invalidate(rect)
        self.update(QRectF(*rect))

    def _on_layer(self, layer: RasterLayer, rect: Rect) -> None:
        layer.invalidate(rect)
        self.update(QRectF(*rect))

    def _on_flow(self) -> None:
        f = self.doc.flow
        if f is None:
            self.flow_layer.set_array(None)
        else:
            self.flow_layer.set_array(f.rgba, offset=(f.rect[0], f.rect[1]))
        self.update()

    def _original(self) -> RasterLayer:
        # the original only differs from the image after a fill; build its pyramid lazily
        orig = self.doc.original
        if orig is self.doc.image:
            return self.image_layer
        if self.original_layer.array is not orig:
            self.original_layer.set_array(orig)
        return self.original_layer

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self.doc.is_empty:
            return
        exposed = option.exposedRect.intersected(self._rect)
        if self.mode == ViewMode.ORIGINAL:
            self._original().draw(painter, exposed)
            return
        if self.mode == ViewMode.SPLIT:
            left = QRectF(0, 0, self.split_x, self._rect.height()).intersected(exposed)
            if not left.isEmpty():
                self._original().draw(painter, left)
            exposed = QRectF(
                self.split_x, 0, self._rect.width() - self.split_x, self._rect.height()
            ).intersected(exposed)
            if exposed.isEmpty():
                return
        self.image_layer.draw(painter, exposed)
        if self.show_flow:
            painter.setOpacity(0.85)
            self.flow_layer.draw(painter, exposed)
            painter.setOpacity(1.0)
        if self.show_mask:
            self.mask_layer.draw(painter, exposed)
        if self.show_sketch:
            self.sketch_layer.draw(painter, exposed)


class BrushCursorItem(QGraphicsItem):
    """Outline of the brush at its true size in image pixels (two-tone, visible anywhere)."""

    def __init__(self) -> None:
        super().__init__()
        self._d = 10.0
        self._scale = 1.0
        self.setZValue(200)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_diameter(self, d: float, scale: float) -> None:
        self.prepareGeometryChange()
        self._d, self._scale = max(1.0, d), max(scale, 1e-6)
        self.update()

    def _radius(self) -> float:
        # never smaller than 3 screen pixels, so a 1 px brush at 10 % zoom is still visible
        return max(self._d / 2.0, 3.0 / self._scale)

    def boundingRect(self) -> QRectF:
        r = self._radius() + 4.0 / self._scale
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r = self._radius()
        dark = QPen(QColor(0, 0, 0, 200), 1.0)
        dark.setCosmetic(True)
        light = QPen(QColor(255, 255, 255, 230), 1.0)
        light.setCosmetic(True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(dark)
        painter.drawEllipse(QPointF(0, 0), r + 1.0 / self._scale, r + 1.0 / self._scale)
        painter.setPen(light)
        painter.drawEllipse(QPointF(0, 0), r, r)
        c = 2.5 / self._scale  # centre dot helps aim small brushes
        painter.drawLine(QPointF(-c, 0), QPointF(c, 0))
        painter.drawLine(QPointF(0, -c), QPointF(0, c))
