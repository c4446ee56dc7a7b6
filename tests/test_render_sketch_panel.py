"""tools/render_sketch_panel.py draws the editor test's trench case: a hole over the lip, a line in it."""

from __future__ import annotations

from tests.tool_loader import load_tool


def test_the_trench_case_has_the_line_inside_a_hole_over_the_lip():
    tool = load_tool("render_sketch_panel")
    hole, line = tool.trench_case((1200, 1600))
    assert hole.shape == line.shape == (1200, 1600)
    assert 15_000 < hole.sum() < 60_000  # three 70 px brush rows, ~140 px long
    assert (line & hole).sum() > 300  # a long line in the hole, as the editor test requires
    ys, xs = hole.nonzero()
    assert ys.min() > 690 and ys.max() < 900 and xs.min() > 180 and xs.max() < 410
