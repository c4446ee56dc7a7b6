"""The editor window's menu bar and toolbar, from its actions (app/widgets/actions.py).

`win` is the editor window (app.main_window.MainWindow, which imports this module).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QMenu, QToolBar


def build_menus(win: Any) -> tuple[QMenu, QMenu]:
    """The menu bar: File, Edit, Tools, View, Run, Help. Returns the two menus the window
    fills itself: Open Recent (filled when it opens) and View > Panels."""
    mb = win.menuBar()
    m = mb.addMenu("&File")
    m.addAction(win.act_open)
    recent_menu = QMenu("Open &Recent", win)
    win.icons.bind(recent_menu.menuAction(), "recent")
    m.addMenu(recent_menu)
    m.addSeparator()
    m.addAction(win.act_save)
    m.addAction(win.act_save_as)
    m.addSeparator()
    mm = m.addMenu("&Mask")
    mm.addAction(win.act_import_mask)
    mm.addAction(win.act_export_mask)
    m.addSeparator()
    m.addAction(win.act_quit)

    m = mb.addMenu("&Edit")
    m.addAction(win.act_undo)
    m.addAction(win.act_redo)
    m.addSeparator()
    m.addAction(win.act_copy)
    m.addAction(win.act_paste)
    m.addSeparator()
    for a in (win.act_clear, win.act_invert, win.act_grow, win.act_shrink):
        m.addAction(a)

    m = mb.addMenu("&Tools")
    for a in win.tool_actions.values():
        m.addAction(a)
    m.addSeparator()
    m.addAction(win.act_smaller)
    m.addAction(win.act_larger)

    m = mb.addMenu("&View")
    for a in (win.act_zoom_in, win.act_zoom_out, win.act_fit, win.act_actual):
        m.addAction(a)
    m.addSeparator()
    m.addAction(win.act_split)
    m.addAction(win.act_flow)
    m.addAction(win.act_show_mask)
    m.addSeparator()
    panels_menu = m.addMenu("&Panels")
    tm = m.addMenu("&Theme")
    for a in win.theme_actions.values():
        tm.addAction(a)

    m = mb.addMenu("&Run")
    m.addAction(win.act_fill)
    m.addAction(win.act_variant)
    m.addAction(win.act_cancel)
    m.addAction(win.act_auto)
    m.addSeparator()
    m.addAction(win.act_models)

    m = mb.addMenu("&Help")
    m.addAction(win.act_shortcuts)
    m.addAction(win.act_about)
    return recent_menu, panels_menu


def build_toolbar(win: Any) -> QToolBar:
    """The main toolbar: files, undo, tools, zoom, compare, fill."""
    tb = QToolBar("Main toolbar", win)
    tb.setObjectName("mainToolbar")
    tb.setIconSize(QSize(20, 20))
    tb.setMovable(False)
    for a in (win.act_open, win.act_save, win.act_save_as):
        tb.addAction(a)
    tb.addSeparator()
    tb.addAction(win.act_undo)
    tb.addAction(win.act_redo)
    tb.addSeparator()
    for a in win.tool_actions.values():
        tb.addAction(a)
    tb.addSeparator()
    for a in (win.act_zoom_out, win.act_zoom_in, win.act_fit, win.act_actual):
        tb.addAction(a)
    tb.addSeparator()
    tb.addAction(win.act_split)
    tb.addAction(win.act_flow)
    tb.addSeparator()
    tb.addAction(win.act_fill)
    win.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
    return tb
