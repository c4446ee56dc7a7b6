"""Ground-truth sketches for training and evaluation: thin edges of the photo (OpenCV Canny).

The official code used HED edges; HED needs downloaded weights, so we use Canny on a lightly
blurred grayscale, with thresholds taken from the image's own gradient statistics so that busy
textures and flat skies both give a sensible amount of lines. Canny lines are one pixel wide;
`width=2` thickens them slightly, closer to what a user draws with a thin brush.

`user_sketch` draws what a user draws instead of every edge: a few 1-4 px strokes along the
longest and strongest edges in the hole, often only part of each, slightly off the true line.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SKETCH_STYLES = ("canny", "user", "mix")


def edges_and_strength(rgb: np.ndarray, sigma: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """1 px Canny edges (bool [H, W]) and the L1 gradient magnitude they were found on."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    gray = cv2.GaussianBlur(gray, (0, 0), sigma)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude = np.abs(gx) + np.abs(gy)  # Canny's default L1 gradient
    # Keep roughly the strongest 8% of gradients, but never call faint noise an edge.
    high = float(np.clip(np.percentile(magnitude, 92), 80, 400))
    return cv2.Canny(gray, high * 0.4, high) > 0, magnitude


def edge_map(rgb: np.ndarray, width: int = 1, sigma: float = 1.2) -> np.ndarray:
    """Edges of an RGB uint8 image as a bool array [H, W] (True = line), 1 or 2 px wide."""
    return thicken(edges_and_strength(rgb, sigma)[0], width)


def thicken(edges: np.ndarray, width: int) -> np.ndarray:
    """1 px edges as they are (`width` 1) or 2 px wide (`width` >= 2)."""
    if width >= 2:
        kernel = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 0]], np.uint8)  # 1 -> 2 px, no shift drift
        edges = cv2.dilate(edges.astype(np.uint8), kernel) > 0
    return edges


def hole_sketch(rgb: np.ndarray, mask: np.ndarray, width: int = 1) -> np.ndarray:
    """The sketch as the model sees it: ground-truth edges inside the hole only."""
    return edge_map(rgb, width) & np.asarray(mask, bool)


# ------------------------------------------------------------------ user-like sketches

_STROKE_COUNT_P = (0.4, 0.3, 0.2, 0.1)  # 1, 2, 3 or 4 strokes: often a single one
_MIN_PIECE = 4  # edge pieces shorter than this inside the hole are specks, never drawn
_CROSSING_BONUS = 2.0  # a piece that continues an edge visible outside the hole


def _junctions(lines: np.ndarray) -> np.ndarray:
    """Pixels where a thin line branches: three or more separate runs of line pixels around
    them (the crossing number), so that a staircase step of a Canny line is not one."""
    padded = np.pad(lines, 1)
    h, w = lines.shape
    ring = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]  # N, NE, E, ... NW
    around = [padded[dy : dy + h, dx : dx + w] for dy, dx in ring]
    starts = np.zeros(lines.shape, np.uint8)
    for a, b in zip(around, around[1:] + around[:1], strict=True):
        starts += ~a & b
    return lines & (starts >= 3)


def _edge_pieces(edges: np.ndarray, strength: np.ndarray, hole: np.ndarray):
    """Labels of the edge pieces inside the hole and each piece's score (0 = not a candidate).

    Edges are split at their junctions into simple curves, so that a structural line is not
    one piece with the texture lines that touch it. Score = mean gradient magnitude x the
    piece's extent (its bounding box diagonal: long straight or gently curved lines win over
    wiggly texture), doubled when the piece touches an edge outside the hole (the lines a user
    sees and continues)."""
    inside = edges & hole
    inside &= ~_junctions(inside)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside.astype(np.uint8), connectivity=8)
    flat = labels.ravel()
    length = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    total = np.bincount(flat, weights=strength.ravel().astype(np.float64), minlength=count)
    extent = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    score = total / np.maximum(length, 1.0) * extent
    outside = cv2.dilate((edges & ~hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    crossing = np.unique(labels[outside & (labels > 0)])
    score[crossing] *= _CROSSING_BONUS
    score[length < _MIN_PIECE] = 0.0
    score[0] = 0.0  # background
    return labels, score


def _ordered_path(piece: np.ndarray) -> np.ndarray:
    """The pixels of a thin edge piece in order along the line, as float (x, y) points [N, 2].

    The outer contour of a one-pixel line walks it out and back; the walk between two
    consecutive tips (where it turns back on itself) is the line in order. A closed loop has no
    tips: its contour is the path."""
    contours, _ = cv2.findContours(piece.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    walk = max(contours, key=len)[:, 0, :]
    n = len(walk)
    if n < 3:
        return walk.astype(np.float32)
    tips = np.flatnonzero((np.roll(walk, 1, 0) == np.roll(walk, -1, 0)).all(axis=1))
    if len(tips) < 2:
        return walk.astype(np.float32)
    # The longest tip-to-tip stretch: for a branched piece, its main line.
    spans = np.diff(np.append(tips, tips[0] + n))
    k = int(np.argmax(spans))
    idx = (tips[k] + np.arange(spans[k] + 1)) % n
    return walk[idx].astype(np.float32)


def user_sketch(
    rgb: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    strokes: tuple[int, int] = (1, 4),
    widths: tuple[int, int] = (1, 4),
    keep: tuple[float, float] = (0.5, 1.0),
    max_offset: float = 2.0,
    found: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """A sketch as a user draws it, bool [H, W], inside the hole only (empty without edges).

    Picks 1-4 edge pieces crossing the hole (`strokes`; fewer if fewer exist), preferring long,
    strong ones and those that continue an edge outside the hole; keeps a random contiguous
    `keep` fraction of each; moves each off the true line by a constant shift plus a gentle
    wobble, together at most `max_offset` px; draws it `widths` px wide and clips to the hole.
    `found`: `edges_and_strength(rgb)` when the caller has it already.
    """
    hole = np.asarray(mask, bool)
    edges, strength = found if found is not None else edges_and_strength(rgb)
    labels, score = _edge_pieces(edges, strength, hole)
    candidates = np.flatnonzero(score > 0)
    sketch = np.zeros(hole.shape, bool)
    if len(candidates) == 0:
        return sketch
    lo, hi = strokes
    p_count = np.asarray(_STROKE_COUNT_P[: hi - lo + 1], np.float64)
    count = min(lo + int(rng.choice(len(p_count), p=p_count / p_count.sum())), len(candidates))
    weights = score[candidates] ** 2  # strongly prefer the long and strong lines
    chosen = rng.choice(candidates, size=count, replace=False, p=weights / weights.sum())
    for label in chosen:
        path = _ordered_path(labels == label)
        n = len(path)
        take = max(2, math.ceil(float(rng.uniform(*keep)) * n))
        start = int(rng.integers(0, max(0, n - take) + 1))
        points = path[start : start + take]
        # Constant shift plus a slow wobble along the stroke: |shift| + wobble <= max_offset.
        wobble = float(rng.uniform(0.0, min(0.5, max_offset)))
        shift = float(rng.uniform(0.0, max_offset - wobble))
        angle = float(rng.uniform(0.0, 2 * math.pi))
        t = np.arange(len(points), dtype=np.float32)
        period = float(rng.uniform(12.0, 40.0))
        phase = rng.uniform(0.0, 2 * math.pi, 2)
        offset = np.stack([np.sin(2 * math.pi * t / period + phase[0]),
                           np.cos(2 * math.pi * t / period + phase[1])], axis=1) / math.sqrt(2)
        points = points + wobble * offset + shift * np.array([math.cos(angle), math.sin(angle)])
        line = np.zeros(hole.shape, np.uint8)
        fixed = np.round(points * 16).astype(np.int32)  # 4 fractional bits (cv2 `shift`)
        cv2.polylines(line, [fixed], False, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
        width = int(rng.integers(widths[0], widths[1] + 1))
        brush = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
        sketch |= (cv2.dilate(line, brush) if width > 1 else line) > 0
    return sketch & hole


def training_sketch(
    rgb: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    style: str,
    edges: np.ndarray,
    found: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The sketch of one training sample: every edge in the hole ("canny", `edges` as given),
    a user-like one ("user"), or either at even odds ("mix"). `found` as for `user_sketch`."""
    if style not in SKETCH_STYLES:
        raise ValueError(f"sketch style must be one of {SKETCH_STYLES}, not {style!r}")
    if style == "user" or (style == "mix" and rng.random() < 0.5):
        return user_sketch(rgb, mask, rng, found=found)
    return edges & np.asarray(mask, bool)
