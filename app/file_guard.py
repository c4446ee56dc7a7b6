"""Notice when a file the editor read or wrote was changed on disk by someone else.

Saving over a photo (or an earlier result) that another program changed since we opened or
saved it would silently throw that program's work away, so the editor asks first. A file
that has disappeared is not "changed": writing it again loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

Stamp = tuple[float, int]  # (st_mtime, st_size)


def stamp_of(path: str | os.PathLike[str]) -> Stamp | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime, st.st_size)


def _key(path: str | os.PathLike[str]) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError, ValueError):
        return str(Path(path).absolute())


class FileGuard:
    """Remembers (mtime, size) of the files we read or wrote."""

    def __init__(self) -> None:
        self._known: dict[str, Stamp] = {}

    def remember(self, path: str | os.PathLike[str], stamp: Stamp | None = None) -> None:
        """Record the file as we know it (`stamp` from when it was read, else its state now)."""
        stamp = stamp if stamp is not None else stamp_of(path)
        if stamp is not None:
            self._known[_key(path)] = (float(stamp[0]), int(stamp[1]))

    def known(self, path: str | os.PathLike[str] | None) -> Stamp | None:
        return self._known.get(_key(path)) if path is not None else None

    def changed_on_disk(self, path: str | os.PathLike[str]) -> bool:
        """True when we know the file and it now differs from what we read or wrote."""
        known = self.known(path)
        if known is None:
            return False
        now = stamp_of(path)
        return now is not None and now != known


def ask_replace_changed(parent, path: Path) -> bool:
    """Modal warning: replace a file that changed on disk since we read or wrote it?"""
    from app.widgets.dialogs import confirm

    return confirm(
        parent,
        "File changed on disk",
        f"{path.name} was changed by another program since DeepFill Studio opened or saved "
        "it. Saving now replaces those changes.\n\nReplace it anyway?",
    )
