"""The brush and sketch-line widths of the editor window: tool panel and canvas kept in step,
remembered in the settings, shown in the status bar (photo pixels and on screen), and the
brush's share of the photo carried over to the next photo."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.document import Document
from app.settings import Settings
from app.widgets.canvas import CanvasView
from app.widgets.status import StatusBar
from app.widgets.tool_panel import ToolPanel
from app.widgets.tools import Tool, brush_for_photo


class BrushController(QObject):
    def __init__(
        self,
        doc: Document,
        canvas: CanvasView,
        panel: ToolPanel,
        status: StatusBar,
        settings: Settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.doc, self.canvas, self.panel = doc, canvas, panel
        self.status, self.settings = status, settings
        self._follows = True  # off while a new photo sets the size: that is not the user's
        canvas.brush_size_changed.connect(self._brush_size_changed)
        panel.brush_size_changed.connect(canvas.set_brush_size)
        panel.sketch_width_changed.connect(self._sketch_width_changed)

    def restore_settings(self) -> None:
        s = self.settings
        self.canvas.set_brush_size(s.get_int("tools/brush_size"))
        self.panel.set_brush_size(self.canvas.brush_size)
        self.panel.sketch_spin.setValue(s.get_int("tools/sketch_width"))
        self.canvas.set_sketch_width(self.panel.sketch_spin.value())

    def fit_to_photo(self) -> None:
        """A new photo: the brush keeps the same share of the photo it had on the last one."""
        if self.doc.is_empty:
            return
        share = self.settings.get_float("tools/brush_share")
        w, h = self.doc.size
        self._follows = False
        self.canvas.set_brush_size(brush_for_photo(w, h, share))
        self._follows = True
        self.update_status()

    def status_text(self, size: int, label: str) -> str:
        """'Brush 45 px · 23 on screen': photo pixels, and what that is at the current zoom."""
        if self.doc.is_empty:
            return f"{label} {size} px"
        screen = size * self.canvas.zoom
        shown = f"{screen:.0f}" if screen >= 10 else f"{screen:.1f}"
        return f"{label} {size} px · {shown} on screen"

    def update_status(self) -> None:
        if self.canvas.tool == Tool.SKETCH:
            self.status.set_brush_text(self.status_text(self.canvas.sketch_width, "Sketch"))
        else:
            self.status.set_brush_text(self.status_text(self.canvas.brush_size, "Brush"))

    def _brush_size_changed(self, size: int) -> None:
        self.panel.set_brush_size(size)
        self.settings.set("tools/brush_size", size)
        if self._follows and not self.doc.is_empty:
            self.settings.set("tools/brush_share", size / max(self.doc.size))
        self.update_status()

    def _sketch_width_changed(self, width: int) -> None:
        self.canvas.set_sketch_width(width)
        self.settings.set("tools/sketch_width", width)
        self.update_status()
