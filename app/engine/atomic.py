"""Atomic file writes: a temporary file in the target's folder, fsync, then rename over the target.

A reader (or a crash) sees either the old file or the complete new one, never half of it.

A write killed before its rename (power loss, SIGKILL) leaves its temporary file behind. Our
temporaries are named `.<target name>.deepfill-<12 hex digits>.tmp`, so the next save of the same
target can recognise and remove the ones it left earlier: only regular files of ours, for that
target, untouched for longer than `STALE_AFTER_S` (a save in progress writes continually, so its
file never gets that old).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

TEMP_TAG = "deepfill"
STALE_AFTER_S = 10 * 60.0
# leaves room for the tag and suffix within the usual 255-byte limit on a file name's length
_MAX_NAME_BYTES = 200


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    # os.umask can only be read by setting it: other threads creating files meanwhile get
    # the strict 077, never a world-writable 000
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _name_part(name: str) -> str:
    """The target's name as it appears in its temporaries (shortened if very long)."""
    while len(os.fsencode(name)) > _MAX_NAME_BYTES:
        name = name[:-1]
    return name


def temp_pattern(target: str | os.PathLike[str]) -> re.Pattern[str]:
    """Matches the names of our temporary files for `target` (and nothing else)."""
    part = re.escape(_name_part(Path(target).name))
    return re.compile(rf"\.{part}\.{TEMP_TAG}-[0-9a-f]{{12}}\.tmp")


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    part = _name_part(name)
    while True:
        tmp = folder / f".{part}.{TEMP_TAG}-{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:  # astronomically unlikely: draw another name
            continue


def remove_stale_temps(
    target: str | os.PathLike[str], max_age_s: float = STALE_AFTER_S, now: float | None = None
) -> list[Path]:
    """Delete temporaries that earlier writes of `target` left behind; returns those removed.

    Only files whose name matches ours for this very target, that are regular files (never a
    symlink or folder), owned by this user and not modified for `max_age_s` seconds. Any
    problem (permissions, a file vanishing meanwhile) just leaves the file where it is.
    """
    target = Path(target)
    folder = target.absolute().parent
    pattern = temp_pattern(target)
    now = time.time() if now is None else now
    uid = os.getuid() if hasattr(os, "getuid") else None
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
                continue
            if now - st.st_mtime <= max_age_s:  # possibly a save still being written
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Run `write` on a temporary file beside `path`, then move it over `path`.

    On any failure the temporary file is removed and the target is left untouched. An existing
    target keeps its permissions; a symlink is written through, not replaced. After a
    successful write, temporaries that killed earlier writes of the same target left behind
    are removed (see `remove_stale_temps`).
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    folder = target.absolute().parent
    fd, tmp = _create_temp(folder, target.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        with contextlib.suppress(OSError):
            dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    remove_stale_temps(target)
