"""Classical selection without segmentation weights: GrabCut from a box, and a magic wand.

Pure numpy/OpenCV (no Qt, no torch), so the editor, the `select` command and the tests all
call the same functions. Masks are H x W bool arrays in image pixels; boxes are
(x0, y0, x1, y1) with x1, y1 exclusive.

Object selection (`select_object`): GrabCut seeded by a loose box, run on a crop around the
box that is downscaled to a working size (large photos stay quick), the result upsampled to
full resolution, cleaned to the object's connected parts with small enclosed holes filled,
then grown by a margin so soft edges and halos go too. Hint strokes ("object" / "not object")
re-run GrabCut in mask-init mode with those pixels fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .geometry import grow_mask

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)

DEFAULT_GROW = 4  # px of margin around the object: soft edges, halos, JPEG ringing
WORK_SIZE = 640  # long side of the crop GrabCut works on
ITERATIONS = 5
KEEP_FRACTION = 0.15  # keep parts at least this big relative to the largest one
HOLE_FRACTION = 0.25  # fill enclosed holes up to this share of the object's area


class SelectionError(ValueError):
    """A box or point that cannot select anything (outside the photo, too small)."""


@dataclass
class Hints:
    """Refinement strokes in image pixels: polylines with a diameter."""

    object: list[tuple[list[tuple[float, float]], float]] = field(default_factory=list)
    background: list[tuple[list[tuple[float, float]], float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.object or self.background)

    def bounds(self) -> Box | None:
        """Bounding box of the object strokes (they may reach outside the first box)."""
        pts = [(x, y, d) for line, d in self.object for x, y in line]
        if not pts:
            return None
        x0 = min(x - d / 2 for x, _, d in pts)
        y0 = min(y - d / 2 for _, y, d in pts)
        x1 = max(x + d / 2 for x, _, d in pts)
        y1 = max(y + d / 2 for _, y, d in pts)
        return (int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))


def parse_box(text: str) -> Box:
    """'X0,Y0,X1,Y1' -> box (corners in any order); SelectionError when it is not four numbers."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise SelectionError(f"--box needs four numbers X0,Y0,X1,Y1, got {text!r}")
    try:
        x0, y0, x1, y1 = (int(round(float(p))) for p in parts)
    except ValueError:
        raise SelectionError(f"--box needs four numbers X0,Y0,X1,Y1, got {text!r}") from None
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def clip_box(box: Box, width: int, height: int, min_side: int = 3) -> Box:
    """The box inside the photo; SelectionError when too little of it is left."""
    x0, y0, x1, y1 = box
    x0, y0 = max(0, min(x0, x1)), max(0, min(y0, y1))
    x1, y1 = min(width, max(box[0], box[2])), min(height, max(box[1], box[3]))
    if x1 - x0 < min_side or y1 - y0 < min_side:
        raise SelectionError(
            f"the box {box[0]},{box[1]},{box[2]},{box[3]} leaves less than {min_side} x "
            f"{min_side} pixels inside the {width} x {height} photo"
        )
    return (x0, y0, x1, y1)


def _union_box(a: Box, b: Box | None) -> Box:
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _crop_around(box: Box, width: int, height: int) -> Box:
    """The box plus context on every side: GrabCut learns the background from it."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    mx, my = max(16, bw // 3), max(16, bh // 3)
    return (max(0, box[0] - mx), max(0, box[1] - my), min(width, box[2] + mx), min(height, box[3] + my))


def _draw_hints(
    gc: np.ndarray,
    lines: list[tuple[list[tuple[float, float]], float]],
    value: int,
    origin: tuple[int, int],
    scale: float,
) -> None:
    for pts, diameter in lines:
        if not pts:
            continue
        d = max(1, int(round(diameter * scale)))
        xy = np.array(
            [((x - origin[0]) * scale - 0.5, (y - origin[1]) * scale - 0.5) for x, y in pts]
        )
        xy = np.round(xy).astype(np.int32)
        if len(xy) == 1:
            cv2.circle(gc, tuple(int(v) for v in xy[0]), max(1, d // 2), value, -1)
        else:
            cv2.polylines(gc, [xy.reshape(-1, 1, 2)], False, value, d)
            for p in (xy[0], xy[-1]):  # round caps
                cv2.circle(gc, tuple(int(v) for v in p), max(1, d // 2), value, -1)


def _grabcut(
    small: np.ndarray, rect: Box, hints: Hints | None, origin: tuple[int, int], scale: float
) -> np.ndarray:
    """GrabCut on the working crop; returns the foreground probability-ish map (uint8 0/255)."""
    cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's RNG: same box, same mask
    bgr = np.ascontiguousarray(small[..., ::-1])
    h, w = small.shape[:2]
    x0, y0, x1, y1 = rect
    x0, y0 = min(max(0, x0), w - 2), min(max(0, y0), h - 2)
    x1, y1 = max(min(w, x1), x0 + 2), max(min(h, y1), y0 + 2)
    gc = np.zeros((h, w), np.uint8)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    whole = x0 <= 0 and y0 <= 0 and x1 >= w and y1 >= h
    if whole:  # the box is the whole crop: keep a one-pixel frame as background samples
        x0, y0, x1, y1 = 1, 1, w - 1, h - 1
    cv2.grabCut(bgr, gc, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_RECT)
    if hints:
        _draw_hints(gc, hints.object, cv2.GC_FGD, origin, scale)
        _draw_hints(gc, hints.background, cv2.GC_BGD, origin, scale)
        if (gc == cv2.GC_FGD).any() or (gc == cv2.GC_PR_FGD).any():
            # the rectangle is ignored when starting from the mask (an empty one, like None)
            cv2.grabCut(bgr, gc, (0, 0, 0, 0), bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    return np.where((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)


def _keep_object(fg: np.ndarray, seeds: np.ndarray | None) -> np.ndarray:
    """The object's parts: the largest component, those nearly as big, those under a seed."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.view(np.uint8), connectivity=8)
    if n <= 1:
        return fg
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= KEEP_FRACTION * areas.max()
    if seeds is not None and seeds.any():
        keep[np.unique(labels[seeds & fg])] = True
    keep[0] = False
    return keep[labels]


def _fill_holes(obj: np.ndarray, forbidden: np.ndarray | None) -> np.ndarray:
    """Fill background islands enclosed by the object, up to HOLE_FRACTION of its area."""
    area = int(obj.sum())
    if area == 0:
        return obj
    holes = ~obj
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes.view(np.uint8), connectivity=4)
    if n <= 1:
        return obj
    h, w = obj.shape
    fill = np.zeros(n, bool)
    for i in range(1, n):
        x, y, bw, bh, a = stats[i]
        touches_edge = x == 0 or y == 0 or x + bw == w or y + bh == h
        fill[i] = not touches_edge and a <= HOLE_FRACTION * area
    if forbidden is not None and forbidden.any():
        fill[np.unique(labels[forbidden])] = False
    fill[0] = False
    return obj | fill[labels]


def _hint_raster(
    lines: list[tuple[list[tuple[float, float]], float]], shape: tuple[int, int], origin: tuple[int, int]
) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    _draw_hints(out, lines, 1, origin, 1.0)
    return out.astype(bool)


def select_object(
    image: np.ndarray,
    box: Box,
    grow_px: int = DEFAULT_GROW,
    hints: Hints | None = None,
    work_size: int = WORK_SIZE,
) -> np.ndarray:
    """Mask (H x W bool) of the object inside `box`, grown by `grow_px` pixels.

    `hints` marks pixels that are surely the object or surely not; object strokes may extend
    the region beyond the box. Raises SelectionError for a box outside the photo.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise SelectionError("expected an H x W x 3 uint8 RGB image")
    h, w = image.shape[:2]
    box = clip_box(box, w, h)
    region = box
    if hints:
        extra = hints.bounds()
        if extra is not None:
            region = clip_box(_union_box(box, extra), w, h)
    cx0, cy0, cx1, cy1 = _crop_around(region, w, h)
    crop = image[cy0:cy1, cx0:cx1]
    ch, cw = crop.shape[:2]
    scale = min(1.0, work_size / max(ch, cw))
    if scale < 1.0:
        sw, sh = max(2, int(round(cw * scale))), max(2, int(round(ch * scale)))
        small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        scale_x, scale_y = sw / cw, sh / ch
        scale = (scale_x + scale_y) / 2
    else:
        small = crop
        scale_x = scale_y = 1.0
    rect = (
        int(np.floor((region[0] - cx0) * scale_x)),
        int(np.floor((region[1] - cy0) * scale_y)),
        int(np.ceil((region[2] - cx0) * scale_x)),
        int(np.ceil((region[3] - cy0) * scale_y)),
    )
    fg_small = _grabcut(small, rect, hints, (cx0, cy0), scale)
    if small is not crop:
        fg = cv2.resize(fg_small, (cw, ch), interpolation=cv2.INTER_LINEAR) >= 128
    else:
        fg = fg_small > 0
    seeds = forbidden = None
    if hints:
        seeds = _hint_raster(hints.object, (ch, cw), (cx0, cy0))
        forbidden = _hint_raster(hints.background, (ch, cw), (cx0, cy0))
    obj = _keep_object(fg, seeds)
    obj = _fill_holes(obj, forbidden)
    out = np.zeros((h, w), bool)
    if not obj.any():
        return out
    pad = max(0, grow_px) + 1
    gx0, gy0 = max(0, cx0 - pad), max(0, cy0 - pad)
    gx1, gy1 = min(w, cx1 + pad), min(h, cy1 + pad)
    sub = np.zeros((gy1 - gy0, gx1 - gx0), bool)
    sub[cy0 - gy0 : cy0 - gy0 + ch, cx0 - gx0 : cx0 - gx0 + cw] = obj
    out[gy0:gy1, gx0:gx1] = grow_mask(sub, grow_px)
    return out


# ------------------------------------------------------------------ magic wand


def magic_wand(
    image: np.ndarray, point: tuple[int, int], tolerance: int = 32, contiguous: bool = True
) -> np.ndarray:
    """Pixels of similar colour to the one at `point` (H x W bool).

    Similar: every channel within `tolerance` (0-255) of the seed colour, the median of the
    5 x 5 pixels around the point (so JPEG noise at the click does not decide). Contiguous
    keeps only the region connected to the point (4-neighbours); otherwise every similar
    pixel of the photo.
    """
    h, w = image.shape[:2]
    x, y = int(point[0]), int(point[1])
    if not (0 <= x < w and 0 <= y < h):
        raise SelectionError(f"the point {x},{y} is outside the {w} x {h} photo")
    tol = int(min(max(tolerance, 0), 255))
    patch = image[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3)
    seed = np.median(patch, axis=0).astype(np.int16)
    lo = np.clip(seed - tol, 0, 255).astype(np.uint8)
    hi = np.clip(seed + tol, 0, 255).astype(np.uint8)
    similar = cv2.inRange(image, lo, hi)  # 255 where every channel is within the range
    similar[y, x] = 255  # the clicked pixel always belongs to its own region
    if not contiguous:
        return similar > 0
    ff = np.zeros((h + 2, w + 2), np.uint8)
    cv2.floodFill(
        similar, ff, (x, y), 0, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    )
    return ff[1:-1, 1:-1] > 0
