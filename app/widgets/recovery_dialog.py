"""The start-up list of unsaved work left by editors that did not close properly.

Non-modal: the window stays usable while it is open, however long the list. Each entry can be
recovered or discarded; whatever is still listed when the dialog closes is kept for the next
start. What recovering and discarding do is up to the caller (app/autosave.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.autosave_store import Orphan

ROLE = Qt.ItemDataRole.UserRole


def describe_lines(orphan: Orphan) -> tuple[str, str]:
    """The entry's two lines (name; when, size, what was changed) and its tooltip."""
    m = orphan.manifest
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(orphan.saved_at))
    parts = [f"autosaved {when}"]
    size = m.get("size")
    if size and len(size) == 2:
        parts.append(f"{int(size[0])} × {int(size[1])}")
    parts.append("edited pixels" if m.get("image_rect") else "mask or sketch only")
    source = m.get("source")
    tip = f"{source}" if source else "Not saved to a file yet (pasted or new)"
    return f"{orphan.name}\n{' · '.join(parts)}", tip


class RecoveryDialog(QDialog):
    """Lists orphaned autosaves, newest first; Recover and Discard act on the selected ones."""

    def __init__(
        self,
        orphans: Sequence[Orphan],
        recover: Callable[[Orphan], object],
        discard: Callable[[Orphan], None],
        keep: Callable[[Orphan], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._recover, self._discard, self._keep = recover, discard, keep
        self.setWindowTitle("Recover Unsaved Work")
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        n = len(orphans)
        self.label = QLabel(
            "DeepFill Studio did not close properly. "
            + ("This photo has" if n == 1 else f"These {n} photos have")
            + " unsaved edits that can be recovered, newest first.<br><br>"
            "<b>Recover</b> opens each as it was at its last autosave (in this window while it "
            "is empty, otherwise in a new window). <b>Discard</b> deletes it for good. "
            "What you leave in the list is offered again at the next start."
        )
        self.label.setWordWrap(True)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setUniformItemSizes(True)  # cheap layout, however many entries
        self.list.setAlternatingRowColors(True)
        for orphan in orphans:
            text, tip = describe_lines(orphan)
            item = QListWidgetItem(text)
            item.setToolTip(tip)
            item.setData(ROLE, orphan)
            self.list.addItem(item)
        if n:
            self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda item: self._act([item], self._recover))
        self.list.itemSelectionChanged.connect(self._sync_buttons)

        buttons = QDialogButtonBox()
        self.recover_button = QPushButton("Recover")
        self.discard_button = QPushButton("Discard")
        self.later_button = QPushButton("Not Now")
        buttons.addButton(self.recover_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.later_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.recover_button.setDefault(True)
        # the box's accepted/rejected would close the dialog: each button does its own thing
        self.recover_button.clicked.connect(lambda: self._act(self._selected(), self._recover))
        self.discard_button.clicked.connect(lambda: self._act(self._selected(), self._discard))
        self.later_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(520, 360)
        self._sync_buttons()

    # --- queries (tests read these too) ------------------------------------------------
    def orphans(self) -> list[Orphan]:
        """The entries still listed, top to bottom."""
        return [self.list.item(i).data(ROLE) for i in range(self.list.count())]

    def select(self, *orphans: Orphan) -> None:
        self.list.clearSelection()
        for i in range(self.list.count()):
            item = self.list.item(i)
            if any(item.data(ROLE) is o for o in orphans):
                item.setSelected(True)

    # --- actions -------------------------------------------------------------------------
    def _selected(self) -> list[QListWidgetItem]:
        return sorted(self.list.selectedItems(), key=self.list.row)  # newest first

    def _act(self, items: list[QListWidgetItem], action: Callable[[Orphan], object]) -> None:
        for item in items:
            orphan = item.data(ROLE)
            self.list.takeItem(self.list.row(item))  # handed over: no longer ours to keep
            action(orphan)
        if self.list.count() == 0:
            self.accept()
        else:
            if not self.list.selectedItems():
                self.list.setCurrentRow(0)
            self._sync_buttons()

    def _sync_buttons(self) -> None:
        has = bool(self.list.selectedItems())
        self.recover_button.setEnabled(has)
        self.discard_button.setEnabled(has)

    def done(self, result: int) -> None:
        """However the dialog closes, what is still listed stays for the next start."""
        for orphan in self.orphans():
            self._keep(orphan)
        self.list.clear()
        super().done(result)
