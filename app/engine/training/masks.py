"""Hole masks for training and evaluation: free-form strokes, boxes and object-shaped blobs.

The stroke generator follows the official DeepFill v2 `brush_stroke_mask` (1-3 strokes of 4-11
vertices, segment length around a quarter of the half-diagonal, brush 12-40 px at 256 px), with
lengths and widths scaled to the requested size. All functions take a numpy Generator, so a seed
fixes the mask; they return bool arrays [H, W] (True = hole).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_REF = 256.0  # the official generator's image size


def _scale(h: int, w: int, scale: float | None) -> float:
    return math.sqrt(h * w) / _REF if scale is None else scale


def stroke_mask(h: int, w: int, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """Official free-form brush strokes; `scale` multiplies lengths and widths (default size/256)."""
    s = _scale(h, w, scale)
    canvas = np.zeros((h, w), np.uint8)
    mean_angle, angle_range = 2 * math.pi / 5, 2 * math.pi / 15
    avg_r = math.sqrt(h * h + w * w) / 8 * (s * _REF / math.sqrt(h * w))
    for _ in range(int(rng.integers(1, 4))):
        vertices = int(rng.integers(4, 12))
        width = max(1, int(rng.uniform(12, 40) * s))
        a_min = mean_angle - rng.uniform(0, angle_range)
        a_max = mean_angle + rng.uniform(0, angle_range)
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        points = [(x, y)]
        for i in range(vertices):
            angle = rng.uniform(a_min, a_max)
            if i % 2 == 0:
                angle = 2 * math.pi - angle
            r = float(np.clip(rng.normal(avg_r, avg_r / 2), 0, 2 * avg_r))
            x = float(np.clip(x + r * math.cos(angle), 0, w - 1))
            y = float(np.clip(y + r * math.sin(angle), 0, h - 1))
            points.append((x, y))
        pts = [(round(px), round(py)) for px, py in points]
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            cv2.line(canvas, p, q, 255, width, lineType=cv2.LINE_8)
        for p in pts:
            cv2.circle(canvas, p, width // 2, 255, -1)
    return canvas > 0


def box_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Official box: half the size each way, each side shrunk by up to 1/16 of the size."""
    bh, bw = h // 2, w // 2
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    dh, dw = max(1, h // 16), max(1, w // 16)
    t, b = top + int(rng.integers(0, dh + 1)), top + bh - int(rng.integers(0, dh + 1))
    lft, r = left + int(rng.integers(0, dw + 1)), left + bw - int(rng.integers(0, dw + 1))
    mask = np.zeros((h, w), bool)
    mask[t:b, lft:r] = True
    return mask


def blob_mask(
    h: int, w: int, rng: np.random.Generator, area: tuple[float, float] = (0.04, 0.25)
) -> np.ndarray:
    """An object-shaped region: a closed outline whose radius varies smoothly with the angle."""
    target = rng.uniform(*area) * h * w
    radius = math.sqrt(target / math.pi)
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    angles = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    profile = np.ones_like(angles)
    for k in range(1, 5):  # low harmonics give lumpy, person/object-like outlines
        profile += rng.uniform(0, 0.35 / k) * np.sin(k * angles + rng.uniform(0, 2 * math.pi))
    stretch = rng.uniform(0.6, 1.6)  # tall or wide objects
    xs = cx + radius * profile * np.cos(angles) * math.sqrt(stretch)
    ys = cy + radius * profile * np.sin(angles) / math.sqrt(stretch)
    pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
    canvas = np.zeros((h, w), np.uint8)
    cv2.fillPoly(canvas, [pts], 255)
    # Users paint a margin around the object: grow the outline a little.
    grow = max(1, int(radius * rng.uniform(0.05, 0.2)))
    grown = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    return grown > 0


def training_mask(
    h: int, w: int, rng: np.random.Generator, scale: tuple[float, float] = (0.75, 1.5)
) -> np.ndarray:
    """The training mix: strokes (+ official box), blobs, or both; never empty.

    Stroke lengths and widths are the official ones at size/256 times a factor drawn from `scale`
    (larger factors train the wide holes users paint at full working size).
    """
    kind = rng.random()
    s = _scale(h, w, None) * rng.uniform(*scale)
    if kind < 0.35:
        mask = stroke_mask(h, w, rng, s) | box_mask(h, w, rng)
    elif kind < 0.65:
        mask = stroke_mask(h, w, rng, s)
    elif kind < 0.9:
        mask = blob_mask(h, w, rng)
    else:
        mask = blob_mask(h, w, rng, (0.02, 0.1)) | stroke_mask(h, w, rng, s * 0.7)
    if not mask.any():
        mask[h // 4 : h // 2, w // 4 : w // 2] = True
    return mask


def eval_mask(
    h: int, w: int, seed: int, coverage: tuple[float, float] = (0.08, 0.34)
) -> np.ndarray:
    """A fixed free-form mask for evaluation whose hole covers `coverage` of the frame."""
    rng = np.random.default_rng(seed)
    lo, hi = coverage
    for _ in range(1000):
        mask = stroke_mask(h, w, rng)
        frac = mask.mean()
        if frac < lo:
            mask |= stroke_mask(h, w, rng)
            frac = mask.mean()
        if lo <= frac <= hi:
            return mask
    raise RuntimeError("could not draw a mask in the requested coverage range")


def coverage(mask: np.ndarray) -> float:
    """Fraction of the frame that is hole."""
    return float(np.asarray(mask, bool).mean())
