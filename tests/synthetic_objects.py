"""Synthetic photos with a pasted object of known shape on a textured background."""

from __future__ import annotations

import cv2
import numpy as np


def textured_background(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colour gradient, blotches and grain: something GrabCut has to model."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            90 + 60 * xx / w + 20 * np.sin(yy / 23.0),
            120 + 40 * yy / h + 15 * np.cos(xx / 31.0),
            70 + 30 * (xx + yy) / (w + h),
        ],
        axis=2,
    )
    blotches = cv2.GaussianBlur(rng.normal(0, 40, (h, w, 3)).astype(np.float32), (0, 0), 6)
    grain = rng.normal(0, 8, (h, w, 3)).astype(np.float32)
    return np.clip(base + blotches + grain, 0, 255).astype(np.uint8)


def object_shape(kind: str, h: int, w: int, cx: int, cy: int, r: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    if kind == "disc":
        cv2.circle(mask, (cx, cy), r, 1, -1)
    elif kind == "ellipse":
        cv2.ellipse(mask, (cx, cy), (r, int(r * 0.6)), 25, 0, 360, 1, -1)
    elif kind == "star":
        angles = np.linspace(0, 2 * np.pi, 11)[:-1] - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.55)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    elif kind == "ell":  # an L: a concave object
        cv2.rectangle(mask, (cx - r, cy - r), (cx - r // 3, cy + r), 1, -1)
        cv2.rectangle(mask, (cx - r, cy + r // 3), (cx + r, cy + r), 1, -1)
    else:
        raise ValueError(kind)
    return mask.astype(bool)


def pasted_object_photo(
    kind: str, h: int = 360, w: int = 480, seed: int = 0, colour=(200, 40, 50)
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """(photo, object mask, loose box around the object)."""
    rng = np.random.default_rng(seed + 100)
    img = textured_background(h, w, seed)
    r = min(h, w) // 5
    cx, cy = w // 2 + int(rng.integers(-w // 8, w // 8)), h // 2 + int(rng.integers(-h // 8, h // 8))
    obj = object_shape(kind, h, w, cx, cy, r)
    texture = np.array(colour, np.float32) + rng.normal(0, 10, (h, w, 3)).astype(np.float32)
    shade = (0.8 + 0.2 * np.linspace(0, 1, w, dtype=np.float32))[None, :, None]
    paint = np.clip(texture * shade, 0, 255).astype(np.uint8)
    img[obj] = paint[obj]
    # soften the pasted edge a little, as a real photo would have
    soft = cv2.GaussianBlur(img, (3, 3), 0)
    edge = cv2.dilate(obj.view(np.uint8), np.ones((3, 3), np.uint8)) ^ cv2.erode(
        obj.view(np.uint8), np.ones((3, 3), np.uint8)
    )
    img[edge > 0] = soft[edge > 0]
    ys, xs = np.nonzero(obj)
    margin = int(0.12 * max(np.ptp(xs), np.ptp(ys)))
    box = (
        max(0, int(xs.min()) - margin),
        max(0, int(ys.min()) - margin),
        min(w, int(xs.max()) + 1 + margin),
        min(h, int(ys.max()) + 1 + margin),
    )
    return img, obj, box


def coverage(selected: np.ndarray, obj: np.ndarray) -> tuple[float, float]:
    """(share of the object covered, extra area as a share of the object's area)."""
    area = float(obj.sum())
    return float((selected & obj).sum()) / area, float((selected & ~obj).sum()) / area
