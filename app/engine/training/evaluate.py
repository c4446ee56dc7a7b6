"""Evaluation on held-out photos: fixed seeded masks and sketches; PSNR / SSIM / L1 over the
whole image and over the hole, for a model (with and without the sketch) and for OpenCV's
Telea and Navier-Stokes fills on exactly the same cases.

The held-out rule (shared with training, which never sees these files): sort the image file
names, and every 7th file starting with the first (index % 7 == 0) is validation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .fill_metrics import hole_figures, summarise
from .masks import eval_mask
from .sketch import hole_sketch, user_sketch

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
HOLDOUT_EVERY = 7
CLASSICAL_RADIUS = 5

# fill(image RGB uint8, mask bool, sketch bool | None) -> filled RGB uint8
FillFn = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder, sorted by name (the order the held-out rule uses)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def split_holdout(paths: Sequence[Path], every: int = HOLDOUT_EVERY) -> tuple[list, list]:
    """(train, validation): validation = every `every`-th file of the sorted list, from index 0."""
    ordered = sorted(paths, key=lambda p: Path(p).name)
    val = [p for i, p in enumerate(ordered) if i % every == 0]
    train = [p for i, p in enumerate(ordered) if i % every != 0]
    return train, val


def read_rgb(path: str | Path, long_side: int | None = None) -> np.ndarray:
    """Read an image as RGB uint8, optionally downscaled (area) so its long side is `long_side`."""
    data = np.fromfile(str(path), np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image: {path}")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    if long_side is not None:
        rgb = resize_long_side(rgb, long_side)
    return rgb


def resize_long_side(rgb: np.ndarray, long_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = long_side / max(h, w)
    if s >= 1.0:
        return rgb
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------ metrics


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """PSNR in dB of uint8 images (peak 255), optionally over a bool region only; inf if equal."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    if region is not None:
        diff = diff[np.asarray(region, bool)]
    mse = float(np.mean(diff**2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def l1(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean absolute error in [0, 1] units (uint8 / 255)."""
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64)) / 255.0
    if region is not None:
        diff = diff[np.asarray(region, bool)]
    return float(diff.mean())


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Gaussian window sigma 1.5, Wang et al. constants), averaged over channels."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    s = num / den
    return s.mean(axis=2) if s.ndim == 3 else s


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    s = ssim_map(a, b)
    return float(s[np.asarray(region, bool)].mean() if region is not None else s.mean())


def metrics(result: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    return {
        "psnr": psnr(result, truth),
        "psnr_hole": psnr(result, truth, mask),
        "ssim": ssim(result, truth),
        "ssim_hole": ssim(result, truth, mask),
        "l1": l1(result, truth),
        "l1_hole": l1(result, truth, mask),
    }


# ------------------------------------------------------------------ cases and methods


@dataclass
class EvalCase:
    name: str
    image: np.ndarray  # RGB uint8, the ground truth
    mask: np.ndarray  # bool, True = hole
    sketch: np.ndarray  # bool, inside the hole: the original's edges, or user-like strokes


EVAL_SKETCH_STYLES = ("canny", "user")


def make_cases(
    paths: Sequence[Path],
    long_side: int = 512,
    masks_per_image: int = 2,
    seed: int = 0,
    sketch_style: str = "canny",
) -> list[EvalCase]:
    """Fixed cases: each photo at `long_side`, with seeded free-form masks (8-34% of the frame).

    `sketch_style`: "canny" gives every edge of the original inside the hole (the most a sketch
    can tell); "user" gives seeded strokes as a user draws them (1-4 of the main edges, partial,
    1-4 px wide, up to 2 px off the true line; `sketch.user_sketch`)."""
    if sketch_style not in EVAL_SKETCH_STYLES:
        raise ValueError(f"sketch style must be one of {EVAL_SKETCH_STYLES}, not {sketch_style!r}")
    cases = []
    for i, path in enumerate(sorted(paths, key=lambda p: Path(p).name)):
        image = read_rgb(path, long_side)
        h, w = image.shape[:2]
        for k in range(masks_per_image):
            case_seed = seed * 100003 + i * 101 + k
            mask = eval_mask(h, w, seed=case_seed)
            if sketch_style == "user":
                sketch = user_sketch(image, mask, np.random.default_rng(case_seed))
            else:
                sketch = hole_sketch(image, mask)
            cases.append(EvalCase(f"{Path(path).name}#{k}", image, mask, sketch))
    return cases


def classical(flag: int) -> FillFn:
    def fill(image: np.ndarray, mask: np.ndarray, sketch: np.ndarray | None = None) -> np.ndarray:
        return cv2.inpaint(image, mask.astype(np.uint8) * 255, CLASSICAL_RADIUS, flag)

    return fill


def model_fills(model, bf16: bool = False, texture: bool = False) -> dict[str, FillFn]:
    """'model' and 'model+sketch' fills through the real pipeline (strategy "full", no growing),
    the network alone; with `texture`, also both with the texture stage ('...+texture').

    `model` is a LoadedModel (app.engine.checkpoints.weights) or a bare Generator.
    """
    from ..checkpoints.weights import LoadedModel
    from ..inference.pipeline import Inpainter
    from ..types import InpaintOptions, InpaintRequest

    if not isinstance(model, LoadedModel):
        model = LoadedModel(generator=model.eval(), config=model.config, color_order="RGB")
    inpainter = Inpainter(model, device="cpu")
    sketches = model.capabilities.sketch

    def fill(use_texture: bool, use_sketch: bool) -> FillFn:
        options = InpaintOptions(strategy="full", grow_mask=0, bf16=bf16, texture=use_texture)

        def run(image: np.ndarray, mask: np.ndarray, sketch: np.ndarray | None = None) -> np.ndarray:
            given = sketch if use_sketch else None
            request = InpaintRequest(image=image, mask=mask, sketch=given, options=options)
            return inpainter.run(request).image

        return run

    fills: dict[str, FillFn] = {}
    for use_texture in (False, True) if texture else (False,):
        for use_sketch in (False, True) if sketches else (False,):
            name = "model" + ("+sketch" if use_sketch else "") + ("+texture" if use_texture else "")
            fills[name] = fill(use_texture, use_sketch)
    return fills


def default_methods(model=None, bf16: bool = False, texture: bool = False) -> dict[str, FillFn]:
    methods: dict[str, FillFn] = {
        "telea": classical(cv2.INPAINT_TELEA),
        "navier-stokes": classical(cv2.INPAINT_NS),
    }
    if model is not None:
        methods.update(model_fills(model, bf16, texture))
    return methods


def evaluate(cases: Sequence[EvalCase], methods: dict[str, FillFn], figures: bool = False) -> dict:
    """Run every method on every case; returns {"methods": {name: mean metrics}, "cases": [...]}.
    With `figures`, each method also gets the texture figures over all holes (fill_metrics)."""
    per_case = []
    sums: dict[str, dict[str, list[float]]] = {name: {} for name in methods}
    holes: dict[str, list[dict]] = {name: [] for name in methods}
    for case in cases:
        row = {"name": case.name, "hole_fraction": float(case.mask.mean())}
        for name, fill in methods.items():
            result = fill(case.image, case.mask, case.sketch)
            m = metrics(result, case.image, case.mask)
            row[name] = m
            for key, value in m.items():
                sums[name].setdefault(key, []).append(value)
            if figures:
                holes[name].extend(hole_figures(result, case.image, case.mask))
        per_case.append(row)
    # PSNR is averaged in dB per case (the usual convention); inf (exact) cases are kept as inf.
    means = {name: {k: float(np.mean(v)) for k, v in ms.items()} for name, ms in sums.items()}
    if figures:
        for name in methods:
            means[name].update(summarise(holes[name]))
    return {"methods": means, "cases": per_case, "count": len(per_case)}


def format_table(report: dict) -> str:
    cols = ["psnr_hole", "ssim_hole", "l1_hole", "psnr", "ssim", "l1"]
    first: dict[str, float] = next(iter(report["methods"].values()), {})
    cols += [c for c in ("struct", "swd", "hf", "seam") if c in first]
    lines = [f"{'method':<22}" + "".join(f"{c:>11}" for c in cols)]
    for name, m in report["methods"].items():
        lines.append(f"{name:<22}" + "".join(f"{m[c]:>11.4f}" for c in cols))
    lines.append(f"({report['count']} cases)")
    return "\n".join(lines)


def write_json(report: dict, path: str | Path) -> None:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return str(x)
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    Path(path).write_text(json.dumps(clean(report), indent=2))


def save_examples(
    cases: Sequence[EvalCase], methods: dict[str, FillFn], folder: str | Path,
    names: Sequence[str] | None = None, tile: int = 256,
) -> list[Path]:
    """Side-by-side panels: input (hole shaded, sketch in red), each method, the original."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for case in cases:
        if names is not None and case.name not in names:
            continue
        shown = case.image.copy()
        shown[case.mask] = (shown[case.mask] * 0.3 + np.array([255, 255, 255]) * 0.7).astype(np.uint8)
        shown[case.sketch] = (220, 30, 30)
        tiles = [("input", shown)]
        tiles += [(name, fill(case.image, case.mask, case.sketch)) for name, fill in methods.items()]
        tiles.append(("original", case.image))
        h, w = case.image.shape[:2]
        size = (tile, max(1, round(h * tile / w)))
        row = []
        for label, img in tiles:
            small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            bar = np.full((18, tile, 3), 255, np.uint8)
            cv2.putText(bar, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
            row.append(np.vstack([bar, small]))
        panel = np.hstack(row)
        stem = case.name.replace("#", "_").rsplit(".", 1)[0] + f"_{case.name.rsplit('#', 1)[-1]}"
        path = folder / f"example_{stem}.jpg"
        cv2.imwrite(str(path), panel[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
        written.append(path)
    return written
