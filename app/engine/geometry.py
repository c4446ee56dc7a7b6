"""Rectangles and hole regions of masks (pure numpy/OpenCV), shared by the strategies and the
texture stage."""

from __future__ import annotations

import math

import cv2
import numpy as np

LABEL_SIZE = 1024  # hole regions are labelled on a max-pooled mask of about this size

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


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
        part_small = padded.reshape(ph, f, pw, f).any(axis=(1, 3))
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
