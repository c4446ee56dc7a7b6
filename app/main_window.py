"""The main window: menus, toolbar, canvas, side panels, status bar, file and fill workflow.

Data flow (docs/design.md): widgets -> document/commands -> engine request -> engine thread ->
result -> command on the undo stack -> document -> widgets repaint. Nothing here imports
torch; the engine runs in EngineWorker's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from app.application import Application
from app.autosave import Autosaver, AutosaveStore
from app.autosave_files import Recovered
from app.commands import HistoryStack, layer_change_command
from app.document import Document, ImageMeta
from app.editor_window import EditorWindow
from app.engine.geometry import grow_mask
from app.engine.worker import EngineWorker
from app.file_guard import FileGuard, ask_replace_changed
from app.settings import Settings
from app.signal_emit import emit
from app.widgets.actions import TOOL_SPECS, create_actions, make_action
from app.widgets.brush_controller import BrushController
from app.widgets.canvas import CanvasView
from app.widgets.compare import ViewMode
from app.widgets.dialogs import AboutDialog, ShortcutsDialog, ask_save_changes, confirm
from app.widgets.dock_layout import DefaultDockLayout
from app.widgets.file_controller import (
    FileController,
    ask_open_path,
    ask_quality,
    ask_save_path,
    dropped_file,
)
from app.widgets.fill_controller import FillController
from app.widgets.history_panel import HistoryPanel
from app.widgets.icons import IconBinder
from app.widgets.model_manager import ModelManager, is_model_path, open_model_manager
from app.widgets.select_controller import SelectController
from app.widgets.status import StatusBar
from app.widgets.theme import THEMES
from app.widgets.tool_panel import ToolPanel
from app.widgets.tools import Tool, invert_mask
from app.widgets.window_chrome import build_menus, build_toolbar

log = logging.getLogger(__name__)

APP_TITLE = "DeepFill Studio"
_TEXT_INPUTS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)


class MainWindow(QMainWindow):
    """One photo's editor. The window makes its parts and wires them; the work is done by its
    controllers: `files` (FileController), `fills` (FillController), `select_tools`
    (SelectController) and `brush` (BrushController)."""

    message_shown = Signal(str, str)  # title, text: every error/info box (tests listen)
    photo_loaded = Signal(str)
    saved = Signal(str)
    fill_applied = Signal(object)  # InpaintResult

    # made by create_actions from ACTIONS (app/widgets/actions.py), one act_<name> per row
    act_open: QAction
    act_save: QAction
    act_save_as: QAction
    act_import_mask: QAction
    act_export_mask: QAction
    act_quit: QAction
    act_copy: QAction
    act_paste: QAction
    act_smaller: QAction
    act_larger: QAction
    act_clear: QAction
    act_invert: QAction
    act_grow: QAction
    act_shrink: QAction
    act_fill: QAction
    act_variant: QAction
    act_cancel: QAction
    act_auto: QAction
    act_models: QAction
    act_zoom_in: QAction
    act_zoom_out: QAction
    act_fit: QAction
    act_actual: QAction
    act_split: QAction
    act_flow: QAction
    act_show_mask: QAction
    act_shortcuts: QAction
    act_about: QAction

    def __init__(
        self,
        settings: Settings | None = None,
        worker: EngineWorker | None = None,
        *,
        start_engine: bool = True,
        history_limit: int | None = None,
        autosave: AutosaveStore | None = None,
        application: Application | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        # the owner of every window, the theme and shutdown; a private one when made alone
        self.application = application or Application(new_editor_window, self.settings, autosave)
        self.doc = Document(self)
        self.history = HistoryStack(parent=self)
        if history_limit is not None:
            self.history.memory_limit = history_limit
        self.icons = IconBinder()
        self.canvas = CanvasView(self.doc, self.history, self)
        self.setCentralWidget(self.canvas)
        self.worker: EngineWorker = worker or EngineWorker(
            model=str(self.settings.get("run/model")) or None,
            device=str(self.settings.get("run/device")),
            parent=self,
        )
        if self.worker.parent() is None:
            self.worker.setParent(self)
        self._start_engine = start_engine
        self._started = False
        self._close_approved = False
        self._model_manager: ModelManager | None = None  # the Models dialog, made when asked

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        self.status = StatusBar(self.icons, self)
        self.setStatusBar(self.status)
        self.file_guard = FileGuard()  # the changed-on-disk check: app/file_guard.py
        self.files = FileController(
            self.doc, self.history, self.settings, self.status, self.file_guard, self,
            self.set_photo, self.show_message, self._update_title, self, self,
        )
        self.files.loaded.connect(self.photo_loaded)
        self.files.saved.connect(self.saved)
        self._create_actions()  # after FileController: the File actions call it
        self.recent_menu, self.panels_menu = build_menus(self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.toolbar = build_toolbar(self)
        self._create_panels()
        self.brush = BrushController(
            self.doc, self.canvas, self.panel, self.status, self.settings, self
        )
        self.select_tools = SelectController(
            self.doc, self.history, self.canvas, self.panel, self.status, self.settings,
            self.icons, self.set_tool, self.fill, self._edit_finished, self,
        )
        self.select_panel = self.select_tools.panel
        self.selection = self.select_tools.selection
        self.fills = FillController(
            self.doc, self.history, self.worker, self.panel, self.status, self.settings,
            self.act_auto, self.act_cancel, self.act_variant, self.strategy, self.show_message,
            self._update_actions, self,
        )
        self.fills.applied.connect(self.fill_applied)
        self._connect()
        self._restore_settings()
        self._update_title()
        self._update_actions()
        # crash recovery: app/autosave.py
        self.autosaver = (
            Autosaver(self, autosave, open_window=self._open_recovery_window)
            if autosave is not None
            else None
        )
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    # ================================================================== construction
    def _create_actions(self) -> None:
        """The actions of app/widgets/actions.py, plus undo/redo, tools and themes."""
        create_actions(
            self, self.icons, before={"copy": self._create_undo_redo, "smaller": self._create_tools}
        )
        self.act_show_mask.setChecked(True)
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            a = QAction({"system": "Follow System", "light": "Light", "dark": "Dark"}[name], self)
            a.setCheckable(True)
            a.setData(name)
            a.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            self.theme_group.addAction(a)
            self.theme_actions[name] = a

    def _create_undo_redo(self) -> None:
        self.act_undo = self.history.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(QKeySequence.StandardKey.Undo)
        self.icons.bind(self.act_undo, "undo")
        self.act_redo = self.history.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.icons.bind(self.act_redo, "redo")
        for a, name in ((self.act_undo, "Undo"), (self.act_redo, "Redo")):
            a.setProperty("section", "Edit")
            a.setProperty("sheet_text", name)  # their text follows the history
            self.addAction(a)

    def _create_tools(self) -> None:
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, key, icon_key, tip in TOOL_SPECS:
            a = make_action(self, self.icons, tool.label, None, key, icon_key, tip, True, "Tools")
            a.setData(tool.value)
            a.triggered.connect(lambda _c=False, t=tool: self.set_tool(t))
            self.tool_group.addAction(a)
            self.tool_actions[tool] = a

    def _create_panels(self) -> None:
        self.panel = ToolPanel(
            list(self.tool_actions.values()),
            {
                "clear": self.act_clear,
                "invert": self.act_invert,
                "grow": self.act_grow,
                "shrink": self.act_shrink,
                "import": self.act_import_mask,
                "export": self.act_export_mask,
            },
            self.act_fill,
            self.act_variant,
            self.act_auto,
            self.act_flow,
        )
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tools_dock = QDockWidget("Tools", self)
        self.tools_dock.setObjectName("toolsDock")
        self.tools_dock.setWidget(scroll)
        self.tools_dock.setMinimumWidth(self.panel.sizeHint().width() + 12)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.tools_dock)
        self.history_panel = HistoryPanel(self.history)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("historyDock")
        self.history_dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.dock_layout = DefaultDockLayout(self, self.tools_dock, self.history_dock, self.panel)
        self.panels_menu.addAction(self.tools_dock.toggleViewAction())
        self.panels_menu.addAction(self.history_dock.toggleViewAction())
        self.panels_menu.addAction(self.toolbar.toggleViewAction())

    def _connect(self) -> None:
        c = self.canvas
        c.zoom_changed.connect(self._zoom_changed)
        c.cursor_moved.connect(self.status.set_cursor)
        c.edit_finished.connect(self._edit_finished)
        self.panel.mask_opacity_changed.connect(self._mask_opacity_changed)
        self.panel.strategy_changed.connect(lambda s: self.settings.set("run/strategy", s))
        self.panel.device_changed.connect(self._device_changed)
        # The button mirrors the menu action: same icon (recoloured with the theme) and tooltip.
        self.panel.models_button.setDefaultAction(self.act_models)
        self.panel.grow_spin.valueChanged.connect(lambda v: self.settings.set("tools/grow_px", v))
        self.status.cancel_requested.connect(self.cancel_fill)
        self.history.cleanChanged.connect(self._on_clean_changed)
        self.history.indexChanged.connect(self._on_index_changed)
        self.doc.mask_changed.connect(self._on_mask_changed)
        self.doc.replaced.connect(self._update_actions)

    def _on_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _on_index_changed(self, _index: int) -> None:
        self._update_actions()

    def _on_mask_changed(self, _rect: object) -> None:
        self._update_actions()

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self._default_geometry()
        state = s.window_state()
        if state is not None:
            self.restoreState(state)
        self.brush.restore_settings()
        self.panel.opacity_slider.setValue(s.get_int("tools/mask_opacity"))
        self._mask_opacity_changed(self.panel.opacity_slider.value())
        self.panel.grow_spin.setValue(s.get_int("tools/grow_px"))
        self.select_tools.restore_settings()
        self.panel.set_strategy(str(s.get("run/strategy")))
        self.panel.device.blockSignals(True)
        self.panel.set_device_choice(str(s.get("run/device")))
        self.panel.device.blockSignals(False)
        self.act_auto.setChecked(bool(s.get("run/auto_run")))
        self.act_flow.setChecked(bool(s.get("view/show_flow")))
        try:
            tool = Tool(str(s.get("tools/tool")))
        except ValueError:
            tool = Tool.BRUSH
        self.set_tool(tool)
        theme = str(s.get("view/theme"))
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)

    def _default_geometry(self) -> None:
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen else None
        w, h = 1440, 900
        if avail is not None and avail.width() > 200:
            w, h = min(w, int(avail.width() * 0.9)), min(h, int(avail.height() * 0.9))
        self.resize(w, h)
        if avail is not None and avail.width() > 200:
            self.move(avail.center().x() - w // 2, avail.center().y() - h // 2)

    def save_settings(self) -> None:
        s = self.settings
        s.set_geometry(self.saveGeometry())
        s.set_window_state(self.saveState())
        s.set("tools/brush_size", self.canvas.brush_size)
        s.set("tools/sketch_width", self.canvas.sketch_width)
        s.set("tools/tool", self.canvas.tool.value)
        s.set("tools/grow_px", self.panel.grow_spin.value())
        s.set("tools/mask_opacity", self.panel.opacity_slider.value())
        s.set("run/auto_run", self.act_auto.isChecked())
        s.set("run/strategy", self.strategy())
        s.set("view/show_flow", self.act_flow.isChecked())
        s.sync()

    # ================================================================== filling (FillController)
    def fill(self) -> int | None:
        """Send the current image, mask and sketch to the engine; returns the request id."""
        return self.fills.fill()

    def another_variant(self) -> int | None:
        """Re-run only the texture stage of the last fill with a new seed (one undo step)."""
        return self.fills.another_variant()

    def cancel_fill(self) -> None:
        self.fills.cancel_fill()

    def _edit_finished(self, kind: str) -> None:
        self.fills.edit_finished(kind)

    # ================================================================== small state helpers
    def strategy(self) -> str:
        return str(self.panel.strategy.currentData() or "auto")

    def set_tool(self, tool: Tool) -> None:
        if tool == Tool.SELECT:
            self.canvas.set_select_mode(self.select_panel.mode())
        self.canvas.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        self.settings.set("tools/tool", tool.value)
        self.brush.update_status()

    def _zoom_changed(self, zoom: float) -> None:
        self.status.set_zoom(None if self.doc.is_empty else zoom)
        self.brush.update_status()

    def _mask_opacity_changed(self, value: int) -> None:
        self.canvas.item.set_mask_opacity(value / 100.0)
        self.settings.set("tools/mask_opacity", value)

    def _device_changed(self, device: str) -> None:
        self.settings.set("run/device", device)
        self.status.set_device("loading…")
        self.panel.device_label.setText("loading…")
        self.worker.load_model(str(self.settings.get("run/model")) or None, device)

    def auto_toggled(self, on: bool) -> None:
        self.settings.set("run/auto_run", on)

    def flow_toggled(self, on: bool) -> None:
        self.canvas.set_show_flow(on)
        self.settings.set("view/show_flow", on)
        if on and self.doc.flow is None and not self.doc.is_empty:
            self.status.showMessage("The attention flow appears after a fill.", 4000)

    def overlay_toggled(self, on: bool) -> None:
        self.canvas.item.show_mask = on
        self.canvas.item.show_sketch = on
        self.canvas.item.update()

    def split_toggled(self, on: bool) -> None:
        self.canvas.set_view_mode(ViewMode.SPLIT if on else ViewMode.NORMAL)

    def set_theme(self, theme: str) -> None:
        self.settings.set("view/theme", theme)
        self.application.set_theme(theme)

    def _open_recovery_window(self) -> EditorWindow:
        return self.application.open_recovery_window(self)

    def refresh_icons(self) -> None:
        self.icons.refresh()
        self.history_panel.refresh_icons()
        self.panel._sync_fill_button()
        self.canvas.viewport().update()

    def _update_title(self) -> None:
        name = self.doc.meta.display_name if not self.doc.is_empty else None
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}" if name else APP_TITLE)
        self.setWindowModified(not self.doc.is_empty and not self.history.isClean())

    def _update_actions(self) -> None:
        has_photo = not self.doc.is_empty
        has_mask = has_photo and self.doc.has_mask()
        for a in (
            self.act_save,
            self.act_save_as,
            self.act_copy,
            self.act_export_mask,
            self.act_import_mask,
            self.act_invert,
        ):
            a.setEnabled(has_photo)
        for a in (self.act_clear, self.act_grow, self.act_shrink):
            a.setEnabled(has_mask)
        self.act_fill.setEnabled(has_mask)
        self.act_cancel.setEnabled(self.worker.busy)

    def is_modified(self) -> bool:
        return self.files.is_modified()

    # ================================================================== the photo and its files
    def set_photo(self, rgb: np.ndarray, meta: ImageMeta) -> None:
        """Show a new photo: empty mask and sketch, fresh history, nothing to save."""
        self.fills.cancel_fill()
        self.fills.forget_pending()
        self.doc.load(rgb, meta)
        self.history.reset()
        self.history.setClean()
        self.files.forget_save_path()
        self.status.set_image_size(self.doc.size)
        self.status.set_zoom(self.canvas.zoom)
        self.brush.fit_to_photo()
        if self.act_split.isChecked():
            self.canvas.set_view_mode(ViewMode.SPLIT)
        self._update_title()
        self._update_actions()

    def open_path(self, path: str | Path) -> None:
        """Open a photo (asks about unsaved changes first); decoding runs off the GUI thread."""
        self.files.open_path(path)

    def load_recovered(self, recovered: Recovered) -> None:
        """Show a recovered document: the photo as opened plus one undo step with the edits."""
        self.files.load_recovered(recovered)

    def save(self, then: Callable[[], None] | None = None) -> None:
        self.files.save(then)

    def save_to(
        self, path: str | Path, quality: int | None = None, then: Callable[[], None] | None = None
    ) -> bool:
        """Write the result with the photo's metadata (off the GUI thread); False if refused."""
        return self.files.save_to(path, quality, then)

    def suggested_save_path(self) -> Path:
        return self.files.suggested_save_path()

    def import_mask(self, path: str | Path) -> bool:
        return self.files.import_mask(path)

    def export_mask(self, path: str | Path) -> bool:
        return self.files.export_mask(path)

    def paste(self) -> None:
        self.files.paste()

    def _fill_recent_menu(self) -> None:
        self.files.fill_recent_menu(self.recent_menu)

    # ================================================================== messages / prompts
    def show_message(self, title: str, text: str, kind: str = "warning") -> QMessageBox:
        """Non-blocking message box (the window stays usable; tests see message_shown)."""
        icon = {
            "warning": QMessageBox.Icon.Warning,
            "error": QMessageBox.Icon.Critical,
            "info": QMessageBox.Icon.Information,
        }[kind]
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        emit(self.message_shown, title, text)
        return box

    # The questions of FilePrompts (app/widgets/file_controller.py); tests replace them.
    def ask_unsaved(self) -> str:
        """'save' | 'discard' | 'cancel'."""
        return ask_save_changes(self, self.doc.meta.display_name)

    def confirm_overwrite_original(self, path: Path) -> bool:
        """Explicit confirmation before replacing the opened photo itself."""
        return confirm(
            self,
            "Replace the original photo?",
            f"{path.name} is the original photo. Saving here replaces it for good.\n\n"
            "Choose Save As to keep the original and write a new file instead.",
        )

    def confirm_replace_changed(self, path: Path) -> bool:
        """The file changed on disk since we read or wrote it: replace it anyway?"""
        return ask_replace_changed(self, path)

    def ask_save_path(self, suggested: Path) -> Path | None:
        return ask_save_path(self, suggested)

    def ask_quality(self, fmt: str) -> int | None:
        default = self.doc.meta.quality or self.settings.get_int("save/jpeg_quality")
        return ask_quality(self, fmt, default)

    def ask_open_path(self) -> Path | None:
        return ask_open_path(self, self.files.last_dir())

    # ================================================================== mask operations
    def _mask_op(self, new: np.ndarray, text: str) -> None:
        cmd = layer_change_command(self.doc, "mask", new, text)
        if cmd is not None:
            self.history.push(cmd)

    def clear_mask(self) -> None:
        if not self.doc.is_empty:
            self._mask_op(np.zeros_like(self.doc.mask), "Clear mask")

    def invert_mask(self) -> None:
        if not self.doc.is_empty:
            self._mask_op(invert_mask(self.doc.mask), "Invert mask")

    def grow_mask(self, sign: int) -> None:
        if self.doc.is_empty:
            return
        n = self.panel.grow_spin.value()
        verb = "Grow" if sign > 0 else "Shrink"
        self._mask_op(grow_mask(self.doc.mask, sign * n), f"{verb} mask by {n} px")

    # ================================================================== dialogs
    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self.actions(), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.show()
        return dlg

    def show_about(self) -> AboutDialog:
        info = self.worker.model_info
        device = (info.device if info is not None else "") or "not loaded"
        dlg = AboutDialog(info, self.worker.model_error, device, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.show()
        return dlg

    def show_models(self) -> ModelManager:
        self._model_manager = open_model_manager(
            self._model_manager, self.worker, self.settings, self.panel.model_label, self
        )
        return self._model_manager

    # ================================================================== Qt events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if dropped_file(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """A dropped photo is opened; a model file or checkpoint folder is imported."""
        path = dropped_file(event.mimeData())
        if not path:
            return
        event.acceptProposedAction()
        if is_model_path(path):
            QTimer.singleShot(0, lambda: self.show_models().import_paths([path]))
        else:
            QTimer.singleShot(0, lambda: self.files.open_path(path))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._started:
            self._started = True
            if self.autosaver is not None:  # work left by a crashed editor
                QTimer.singleShot(0, self.autosaver.offer_restore)
            if self.settings.window_state() is None:
                self.dock_layout.start()
            if self._start_engine and self.worker.model_info is None:
                self.status.set_device("loading…")
                self.panel.device_label.setText("loading…")
            if self._start_engine:
                # after the first paint: torch is imported and the model loaded in the thread
                QTimer.singleShot(50, self.worker.start)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Hold Tab or backslash anywhere in the window (outside text fields) = original."""
        t = event.type()
        if t in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and isinstance(event, QKeyEvent):
            key = event.key()
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if (
                key in (Qt.Key.Key_Tab, Qt.Key.Key_Backslash)
                and not mods
                and isinstance(obj, QWidget)
                and obj.window() is self
                and not isinstance(obj, _TEXT_INPUTS)
            ):
                if not event.isAutoRepeat():
                    self.canvas.hold_original(t == QEvent.Type.KeyPress)
                return True
        elif t == QEvent.Type.WindowDeactivate and obj is self:
            self.canvas.hold_original(False)
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_approved and self.is_modified():
            event.ignore()

            def approved() -> None:
                self._close_approved = True
                QTimer.singleShot(0, self.close)  # Qt ignores close() from inside closeEvent

            self.files.maybe_save(approved)
            return
        self.save_settings()
        self.hide()  # feels instant even if a fill has to reach its next checkpoint first
        self.worker.shutdown()
        if self.autosaver is not None:  # a clean close: nothing to recover
            self.autosaver.close_session()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        event.accept()



def new_editor_window(
    application: Application, settings: Settings, store: AutosaveStore | None
) -> MainWindow:
    """The application's window factory: a full editor sharing settings and autosave folder."""
    return MainWindow(settings=settings, autosave=store, application=application)
