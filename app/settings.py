"""Typed wrapper around QSettings: window state, tool settings and recent files.

Tests pass their own organisation/application name (or an ini path) so nothing leaks into
the user's real settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "DeepFillStudio"
APPLICATION = "DeepFill Studio"
MAX_RECENT = 10

# key -> (default, type); types are explicit because QSettings returns strings from ini files
_DEFAULTS: dict[str, tuple[object, type]] = {
    "tools/brush_size": (40, int),
    "tools/brush_share": (0.03, float),  # brush diameter as a share of the photo's long side
    "tools/sketch_width": (3, int),
    "tools/tool": ("brush", str),
    "tools/grow_px": (8, int),
    "tools/mask_opacity": (55, int),
    "select/grow_px": (4, int),
    "select/fill_after": (False, bool),
    "wand/tolerance": (32, int),
    "wand/contiguous": (True, bool),
    "run/auto_run": (False, bool),
    "run/strategy": ("auto", str),
    "run/texture": (True, bool),
    "run/lines": (True, bool),
    "run/device": ("auto", str),
    "run/model": ("", str),
    "view/show_flow": (False, bool),
    "view/theme": ("system", str),
    "save/jpeg_quality": (95, int),
    "files/last_dir": ("", str),
}


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class Settings:
    """Persistent application settings; every getter has a sane default."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    @classmethod
    def for_file(cls, path: str | Path) -> Settings:
        """Settings stored in an ini file (tests, portable installs)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    @property
    def qsettings(self) -> QSettings:
        return self._s

    def get(self, key: str) -> object:
        default, kind = _DEFAULTS[key]
        value = self._s.value(key, default)
        if value is None:
            return default
        try:
            if kind is bool:
                return _to_bool(value)
            return kind(value)
        except (TypeError, ValueError):
            return default

    def get_int(self, key: str) -> int:
        """A setting declared as int (see _DEFAULTS)."""
        value = self.get(key)
        if not isinstance(value, int):
            raise TypeError(f"the setting {key} is not a whole number")
        return value

    def get_float(self, key: str) -> float:
        """A setting declared as float (see _DEFAULTS)."""
        value = self.get(key)
        if not isinstance(value, float):
            raise TypeError(f"the setting {key} is not a number")
        return value

    def set(self, key: str, value: object) -> None:
        if key not in _DEFAULTS:
            raise KeyError(key)
        self._s.setValue(key, value)

    # --- window state -------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, data: QByteArray) -> None:
        self._s.setValue("window/geometry", data)

    def window_state(self) -> QByteArray | None:
        value = self._s.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, data: QByteArray) -> None:
        self._s.setValue("window/state", data)

    # --- recent files -------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self._s.value("files/recent", [])
        if isinstance(value, str):  # an ini file holding one entry gives a plain string
            items: list[object] = [value] if value else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = []
        return [str(v) for v in items if v][:MAX_RECENT]

    def add_recent_file(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != path]
        files.insert(0, path)
        files = files[:MAX_RECENT]
        self._s.setValue("files/recent", files)
        return files

    def remove_recent_file(self, path: str) -> list[str]:
        files = [f for f in self.recent_files() if f != path]
        self._s.setValue("files/recent", files)
        return files

    def clear_recent_files(self) -> None:
        self._s.setValue("files/recent", [])

    def sync(self) -> None:
        self._s.sync()
