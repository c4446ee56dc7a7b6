"""Texture figures of a fill, per connected hole (definitions: docs/texture.md).

* struct: PSNR of the hole after result and truth are both shrunk so the hole's box is about
  48 px (with half a box of surroundings): colours and shapes, texture ignored.
* swd: sliced Wasserstein distance between the 7 x 7 patches of the high-pass grey image (grey
  minus its Gaussian blur, sigma 2) inside the slightly eroded hole, result vs. truth: is it the
  same kind of texture (a blur or a smear scores badly, a different but plausible blade of grass
  well).
* hf: standard deviation of that high-pass in the hole, result / truth (1 = as detailed as the
  photo; below ~0.85 looks soft).
* seam: mean gradient magnitude in a 5 px band along the hole's outline, result / truth (above
  ~1.15 the outline shows; a blur reads below 1).

Summaries: mean struct and swd, median hf and seam over all holes (as the shared benchmark).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

STRUCT_SIDE = 48.0  # the hole's box side (px) at which struct compares
PATCH = 7  # swd patch side
MAX_PATCHES = 4000  # patches drawn per hole for swd
PROJECTIONS = 128  # random directions for swd
MIN_PATCHES = 50  # holes with fewer interior patches get no swd


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def high_pass(grey: np.ndarray) -> np.ndarray:
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


def _gradient(grey: np.ndarray) -> np.ndarray:
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def _patch_rows(hp: np.ndarray, where: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flattened PATCH x PATCH patches of `hp` centred on (a sample of) the True pixels."""
    r = PATCH // 2
    inner = where[r : where.shape[0] - r, r : where.shape[1] - r]
    ys, xs = np.nonzero(inner)
    if ys.size > MAX_PATCHES:
        pick = rng.choice(ys.size, MAX_PATCHES, replace=False)
        ys, xs = ys[pick], xs[pick]
    windows = np.lib.stride_tricks.sliding_window_view(hp, (PATCH, PATCH))
    return windows[ys, xs].reshape(ys.size, -1)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Mean distance between the quantiles of a and b projected on random unit directions."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(a.shape[1], PROJECTIONS))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    levels = np.linspace(0.0, 1.0, 200)
    qa = np.quantile(a @ directions, levels, axis=0)
    qb = np.quantile(b @ directions, levels, axis=0)
    return float(np.abs(qa - qb).mean())


def hole_figures(result: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> list[dict]:
    """struct / swd / hf / seam for every connected hole of `mask` (RGB uint8 images)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    g_truth, g_result = _grey(truth), _grey(result)
    hp_truth, hp_result = high_pass(g_truth), high_pass(g_result)
    grad_truth, grad_result = _gradient(g_truth), _gradient(g_result)
    h, w = mask.shape
    rows = []
    for label in range(1, count):
        hole = labels == label
        ys, xs = np.nonzero(hole)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        side = max(y1 - y0, x1 - x0)
        pad = side // 2
        Y0, Y1, X0, X1 = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
        f = STRUCT_SIDE / side
        size = (max(1, round((X1 - X0) * f)), max(1, round((Y1 - Y0) * f)))
        a = cv2.resize(truth[Y0:Y1, X0:X1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
        b = cv2.resize(result[Y0:Y1, X0:X1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
        small = cv2.resize(hole[Y0:Y1, X0:X1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        mse = float(((a - b) ** 2)[small > 0].mean()) if small.any() else 0.0
        struct = 10 * math.log10(255.0**2 / max(mse, 1e-6))
        inner = cv2.erode(hole.astype(np.uint8), np.ones((PATCH, PATCH), np.uint8)) > 0
        rng = np.random.default_rng(0)
        pt = _patch_rows(hp_truth, inner, rng)
        pr = _patch_rows(hp_result, inner, np.random.default_rng(0))
        swd = sliced_wasserstein(pr, pt) if len(pt) > MIN_PATCHES else float("nan")
        hf = float(hp_result[inner].std() / max(hp_truth[inner].std(), 1e-3)) if inner.any() else float("nan")
        k5 = np.ones((5, 5), np.uint8)
        h8 = hole.astype(np.uint8)
        band = (cv2.dilate(h8, k5) - cv2.erode(h8, k5)) > 0
        seam = float(grad_result[band].mean() / max(grad_truth[band].mean(), 1e-3))
        rows.append({"struct": struct, "swd": swd, "hf": hf, "seam": seam})
    return rows


def summarise(rows: list[dict]) -> dict[str, float]:
    """Mean struct and swd, median hf and seam (NaNs ignored), and the hole count."""
    if not rows:
        return {"struct": float("nan"), "swd": float("nan"), "hf": float("nan"),
                "seam": float("nan"), "holes": 0}  # fmt: skip
    table = {k: np.array([r[k] for r in rows], float) for k in ("struct", "swd", "hf", "seam")}

    def agg(fn, values: np.ndarray) -> float:
        return float(fn(values)) if np.isfinite(values).any() else float("nan")

    return {
        "struct": agg(np.nanmean, table["struct"]),
        "swd": agg(np.nanmean, table["swd"]),
        "hf": agg(np.nanmedian, table["hf"]),
        "seam": agg(np.nanmedian, table["seam"]),
        "holes": len(rows),
    }
