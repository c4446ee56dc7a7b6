"""The Models action shows an icon like the other actions (and keeps it after re-tinting)."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtGui import QColor

from app.widgets.icons import ICONS, icon


def _ink(icon) -> int:
    """How many pixels of the icon drawn at 24 px are not transparent."""
    img = icon.pixmap(24, 24).toImage()
    return sum(img.pixelColor(x, y).alpha() > 0 for y in range(img.height()) for x in range(img.width()))


def test_models_action_has_a_visible_icon(make_window):
    assert not qta.icon(ICONS["models"]).isNull()  # exists in the installed qtawesome
    win = make_window()
    action = win.act_models
    assert not action.icon().isNull()
    assert _ink(action.icon()) > 20
    # the drawing of its own key, not another action's
    drawn = action.icon().pixmap(24, 24).toImage()
    assert drawn == icon("models").pixmap(24, 24).toImage()
    assert drawn != icon("fill").pixmap(24, 24).toImage()


def test_models_icon_follows_the_palette(make_window, qapp):
    win = make_window()
    palette = qapp.palette()
    before = QColor(palette.color(palette.ColorRole.WindowText))
    try:
        palette.setColor(palette.ColorRole.WindowText, QColor(200, 20, 20))
        qapp.setPalette(palette)
        win.refresh_icons()
        img = win.act_models.icon().pixmap(24, 24).toImage()
        colours = {img.pixelColor(x, y).rgb() for y in range(24) for x in range(24)
                   if img.pixelColor(x, y).alpha() == 255}
        assert QColor(200, 20, 20).rgb() in colours
    finally:
        palette.setColor(palette.ColorRole.WindowText, before)
        qapp.setPalette(palette)


def test_side_panel_models_button_shows_the_models_icon(make_window):
    win = make_window()
    button = win.panel.models_button
    assert button.text().startswith("Models")
    assert button.icon().pixmap(24, 24).toImage() == icon("models").pixmap(24, 24).toImage()


def test_a_theme_change_recolours_every_open_window(make_window, qapp):
    first, second = make_window(), make_window()
    palette = qapp.palette()
    before = QColor(palette.color(palette.ColorRole.WindowText))
    try:
        first.set_theme("dark")  # a dark palette: light icons, in both windows
        for win in (first, second):
            img = win.act_models.icon().pixmap(24, 24).toImage()
            inked = [img.pixelColor(x, y) for y in range(24) for x in range(24)
                     if img.pixelColor(x, y).alpha() == 255]
            assert inked and min(c.lightness() for c in inked) > 150
    finally:
        first.set_theme("light")
        palette.setColor(palette.ColorRole.WindowText, before)
        qapp.setPalette(palette)
