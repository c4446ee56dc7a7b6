"""Crash recovery: the open document is autosaved in the background and offered back after a crash.

What is kept (enough to resume): the photo as opened (pixels, alpha, EXIF, ICC, DPI, source
path), the current image, the mask and the sketch. The undo history itself is not kept: a
recovered document has one undo step, "Recovered unsaved edits", whose undo goes back to the
photo as opened.

Layout, under the per-user data folder (platformdirs; DEEPFILL_STUDIO_AUTOSAVE overrides it):

    autosave/<pid>-<random>/session.lock        QLockFile held while the editor runs
                            original-<token>.npz  the photo as opened (written once per photo)
                            state.npz             manifest, changed image rectangle, packed
                                                  mask and sketch (rewritten after changes)

Every file is written to a temporary name, flushed to disk and renamed over the old one, on a
pool thread: the GUI thread only copies the arrays (the image only inside the rectangle that
fills changed). A few seconds after a change (the first change starts the timer, so painting
without pause still saves every few seconds) the state is written; when there is nothing
worth keeping (a clean, mask-free document) it is removed. A clean close removes the session.
At start-up, sessions whose lock is free (their editor died: QLockFile checks the process)
are looked for on a pool thread and all offered, newest first, in a non-modal list
(app/widgets/recovery_dialog.py): each can be recovered (into this window while it is empty,
otherwise into a new window with its own session) or discarded; what is left in the list is
kept for the next start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app.autosave_files import (
    FORMAT_VERSION,
    STATE,
    Recovered,
    Snapshot,
    read_manifest,
    read_session,
    write_npz,
    write_snapshot,
)
from app.autosave_store import ENV_FOLDER, LOCK, AutosaveStore, Orphan, default_folder
from app.engine.geometry import Rect, union_rect
from app.signal_emit import emit
from app.widgets.background import run_in_background

if TYPE_CHECKING:
    from app.editor_window import EditorWindow

__all__ = [  # the files and the store, re-exported: `from app.autosave import ...` is the API
    "ENV_ANSWER", "ENV_FOLDER", "FORMAT_VERSION", "LOCK", "STATE", "AutosaveStore", "Autosaver",
    "Orphan", "Recovered", "Snapshot", "default_folder", "read_manifest", "read_session",
    "write_npz", "write_snapshot",
]

log = logging.getLogger(__name__)

# restore | discard | later: answers the start-up offer for every autosave found (no dialog)
ENV_ANSWER = "DEEPFILL_STUDIO_RESTORE"
DEFAULT_DELAY_MS = 3000
ANSWERS = ("restore", "discard", "later")


class Autosaver(QObject):
    """Keeps the window's document autosaved and offers to restore after a crash."""

    saved = Signal(str)  # state file written
    cleared = Signal()  # nothing worth keeping: the state file was removed
    restored = Signal(str)  # display name of the recovered photo
    offered = Signal(int)  # the start-up look for crashed work is done: how many were offered
    failed = Signal(str)  # an autosave could not be written or read (logged, not modal)

    def __init__(
        self,
        window: EditorWindow,
        store: AutosaveStore,
        delay_ms: int = DEFAULT_DELAY_MS,
        open_window: Callable[[], EditorWindow] | None = None,
    ) -> None:
        super().__init__(window if isinstance(window, QObject) else None)
        self.window = window
        self.store = store
        self.delay_ms = delay_ms
        self.session: Path | None = None
        self._lock: QLockFile | None = None
        self._io = threading.Lock()  # one writer at a time; close waits for it
        self._closed = False
        self._writing = False
        self._again = False
        self._has_state = False
        self._token = uuid.uuid4().hex
        self._original_written = False
        self._image_rect: Rect | None = None
        self._sketch_used = False
        self._adopted: Orphan | None = None  # restored orphan, removed after our first write
        self._buffers: dict[str, np.ndarray] = {}
        self.last_snapshot_ms = 0.0  # GUI-thread cost of the last snapshot (for the tests)
        self.offers_recovery = True  # windows opened for recovered work do not look again
        self.recovery_dialog: QWidget | None = None  # the start-up list while it is open
        self._recovering_here = False  # a recovered document is being read for this window
        # makes the window for recovered work when this one is taken (the application's
        # factory; tests pass their own); None: recovered work only goes into this window
        self.open_window = open_window
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.autosave_now)
        try:
            self.session, self._lock = store.new_session()
        except OSError as error:
            log.warning("autosave disabled: %s", error)
            self._closed = True
            return
        doc = window.doc
        doc.replaced.connect(self._on_replaced)
        doc.image_changed.connect(self._on_image_changed)
        doc.mask_changed.connect(self._changed)
        doc.sketch_changed.connect(self._on_sketch_changed)
        window.history.indexChanged.connect(self._changed)
        window.history.cleanChanged.connect(self._changed)

    # --- change tracking (GUI thread) -----------------------------------------------------
    def _on_replaced(self) -> None:
        self._token = uuid.uuid4().hex
        self._buffers = {}  # the old photo's size (a write in flight keeps its own references)
        self._prepare_buffers()
        self._original_written = False
        self._image_rect = None
        self._sketch_used = False
        self._changed()

    def _on_image_changed(self, rect: Rect) -> None:
        self._image_rect = union_rect(self._image_rect, self.window.doc.clip(rect))
        self._changed()

    def _on_sketch_changed(self, _rect: Rect) -> None:
        self._sketch_used = True
        self._changed()

    def _changed(self, *_args) -> None:
        if not self._closed and not self.timer.isActive():
            self.timer.start(self.delay_ms)

    def worth_keeping(self) -> bool:
        doc = self.window.doc
        if doc.is_empty:
            return False
        return self.window.is_modified() or doc.has_mask() or bool(doc.sketch.any())

    # --- writing --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Copy what the background writer needs (GUI thread; the image only where it changed)."""
        started = time.perf_counter()
        doc = self.window.doc
        meta = doc.meta
        rect = self._image_rect
        if rect is not None and (rect[2] <= 0 or rect[3] <= 0):
            rect = None
        patch = None
        if rect is not None:
            x, y, w, h = rect
            patch = doc.image[y : y + h, x : x + w].copy()
        stamp = self.window.file_guard
        source_stamp = stamp.known(meta.path) if stamp is not None and meta.path else None
        manifest = {
            "version": FORMAT_VERSION,
            "token": self._token,
            "saved_at": time.time(),
            "size": [doc.width, doc.height],
            "source": str(meta.path) if meta.path else None,
            "source_stamp": list(source_stamp) if source_stamp else None,
            "display_name": meta.display_name,
            "format": meta.format,
            "dpi": list(meta.dpi) if meta.dpi else None,
            "notes": list(meta.notes),
            "text": dict(meta.text),
            "image_rect": list(rect) if rect else None,
            "pid": os.getpid(),
        }
        snap = Snapshot(
            token=self._token,
            manifest=manifest,
            mask=self._copy("mask", doc.mask),
            sketch=self._copy("sketch", doc.sketch) if self._sketch_used else None,
            image_patch=patch,
        )
        if not self._original_written:
            # once edited, the original is a separate array nobody writes to; before that it
            # is the live image, which a fill may change while the writer runs
            original = doc.original
            snap.original = self._copy("original", original) if original is doc.image else original
            snap.alpha, snap.exif, snap.icc = meta.alpha, meta.exif, meta.icc
            snap.xmp, snap.iptc = meta.xmp, meta.iptc
        self.last_snapshot_ms = (time.perf_counter() - started) * 1000.0
        return snap

    def _copy(self, name: str, arr: np.ndarray) -> np.ndarray:
        """Copy into a buffer kept between autosaves and faulted in on a pool thread: a fresh
        array makes the GUI thread pay its page faults (half the cost of copying a 24 MP
        photo). Safe because a snapshot is only taken when no write is in flight."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != arr.shape or buf.dtype != arr.dtype:
            buf = self._buffers[name] = np.empty_like(arr)
        np.copyto(buf, arr)
        return buf

    def _prepare_buffers(self) -> None:
        doc = self.window.doc
        if doc.is_empty or self._closed:
            return
        token = self._token
        shapes = {"original": doc.image.shape, "mask": doc.mask.shape}

        def make() -> dict[str, np.ndarray]:
            out = {}
            for name, shape in shapes.items():
                out[name] = np.empty(shape, np.uint8)
                out[name].fill(0)  # touch every page here, not on the GUI thread
            return out

        def done(buffers: dict[str, np.ndarray]) -> None:
            if token == self._token:
                if self._original_written:  # needed only for the first write, already done
                    buffers.pop("original")
                self._buffers.update(buffers)

        run_in_background(make, done, lambda error: None)

    def autosave_now(self) -> None:
        """Write (or clear) the autosave now, in the background."""
        if self._closed or self.session is None:
            return
        if self._writing:
            self._again = True
            return
        snap = self.snapshot() if self.worth_keeping() else None
        if snap is None and not self._has_state:
            return
        session = self.session
        self._writing = True

        def work() -> Path | None:
            with self._io:
                if self._closed:
                    return None
                if snap is None:  # the state first: without it the rest is never read
                    for path in [session / STATE, *session.glob("original-*.npz")]:
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                    return None
                return write_snapshot(session, snap)

        def done(path: Path | None) -> None:
            self._writing = False
            if path is not None:
                self._has_state = True
                self._original_written = True
                if snap is not None and snap.original is not None:
                    self._buffers.pop("original", None)  # needed once per photo
                if snap is not None and snap.token != self._token:
                    self._original_written = False  # a new photo arrived meanwhile
                if self._adopted is not None:  # the recovered work is safe in our session now
                    self._adopted.remove()
                    self._adopted = None
                emit(self.saved, str(path))
            elif snap is None and not self._closed:
                self._has_state = False
                emit(self.cleared)
            self._write_finished()

        def failed(error: BaseException) -> None:
            self._writing = False
            log.warning("autosave failed: %s", error)
            text = f"Could not autosave ({error}); your edits are only in memory until saved."
            self.window.status.showMessage(text, 10000)  # tell, but never interrupt
            emit(self.failed, text)
            self._write_finished()

        run_in_background(work, done, failed)

    def _write_finished(self) -> None:
        if self._again and not self._closed:
            self._again = False
            self._changed()

    @property
    def busy(self) -> bool:
        return self._writing or self.timer.isActive()

    # --- closing --------------------------------------------------------------------------
    def close_session(self) -> None:
        """Clean close: wait for a write in progress, then remove this session's files."""
        if self._closed and self.session is None:
            return
        self._close_recovery_dialog()
        self.timer.stop()
        with self._io:
            self._closed = True
            if self.session is not None:
                shutil.rmtree(self.session, ignore_errors=True)
        if self._lock is not None:
            self._lock.unlock()
        if self.session is not None:
            with contextlib.suppress(OSError):
                self.session.rmdir()
        self.session = None
        if self._adopted is not None:  # the user has dealt with the recovered work
            self._adopted.remove()
            self._adopted = None

    def abandon(self) -> None:
        """Stop and release the lock but leave the files, as a crash would (tests, shutdown)."""
        self._close_recovery_dialog()
        self.timer.stop()
        with self._io:
            self._closed = True
        if self._lock is not None:
            self._lock.unlock()

    # --- restoring ------------------------------------------------------------------------
    def offer_restore(self) -> None:
        """Look for work left by crashed editors (on a pool thread) and offer all of it.

        Returns at once; `offered` tells how many were found once the list is up (or the
        scripted answer in DEEPFILL_STUDIO_RESTORE has been applied to each).
        """
        if self._closed or not self.offers_recovery:
            return
        self.offers_recovery = False  # once per window
        exclude = (self.session,) if self.session else ()
        store = self.store

        def failed(error: BaseException) -> None:
            log.warning("could not look for autosaves: %s", error)
            emit(self.offered, 0)

        run_in_background(lambda: store.orphans(exclude=exclude), self._offer, failed)

    def _offer(self, orphans: list[Orphan]) -> None:
        if self._closed:  # the window closed meanwhile: keep it all for the next start
            for orphan in orphans:
                orphan.release()
            return
        answer = os.environ.get(ENV_ANSWER, "").strip().lower()
        if orphans and answer in ANSWERS:
            action = {"restore": self.recover, "discard": self.discard, "later": self.keep}
            for orphan in orphans:
                action[answer](orphan)
        elif orphans:
            from app.widgets.recovery_dialog import RecoveryDialog

            parent = self.window if isinstance(self.window, QWidget) else None
            dialog = RecoveryDialog(orphans, self.recover, self.discard, self.keep, parent)
            dialog.destroyed.connect(self._recovery_dialog_gone)
            self.recovery_dialog = dialog
            dialog.show()
            dialog.raise_()
        emit(self.offered, len(orphans))

    def _recovery_dialog_gone(self, *_args) -> None:
        self.recovery_dialog = None

    def _close_recovery_dialog(self) -> None:
        dialog = self.recovery_dialog
        if dialog is not None:
            self.recovery_dialog = None
            with contextlib.suppress(RuntimeError):  # already deleted
                dialog.close()  # keeps what is still listed

    def keep(self, orphan: Orphan) -> None:
        """Leave the orphan for the next start."""
        orphan.release()

    def discard(self, orphan: Orphan) -> None:
        """Delete the orphan's autosave for good."""
        orphan.remove()

    def recover(self, orphan: Orphan) -> EditorWindow:
        """Restore the orphan into this window while it is empty, otherwise into a new one."""
        if self._takes_recovery():
            self._recovering_here = True
            self.restore(orphan)
            return self.window
        other = self.recover_elsewhere()
        other._recovering_here = True
        other.restore(orphan)
        return other.window

    def _takes_recovery(self) -> bool:
        return not (self._closed or self._recovering_here or not self.window.doc.is_empty)

    def restore(self, orphan: Orphan) -> None:
        """Read the orphan in the background, then make it the window's document."""

        def done(recovered: Recovered) -> None:
            self._recovering_here = False
            if self._closed:  # the window closed while reading: keep it for the next start
                orphan.release()
                return
            # a photo opened meanwhile is not replaced
            target = self if self.window.doc.is_empty else self.recover_elsewhere()
            target.adopt(recovered, orphan)

        def failed(error: BaseException) -> None:
            self._recovering_here = False
            log.warning("could not restore %s: %s", orphan.folder, error)
            orphan.remove()
            self.window.show_message(
                "Could not recover the work",
                f"The autosave of {orphan.name} is damaged and could not be restored ({error}).",
            )
            emit(self.failed, str(error))

        run_in_background(lambda: read_session(orphan.folder), done, failed)

    def recover_elsewhere(self) -> Autosaver:
        """The autosaver of a new window for recovered work."""
        if self.open_window is None:
            raise RuntimeError("this window cannot open another for recovered work")
        win = self.open_window()
        if win.autosaver is None:
            raise RuntimeError("a window for recovered work needs autosave")
        win.autosaver.offers_recovery = False
        return win.autosaver

    def adopt(self, recovered: Recovered, orphan: Orphan) -> None:
        """Show the recovered document; its old session goes once ours holds the work."""
        self.apply(recovered)
        self._adopted = orphan
        self.autosave_now()

    def apply(self, rec: Recovered) -> None:
        """Put a recovered document in the window (the photo as opened plus one undo step)."""
        self.window.load_recovered(rec)
        if rec.image_rect is not None:
            self._image_rect = rec.image_rect
        self._sketch_used = bool(rec.sketch.any())
        emit(self.restored, rec.meta.display_name)
