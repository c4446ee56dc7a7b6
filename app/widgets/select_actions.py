"""Selection tools and photo-relative brush size for the main window (mixed into MainWindow):
the Select panel, the SelectionController, their settings, and the brush that follows the
photo's size."""

from __future__ import annotations

from app.widgets.select_panel import SelectPanel
from app.widgets.select_pointer import SelectMode
from app.widgets.selection import SelectionController
from app.widgets.tools import Tool, brush_for_photo


class SelectActionsMixin:
    """Needs from the window: doc, history, canvas, panel, status, settings, icons, fill(),
    _edit_finished(), _update_brush_status()."""

    def _create_selection(self) -> None:
        self.select_panel = SelectPanel(self.icons)
        self.panel.layout().insertWidget(1, self.select_panel)
        self.selection = SelectionController(
            self.doc, self.history, self.canvas.picker, self.select_panel.options, self
        )
        self.select_panel.mode_changed.connect(self._select_mode_changed)
        self.selection.applied.connect(self._selection_applied)
        self.selection.message.connect(lambda text: self.status.showMessage(text, 6000))
        self.selection.busy_changed.connect(self._selection_busy)
        p = self.select_panel
        p.grow_spin.valueChanged.connect(lambda v: self.settings.set("select/grow_px", v))
        p.fill_after.toggled.connect(lambda on: self.settings.set("select/fill_after", on))
        p.tolerance.valueChanged.connect(lambda v: self.settings.set("wand/tolerance", v))
        p.contiguous.toggled.connect(lambda on: self.settings.set("wand/contiguous", on))

    def _restore_selection_settings(self) -> None:
        s, p = self.settings, self.select_panel
        p.grow_spin.setValue(int(s.get("select/grow_px")))
        p.fill_after.setChecked(bool(s.get("select/fill_after")))
        p.tolerance.setValue(int(s.get("wand/tolerance")))
        p.contiguous.setChecked(bool(s.get("wand/contiguous")))

    def _select_mode_changed(self, mode: str) -> None:
        self.canvas.set_select_mode(SelectMode(mode))
        if self.canvas.tool != Tool.SELECT:
            self.set_tool(Tool.SELECT)

    def _selection_busy(self, busy: bool) -> None:
        if busy:
            self.status.showMessage("Selecting…")

    def _selection_applied(self, kind: str) -> None:
        if kind != "wand" and self.select_panel.fill_after.isChecked():
            self.fill()
        else:
            self._edit_finished("mask-op")

    # ------------------------------------------------------------------ brush follows the photo
    def _fit_brush_to_photo(self) -> None:
        """A new photo: the brush keeps the same share of the photo it had on the last one."""
        if self.doc.is_empty:
            return
        share = float(self.settings.get("tools/brush_share"))
        w, h = self.doc.size
        self._brush_follows = False
        self.canvas.set_brush_size(brush_for_photo(w, h, share))
        self._brush_follows = True
        self._update_brush_status()

    def _remember_brush_share(self, size: int) -> None:
        if getattr(self, "_brush_follows", True) and not self.doc.is_empty:
            self.settings.set("tools/brush_share", size / max(self.doc.size))

    def brush_status_text(self, size: int, label: str) -> str:
        """'Brush 45 px · 23 on screen': photo pixels, and what that is at the current zoom."""
        if self.doc.is_empty:
            return f"{label} {size} px"
        screen = size * self.canvas.zoom
        shown = f"{screen:.0f}" if screen >= 10 else f"{screen:.1f}"
        return f"{label} {size} px · {shown} on screen"
