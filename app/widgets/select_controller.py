"""The Select object and Magic wand tools in the editor window: the Select panel in the tool
panel, the SelectionController behind it, their options kept in the settings, and what follows
a selection (a fill when "fill after selecting" is on, else the auto-fill hook)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QBoxLayout

from app.commands import HistoryStack
from app.document import Document
from app.settings import Settings
from app.widgets.canvas import CanvasView
from app.widgets.icons import IconBinder
from app.widgets.select_panel import SelectPanel
from app.widgets.select_pointer import SelectMode
from app.widgets.selection import SelectionController
from app.widgets.status import StatusBar
from app.widgets.tool_panel import ToolPanel
from app.widgets.tools import Tool


class SelectController(QObject):
    """Makes the Select panel (`panel`) and the selection requests (`selection`) and wires
    them to the canvas, the settings and the fill."""

    def __init__(
        self,
        doc: Document,
        history: HistoryStack,
        canvas: CanvasView,
        tool_panel: ToolPanel,
        status: StatusBar,
        settings: Settings,
        icons: IconBinder,
        set_tool: Callable[[Tool], None],
        fill: Callable[[], object],
        edit_finished: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas, self.status, self.settings = canvas, status, settings
        self._set_tool, self._fill, self._edit_finished = set_tool, fill, edit_finished
        self.panel = p = SelectPanel(icons)
        layout = tool_panel.layout()
        assert isinstance(layout, QBoxLayout)
        layout.insertWidget(1, p)
        self.selection = SelectionController(doc, history, canvas.picker, p.options, self)
        p.mode_changed.connect(self._mode_changed)
        self.selection.applied.connect(self._applied)
        self.selection.message.connect(lambda text: status.showMessage(text, 6000))
        self.selection.busy_changed.connect(self._busy)
        p.grow_spin.valueChanged.connect(lambda v: settings.set("select/grow_px", v))
        p.fill_after.toggled.connect(lambda on: settings.set("select/fill_after", on))
        p.tolerance.valueChanged.connect(lambda v: settings.set("wand/tolerance", v))
        p.contiguous.toggled.connect(lambda on: settings.set("wand/contiguous", on))

    def restore_settings(self) -> None:
        s, p = self.settings, self.panel
        p.grow_spin.setValue(s.get_int("select/grow_px"))
        p.fill_after.setChecked(bool(s.get("select/fill_after")))
        p.tolerance.setValue(s.get_int("wand/tolerance"))
        p.contiguous.setChecked(bool(s.get("wand/contiguous")))

    def _mode_changed(self, mode: str) -> None:
        self.canvas.set_select_mode(SelectMode(mode))
        if self.canvas.tool != Tool.SELECT:
            self._set_tool(Tool.SELECT)

    def _busy(self, busy: bool) -> None:
        if busy:
            self.status.showMessage("Selecting…")

    def _applied(self, kind: str) -> None:
        if kind != "wand" and self.panel.fill_after.isChecked():
            self._fill()
        else:
            self._edit_finished("mask-op")
