"""Start the desktop editor: QApplication, theme, main window.

`run_editor(photo)` is what `python main.py [PHOTO]` calls. If Qt cannot reach a display
(or the X11 libraries Qt needs are missing) we print what to install instead of letting
Qt abort with its bare platform-plugin error.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
    "libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
)


def missing_libraries_message(detail: str) -> str:
    return (
        "DeepFill Studio cannot start its window: Qt could not load the libraries it needs "
        f"to draw on this desktop ({detail.strip()}).\n"
        "On Debian or Ubuntu install them with:\n"
        f"    sudo apt-get install {XCB_PACKAGES}\n"
        "Headless use (no window) works without them: python main.py inpaint --help"
    )


def _platform_plugin_dir() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    base = Path(PySide6.__file__).resolve().parent
    for candidate in (base / "Qt" / "plugins" / "platforms", base / "plugins" / "platforms"):
        if candidate.is_dir():
            return candidate
    return None


def check_display() -> str | None:
    """None when a window can be shown, else a message saying what is wrong.

    Only Linux/X11 needs checking: there Qt aborts the whole process (no exception) when the
    xcb plugin cannot be loaded, so we try loading the plugin ourselves first.
    """
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland, vnc, ...: Qt reports its own errors sensibly
    wayland = bool(os.environ.get("WAYLAND_DISPLAY"))
    if not platform and wayland:
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "DeepFill Studio needs a desktop session to show its window, but no display was "
            "found (DISPLAY is not set).\nRun it from a desktop, or use the command line: "
            "python main.py inpaint --help"
        )
    plugins = _platform_plugin_dir()
    plugin = plugins / "libqxcb.so" if plugins else None
    if plugin is None or not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin), mode=getattr(os, "RTLD_LAZY", 1) | ctypes.RTLD_LOCAL)
    except OSError as error:
        return missing_libraries_message(str(error))
    return _check_x_server()


def _check_x_server() -> str | None:
    """Qt also aborts when DISPLAY names a server it cannot reach; ask libxcb first."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None  # the plugin loaded, so Qt will find its own copy; let it report
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(None, None)
    try:
        if conn and xcb.xcb_connection_has_error(conn) == 0:
            return None
    finally:
        if conn:
            xcb.xcb_disconnect(conn)
    return (
        f"DeepFill Studio cannot reach the display {os.environ.get('DISPLAY')!r}: no X server "
        "answers there.\nCheck DISPLAY (and xauth when connecting over SSH), or use the "
        "command line: python main.py inpaint --help"
    )


def create_application(argv: list[str] | None = None):
    """The QApplication (created once), styled for the OS light/dark scheme."""
    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANIZATION
    from app.widgets.icons import icon
    from app.widgets.theme import apply_theme

    existing = QApplication.instance()
    if existing is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    elif isinstance(existing, QApplication):
        app = existing
    else:
        raise RuntimeError("a QCoreApplication without windows is already running")
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setDesktopFileName("deepfill-studio")
    apply_theme(app, "system")
    app.setWindowIcon(icon("app"))
    return app


def run_editor(photo_path: str | None = None) -> int:
    """Open the editor (optionally with a photo); returns the process exit code."""
    problem = check_display()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtGui import QGuiApplication  # noqa: F401 - fails without libEGL/libGL
    except ImportError as error:  # libEGL / libGL / fontconfig missing
        print(missing_libraries_message(str(error)), file=sys.stderr)
        return 1

    from app.application import Application
    from app.autosave_store import AutosaveStore
    from app.main_window import new_editor_window
    from app.settings import Settings
    from app.widgets.theme import apply_theme

    qapp = create_application()
    # crash recovery in the per-user data folder
    application = Application(new_editor_window, Settings(), AutosaveStore())
    window = application.new_window()
    theme = str(window.settings.get("view/theme"))
    if theme != "system":
        apply_theme(qapp, theme)
        window.refresh_icons()
    application.follow_system_theme()
    window.show()
    if photo_path:
        QTimer.singleShot(0, lambda: window.open_path(photo_path))
    return application.exec(qapp)
