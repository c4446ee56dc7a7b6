"""The autosave folder: one locked session per running editor, and the orphans that editors which
died left behind (their QLockFile is free)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QLockFile

from app.autosave_files import STATE, read_manifest
from app.engine.checkpoints.models import APP_NAME

log = logging.getLogger(__name__)

ENV_FOLDER = "DEEPFILL_STUDIO_AUTOSAVE"
LOCK = "session.lock"


def default_folder() -> Path:
    override = os.environ.get(ENV_FOLDER)
    if override:
        return Path(override)
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "autosave"


def _lock(folder: Path) -> QLockFile | None:
    """The session's lock if we could take it (its editor is gone), else None."""
    lock = QLockFile(str(folder / LOCK))
    lock.setStaleLockTime(0)  # stale only when the owning process is gone, never by age
    return lock if lock.tryLock(0) else None


@dataclass
class Orphan:
    """The autosave of an editor that did not close cleanly (we hold its lock)."""

    folder: Path
    manifest: dict[str, Any]
    lock: QLockFile = field(repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest.get("display_name") or "a photo")

    @property
    def saved_at(self) -> float:
        return float(self.manifest.get("saved_at", 0.0))

    def release(self) -> None:
        self.lock.unlock()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.lock.unlock()
        with contextlib.suppress(OSError):
            (self.folder / LOCK).unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()


class AutosaveStore:
    """The autosave folder: one locked session per running editor, orphans from crashes."""

    def __init__(self, folder: Path | str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()

    def new_session(self) -> tuple[Path, QLockFile]:
        self.folder.mkdir(parents=True, exist_ok=True)
        session = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        session.mkdir()
        lock = _lock(session)
        if lock is None:  # cannot happen for a fresh folder, unless the disk misbehaves
            raise OSError(f"could not lock the autosave folder {session}")
        return session, lock

    def orphans(self, exclude: tuple[Path, ...] = ()) -> list[Orphan]:
        """Sessions left by editors that died, newest first (their locks are now ours).

        Left-over sessions without a readable state are removed on the way.
        """
        found: list[Orphan] = []
        if not self.folder.is_dir():
            return found
        for folder in sorted(self.folder.iterdir()):
            if not folder.is_dir() or folder in exclude:
                continue
            lock = _lock(folder)
            if lock is None:
                continue  # another editor is running with it
            try:
                manifest = read_manifest(folder)
            except Exception as error:  # noqa: BLE001 - empty or damaged: nothing to offer
                if (folder / STATE).exists():
                    log.warning("autosave %s is damaged (%s); removing it", folder, error)
                Orphan(folder, {}, lock).remove()
                continue
            found.append(Orphan(folder, manifest, lock))
        found.sort(key=lambda o: o.saved_at, reverse=True)
        return found
