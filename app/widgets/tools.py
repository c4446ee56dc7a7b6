"""Painting tools as plain numpy/OpenCV operations in image coordinates.

The canvas converts every mouse position to image pixels before calling these, so a
stroke hits the same pixels at 25 % or 400 % zoom. Scene coordinates put pixel (i, j) on
the square [i, i+1) x [j, j+1); OpenCV puts pixel centres on integers, hence the -0.5.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np

from app.engine.geometry import Rect

_SHIFT = 4  # OpenCV fixed-point bits: strokes keep sub-pixel precision at high zoom
_ONE = 1 << _SHIFT


class Tool(str, Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    SKETCH = "sketch"
    SKETCH_ERASER = "sketch_eraser"
    RECT = "rect"
    LASSO = "lasso"
    SELECT = "select"  # select object: a box, then "object" / "not object" strokes
    WAND = "wand"

    @property
    def layer(self) -> str:
        return "sketch" if self in (Tool.SKETCH, Tool.SKETCH_ERASER) else "mask"

    @property
    def paint_value(self) -> int:
        return 0 if self in (Tool.ERASER, Tool.SKETCH_ERASER) else 255

    @property
    def is_brush(self) -> bool:
        return self in (Tool.BRUSH, Tool.ERASER, Tool.SKETCH, Tool.SKETCH_ERASER)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Tool.BRUSH: "Mask brush",
    Tool.ERASER: "Mask eraser",
    Tool.SKETCH: "Sketch pen",
    Tool.SKETCH_ERASER: "Sketch eraser",
    Tool.RECT: "Rectangle",
    Tool.LASSO: "Lasso",
    Tool.SELECT: "Select object",
    Tool.WAND: "Magic wand",
}


def _fixed(p: tuple[float, float]) -> tuple[int, int]:
    return (int(round((p[0] - 0.5) * _ONE)), int(round((p[1] - 0.5) * _ONE)))


def segment_rect(p0: tuple[float, float], p1: tuple[float, float], diameter: float) -> Rect:
    """Rectangle that a round-capped segment of this diameter can touch (unclipped)."""
    r = diameter / 2.0 + 2.0
    x0, x1 = min(p0[0], p1[0]) - r, max(p0[0], p1[0]) + r
    y0, y1 = min(p0[1], p1[1]) - r, max(p0[1], p1[1]) + r
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    return (ix0, iy0, int(np.ceil(x1)) - ix0 + 1, int(np.ceil(y1)) - iy0 + 1)


def draw_segment(
    arr: np.ndarray,
    p0: tuple[float, float],
    p1: tuple[float, float],
    diameter: float,
    value: int,
) -> None:
    """Round-capped line from p0 to p1 (scene/image coordinates) into a uint8 layer."""
    d = max(1, int(round(diameter)))
    if d <= 1:
        cv2.line(arr, _fixed(p0), _fixed(p1), int(value), 1, cv2.LINE_8, _SHIFT)
        return
    a, b = _fixed(p0), _fixed(p1)
    if a == b:
        # a dab: a filled disc of the requested diameter
        cv2.circle(arr, a, int(round(d / 2.0 * _ONE)), int(value), -1, cv2.LINE_8, _SHIFT)
    else:
        cv2.line(arr, a, b, int(value), d, cv2.LINE_8, _SHIFT)


def fill_rect(arr: np.ndarray, rect: Rect, value: int) -> None:
    x, y, w, h = rect
    arr[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = value


def rect_from_points(p0: tuple[float, float], p1: tuple[float, float]) -> Rect:
    """Pixels whose squares the dragged rectangle covers (at least one pixel)."""
    x0, x1 = sorted((p0[0], p1[0]))
    y0, y1 = sorted((p0[1], p1[1]))
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    ix1, iy1 = max(ix0 + 1, int(np.ceil(x1))), max(iy0 + 1, int(np.ceil(y1)))
    return (ix0, iy0, ix1 - ix0, iy1 - iy0)


def fill_polygon(arr: np.ndarray, points: list[tuple[float, float]], value: int) -> Rect | None:
    """Fill a closed lasso polygon; returns the touched rectangle (unclipped) or None."""
    if len(points) < 3:
        return None
    pts = np.array([_fixed(p) for p in points], np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(arr, [pts], int(value), cv2.LINE_8, _SHIFT)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, y0 = int(np.floor(min(xs))) - 1, int(np.floor(min(ys))) - 1
    return (x0, y0, int(np.ceil(max(xs))) - x0 + 2, int(np.ceil(max(ys))) - y0 + 2)


def invert_mask(mask: np.ndarray) -> np.ndarray:
    """0 <-> 255 (layers are strictly 0/255, so a bitwise not is enough and fast)."""
    return cv2.bitwise_not(mask)


# `[` and `]`: steps of about 12 %, so a step looks the same at 3 px and at 300 px
BRUSH_RATIO = 1.12
MAX_BRUSH_SIZE = 1000


def _up(size: int) -> int:
    return max(size + 1, int(round(size * BRUSH_RATIO)))


def _down(size: int) -> int:
    """The size that `]` turns into `size` (so `]` then `[` comes back), else ~size / 1.12."""
    guess = size / BRUSH_RATIO
    for d in range(int(guess) + 2, max(0, int(guess) - 2), -1):
        if 1 <= d < size and _up(d) == size:
            return d
    return max(1, min(size - 1, int(round(guess))))


def step_brush(size: int, steps: int) -> int:
    """`steps` proportional steps up (> 0) or down (< 0) from `size` (1 .. 1000 px)."""
    size = int(min(max(size, 1), MAX_BRUSH_SIZE))
    for _ in range(abs(steps)):
        size = min(MAX_BRUSH_SIZE, _up(size)) if steps > 0 else max(1, _down(size))
    return size


def brush_for_photo(width: int, height: int, share: float) -> int:
    """Brush diameter that is `share` of the photo's long side (1 .. 1000 px)."""
    return int(min(max(round(share * max(width, height)), 1), 1000))


def binarize(gray: np.ndarray) -> np.ndarray:
    """Any imported mask image -> 0/255 (non-zero = hole)."""
    if gray.ndim == 3:
        gray = gray.max(axis=2)
    return np.where(gray > 0, 255, 0).astype(np.uint8)
