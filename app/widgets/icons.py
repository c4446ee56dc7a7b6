"""qtawesome icons tinted for the current palette (re-tinted when the theme changes)."""

from __future__ import annotations

import weakref

import qtawesome as qta
from PySide6.QtGui import QAction, QColor, QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication

# every icon the app uses, so a test can check they all exist in the installed qtawesome
ICONS = {
    "open": "mdi6.folder-open-outline",
    "save": "mdi6.content-save-outline",
    "save_as": "mdi6.content-save-edit-outline",
    "undo": "mdi6.undo",
    "redo": "mdi6.redo",
    "brush": "mdi6.brush",
    "eraser": "mdi6.eraser",
    "sketch": "mdi6.draw-pen",
    "sketch_eraser": "mdi6.eraser-variant",
    "rect": "mdi6.vector-rectangle",
    "lasso": "mdi6.lasso",
    "select": "mdi6.select-drag",
    "wand": "mdi6.magic-staff",
    "hint_object": "mdi6.plus-circle-outline",
    "hint_not_object": "mdi6.minus-circle-outline",
    "clear": "mdi6.selection-off",
    "invert": "mdi6.select-inverse",
    "grow": "mdi6.arrow-expand-all",
    "shrink": "mdi6.arrow-collapse-all",
    "import_mask": "mdi6.file-import-outline",
    "export_mask": "mdi6.file-export-outline",
    "fill": "mdi6.auto-fix",
    "variant": "mdi6.dice-multiple-outline",  # another variant of the last fill's texture
    "cancel": "mdi6.close-circle-outline",
    "models": "mdi6.brain",  # the Models dialog: import, choose and remove networks
    "zoom_in": "mdi6.magnify-plus-outline",
    "zoom_out": "mdi6.magnify-minus-outline",
    "fit": "mdi6.fit-to-screen-outline",
    "actual": "mdi6.magnify-scan",
    "original": "mdi6.eye-outline",
    "split": "mdi6.compare-horizontal",
    "flow": "mdi6.vector-curve",
    "shortcuts": "mdi6.keyboard-outline",
    "about": "mdi6.information-outline",
    "history": "mdi6.history",
    "copy": "mdi6.content-copy",
    "paste": "mdi6.content-paste",
    "quit": "mdi6.exit-to-app",
    "recent": "mdi6.clock-outline",
    "app": "mdi6.auto-fix",
}


def icon_color() -> QColor:
    app = QApplication.instance()
    if not isinstance(app, QApplication):  # no GUI application (yet): no palette
        return QColor(60, 60, 60)
    return app.palette().color(QPalette.ColorRole.WindowText)


def icon(key: str) -> QIcon:
    """Icon by our key (see ICONS) in the palette's text colour."""
    color = icon_color()
    disabled = QColor(color)
    disabled.setAlpha(90)
    return qta.icon(ICONS[key], color=color, color_disabled=disabled)


class IconBinder:
    """Remembers which widget or action shows which icon, to re-tint after a theme change."""

    def __init__(self) -> None:
        self._items: list[tuple[weakref.ref, str]] = []

    def bind(self, target: QAction | QAbstractButton, key: str) -> None:
        target.setIcon(icon(key))
        self._items.append((weakref.ref(target), key))

    def refresh(self) -> None:
        alive = []
        for ref, key in self._items:
            target = ref()
            if target is None:
                continue
            try:
                target.setIcon(icon(key))
            except RuntimeError:  # the C++ object is gone
                continue
            alive.append((ref, key))
        self._items = alive
