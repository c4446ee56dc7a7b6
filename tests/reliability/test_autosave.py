"""Crash recovery: autosave in the background, restore after a crash (SIGKILL), clean up after
a clean close, and no GUI freeze on a 24 MP photo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer

from app.autosave import (
    ENV_ANSWER,
    STATE,
    AutosaveStore,
    Snapshot,
    read_session,
    write_snapshot,
)
from app.document import ImageMeta
from tests.conftest import InstantRunner, make_photo, open_and_wait

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path) -> AutosaveStore:
    return AutosaveStore(tmp_path / "autosave")


@pytest.fixture
def editor(make_window, store):
    """Windows with autosave on (short delay), all using the same autosave folder."""

    def factory(delay_ms: int = 100, **kw):
        win = make_window(autosave=store, **kw)
        win.autosaver.delay_ms = delay_ms
        return win

    return factory


def paint_mask(win, rect=(20, 30, 40, 25)) -> None:
    x, y, w, h = rect
    win.doc.mask[y : y + h, x : x + w] = 255
    win.doc.notify("mask", rect)
    win.history.push(_cmd(win, "mask"))


def _cmd(win, layer):
    """An undo step for an edit already drawn into the layer (like a finished stroke)."""
    from app.commands import Patch, PatchCommand
    from app.engine.geometry import bounding_rect as bbox_of

    arr = win.doc.layer(layer)
    x, y, w, h = bbox_of(arr)
    after = arr[y : y + h, x : x + w].copy()
    return PatchCommand(win.doc, f"paint {layer}", [Patch.make(layer, (x, y, w, h),
                        np.zeros_like(after), after)], applied=True, kind="stroke")


def draw_sketch(win, row=70) -> None:
    win.doc.sketch[row, 10:150] = 255
    win.doc.notify("sketch", (10, row, 140, 1))
    win.history.push(_cmd(win, "sketch"))


def offer(qtbot, win, timeout=10000) -> int:
    """Run the start-up offer and wait for it; returns how many autosaves were offered."""
    with qtbot.waitSignal(win.autosaver.offered, timeout=timeout) as sig:
        win.autosaver.offer_restore()
    return sig.args[0]


def wait_saved(qtbot, win, timeout=15000):
    with qtbot.waitSignal(win.autosaver.saved, timeout=timeout) as sig:
        pass
    qtbot.waitUntil(lambda: not win.autosaver.busy, timeout=timeout)
    return Path(sig.args[0])


def session_files(win) -> list[str]:
    return sorted(p.name.split("-")[0] for p in win.autosaver.session.iterdir())


def test_edits_are_autosaved_a_little_after_each_change(qtbot, editor, photo_file, report):
    win = editor(delay_ms=400)
    open_and_wait(qtbot, win, photo_file)
    assert not (win.autosaver.session / STATE).exists()  # an untouched photo is not saved
    paint_mask(win)
    started = time.perf_counter()
    state = wait_saved(qtbot, win)
    waited = time.perf_counter() - started
    assert 0.35 <= waited < 5, waited
    assert session_files(win) == ["original", "session.lock", "state.npz"]
    rec = read_session(win.autosaver.session)
    assert np.array_equal(rec.mask, win.doc.mask)
    assert np.array_equal(rec.image, win.doc.image)
    assert rec.meta.path == photo_file and rec.meta.exif == win.doc.meta.exif
    report.add("Crash recovery", "mask painted on holiday.jpg",
               f"autosaved {waited:.2f} s after the change ({state.stat().st_size} bytes)", True)
    # undo to the clean photo: nothing left worth keeping, so the autosave goes away
    with qtbot.waitSignal(win.autosaver.cleared, timeout=10000):
        win.history.undo()
    assert session_files(win) == ["session.lock"]


def test_restore_after_a_crash_gives_back_image_mask_sketch_and_undo(
    qtbot, editor, photo_file, monkeypatch, report
):
    first = editor(runner=InstantRunner(colour=(250, 5, 5)))
    open_and_wait(qtbot, first, photo_file)
    paint_mask(first)
    with qtbot.waitSignal(first.fill_applied, timeout=10000):
        first.fill()
    paint_mask(first, (100, 10, 30, 30))
    draw_sketch(first)
    wait_saved(qtbot, first)
    expected = {k: first.doc.layer(k).copy() for k in ("image", "mask", "sketch")}
    original = first.doc.original.copy()
    assert not np.array_equal(expected["image"], original)
    first.autosaver.abandon()  # what a crash leaves: files on disk, lock free

    monkeypatch.setenv(ENV_ANSWER, "restore")
    second = editor()
    with qtbot.waitSignal(second.autosaver.restored, timeout=15000):
        second.autosaver.offer_restore()
    doc = second.doc
    for layer, arr in expected.items():
        assert np.array_equal(doc.layer(layer), arr), layer
    assert doc.meta.path == photo_file and doc.meta.display_name == "holiday.jpg"
    assert doc.meta.exif == first.doc.meta.exif and doc.meta.icc == first.doc.meta.icc
    assert doc.meta.dpi == first.doc.meta.dpi
    assert second.is_modified()  # unsaved work is still unsaved
    second.history.undo()  # one step back: the photo as it was opened
    assert np.array_equal(doc.image, original) and not doc.mask.any() and not doc.sketch.any()
    second.history.redo()
    assert np.array_equal(doc.image, expected["image"])
    wait_saved(qtbot, second)  # the recovered work is in the new session ...
    assert not first.autosaver.session.exists()  # ... and the crashed one is gone
    report.add("Crash recovery", "photo + fill + mask + sketch, editor died",
               "restored image, mask, sketch, EXIF/ICC/DPI; undo gives the original", True)


def test_clean_close_removes_the_autosave(qtbot, editor, photo_file, report):
    win = editor(answers={"unsaved": "discard"})
    open_and_wait(qtbot, win, photo_file)
    paint_mask(win)
    wait_saved(qtbot, win)
    session = win.autosaver.session
    assert (session / STATE).exists()
    win._close_approved = False
    win.close()
    qtbot.waitUntil(lambda: not session.exists(), timeout=5000)
    assert win.prompts == ["unsaved"]
    assert AutosaveStore(session.parent).orphans() == []
    report.add("Crash recovery", "clean close after 'discard'", "session folder removed", True)


def test_running_editors_never_offer_each_others_work(qtbot, editor, photo_file):
    first = editor()
    open_and_wait(qtbot, first, photo_file)
    paint_mask(first)
    wait_saved(qtbot, first)
    second = editor()
    assert offer(qtbot, second) == 0
    assert second.autosaver.recovery_dialog is None and second.doc.is_empty


@pytest.mark.parametrize("answer", ["discard", "later"])
def test_declining_the_offer(qtbot, editor, photo_file, monkeypatch, answer):
    first = editor()
    open_and_wait(qtbot, first, photo_file)
    paint_mask(first)
    wait_saved(qtbot, first)
    first.autosaver.abandon()
    monkeypatch.setenv(ENV_ANSWER, answer)  # the scripted answer (no dialog)
    second = editor()
    assert offer(qtbot, second) == 1
    assert second.doc.is_empty and second.autosaver.recovery_dialog is None
    assert first.autosaver.session.exists() == (answer == "later")
    third = editor()  # "later" offers it again at the next start
    monkeypatch.setenv(ENV_ANSWER, "later")
    assert offer(qtbot, third) == (1 if answer == "later" else 0)


def test_damaged_autosave_is_reported_and_the_window_survives(
    qtbot, editor, photo_file, monkeypatch, report
):
    first = editor()
    open_and_wait(qtbot, first, photo_file)
    paint_mask(first)
    wait_saved(qtbot, first)
    first.autosaver.abandon()
    for original in first.autosaver.session.glob("original-*.npz"):
        original.write_bytes(original.read_bytes()[:100])  # cut short by a disk problem
    second = editor()
    open_and_wait(qtbot, second, photo_file)
    opened, messages = [], []

    def new_window():
        win = editor()
        win.message_shown.connect(lambda _title, text: messages.append(text))
        opened.append(win)
        return win

    second.autosaver.open_window = new_window
    second.message_shown.connect(lambda _title, text: messages.append(text))
    monkeypatch.setenv(ENV_ANSWER, "restore")
    second.autosaver.offer_restore()
    # the window is taken by a photo: the recovery goes to a new one, which reports the damage
    qtbot.waitUntil(lambda: bool(messages), timeout=10000)
    assert len(opened) == 1 and opened[0].doc.is_empty
    assert "could not be restored" in messages[0]
    assert second.doc.size == (160, 120) and not second.doc.has_mask()
    assert not first.autosaver.session.exists()
    report.add("Crash recovery", "autosave with a truncated original", messages[0], True)


def test_autosave_of_a_24_mp_photo_does_not_freeze_the_gui(qtbot, editor, report, monkeypatch):
    """Writing 24 MP takes seconds; it runs on a pool thread while the GUI keeps handling events.
    The writer is held until the GUI thread has handled a timer event during the write, which it
    could not do if the write ran there, so the test needs no clock. (What the GUI thread's copy
    costs, in milliseconds, is measured by benchmarks/bench_autosave.py.)"""
    win = editor(delay_ms=50)
    h, w = 4000, 6000
    rng = np.random.default_rng(1)
    photo = np.empty((h, w, 3), np.uint8)
    photo[:] = rng.integers(0, 256, (h, 1, 3), dtype=np.uint8)  # cheap to make, not trivial
    photo[::7] = rng.integers(0, 256, (1, w, 3), dtype=np.uint8)
    win.set_photo(photo, ImageMeta(display_name="big.tif"))
    del photo
    writing, gui_ran = threading.Event(), threading.Event()
    writes: list[tuple[bool, bool, Snapshot]] = []

    def held_write(session: Path, snap: Snapshot) -> Path:
        writing.set()
        released = gui_ran.wait(60)  # False: the GUI thread handled nothing during the write
        writes.append((threading.current_thread() is threading.main_thread(), released, snap))
        return write_snapshot(session, snap)

    monkeypatch.setattr("app.autosave.write_snapshot", held_write)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: gui_ran.set() if writing.is_set() else None)
    timer.start()
    for rect in ((1000, 1000, 800, 500), (3000, 2000, 600, 900)):
        writing.clear()
        gui_ran.clear()
        paint_mask(win, rect)
        wait_saved(qtbot, win, timeout=90000)
    timer.stop()
    assert [(on_gui, released) for on_gui, released, _ in writes] == [(False, True)] * 2
    first, again = writes[0][2], writes[1][2]
    # the GUI thread copies the photo as opened for the first write only; a mask stroke then
    # costs it the mask alone
    assert first.original is not None and first.original.shape == (h, w, 3)
    assert again.original is None and again.image_patch is None
    rec = read_session(win.autosaver.session)
    assert np.array_equal(rec.mask, win.doc.mask) and np.array_equal(rec.image, win.doc.image)
    report.add("Crash recovery", "24 MP photo autosave",
               "written on a pool thread while the GUI thread kept handling events; the photo "
               f"copied once (GUI copy {win.autosaver.last_snapshot_ms:.0f} ms for a stroke)",
               True)


def test_crash_with_sigkill_and_restore_in_a_new_editor(
    qtbot, make_window, tmp_path, monkeypatch, report
):
    photo = tmp_path / "trip.png"
    Image.fromarray(make_photo(120, 160)).save(photo)
    folder = tmp_path / "autosave"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.editor_session", str(photo), str(folder),
         str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), (line, proc.stderr.read() if proc.poll() else "")
        assert AutosaveStore(folder).orphans() == []  # alive: its lock is held
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    expected = np.load(tmp_path / "expected.npz")
    assert expected["mask"].any() and expected["sketch"].any()
    assert not np.array_equal(expected["image"], expected["original"])

    monkeypatch.setenv(ENV_ANSWER, "restore")
    win = make_window(autosave=AutosaveStore(folder))
    with qtbot.waitSignal(win.autosaver.restored, timeout=30000):
        win.show()  # the offer comes right after the window first shows
    for layer in ("image", "mask", "sketch"):
        assert np.array_equal(win.doc.layer(layer), expected[layer]), layer
    assert np.array_equal(win.doc.original, expected["original"])
    assert win.doc.meta.path == photo and win.is_modified()
    report.add("Crash recovery", "editor killed with SIGKILL after a fill, mask and sketch",
               "new editor offered the work and restored image, mask and sketch exactly", True)


def test_autosave_failure_is_shown_and_retried_after_the_next_change(
    qtbot, editor, photo_file, monkeypatch, report
):
    import errno

    import app.autosave as autosave_module

    real = autosave_module.write_snapshot
    calls = []

    def full_disk(folder, snap):
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, snap)

    monkeypatch.setattr(autosave_module, "write_snapshot", full_disk)
    win = editor()
    open_and_wait(qtbot, win, photo_file)
    with qtbot.waitSignal(win.autosaver.failed, timeout=10000) as sig:
        paint_mask(win)
    assert "No space left" in sig.args[0] and "Could not autosave" in win.status.currentMessage()
    assert not (win.autosaver.session / STATE).exists()
    assert not list(win.autosaver.session.glob(".*.tmp"))
    paint_mask(win, (90, 60, 20, 20))  # the next change tries again
    wait_saved(qtbot, win)
    rec = read_session(win.autosaver.session)
    assert np.array_equal(rec.mask, win.doc.mask)
    report.add("Crash recovery", "disk full during an autosave",
               "status bar says so; the next change autosaves again", True)


# --------------------------------------------------------------------------- several crashed


def crashed_editor(qtbot, editor, name: str, seed: int, rect=(4, 6, 20, 10)):
    """An editor with its own photo and mask, autosaved, then 'crashed' (files left, lock free)."""
    win = editor()
    win.set_photo(make_photo(48, 64, seed), ImageMeta(display_name=name))
    paint_mask(win, rect)
    wait_saved(qtbot, win)
    win.autosaver.abandon()
    return win


def fake_orphan(store: AutosaveStore, name: str, saved_at: float, seed: int = 0) -> Path:
    """A crashed session written straight to disk (cheap enough to make dozens)."""
    folder = store.folder / f"1-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    token = uuid.uuid4().hex
    mask = np.zeros((24, 32), np.uint8)
    mask[4:10, 5:15] = 255
    manifest = {"version": 1, "token": token, "saved_at": saved_at, "size": [32, 24],
                "display_name": name, "format": "PNG", "image_rect": None}
    write_snapshot(folder, Snapshot(token, manifest, mask, None, None,
                                    original=make_photo(24, 32, seed)))
    return folder


def dialog_of(qtbot, win):
    qtbot.waitUntil(lambda: win.autosaver.recovery_dialog is not None, timeout=10000)
    return win.autosaver.recovery_dialog


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_every_crashed_session_is_offered_newest_first_to_recover_or_discard(
    qtbot, editor, store, report
):
    crashed = [crashed_editor(qtbot, editor, f"photo{i}.png", seed=i, rect=(4 + i, 6, 20, 10))
               for i in (1, 2, 3)]  # photo3 crashed last
    main = editor()
    opened = []
    main.autosaver.open_window = lambda: opened.append(editor()) or opened[-1]
    with qtbot.waitSignal(main.autosaver.offered, timeout=10000) as sig:
        main.autosaver.offer_restore()
        assert main.autosaver.recovery_dialog is None  # looked for on a pool thread
    assert sig.args == [3]
    dlg = main.autosaver.recovery_dialog
    assert dlg.isVisible() and not dlg.isModal()
    assert [o.name for o in dlg.orphans()] == ["photo3.png", "photo2.png", "photo1.png"]
    assert "photo3.png" in dlg.list.item(0).text() and "64 × 48" in dlg.list.item(0).text()
    assert dlg.list.currentRow() == 0

    # discard the middle one: its files go for good
    dlg.select(dlg.orphans()[1])
    click(qtbot, dlg.discard_button)
    assert not crashed[1].autosaver.session.exists()
    assert [o.name for o in dlg.orphans()] == ["photo3.png", "photo1.png"]

    # the newest goes into this (empty) window
    dlg.select(dlg.orphans()[0])
    with qtbot.waitSignal(main.autosaver.restored, timeout=10000):
        click(qtbot, dlg.recover_button)
    assert main.doc.meta.display_name == "photo3.png"
    assert np.array_equal(main.doc.mask, crashed[2].doc.mask)
    assert np.array_equal(main.doc.image, crashed[2].doc.image)

    # the last one: this window is taken now, so a new window gets it; the list closes
    assert dlg.list.currentRow() == 0
    click(qtbot, dlg.recover_button)
    assert len(opened) == 1
    with qtbot.waitSignal(opened[0].autosaver.restored, timeout=10000):
        pass
    assert opened[0].doc.meta.display_name == "photo1.png"
    assert np.array_equal(opened[0].doc.mask, crashed[0].doc.mask)
    assert main.doc.meta.display_name == "photo3.png"  # untouched
    qtbot.waitUntil(lambda: main.autosaver.recovery_dialog is None, timeout=5000)

    # once each window has the work in its own session, the crashed sessions are gone
    for win in (main, opened[0]):
        qtbot.waitUntil(lambda w=win: not w.autosaver.busy and w.autosaver._adopted is None,
                        timeout=10000)
    assert not any(c.autosaver.session.exists() for c in crashed)
    assert store.orphans() == []  # the two running editors hold theirs
    report.add("Crash recovery", "three editors crashed with unsaved photos",
               "all three listed newest first; one discarded (deleted), one recovered into "
               "the empty window, one into a new window", True)


def test_what_is_left_in_the_list_is_offered_at_the_next_start(qtbot, editor, store):
    older = fake_orphan(store, "older.png", time.time() - 3600, seed=1)
    newer = fake_orphan(store, "newer.png", time.time() - 60, seed=2)
    first = editor()
    assert offer(qtbot, first) == 2
    dlg = first.autosaver.recovery_dialog
    with qtbot.waitSignal(first.autosaver.restored, timeout=10000):
        click(qtbot, dlg.recover_button)  # the newest is selected at first
    assert first.doc.meta.display_name == "newer.png"
    click(qtbot, dlg.later_button)
    qtbot.waitUntil(lambda: first.autosaver.recovery_dialog is None, timeout=5000)
    assert older.exists()
    second = editor()  # the next start offers only what was left
    assert offer(qtbot, second) == 1
    assert [o.name for o in second.autosaver.recovery_dialog.orphans()] == ["older.png"]
    # closing the window closes its list; the entry is kept again
    second._close_approved = True
    second.close()
    qtbot.waitUntil(lambda: second.autosaver.recovery_dialog is None, timeout=5000)
    assert older.exists()
    third = editor()
    assert offer(qtbot, third) == 1
    # the recovered one lives on in the first editor's own session
    qtbot.waitUntil(lambda: first.autosaver._adopted is None, timeout=10000)
    assert not newer.exists() and (first.autosaver.session / STATE).exists()


def test_a_long_list_leaves_the_window_usable(qtbot, editor, store, photo_file, report):
    now = time.time()
    folders = [fake_orphan(store, f"shot{i:02d}.png", now - 3600 + i * 10, seed=i)
               for i in range(40)]
    win = editor()
    opened = []
    win.autosaver.open_window = lambda: opened.append(editor()) or opened[-1]
    started = time.perf_counter()
    with qtbot.waitSignal(win.autosaver.offered, timeout=20000) as sig:
        win.autosaver.offer_restore()
    listed = time.perf_counter() - started
    assert sig.args == [40]
    dlg = win.autosaver.recovery_dialog
    assert [o.name for o in dlg.orphans()] == [f"shot{i:02d}.png" for i in reversed(range(40))]
    assert dlg.windowModality() == Qt.WindowModality.NonModal
    # while the list is open the editor works: a photo opens in it ...
    open_and_wait(qtbot, win, photo_file)
    assert win.doc.meta.display_name == "holiday.jpg"
    # ... and recovering then opens a new window instead of replacing that photo
    dlg.select(dlg.orphans()[5])
    click(qtbot, dlg.recover_button)
    with qtbot.waitSignal(opened[0].autosaver.restored, timeout=10000):
        pass
    assert opened[0].doc.meta.display_name == "shot34.png"
    assert win.doc.meta.display_name == "holiday.jpg"
    # discard several at once (Ctrl+A, Discard): deleted, and the list closes when empty
    dlg.list.selectAll()
    click(qtbot, dlg.discard_button)
    assert sum(f.exists() for f in folders) == 1  # only the adopted one, until autosaved
    qtbot.waitUntil(lambda: win.autosaver.recovery_dialog is None, timeout=5000)
    print(f"\n40 crashed sessions found and listed in {listed * 1000:.0f} ms (pool thread)")
    report.add("Crash recovery", "40 crashed sessions at start-up",
               f"listed in {listed * 1000:.0f} ms off the GUI thread in a non-modal list; "
               "the window opened a photo meanwhile; Discard on all deleted them", True)


def test_a_window_opened_for_recovered_work_is_a_full_editor_freed_on_close(
    qtbot, editor, store, monkeypatch
):
    import app.main_window as main_window
    from app.engine.worker import EngineWorker

    # the default window factory makes a real MainWindow; give it the stand-in engine
    monkeypatch.setattr(main_window, "EngineWorker", lambda *a, parent=None, **k: EngineWorker(
        runner_factory=lambda m, d: InstantRunner(), parent=parent))
    fake_orphan(store, "a.png", time.time() - 60, seed=1)
    fake_orphan(store, "b.png", time.time() - 30, seed=2)
    main = editor()
    main.set_photo(make_photo(), ImageMeta(display_name="busy.png"))  # the window is taken
    monkeypatch.setenv(ENV_ANSWER, "restore")
    assert offer(qtbot, main) == 2
    extra = list(main.application.extra_windows)
    assert len(extra) == 2
    for win in extra:
        qtbot.waitUntil(lambda w=win: not w.doc.is_empty, timeout=10000)
    assert [w.doc.meta.display_name for w in extra] == ["b.png", "a.png"]  # newest first
    assert all(w.isVisible() and w.autosaver.session != main.autosaver.session for w in extra)
    assert extra[0].pos() != extra[1].pos()  # cascaded, not stacked
    assert extra[0].settings is main.settings
    assert not extra[0].autosaver.offers_recovery  # it does not look for crashed work again
    qtbot.waitUntil(lambda: all(w.autosaver._adopted is None for w in extra), timeout=10000)
    session = extra[0].autosaver.session
    destroyed = []
    extra[0].destroyed.connect(lambda *_: destroyed.append(True))
    extra[0]._close_approved = True  # (skips the unsaved-changes question)
    extra[0].close()
    qtbot.waitUntil(lambda: bool(destroyed), timeout=10000)  # freed, photo and all
    assert main.application.extra_windows == [extra[1]]
    assert not session.exists()  # a clean close removes its autosave
    extra[1]._close_approved = True
    extra[1].close()
    qtbot.waitUntil(lambda: main.application.extra_windows == [], timeout=10000)
