"""What the parts of the editor that outlive or stand beside a window (autosave, the application)
need from an editor window, as a protocol: they depend on this, not on app.main_window, so the
window can own them without an import cycle. `app.main_window.MainWindow` implements it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QMessageBox, QStatusBar

    from app.autosave_files import Recovered
    from app.commands import HistoryStack
    from app.document import Document
    from app.file_guard import FileGuard
    from app.settings import Settings


class EditorWindow(Protocol):
    # read-only here, so a window may hold subclasses (its StatusBar is a QStatusBar)
    @property
    def doc(self) -> Document: ...

    @property
    def history(self) -> HistoryStack: ...

    @property
    def status(self) -> QStatusBar: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def file_guard(self) -> FileGuard: ...

    @property
    def autosaver(self) -> Any:
        """app.autosave.Autosaver or None (autosave depends on this module)."""

    def is_modified(self) -> bool: ...

    def open_path(self, path: str | Path) -> None:
        """Open a photo (asking about unsaved changes first)."""

    def show_message(self, title: str, text: str, kind: str = "warning") -> QMessageBox: ...

    def load_recovered(self, recovered: Recovered) -> None:
        """Show a recovered document: the photo as opened plus one undo step."""

    def refresh_icons(self) -> None: ...

    def pos(self) -> QPoint: ...

    def move(self, pos: QPoint) -> None: ...

    def show(self) -> None: ...
