"""Atomic writes: recognisable temporary names and safe removal of the ones a killed save left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.engine.atomic import STALE_AFTER_S, atomic_write, remove_stale_temps, temp_pattern

ROOT = Path(__file__).resolve().parents[1]
OLD = time.time() - STALE_AFTER_S - 120  # an mtime well past the stale age


def _write(data: bytes):
    return lambda fh: fh.write(data)


def _age(path: Path, mtime: float = OLD) -> Path:
    os.utime(path, (mtime, mtime))
    return path


def _file(path: Path, data: bytes = b"theirs") -> Path:
    path.write_bytes(data)
    return _age(path)


def _leftover(folder: Path, target: str, hex12: str = "0123456789ab", data=b"half") -> Path:
    path = folder / f".{target}.deepfill-{hex12}.tmp"
    path.write_bytes(data)
    return path


def test_temporary_is_named_after_the_target_and_tagged_as_ours(tmp_path):
    target = tmp_path / "photo.jpg"
    seen = []

    def write(fh):
        seen.extend(p.name for p in tmp_path.iterdir())
        fh.write(b"new")

    atomic_write(target, write)
    assert len(seen) == 1 and temp_pattern(target).fullmatch(seen[0]), seen
    assert seen[0].startswith(".photo.jpg.deepfill-")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["photo.jpg"]


def test_a_save_removes_only_its_own_stale_temporaries(tmp_path):
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"old")
    stale = _age(_leftover(tmp_path, "photo.jpg"))
    fresh = _leftover(tmp_path, "photo.jpg", "ba9876543210")  # a concurrent save, still writing
    keep = {
        "other target": _age(_leftover(tmp_path, "photo.jpg.bak")),
        "prefix of ours": _age(_leftover(tmp_path, "photo")),
        "another program": _file(tmp_path / ".photo.jpg.a1b2c3d4.tmp"),  # mkstemp style
        "editor swap": _file(tmp_path / ".photo.jpg.swp"),
        "other tag": _file(tmp_path / ".photo.jpg.other-0123456789ab.tmp"),
        "short random": _file(tmp_path / ".photo.jpg.deepfill-0123.tmp"),
        "upper hex": _file(tmp_path / ".photo.jpg.deepfill-0123456789AB.tmp"),
        "extra suffix": _file(tmp_path / ".photo.jpg.deepfill-0123456789ab.tmp.keep"),
        "not hidden": _file(tmp_path / "photo.jpg.deepfill-0123456789ab.tmp"),
    }
    atomic_write(target, _write(b"new"))
    assert target.read_bytes() == b"new"
    assert not stale.exists()
    assert fresh.exists() and fresh.read_bytes() == b"half"
    for why, path in keep.items():
        assert path.exists(), why


def test_stale_age_is_measured_from_the_last_write(tmp_path):
    target = tmp_path / "a.png"
    recent = _age(_leftover(tmp_path, "a.png"), time.time() - STALE_AFTER_S + 60)
    future = _age(_leftover(tmp_path, "a.png", "ffffffffffff"), time.time() + 3600)  # clock skew
    assert remove_stale_temps(target) == []
    assert recent.exists() and future.exists()
    # an hour on, both have been untouched for long enough
    removed = remove_stale_temps(target, now=time.time() + STALE_AFTER_S + 7200)
    assert sorted(removed) == sorted([recent, future])
    assert not recent.exists() and not future.exists()


def test_never_removes_a_symlink_a_folder_or_what_it_points_at(tmp_path):
    target = tmp_path / "a.png"
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"keep me")
    link = tmp_path / ".a.png.deepfill-0123456789ab.tmp"
    link.symlink_to(precious)
    os.utime(link, (OLD, OLD), follow_symlinks=False)
    folder = tmp_path / ".a.png.deepfill-aaaaaaaaaaaa.tmp"
    folder.mkdir()
    _age(folder)
    assert remove_stale_temps(target) == []
    assert link.is_symlink() and precious.read_bytes() == b"keep me" and folder.is_dir()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file owners")
def test_never_removes_another_users_file(tmp_path, monkeypatch):
    target = tmp_path / "a.png"
    leftover = _age(_leftover(tmp_path, "a.png"))
    monkeypatch.setattr(os, "getuid", lambda: os.stat(leftover).st_uid + 1)  # we are someone else
    assert remove_stale_temps(target) == []
    assert leftover.exists()


def test_names_with_pattern_characters_are_matched_literally(tmp_path):
    target = tmp_path / "shot [1] (x+y)*.png"
    mine = _age(_leftover(tmp_path, target.name))
    lookalike = _age(_leftover(tmp_path, "shot 1 (x+y).png"))
    atomic_write(target, _write(b"new"))
    assert not mine.exists() and lookalike.exists()


def test_a_very_long_name_still_saves_and_cleans_up(tmp_path):
    target = tmp_path / ("é" * 120 + ".png")  # 244 bytes: the temporary name is shortened
    assert len(os.fsencode(target.name)) == 244
    seen = []
    atomic_write(target, lambda fh: seen.extend(p.name for p in tmp_path.iterdir()))
    assert target.exists() and len(os.fsencode(seen[0])) <= 255
    stale = _file(tmp_path / seen[0], b"half")  # as if that write had been killed
    atomic_write(target, _write(b"again"))
    assert not stale.exists() and target.read_bytes() == b"again"


def test_a_failed_write_removes_its_temporary_and_keeps_the_target(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")

    def fail(fh):
        fh.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_new_file_gets_the_umask_mode_and_an_existing_one_keeps_its_mode(tmp_path):
    target = tmp_path / "a.png"
    atomic_write(target, _write(b"1"))
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    target.chmod(0o640)
    atomic_write(target, _write(b"2"))
    assert target.stat().st_mode & 0o777 == 0o640


WRITER = """
import sys, time
from app.engine.atomic import atomic_write

def write(fh):
    fh.write(b"partial")
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)

atomic_write(sys.argv[1], write)
"""


def test_temporary_left_by_a_killed_save_goes_at_the_next_save_once_stale(tmp_path):
    target = tmp_path / "result.png"
    target.write_bytes(b"old")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"writing"
        proc.kill()  # SIGKILL on POSIX: no chance to clean up
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    left = [p for p in tmp_path.iterdir() if p != target]
    assert len(left) == 1 and temp_pattern(target).fullmatch(left[0].name)
    atomic_write(target, _write(b"new"))  # still fresh: maybe a save in progress, so kept
    assert left[0].exists()
    _age(left[0])  # minutes later, nothing has written to it
    atomic_write(target, _write(b"newer"))
    assert not left[0].exists() and target.read_bytes() == b"newer"
