"""Driving the editor's canvas in GUI tests: photo coordinates to viewport points, and strokes."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt


def vp(win, x: float, y: float) -> QPoint:
    """The viewport point showing photo pixel (x, y)."""
    return win.canvas.map_from_image(QPointF(x, y)).toPoint()


def drag(qtbot, win, points, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at the first photo point, move through the others, release at the last."""
    w = win.canvas.viewport()
    qtbot.mousePress(w, Qt.MouseButton.LeftButton, modifier, vp(win, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(w, vp(win, *p))
    qtbot.mouseRelease(w, Qt.MouseButton.LeftButton, modifier, vp(win, *points[-1]))
