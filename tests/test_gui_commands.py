"""Undo commands: every kind undoes and redoes to the exact pixels; history has a memory cap."""

from __future__ import annotations

import numpy as np
import pytest

from app.commands import HistoryStack, StrokeRecorder, fill_command, layer_change_command
from app.document import Document, FlowPatch
from app.engine.geometry import grow_mask
from app.widgets.tools import draw_segment, invert_mask, segment_rect
from tests.conftest import make_photo


@pytest.fixture
def doc(qapp) -> Document:
    d = Document()
    d.load(make_photo(90, 120))
    return d


def snapshot(d: Document) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return d.image.copy(), d.mask.copy(), d.sketch.copy()


def assert_state(d: Document, state) -> None:
    image, mask, sketch = state
    assert np.array_equal(d.image, image)
    assert np.array_equal(d.mask, mask)
    assert np.array_equal(d.sketch, sketch)


def stroke(d: Document, layer: str, pts, diameter: float, value: int = 255):
    rec = StrokeRecorder(d, layer)
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        rect = d.clip(segment_rect(a, b, diameter))
        rec.touch(rect)
        draw_segment(d.layer(layer), a, b, diameter, value)
        d.notify(layer, rect)
    return rec.finish("stroke")


@pytest.mark.parametrize("layer", ["mask", "sketch"])
def test_stroke_undo_redo_exact(doc, layer):
    before = snapshot(doc)
    stack = HistoryStack()
    cmd = stroke(doc, layer, [(10.5, 10.5), (60.5, 40.5), (100.5, 12.5)], 9)
    after = snapshot(doc)
    assert doc.layer(layer).any()
    # only the changed rectangle is stored, not the whole layer
    x, y, w, h = cmd.patches[0].rect
    assert w * h < doc.width * doc.height
    assert cmd.patches[0].nbytes < w * h  # binary layers are bit-packed
    stack.push(cmd)  # drawn live: push must not draw again
    assert_state(doc, after)
    stack.undo()
    assert_state(doc, before)
    stack.redo()
    assert_state(doc, after)


def test_eraser_stroke_over_existing_mask(doc):
    doc.mask[20:60, 20:80] = 255
    before = snapshot(doc)
    stack = HistoryStack()
    stack.push(stroke(doc, "mask", [(10.0, 40.0), (100.0, 40.0)], 7, value=0))
    after = snapshot(doc)
    assert not doc.mask[40, 50] and doc.mask[25, 50]
    stack.undo()
    assert_state(doc, before)
    stack.redo()
    assert_state(doc, after)


def test_stroke_recorder_cancel_restores(doc):
    doc.mask[5:15, 5:15] = 255
    before = snapshot(doc)
    rec = StrokeRecorder(doc, "mask")
    for x in range(0, 110, 30):
        rect = doc.clip(segment_rect((x, 50), (x + 30, 50), 11))
        rec.touch(rect)
        draw_segment(doc.mask, (x, 50), (x + 30, 50), 11, 255)
    rec.cancel()
    assert_state(doc, before)


@pytest.mark.parametrize(
    "op",
    ["clear", "invert", "grow", "shrink", "rect", "import"],
)
def test_mask_operations_undo_redo_exact(doc, op):
    doc.mask[30:60, 40:90] = 255
    doc.sketch[35:37, 40:90] = 255
    before = snapshot(doc)
    new = {
        "clear": lambda m: np.zeros_like(m),
        "invert": invert_mask,
        "grow": lambda m: grow_mask(m, 5),
        "shrink": lambda m: grow_mask(m, -5),
        "rect": lambda m: np.where(np.pad(np.ones((10, 10), bool), ((5, 75), (5, 105))), 255, m),
        "import": lambda m: np.where(np.eye(90, 120, dtype=bool), 255, 0).astype(np.uint8),
    }[op](doc.mask).astype(np.uint8)
    cmd = layer_change_command(doc, "mask", new, op)
    stack = HistoryStack()
    stack.push(cmd)  # not applied yet: push applies it
    assert np.array_equal(doc.mask, new)
    after = snapshot(doc)
    stack.undo()
    assert_state(doc, before)
    stack.redo()
    assert_state(doc, after)


def test_unchanged_mask_gives_no_command(doc):
    assert layer_change_command(doc, "mask", doc.mask.copy(), "nothing") is None


def test_grow_and_shrink_move_the_edge_by_n_pixels(doc):
    m = np.zeros((90, 120), np.uint8)
    m[40:50, 50:70] = 255
    g = grow_mask(m, 4)
    assert g[36, 60] and not g[35, 60] and g[45, 46] and not g[45, 45]
    s = grow_mask(m, -3)
    assert s[43, 60] and not s[42, 60] and not s[40, 60]
    assert not grow_mask(m, -10).any()


def test_fill_undo_restores_exact_pixels_and_the_mask(doc):
    doc.mask[30:50, 40:70] = 255
    doc.sketch[40, 35:75] = 255
    before = snapshot(doc)
    result = doc.image.copy()
    result[30:50, 40:70] = 17
    flow = FlowPatch((40, 30, 30, 20), np.full((20, 30, 4), 99, np.uint8))
    cmd = fill_command(doc, result, (40, 30, 30, 20), doc.mask > 0, doc.sketch > 0, flow, "Fill")
    stack = HistoryStack()
    stack.push(cmd)
    assert np.array_equal(doc.image, result)
    assert not doc.mask.any() and not doc.sketch.any()  # the used mask and sketch are consumed
    assert doc.flow is flow
    assert np.array_equal(doc.original, before[0])  # the original is kept for comparing
    after = snapshot(doc)
    stack.undo()
    assert_state(doc, before)
    assert doc.flow is None
    stack.redo()
    assert_state(doc, after)
    assert doc.flow is flow


def test_fill_keeps_mask_painted_while_it_ran(doc):
    doc.mask[30:50, 40:70] = 255
    used = doc.mask > 0
    doc.mask[70:80, 10:20] = 255  # painted after the request was sent
    result = doc.image.copy()
    result[30:50, 40:70] = 3
    HistoryStack().push(fill_command(doc, result, (40, 30, 30, 20), used, None, None, "Fill"))
    assert not doc.mask[30:50, 40:70].any()
    assert doc.mask[70:80, 10:20].all()


def test_history_memory_cap_drops_oldest_steps(doc):
    stack = HistoryStack(memory_limit=3 * 2 * 20 * 20 * 3 + 10)  # room for three 20x20 image steps
    states = [doc.image.copy()]
    for i in range(6):
        new = doc.image.copy()
        new[i * 10 : i * 10 + 20, 10:30] = 40 * i
        patches_cmd = fill_command(
            doc, new, (10, i * 10, 20, 20), np.zeros((90, 120), bool), None, None, f"step {i}"
        )
        stack.push(patches_cmd)
        states.append(doc.image.copy())
    assert stack.trimmed
    assert stack.count() == 3
    assert stack.bytes_used() <= stack.memory_limit
    assert not stack.isClean()
    # the kept steps still undo and redo exactly
    for k in range(3):
        stack.undo()
        assert np.array_equal(doc.image, states[6 - k - 1])
    assert not stack.canUndo()
    for k in range(3):
        stack.redo()
        assert np.array_equal(doc.image, states[3 + k + 1])


def test_clean_state_survives_trimming(doc):
    stack = HistoryStack(memory_limit=10**9)
    for i in range(3):
        new = doc.mask.copy()
        new[i, :] = 255
        stack.push(layer_change_command(doc, "mask", new, f"m{i}"))
    stack.setClean()
    stack.memory_limit = 1  # the next push trims everything but itself
    new = doc.mask.copy()
    new[10, :] = 255
    stack.push(layer_change_command(doc, "mask", new, "m3"))
    assert stack.count() == 1 and not stack.isClean()
    stack.undo()
    assert stack.isClean()  # back at the saved state


def test_many_change_signals_do_not_exhaust_true(doc):
    """PySide6 6.12.0 loses a reference to True on every Signal.emit; emit() must balance it
    (otherwise a long brush stroke aborts the interpreter with 'deallocating True')."""
    import gc
    import sys

    gc.collect()
    before = sys.getrefcount(True)
    for _ in range(2000):
        doc.notify("mask", (0, 0, 1, 1))
    gc.collect()
    assert sys.getrefcount(True) >= before - 5


def test_the_original_is_copied_off_the_gui_thread_when_the_photo_loads(qapp, monkeypatch):
    """The first fill keeps the photo as opened for comparing; that copy is made in the
    background at load, so applying the fill does not copy the whole photo on the GUI thread."""
    import threading

    copies: list[tuple[str, np.ndarray]] = []
    plain_copy = np.copy

    def recorded(a, *args, **kwargs):
        out = plain_copy(a, *args, **kwargs)
        copies.append((threading.current_thread().name, out))
        return out

    monkeypatch.setattr(np, "copy", recorded)
    d = Document()
    d.load(make_photo(90, 120, seed=1))
    first = make_photo(90, 120, seed=2)
    d.load(first.copy())  # a second photo before any edit: its own copy is the one kept
    result = d.image.copy()
    result[30:50, 40:70] = 17
    nothing = np.zeros((90, 120), bool)  # no mask was used
    HistoryStack().push(fill_command(d, result, (40, 30, 30, 20), nothing, None, None, "Fill"))
    assert np.array_equal(d.image, result)
    assert np.array_equal(d.original, first)
    kept = [name for name, out in copies if out is d.original]
    assert len(kept) == 1 and kept[0].startswith("original-copy")
