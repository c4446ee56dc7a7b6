"""Light/dark appearance that follows the operating system (or a forced choice).

Fusion with an explicit palette looks the same on every platform and lets us switch at
run time; Qt >= 6.5 tells us the OS colour scheme and when it changes.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")
ACCENT = QColor(47, 128, 237)


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # no platform theme (bare X11, offscreen): GTK users often say so in GTK_THEME
    return "dark" in os.environ.get("GTK_THEME", "").lower()


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(37, 38, 41), QColor(27, 28, 30), QColor(225, 226, 229)
    button = QColor(48, 50, 54)
    disabled = QColor(120, 122, 127)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(33, 34, 37),
        QPalette.ColorRole.ToolTipBase: QColor(50, 52, 56),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: button,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Light: QColor(70, 72, 77),
        QPalette.ColorRole.Midlight: QColor(58, 60, 64),
        QPalette.ColorRole.Mid: QColor(44, 45, 49),
        QPalette.ColorRole.Dark: QColor(20, 21, 23),
        QPalette.ColorRole.Shadow: QColor(0, 0, 0),
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(100, 160, 255),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def _light_palette() -> QPalette:
    p = QStyleFactory.create("Fusion").standardPalette()
    p.setColor(QPalette.ColorRole.Window, QColor(243, 244, 246))
    p.setColor(QPalette.ColorRole.Button, QColor(250, 250, 251))
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    return p


_STYLE = """
QPushButton#fillButton {
    background-color: %(accent)s; color: white; font-weight: 600;
    border-radius: 5px; padding: 6px 12px; border: 1px solid %(accent_dark)s;
}
QPushButton#fillButton:hover { background-color: %(accent_light)s; }
QPushButton#fillButton:disabled { background-color: %(disabled)s; color: %(disabled_text)s; }
QLabel#engineNote { color: %(note)s; }
QGroupBox { font-weight: 600; }
QGroupBox QLabel, QGroupBox QCheckBox, QGroupBox QToolButton { font-weight: normal; }
QDockWidget::title { padding: 4px 6px; }
"""


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Set Fusion + palette for `theme`; returns True when the result is dark."""
    dark = system_is_dark() if theme not in ("light", "dark") else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if dark else _light_palette())
    app.setStyleSheet(
        _STYLE
        % {
            "accent": ACCENT.name(),
            "accent_dark": ACCENT.darker(130).name(),
            "accent_light": ACCENT.lighter(115).name(),
            "disabled": "#4a4c50" if dark else "#c9ccd1",
            "disabled_text": "#8a8c90" if dark else "#f4f4f4",
            "note": "#f0b45a" if dark else "#a05a00",
        }
    )
    app.setProperty("deepfill_dark", dark)
    return dark
