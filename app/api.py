"""Python API for scripts and notebooks: fill one photo, one file, or a whole folder.

    from app.api import inpaint, inpaint_file, inpaint_batch

    result = inpaint(photo, mask)                     # NumPy arrays or PIL images in, same kind out
    result = inpaint(photo, mask, sketch, strategy="crop", model="deepfill-studio-default")
    inpaint_file("shot.jpg", "shot_mask.png", "out/shot.jpg")          # keeps format + metadata
    report = inpaint_batch(["photos/"], "masks/", "out/", workers=2)   # what `batch` runs

Options are the fields of `app.engine.types.InpaintOptions` (strategy, working_size, grow_mask,
bf16, cra, ...), given as keyword arguments. The model is loaded once per (model, device,
threads) and kept for later calls. The command line (`inpaint`, `batch`) runs through these
functions: there is one fill path.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .engine.types import EngineError, InpaintOptions
from .fill_file import FileResult, PathLike, inpaint_file, load_inpainter, run

if TYPE_CHECKING:  # torch is imported only when a fill actually runs
    from .batch import BatchReport
    from .engine.inference.pipeline import Inpainter

__all__ = [
    "FileResult", "ImageLike", "inpaint", "inpaint_batch", "inpaint_file", "load_inpainter",
    "make_options", "run",
]

ImageLike = np.ndarray | Image.Image


def make_options(**options: Any) -> InpaintOptions:
    """InpaintOptions from keyword arguments; an unknown name is a TypeError naming the valid ones."""
    names = {f.name for f in dataclasses.fields(InpaintOptions)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    return InpaintOptions(**options)


# --------------------------------------------------------------------------- arrays, PIL images


def _rgb_and_alpha(image: ImageLike) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = np.asarray(image.convert("RGBA"))
            return np.ascontiguousarray(rgba[..., :3]), rgba[..., 3].copy()
        return np.asarray(image.convert("RGB")), None
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise EngineError(f"the image must be uint8 (0-255), got {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2), None
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr), None
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr[..., :3]), arr[..., 3].copy()
    raise EngineError(f"the image must be H x W, H x W x 3 or H x W x 4, got shape {arr.shape}")


def _plane(value: ImageLike, name: str) -> np.ndarray:
    """A mask or sketch as bool H x W: any non-zero pixel (in any channel) is set."""
    if isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGBA") if value.mode == "P" else value)
    arr = np.asarray(value)
    if arr.ndim == 3:
        arr = np.asarray(arr.any(axis=2) if arr.dtype == np.bool_ else (arr != 0).any(axis=2))
    if arr.ndim != 2:
        raise EngineError(f"the {name} must be a 2-D array or an image, got shape {arr.shape}")
    return arr.astype(bool)


def inpaint(
    image: ImageLike,
    mask: ImageLike,
    sketch: ImageLike | None = None,
    *,
    model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    inpainter: Inpainter | None = None,
    **options: Any,
) -> ImageLike:
    """Fill the masked part of `image` and return the result.

    image: H x W x 3 (or x 4, alpha kept) uint8 NumPy array, or a PIL image of any mode.
    mask: same size; non-zero = hole. sketch: same size, non-zero = guide line (optional).
    The result is of the image's kind (NumPy array or PIL image) and equal to it, byte for
    byte, outside the hole. `options`: InpaintOptions fields (strategy="crop", ...).
    Raises EngineError (one clear sentence) for bad input.
    """
    opts = make_options(**options)
    rgb, alpha = _rgb_and_alpha(image)
    hole = _plane(mask, "mask")
    lines = _plane(sketch, "sketch") if sketch is not None else None
    filler = inpainter or load_inpainter(model, device, threads)
    out = run(filler, rgb, hole, lines, opts).image
    if isinstance(image, Image.Image):
        if alpha is not None:
            return Image.fromarray(np.dstack([out, alpha]), "RGBA")
        return Image.fromarray(out, "RGB")
    return np.dstack([out, alpha]) if alpha is not None else out


# --------------------------------------------------------------------------- folders


def inpaint_batch(
    photos: Sequence[PathLike] | PathLike,
    masks: PathLike,
    out_dir: PathLike,
    *,
    sketches: PathLike | None = None,
    resume: bool = False,
    workers: int = 1,
    ray: str | None = None,
    model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    quality: int | None = 95,
    progress: bool | None = None,
    ray_cpus: int | None = None,
    **options: Any,
) -> BatchReport:
    """Fill a folder (or list) of photos: what `python main.py batch` runs.

    masks: a folder with one mask per photo by file stem, or one mask file for every photo.
    Results go to `out_dir` under each photo's name and format, with `report.json` beside
    them. `workers`: local processes (each loads the model once); `ray`: "local" to start a
    Ray instance for the run (with `ray_cpus` CPUs, default all), or a cluster address. A photo that fails does not stop the
    others: see `report.failed`. `progress`: True = a bar, False = one line per photo, None =
    a bar on a terminal. Raises EngineError for bad arguments.
    """
    from .batch import BatchSettings, plan, run_batch

    if isinstance(photos, str | os.PathLike):
        photos = [photos]
    jobs = plan(photos, masks, out_dir, sketches)
    settings = BatchSettings(
        model=model, device=device, options=make_options(**options), quality=quality
    )
    return run_batch(
        jobs, settings, Path(out_dir), resume=resume, workers=workers, ray=ray,
        threads=threads, progress=progress, ray_cpus=ray_cpus,
    )
