"""GUI side of Select object and Magic wand: requests to the selection engine off the GUI
thread, results onto the undo stack as one mask step each, and the refine session.

A box starts a session: the mask before it (the base), the box and the hint strokes. Each
"object" / "not object" stroke re-runs GrabCut with every hint so far and replaces the
session's previous result (base | selection), one undo step per stroke. The session goes on
from whichever of its steps is on screen (undo a stroke, or undo a fill, and stroke again);
any other edit on top of it, or another photo, ends it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from app.commands import HistoryStack, layer_change_command
from app.document import Document
from app.engine.selection import Box, Hints, SelectionError, magic_wand, select_object
from app.signal_emit import emit
from app.widgets.background import run_in_background
from app.widgets.select_pointer import SelectPointer, hint_pen


@dataclass
class _Session:
    box: Box
    subtract: bool
    base: np.ndarray  # packed bits of the mask before the box
    shape: tuple[int, int]
    hints: Hints = field(default_factory=Hints)
    order: list[bool] = field(default_factory=list)  # is_object of each hint, in drawing order
    # (undo command on top of the history, hints in use) for each step of this session
    steps: list[tuple[object, int]] = field(default_factory=list)

    def hints_at(self, top: object) -> int | None:
        for cmd, count in self.steps:
            if cmd is top:
                return count
        return None

    def base_mask(self) -> np.ndarray:
        n = self.shape[0] * self.shape[1]
        return np.unpackbits(self.base, count=n).reshape(self.shape).astype(bool)

    def hints_upto(self, count: int) -> Hints:
        h = Hints()
        obj = bg = 0
        for is_object in self.order[:count]:
            if is_object:
                h.object.append(self.hints.object[obj])
                obj += 1
            else:
                h.background.append(self.hints.background[bg])
                bg += 1
        return h

    def add_hint(self, count: int, line: list, diameter: float, is_object: bool) -> Hints:
        """Keep the first `count` hints (those of the step on screen), append one."""
        kept = self.hints_upto(count)
        self.order = self.order[:count] + [is_object]
        (kept.object if is_object else kept.background).append((line, diameter))
        self.hints = kept
        return kept


def _crop_for(box: Box, hints: Hints, grow_px: int, width: int, height: int) -> Box:
    """The part of the photo the engine needs: box and object strokes plus GrabCut's context
    (select_object on this crop gives exactly what it gives on the whole photo)."""
    x0, y0, x1, y1 = box
    extra = hints.bounds()
    if extra is not None:
        x0, y0 = min(x0, extra[0]), min(y0, extra[1])
        x1, y1 = max(x1, extra[2]), max(y1, extra[3])
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    m = max(x1 - x0, y1 - y0) // 2 + 16 + max(0, grow_px) + 2
    return (max(0, x0 - m), max(0, y0 - m), min(width, x1 + m), min(height, y1 + m))


def _shift(hints: Hints, dx: int, dy: int) -> Hints:
    def move(lines):
        return [([(x - dx, y - dy) for x, y in pts], d) for pts, d in lines]

    return Hints(object=move(hints.object), background=move(hints.background))


class SelectionController(QObject):
    """Runs the selection tools for one window (doc, history, canvas pointer)."""

    applied = Signal(str)  # "select" | "refine" | "wand": a mask step was pushed
    busy_changed = Signal(bool)
    message = Signal(str)  # status bar text

    def __init__(
        self,
        doc: Document,
        history: HistoryStack,
        pointer: SelectPointer,
        options: Callable[[], dict],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.history = history
        self.options = options  # {"grow": int, "tolerance": int, "contiguous": bool}
        self.session: _Session | None = None
        self._token = 0
        self._running = 0
        self._overlay: list[QGraphicsPathItem] = []
        self._scene = pointer._preview.scene()
        self._box_item = QGraphicsPathItem()
        pen = QPen(QColor(255, 255, 255, 200), 1.2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._box_item.setPen(pen)
        self._box_item.setZValue(140)
        self._scene.addItem(self._box_item)
        pointer.box_drawn.connect(self.select_box)
        pointer.hint_drawn.connect(self.add_hint)
        pointer.wand_clicked.connect(self.wand)
        doc.replaced.connect(self.end_session)
        history.indexChanged.connect(self._on_index_changed)

    @property
    def busy(self) -> bool:
        return self._running > 0

    # ------------------------------------------------------------------ requests
    def select_box(self, box: Box, subtract: bool = False) -> int:
        """Select the object in box (image px); the mask gets it added (or removed)."""
        if self.doc.is_empty:
            return 0
        mask = self.doc.mask > 0
        session = _Session(
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
            subtract=subtract,
            base=np.packbits(mask),
            shape=mask.shape,
        )
        return self._run_session(session, Hints(), "select")

    def add_hint(self, line: list, diameter: float, is_object: bool) -> int:
        """An "object" / "not object" stroke: re-run the session's selection with it."""
        s = self.session
        count = s.hints_at(self._top()) if s is not None else None
        if s is None or count is None:
            emit(self.message, "Drag a box around the object first, then mark what is "
                               "and is not the object.")
            return 0
        hints = s.add_hint(count, [tuple(p) for p in line], float(diameter), is_object)
        self._draw_hints(hints)
        return self._run_session(s, hints, "refine")

    def _run_session(self, session: _Session, hints: Hints, kind: str) -> int:
        grow_px = int(self.options()["grow"])
        image = self.doc.image  # read-only on the pool thread; a changed photo drops the result
        h, w = image.shape[:2]
        cx0, cy0, cx1, cy1 = _crop_for(session.box, hints, grow_px, w, h)
        box = session.box
        local_box = (box[0] - cx0, box[1] - cy0, box[2] - cx0, box[3] - cy0)
        local_hints = _shift(hints, cx0, cy0)
        top = self._top()
        revision = self.doc.image_revision

        def work() -> np.ndarray:
            crop = image[cy0:cy1, cx0:cx1]
            return select_object(crop, local_box, grow_px=grow_px, hints=local_hints)

        def done(sel: np.ndarray) -> None:
            if not self._current(token, revision, top):
                return
            base = session.base_mask()
            new = base.copy()
            region = new[cy0:cy1, cx0:cx1]
            if session.subtract:
                region &= ~sel
            else:
                region |= sel
            if kind == "select" and not sel.any():
                emit(self.message, "Nothing stood out inside the box; try a looser box.")
                return
            text = "Select object" if kind == "select" else (
                "Refine selection (object)" if hints.object and self._last_is_object(session)
                else "Refine selection (not object)"
            )
            if session.subtract:
                text += " (subtract)"
            pushed = self._push(new, text)
            self.session = session
            session.steps.append((self._top(), len(session.order)))
            self._show_session()
            share = 100.0 * sel.sum() / max(1, base.size)
            emit(self.message, f"Selected {share:.1f} % of the photo. Mark more with "
                               "Shift+drag (object) or Ctrl+drag (not object).")
            if pushed:
                emit(self.applied, kind)

        token = self._start()
        run_in_background(work, done, self._failed(token))
        return token

    def wand(self, x: int, y: int, op: str = "replace") -> int:
        """Magic wand at image pixel (x, y): replace, add to or subtract from the mask."""
        if self.doc.is_empty:
            return 0
        opts = self.options()
        image = self.doc.image
        revision = self.doc.image_revision
        top = self._top()
        tol, contiguous = int(opts["tolerance"]), bool(opts["contiguous"])

        def work() -> np.ndarray:
            return magic_wand(image, (x, y), tol, contiguous)

        def done(sel: np.ndarray) -> None:
            if not self._current(token, revision, top):
                return
            current = self.doc.mask > 0
            if op == "add":
                new, text = current | sel, "Magic wand (add)"
            elif op == "subtract":
                new, text = current & ~sel, "Magic wand (subtract)"
            else:
                new, text = sel, "Magic wand"
            self.end_session()
            share = 100.0 * sel.sum() / max(1, sel.size)
            emit(self.message, f"Magic wand: {share:.1f} % of the photo (tolerance {tol}).")
            if self._push(new, text):
                emit(self.applied, "wand")

        token = self._start()
        run_in_background(work, done, self._failed(token))
        return token

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _last_is_object(session: _Session) -> bool:
        return bool(session.order and session.order[-1])

    def _start(self) -> int:
        self._token += 1
        self._running += 1
        if self._running == 1:
            emit(self.busy_changed, True)
        return self._token

    def _finish(self) -> None:
        self._running = max(0, self._running - 1)
        if self._running == 0:
            emit(self.busy_changed, False)

    def _top(self) -> object:
        """The undo command the document is at now (None at the bottom of the history)."""
        i = self.history.index()
        return self.history.command(i - 1) if i > 0 else None

    def _current(self, token: int, revision: int, top: object) -> bool:
        """True when this result is still wanted: newest request, same photo, same history."""
        self._finish()
        if token != self._token:
            return False
        if self.doc.is_empty or revision != self.doc.image_revision:
            emit(self.message, "The photo changed while selecting; select again.")
            return False
        if self._top() is not top:
            emit(self.message, "The mask changed while selecting; select again.")
            return False
        return True

    def _failed(self, token: int) -> Callable[[BaseException], None]:
        def failed(error: BaseException) -> None:
            self._finish()
            if token != self._token:
                return
            if isinstance(error, SelectionError):
                emit(self.message, str(error))
            else:
                emit(self.message, f"The selection failed ({type(error).__name__}: {error}).")

        return failed

    def _push(self, new: np.ndarray, text: str) -> bool:
        layer = np.where(new, np.uint8(255), np.uint8(0))
        cmd = layer_change_command(self.doc, "mask", layer, text)
        if cmd is None:
            return False
        self.history.push(cmd)
        return True

    def end_session(self) -> None:
        self.session = None
        self._token += 1  # results still on their way are dropped
        self._show_session()

    # ------------------------------------------------------------------ overlay
    def _on_index_changed(self, _index: int) -> None:
        # while the window is torn down the stack may already be gone
        with contextlib.suppress(RuntimeError):
            self._show_session()

    def _show_session(self) -> None:
        """Box outline and hint strokes of the step on screen (none without a session)."""
        s = self.session
        count = s.hints_at(self._top()) if s is not None else None
        if s is None or count is None:
            self._box_item.setPath(QPainterPath())
            self._draw_hints(Hints())
            return
        path = QPainterPath()
        x0, y0, x1, y1 = s.box
        path.addRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self._box_item.setPath(path)
        self._draw_hints(s.hints_upto(count))

    def _draw_hints(self, hints: Hints) -> None:
        for item in self._overlay:
            self._scene.removeItem(item)
        self._overlay = []
        for lines, is_object in ((hints.object, True), (hints.background, False)):
            for pts, d in lines:
                path = QPainterPath()
                path.moveTo(*pts[0])
                for p in pts[1:]:
                    path.lineTo(*p)
                if len(pts) == 1:
                    path.lineTo(pts[0][0] + 0.01, pts[0][1])
                item = QGraphicsPathItem(path)
                item.setPen(hint_pen(is_object, d))
                item.setZValue(145)
                self._scene.addItem(item)
                self._overlay.append(item)
