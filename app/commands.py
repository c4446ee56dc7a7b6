"""Undo commands that store only the changed rectangle, and a history with a memory cap.

Every edit (a brush stroke, a mask operation, a fill) becomes one PatchCommand holding
before/after copies of the smallest rectangle that changed. Mask and sketch patches are
stored as packed bits (they are strictly 0/255), so even "invert" on a 50 MP photo costs
about 12 MB of history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.document import Document, FlowPatch
from app.engine.geometry import Rect, bounding_rect, changed_rect, union_rect
from app.signal_emit import emit

log = logging.getLogger(__name__)

_BINARY_LAYERS = ("mask", "sketch")
DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024  # 1 GiB of patches


class _Stored:
    """One array kept compactly: packed bits for binary layers, raw bytes otherwise."""

    __slots__ = ("_data", "_shape", "_packed")

    def __init__(self, arr: np.ndarray, binary: bool) -> None:
        self._shape = arr.shape
        self._packed = binary
        # packbits counts any non-zero byte as a 1, so 0/255 layers pack without a compare
        self._data = np.packbits(arr) if binary else np.ascontiguousarray(arr).copy()

    def array(self) -> np.ndarray:
        if not self._packed:
            return self._data
        n = int(np.prod(self._shape))
        out = np.unpackbits(self._data, count=n).reshape(self._shape)
        np.multiply(out, np.uint8(255), out=out)
        return out

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)


@dataclass
class Patch:
    layer: str
    rect: Rect
    before: _Stored
    after: _Stored

    @classmethod
    def make(cls, layer: str, rect: Rect, before: np.ndarray, after: np.ndarray) -> Patch:
        binary = layer in _BINARY_LAYERS
        return cls(layer, rect, _Stored(before, binary), _Stored(after, binary))

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


# (before, after) of the flow overlay for a command that changes it (a fill)
FlowChange = tuple[FlowPatch | None, FlowPatch | None]


class PatchCommand(QUndoCommand):
    """Writes 'after' patches on redo and 'before' patches on undo."""

    def __init__(
        self,
        doc: Document,
        text: str,
        patches: list[Patch],
        *,
        applied: bool = False,
        flow: FlowChange | None = None,  # None: the command leaves the flow overlay alone
        kind: str = "edit",
    ) -> None:
        super().__init__(text)
        self.doc = doc
        self.patches = patches
        self.kind = kind
        self._flow = flow
        # what the step was made from, for whoever made it (a fill's variant source); kept by
        # clone(), so trimming the history keeps it
        self.source: object | None = None
        # strokes are drawn live, so the first redo() (called by QUndoStack.push) is a no-op
        self._skip_redo = applied

    def redo(self) -> None:
        # an exception escaping a Qt virtual crashes PySide, so log it instead
        try:
            self._redo()
        except Exception:
            log.exception("redo of %r failed", self.text())

    def undo(self) -> None:
        try:
            self._undo()
        except Exception:
            log.exception("undo of %r failed", self.text())

    def _redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        for p in self.patches:
            self.doc.write_patch(p.layer, p.rect, p.after.array())
        if self._flow is not None:
            self.doc.set_flow(self._flow[1])

    def _undo(self) -> None:
        for p in reversed(self.patches):
            self.doc.write_patch(p.layer, p.rect, p.before.array())
        if self._flow is not None:
            self.doc.set_flow(self._flow[0])

    @property
    def nbytes(self) -> int:
        total = sum(p.nbytes for p in self.patches)
        if self._flow is not None:
            for f in self._flow:
                if f is not None:
                    total += int(f.rgba.nbytes)
        return total

    def clone(self) -> PatchCommand:
        """A copy already applied to the document (used when the history is trimmed)."""
        copy = PatchCommand(
            self.doc, self.text(), self.patches, applied=True, flow=self._flow, kind=self.kind
        )
        copy.source = self.source
        return copy


# --- builders ------------------------------------------------------------------------------
def layer_change_command(
    doc: Document, layer: str, new: np.ndarray, text: str, kind: str = "mask-op"
) -> PatchCommand | None:
    """Command turning a whole layer into `new` (not yet applied); None if nothing changes."""
    old = doc.layer(layer)
    rect = changed_rect(old, new)
    if rect is None:
        return None
    x, y, w, h = rect
    patch = Patch.make(layer, rect, old[y : y + h, x : x + w], new[y : y + h, x : x + w])
    return PatchCommand(doc, text, [patch], kind=kind)


def fill_command(
    doc: Document,
    result_image: np.ndarray,
    rect: Rect,
    used_mask: np.ndarray,
    used_sketch: np.ndarray | None,
    flow: FlowPatch | None,
    text: str,
) -> PatchCommand:
    """Command applying a fill: new pixels in rect, the used mask and sketch cleared.

    Undo puts back the exact original pixels, the mask that produced the fill and the
    previous flow overlay.
    """
    patches: list[Patch] = []
    x, y, w, h = doc.clip(rect)
    if w > 0 and h > 0:
        before = doc.image[y : y + h, x : x + w]
        after = result_image[y : y + h, x : x + w]
        inner = changed_rect(before, after)
        if inner is not None:
            ix, iy, iw, ih = inner
            r = (x + ix, y + iy, iw, ih)
            patches.append(
                Patch.make(
                    "image",
                    r,
                    before[iy : iy + ih, ix : ix + iw],
                    after[iy : iy + ih, ix : ix + iw],
                )
            )
    for layer, used in (("mask", used_mask), ("sketch", used_sketch)):
        if used is None:
            continue
        # only within the used pixels' box: full-size copies would cost the GUI thread
        # tenths of a second on a large photo
        box = bounding_rect(used)
        if box is None:
            continue
        bx, by, bw, bh = box
        old = doc.layer(layer)[by : by + bh, bx : bx + bw]
        new = old.copy()
        new[used[by : by + bh, bx : bx + bw] > 0] = 0
        cleared = changed_rect(old, new)
        if cleared is not None:
            rx, ry, rw, rh = cleared
            patches.append(
                Patch.make(
                    layer,
                    (bx + rx, by + ry, rw, rh),
                    old[ry : ry + rh, rx : rx + rw],
                    new[ry : ry + rh, rx : rx + rw],
                )
            )
    return PatchCommand(doc, text, patches, flow=(doc.flow, flow), kind="fill")


class StrokeRecorder:
    """Remembers the pixels a live stroke is about to overwrite, tile by tile.

    Call touch(rect) before drawing into rect; finish() returns one command for the whole
    stroke holding only the bounding rectangle that really changed.
    """

    TILE = 128

    def __init__(self, doc: Document, layer: str) -> None:
        self.doc = doc
        self.layer = layer
        self._tiles: dict[tuple[int, int], np.ndarray] = {}
        self.rect: Rect | None = None

    def touch(self, rect: Rect) -> None:
        rect = self.doc.clip(rect)
        x, y, w, h = rect
        if w <= 0 or h <= 0:
            return
        arr = self.doc.layer(self.layer)
        t = self.TILE
        for ty in range(y // t, (y + h - 1) // t + 1):
            for tx in range(x // t, (x + w - 1) // t + 1):
                if (tx, ty) not in self._tiles:
                    self._tiles[(tx, ty)] = arr[ty * t : (ty + 1) * t, tx * t : (tx + 1) * t].copy()
        self.rect = union_rect(self.rect, rect)

    def _before(self, rect: Rect) -> np.ndarray:
        x, y, w, h = rect
        before = self.doc.read_patch(self.layer, rect)
        t = self.TILE
        for (tx, ty), tile in self._tiles.items():
            x0, y0 = max(x, tx * t), max(y, ty * t)
            x1, y1 = min(x + w, tx * t + tile.shape[1]), min(y + h, ty * t + tile.shape[0])
            if x1 > x0 and y1 > y0:
                before[y0 - y : y1 - y, x0 - x : x1 - x] = tile[
                    y0 - ty * t : y1 - ty * t, x0 - tx * t : x1 - tx * t
                ]
        return before

    def finish(self, text: str) -> PatchCommand | None:
        if self.rect is None:
            return None
        before = self._before(self.rect)
        after = self.doc.read_patch(self.layer, self.rect)
        inner = changed_rect(before, after)
        self._tiles.clear()
        if inner is None:
            return None
        ix, iy, iw, ih = inner
        x, y = self.rect[0] + ix, self.rect[1] + iy
        patch = Patch.make(
            self.layer,
            (x, y, iw, ih),
            before[iy : iy + ih, ix : ix + iw],
            after[iy : iy + ih, ix : ix + iw],
        )
        return PatchCommand(self.doc, text, [patch], applied=True, kind="stroke")

    def cancel(self) -> None:
        """Put back everything the stroke drew (Esc during a stroke)."""
        if self.rect is not None:
            self.doc.write_patch(self.layer, self.rect, self._before(self.rect))
        self._tiles.clear()
        self.rect = None


class HistoryStack(QUndoStack):
    """QUndoStack whose oldest steps are dropped when patches exceed memory_limit bytes."""

    trimmed_changed = Signal(bool)

    def __init__(self, memory_limit: int = DEFAULT_MEMORY_LIMIT, parent=None) -> None:
        super().__init__(parent)
        self.memory_limit = memory_limit
        self.trimmed = False

    def push(self, cmd: QUndoCommand) -> None:
        super().push(cmd)
        self._enforce_limit()

    def commands(self) -> list[PatchCommand]:
        """The steps on the stack, oldest first (the editor pushes only PatchCommands)."""
        steps = (self.command(i) for i in range(self.count()))
        return [c for c in steps if isinstance(c, PatchCommand)]

    def bytes_used(self) -> int:
        return sum(c.nbytes for c in self.commands())

    def reset(self) -> None:
        """Forget everything (a new photo was opened)."""
        self.clear()
        if self.trimmed:
            self.trimmed = False
            emit(self.trimmed_changed, False)

    def _enforce_limit(self) -> None:
        cmds = self.commands()
        sizes = [getattr(c, "nbytes", 0) for c in cmds]
        total = sum(sizes)
        if total <= self.memory_limit or len(cmds) <= 1 or self.index() != len(cmds):
            return
        drop = 0
        while total > self.memory_limit and drop < len(cmds) - 1:
            total -= sizes[drop]
            drop += 1
        clean = self.cleanIndex()
        clones = [c.clone() for c in cmds[drop:]]
        # QUndoStack cannot delete from the bottom, so rebuild it from already-applied copies
        self.clear()
        for i, c in enumerate(clones, start=1):
            super().push(c)
            if clean == drop + i:
                self.setClean()
        if clean < drop:
            self.resetClean()
        if not self.trimmed:
            self.trimmed = True
            emit(self.trimmed_changed, True)
