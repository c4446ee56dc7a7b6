"""The application: owns the editor windows, the theme, the autosave store, crash recovery's extra
windows and the one shutdown path.

`gui.run_editor` makes one `Application` for the process; a window made without one (tests,
scripts) gets a private one, so every window can open another for recovered work. Windows are
made through the factory the caller passes (`MainWindow`), so this module does not import the
window: the window imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.autosave_store import AutosaveStore
from app.editor_window import EditorWindow
from app.engine.worker import WORKERS, WorkerRegistry
from app.settings import Settings
from app.widgets.theme import apply_theme

log = logging.getLogger(__name__)

# factory(application, settings, store) -> a new editor window
WindowFactory = Callable[["Application", Settings, "AutosaveStore | None"], EditorWindow]


class Application(QObject):
    """Editor windows, theme, autosave store and shutdown for one process."""

    def __init__(
        self,
        window_factory: WindowFactory,
        settings: Settings | None = None,
        store: AutosaveStore | None = None,
    ) -> None:
        super().__init__()
        self.window_factory = window_factory
        self.settings = settings
        self.store = store
        self.windows: list[EditorWindow] = []  # every window this application opened
        self.extra_windows: list[EditorWindow] = []  # opened for recovered work, while open
        # the process's engine workers (one registry: threads belong to the process), stopped
        # by shutdown()
        self.workers: WorkerRegistry = WORKERS

    # --- windows --------------------------------------------------------------------------
    def new_window(self) -> EditorWindow:
        """A new editor window sharing the settings and the autosave store (not yet shown)."""
        win = self.window_factory(self, self.settings or Settings(), self.store)
        self.settings = self.settings or win.settings
        self.windows.append(win)
        return win

    def open_recovery_window(self, near: EditorWindow) -> EditorWindow:
        """Another window for recovered work, a little offset from `near`, freed when closed."""
        win = self.new_window()
        if win.autosaver is not None:
            win.autosaver.offers_recovery = False  # it does not look for crashed work again
        self.extra_windows.append(win)
        if isinstance(win, QObject):
            win.installEventFilter(self)
        k = len(self.extra_windows)
        win.move(near.pos() + QPoint(32 * k, 32 * k))
        win.show()
        return win

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and obj in self.extra_windows:
            QTimer.singleShot(0, lambda: self._window_closed(obj))  # after its closeEvent
        return False

    def _window_closed(self, win) -> None:
        try:
            if win.isVisible():  # the close was cancelled (unsaved changes)
                return
            if win.worker.running:  # a fill stuck between checkpoints: deleting would abort
                return
        except RuntimeError:  # already deleted
            pass
        else:
            win.deleteLater()
        with contextlib.suppress(ValueError):
            self.extra_windows.remove(win)
        with contextlib.suppress(ValueError):
            self.windows.remove(win)

    # --- theme ----------------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        """Apply a theme ("system", "light", "dark") and recolour every editor window."""
        if self.settings is not None:
            self.settings.set("view/theme", theme)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        for win in editor_windows():  # every window shares the palette
            win.refresh_icons()

    def follow_system_theme(self) -> None:
        """Re-apply "system" when the OS colour scheme changes, if the user chose it."""
        from PySide6.QtGui import QGuiApplication

        def changed(*_args: object) -> None:
            if self.settings is not None and str(self.settings.get("view/theme")) == "system":
                self.set_theme("system")

        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(changed)

    # --- running and shutting down --------------------------------------------------------
    def exec(self, qapp: QApplication) -> int:
        """Run the event loop, then shut down; returns the process exit code."""
        return self.shutdown(int(qapp.exec()))

    def shutdown(self, code: int) -> int:
        """The one shutdown path. Every window stopped its engine on close; one may still be
        finishing a fill between checkpoints. If one does not stop within 30 s we leave with
        os._exit: Qt aborts the process when a running QThread is destroyed, and settings and
        autosaves were already written in closeEvent."""
        stuck = self.workers.stop_all(30000)
        if stuck:
            log.warning("%d engine thread(s) did not stop; leaving without waiting", len(stuck))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code


def editor_windows() -> list[EditorWindow]:
    """Every editor window of the process (anything top-level with an autosaver and icons)."""
    return [
        w  # type: ignore[misc]
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QWidget) and hasattr(w, "refresh_icons") and hasattr(w, "doc")
    ]
