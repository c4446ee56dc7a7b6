"""Rectangles, bounding boxes and mask growth (pure numpy/OpenCV, no Qt, no torch).

The one geometry module of the project: the engine (strategies, texture stage, pipeline), the
document and undo commands, the mask tools and the autosave all use it. Two conventions, named
apart: a `Rect` is (x, y, w, h), as in the document and the engine's results; a `Box` is
(x0, y0, x1, y1) with x1, y1 exclusive, as in slicing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

LABEL_SIZE = 1024  # hole regions are labelled on a max-pooled mask of about this size

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
Rect = tuple[int, int, int, int]  # x, y, w, h


def clip_rect(rect: Rect, width: int, height: int) -> Rect:
    """Intersect rect with the image; the result may be empty (w or h == 0)."""
    x, y, w, h = rect
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    """The smallest rect holding both (an empty or missing one is ignored)."""
    if a is None or a[2] <= 0 or a[3] <= 0:
        return b
    if b is None or b[2] <= 0 or b[3] <= 0:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def bounding_rect(arr: np.ndarray) -> Rect | None:
    """Bounding rect of the non-zero pixels of a 2-D (or H x W x C) array, None if all zero."""
    if arr.ndim == 3 and arr.dtype in (np.uint8, np.bool_) and arr.size:
        # The channels side by side as one wide plane: columns x*C .. x*C+C-1 are pixel x
        # (much faster than reducing the channels first on a large photo).
        c = arr.shape[2]
        wide = bounding_rect(np.ascontiguousarray(arr).reshape(arr.shape[0], -1))
        if wide is None:
            return None
        x0, x1 = wide[0] // c, -(-(wide[0] + wide[2]) // c)
        return (x0, wide[1], x1 - x0, wide[3])
    nz = arr if arr.ndim == 2 else np.asarray(arr.any(axis=2))
    if nz.dtype in (np.uint8, np.bool_) and nz.size:
        # OpenCV's bounding box is about 10x faster than numpy's on a 50 MP layer
        x, y, w, h = cv2.boundingRect(np.ascontiguousarray(nz).view(np.uint8))
        return (int(x), int(y), int(w), int(h)) if w > 0 and h > 0 else None
    box = bbox(nz)
    return None if box is None else box_to_rect(box)


def box_to_rect(box: Box) -> Rect:
    x0, y0, x1, y1 = box
    return (x0, y0, x1 - x0, y1 - y0)


def changed_rect(before: np.ndarray, after: np.ndarray) -> Rect | None:
    """Bounding rect of the pixels that differ between two same-shaped arrays."""
    if before.dtype == np.uint8 and after.dtype == np.uint8 and before.ndim in (2, 3):
        return bounding_rect(cv2.absdiff(before, after))
    return bounding_rect(before != after)


def changed_rect_in_hole(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> Rect:
    """Rect bounding the pixels that differ (only hole pixels can); the hole's if none do,
    (0, 0, 0, 0) without a hole."""
    box = bbox(mask)
    if box is None:
        return 0, 0, 0, 0
    x0, y0, x1, y1 = box
    inner = changed_rect(before[y0:y1, x0:x1], after[y0:y1, x0:x1])
    if inner is None:
        return box_to_rect(box)
    return x0 + inner[0], y0 + inner[1], inner[2], inner[3]


def grow_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate (px > 0) or erode (px < 0) a mask by a Euclidean distance of |px| pixels.

    A bool mask gives a bool mask, a 0/255 uint8 layer a 0/255 layer. Works on the mask's
    bounding box only and uses a distance transform, so the cost does not grow with px (a
    101 x 101 kernel on a 50 MP photo would take seconds).
    """
    out = mask.copy()
    if px == 0:
        return out
    box = bounding_rect(mask)
    if box is None:
        return out
    h, w = mask.shape
    pad = abs(px) + 2
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(w, box[0] + box[2] + pad), min(h, box[1] + box[3] + pad)
    sub = mask[y0:y1, x0:x1] > 0
    if px > 0:
        # distance of every non-hole pixel to the nearest hole pixel
        dist = cv2.distanceTransform((~sub).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        new = dist <= px
    else:
        # distance of every hole pixel to the nearest non-hole pixel (image border counts)
        padded = np.pad(sub, 1, constant_values=False)
        dist = cv2.distanceTransform(padded.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        new = dist[1:-1, 1:-1] > -px
    if out.dtype == np.bool_:
        out[y0:y1, x0:x1] = new
    else:
        out[y0:y1, x0:x1] = new.view(np.uint8) * np.uint8(255)
    return out


def bbox(mask: np.ndarray) -> Box | None:
    """Bounding box (x0, y0, x1, y1 exclusive) of the True pixels; None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def hole_regions(mask: np.ndarray) -> list[Box]:
    """Bounding boxes of the connected hole regions (8-connected, labelled on a pooled mask, so
    regions closer than the pooling factor count as one)."""
    box = bbox(mask)
    if box is None:
        return []
    bx0, by0, bx1, by1 = box
    part = mask[by0:by1, bx0:bx1]
    f = max(1, math.ceil(max(part.shape) / LABEL_SIZE))
    if f > 1:
        ph, pw = -(-part.shape[0] // f), -(-part.shape[1] // f)
        padded = np.zeros((ph * f, pw * f), bool)
        padded[: part.shape[0], : part.shape[1]] = part
        part_small = np.asarray(padded.reshape(ph, f, pw, f).any(axis=(1, 3)))
    else:
        part_small = part
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        part_small.astype(np.uint8), connectivity=8
    )
    regions = []
    for x, y, w, h, _ in stats[1:count]:
        x0, y0 = bx0 + int(x) * f, by0 + int(y) * f
        x1, y1 = min(bx0 + int(x + w) * f, bx1), min(by0 + int(y + h) * f, by1)
        tight = bbox(mask[y0:y1, x0:x1])  # undo the pooling's overshoot
        if tight is not None:
            regions.append((x0 + tight[0], y0 + tight[1], x0 + tight[2], y0 + tight[3]))
    return regions
