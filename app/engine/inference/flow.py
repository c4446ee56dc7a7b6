"""Colour coding of attention offsets: hue = direction, brightness = distance (Middlebury-like)."""

from __future__ import annotations

import cv2
import numpy as np


def flow_to_rgb(offsets: np.ndarray, max_distance: float | None = None) -> np.ndarray:
    """offsets [2, H, W] (rows, cols) -> H x W x 3 uint8 RGB; zero offset is black."""
    dy = offsets[0].astype(np.float32)
    dx = offsets[1].astype(np.float32)
    magnitude = np.hypot(dx, dy)
    if max_distance is None:
        max_distance = float(magnitude.max()) or 1.0
    angle = (np.degrees(np.arctan2(dy, dx)) + 360.0) % 360.0
    hsv = np.empty(dy.shape + (3,), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue is 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / max_distance * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
