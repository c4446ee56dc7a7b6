"""Help dialogs: the keyboard shortcuts sheet and About."""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from html import escape

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
from app.engine.types import ModelDescription

# keys that are gestures rather than menu actions
GESTURES: list[tuple[str, str, str]] = [
    ("Canvas", "Hold Tab or \\", "Show the original photo while held"),
    ("Canvas", "Space + drag, middle drag", "Pan"),
    ("Canvas", "Ctrl + wheel", "Zoom about the cursor"),
    ("Canvas", "Alt + wheel", "Brush size"),
    ("Canvas", "Shift + click", "Straight line from the end of the last stroke"),
    ("Canvas", "Alt + drag (rectangle, lasso, select)", "Remove the shape or object from the mask"),
    ("Canvas", "Shift + drag (select object)", "Mark what is the object: the selection re-runs"),
    ("Canvas", "Ctrl + drag (select object)", "Mark what is not the object"),
    ("Canvas", "Shift / Alt + click (magic wand)", "Add to / remove from the mask"),
    ("Canvas", "Esc / right click while drawing", "Abandon the stroke or shape in progress"),
    ("Canvas", "Drag the divider", "Move the before/after split"),
]


def confirm(parent, title: str, text: str, *, warning: bool = True) -> bool:
    """A Yes / Cancel question (Cancel is the default); True when the user says Yes."""
    ask = QMessageBox.warning if warning else QMessageBox.question
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
    answer = ask(parent, title, text, buttons, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes


def ask_save_changes(parent: QWidget, name: str) -> str:
    """Save the changes to `name` before they are lost? 'save' | 'discard' | 'cancel'."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"Save the changes to {name}?")
    box.setInformativeText("Your edits will be lost if you don't save them.")
    box.setStandardButtons(
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel
    )
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {
        QMessageBox.StandardButton.Save: "save",
        QMessageBox.StandardButton.Discard: "discard",
    }.get(QMessageBox.StandardButton(answer), "cancel")


# keys a user can find on an ordinary keyboard; Qt's standard shortcuts also bind F14 (Undo
# key), F16 / F18 (Copy / Paste keys on Sun keyboards), "Undo", "Paste", "Shift+Save" ...
_PLAIN_KEY = re.compile(
    r"^((Ctrl|Shift|Alt|Meta)\+)*"
    r"([^\s]|F([1-9]|1[0-2])|Del|Esc|Return|Enter|Tab|Space|Backspace|Ins|Home|End|PgUp|PgDown"
    r"|Left|Right|Up|Down)$"
)


def primary_key(action: QAction) -> str:
    """The one key to show for an action: its first shortcut made of ordinary keys."""
    for seq in action.shortcuts():
        portable = seq.toString(QKeySequence.SequenceFormat.PortableText)
        if portable and _PLAIN_KEY.match(portable):
            return seq.toString(QKeySequence.SequenceFormat.NativeText)
    return ""


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(section, key, what) for every action that has a shortcut, then the gestures."""
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for a in actions:
        key = primary_key(a)
        if not key:
            continue
        what = str(a.property("sheet_text") or a.text()).replace("&", "").rstrip(".…")
        if (key, what) in seen:
            continue
        seen.add((key, what))
        rows.append((str(a.property("section") or "General"), key, what))
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


def about_html(
    model_info: ModelDescription | None, model_error: str | None, device: str
) -> str:
    if model_info is not None:
        name = model_info.name or "unnamed"
        params = model_info.parameters
        size = f" ({params / 1e6:.1f} M parameters)" if params else ""
        lic = model_info.license or "no license note in the model file"
        model = f"<b>{escape(str(name), quote=False)}</b>{size}"
        license_row = f"<p><b>Model license:</b> {escape(str(lic), quote=False)}</p>"
    elif model_error:
        model = f"<i>not loaded</i><br><small>{escape(model_error, quote=False)}</small>"
        license_row = ""
    else:
        model = "<i>loading…</i>"
        license_row = ""
    return (
        f"<h2>DeepFill Studio {__version__}</h2>"
        "<p>Removes objects from photos with DeepFill v2 (gated convolutions and contextual "
        "attention) and Contextual Residual Aggregation for full-resolution detail.</p>"
        f"<p><b>Model:</b> {model}</p>"
        f"{license_row}"
        f"<p><b>Device:</b> {device}</p>"
        f"<p><small>Python {platform.python_version()}, PySide6 {pyside_version}</small></p>"
    )


class AboutDialog(QDialog):
    def __init__(
        self,
        model_info: ModelDescription | None,
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
