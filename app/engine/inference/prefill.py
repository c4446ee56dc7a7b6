"""Classical pre-fill of the hole, the starting point of models configured with prefill="telea".

Training and inference must call exactly this function so the network sees the same input.
"""

from __future__ import annotations

import cv2
import numpy as np

TELEA_RADIUS = 5


def prefill_telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """image H x W x 3 uint8, mask H x W bool (True = hole) -> image with the hole filled by Telea."""
    if not mask.any():
        return image.copy()
    return cv2.inpaint(
        np.ascontiguousarray(image), mask.astype(np.uint8) * 255, TELEA_RADIUS, cv2.INPAINT_TELEA
    )
