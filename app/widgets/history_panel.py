"""History panel: every step of the undo stack; click one to go back (or forward) to it."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QUndoView, QVBoxLayout, QWidget

from app.commands import HistoryStack
from app.widgets.icons import icon


class HistoryPanel(QWidget):
    def __init__(self, stack: HistoryStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.view = QUndoView(stack)
        self.view.setEmptyLabel("Opened photo")
        self.view.setCleanIcon(icon("save"))
        self.view.setIconSize(QSize(14, 14))
        self.view.setSpacing(2)
        self.view.setAlternatingRowColors(True)
        layout.addWidget(self.view)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        layout.addWidget(self.note)
        self._stack = stack
        stack.trimmed_changed.connect(self._on_trimmed)

    def _on_trimmed(self, trimmed: bool) -> None:
        self.view.setEmptyLabel(
            "Earlier steps (history limit reached)" if trimmed else "Opened photo"
        )
        self.note.setText(
            "The oldest steps were dropped to keep history within its memory limit."
            if trimmed
            else ""
        )
        self.note.setVisible(trimmed)

    def refresh_icons(self) -> None:
        self.view.setCleanIcon(icon("save"))
