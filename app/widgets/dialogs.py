"""Help dialogs: the keyboard shortcuts sheet and About."""

from __future__ import annotations

import platform
from collections.abc import Iterable

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__

# keys that are gestures rather than menu actions
GESTURES: list[tuple[str, str, str]] = [
    ("Canvas", "Hold Tab or \\", "Show the original photo while held"),
    ("Canvas", "Space + drag, middle drag", "Pan"),
    ("Canvas", "Ctrl + wheel", "Zoom about the cursor"),
    ("Canvas", "Alt + wheel", "Brush size"),
    ("Canvas", "Shift + click", "Straight line from the end of the last stroke"),
    ("Canvas", "Alt + drag (rectangle, lasso)", "Remove the shape from the mask"),
    ("Canvas", "Esc / right click while drawing", "Abandon the stroke or shape in progress"),
    ("Canvas", "Drag the divider", "Move the before/after split"),
]


def confirm(parent, title: str, text: str, *, warning: bool = True) -> bool:
    """A Yes / Cancel question (Cancel is the default); True when the user says Yes."""
    ask = QMessageBox.warning if warning else QMessageBox.question
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
    answer = ask(parent, title, text, buttons, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(section, keys, what) for every action that has a shortcut, then the gestures."""
    rows: list[tuple[str, str, str]] = []
    for a in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
        keys = [k for k in keys if k]
        if keys:
            section = a.property("section") or "General"
            rows.append((str(section), ", ".join(keys), a.text().replace("&", "").rstrip(".…")))
    return rows + GESTURES


class ShortcutsDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        table = QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(["Where", "Keys", "Does"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.setAlternatingRowColors(True)
        for r, (section, keys, what) in enumerate(rows):
            for c, text in enumerate((section, keys, what)):
                table.setItem(r, c, QTableWidgetItem(text))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(620, 560)


def about_html(model_info: dict | None, model_error: str | None, device: str) -> str:
    if model_info:
        name = model_info.get("name") or "unnamed"
        params = model_info.get("parameters")
        size = f" ({params / 1e6:.1f} M parameters)" if params else ""
        lic = model_info.get("license") or "no license note in the model file"
        model = f"<b>{name}</b>{size}<br><small>{lic}</small>"
    elif model_error:
        model = f"<i>not loaded</i><br><small>{model_error}</small>"
    else:
        model = "<i>loading…</i>"
    return (
        f"<h2>DeepFill Studio {__version__}</h2>"
        "<p>Removes objects from photos with DeepFill v2 (gated convolutions and contextual "
        "attention) and Contextual Residual Aggregation for full-resolution detail.</p>"
        f"<p><b>Model:</b> {model}</p>"
        f"<p><b>Device:</b> {device}</p>"
        f"<p><small>Python {platform.python_version()}, PySide6 {pyside_version}</small></p>"
    )


class AboutDialog(QDialog):
    def __init__(
        self,
        model_info: dict | None,
        model_error: str | None,
        device: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DeepFill Studio")
        self.label = QLabel(about_html(model_info, model_error, device))
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
