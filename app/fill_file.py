"""One fill of one file, the path every headless fill takes (`inpaint`, `batch`, the Python API):
load the model once, read the photo, mask and sketch, fill, write the result with the photo's
metadata. `app.api` is the public face of these functions."""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .engine.types import InpaintOptions, InpaintRequest, InpaintResult

if TYPE_CHECKING:  # torch is imported only when a fill actually runs
    from .engine.inference.pipeline import Inpainter

PathLike = str | os.PathLike[str]


@functools.lru_cache(maxsize=4)
def load_inpainter(
    model: str | None = None, device: str = "auto", threads: int | None = None
) -> Inpainter:
    """The model `model` (installed name or file; None = the default) on `device`, loaded once
    and kept. `threads`: CPU threads (default: every core). Raises EngineError.

    The kept Inpainter serves one call at a time: threads that fill at once should each load
    their own (`app.engine.inference.pipeline.Inpainter.load`), or use `inpaint_batch(workers=N)`."""
    from .engine.inference.pipeline import Inpainter

    return Inpainter.load(model, device, threads)


def run(
    inpainter: Inpainter,
    image: np.ndarray,
    mask: np.ndarray,
    sketch: np.ndarray | None,
    options: InpaintOptions,
) -> InpaintResult:
    """The one fill call everything goes through: RGB uint8 + bool planes -> InpaintResult."""
    return inpainter.run(InpaintRequest(image, mask, sketch, options))


@dataclass
class FileResult:
    """What inpaint_file did: where the result went and how the fill ran."""

    output: Path
    size: tuple[int, int]  # (width, height)
    strategy: str
    device: str
    model: str
    timings: dict[str, float] = field(default_factory=dict)  # read, fill stages, save, total
    notes: list[str] = field(default_factory=list)  # user-facing remarks


def inpaint_file(
    photo: PathLike,
    mask: PathLike,
    output: PathLike,
    sketch: PathLike | None = None,
    *,
    model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
    inpainter: Inpainter | None = None,
    options: InpaintOptions | None = None,
    quality: int | None = 95,
    flow: PathLike | None = None,
) -> FileResult:
    """Fill `photo` with `mask` (and `sketch`) and write `output` atomically, keeping the photo's
    EXIF, XMP, IPTC, ICC, DPI and alpha. `quality` applies to JPEG/WebP/HEIC (None: the
    source's own estimated quality). `flow`: also write the attention flow image there.
    Raises EngineError (ImageLoadError, ImageSaveError, ModelFileError) with one sentence."""
    from . import imageio
    from .quiet import c_library_warnings_silenced

    started = time.perf_counter()
    # A first fill imports torch and loads the model (~1.5 s on a 2-core CPU): do that while the
    # files are decoded (the decoders release the GIL), not after.
    pool = ThreadPoolExecutor(max_workers=1)
    loading = pool.submit(load_inpainter, model, device, threads) if inpainter is None else None
    try:
        with c_library_warnings_silenced():
            loaded = imageio.load_image(photo)
            width, height = loaded.size
            hole = imageio.load_mask(mask, (width, height))
            lines = imageio.load_sketch(sketch, (width, height)) if sketch else None
        read_s = time.perf_counter() - started
        filler = loading.result() if loading is not None else inpainter
    finally:
        pool.shutdown(wait=False)  # a bad file is reported without waiting for the model
    assert filler is not None
    result = run(filler, loaded.rgb, hole, lines, options or InpaintOptions())
    saved_at = time.perf_counter()
    kwargs = loaded.save_kwargs()
    if quality is not None:
        kwargs["quality"] = quality  # the photo's metadata, the caller's quality
    imageio.save_image(Path(output), result.image, alpha=loaded.alpha, **kwargs)
    if flow and result.flow is not None:
        imageio.save_image(Path(flow), result.flow)
    done = time.perf_counter()
    stages = {k: v for k, v in result.timings.items() if k != "total"}
    timings = {
        "read": read_s,
        **stages,
        "fill": result.timings.get("total", saved_at - started - read_s),
        "save": done - saved_at,
        "total": done - started,
    }
    return FileResult(
        output=Path(output),
        size=(width, height),
        strategy=result.strategy,
        device=result.device,
        model=filler.model.name,
        timings={k: round(float(v), 4) for k, v in timings.items()},
        notes=loaded.notes + result.notes,
    )


