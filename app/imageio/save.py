"""Saving results atomically with the photo's metadata, masks, and the default output name."""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from app.engine.atomic import atomic_write
from app.metadata import (
    JPEG_EXIF_LIMIT,
    clean_dpi,
    exif_bytes,
    prepare_exif,
)
from app.metadata_text import (
    iptc_jpeg_segment,
)

from .formats import (
    _DEFAULT_EXT,
    _FORMAT_ALIASES,
    _SAVE_EXTS,
    _SAVE_FORMATS,
    _SAVE_LIST,
    ImageSaveError,
)
from .load import _reason
from .png import _png_bytes, _text_metadata_for

log = logging.getLogger(__name__)


def _save_format(path: Path, format: str | None) -> str:
    if format:
        fmt = format.upper().lstrip(".")
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in _DEFAULT_EXT:
            raise ImageSaveError(
                f"Cannot save '{path}': {format} is not a supported format ({_SAVE_LIST})."
            )
        return fmt
    by_suffix = _SAVE_FORMATS.get(path.suffix.lower())
    if by_suffix is None:
        shown = path.suffix or "(none)"
        raise ImageSaveError(
            f"Cannot save '{path}': the file extension {shown} is not one of {_SAVE_EXTS}."
        )
    return by_suffix


def _save_error(path: Path, e: BaseException) -> ImageSaveError:
    folder = path.parent
    if isinstance(e, OSError):
        code = e.errno
        if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return ImageSaveError(f"Cannot save '{path}': the disk is full.")
        if code in (errno.EACCES, errno.EPERM):
            return ImageSaveError(
                f"Cannot save '{path}': the folder '{folder}' is not writable (permission denied)."
            )
        if code == errno.EROFS:
            return ImageSaveError(f"Cannot save '{path}': the folder '{folder}' is read-only.")
        if code == errno.ENAMETOOLONG:
            return ImageSaveError(f"Cannot save '{path}': the file name is too long.")
        return ImageSaveError(f"Cannot save '{path}': {e.strerror or _reason(e)}.")
    if isinstance(e, MemoryError):
        return ImageSaveError(f"Cannot save '{path}': not enough memory to encode the image.")
    return ImageSaveError(f"Cannot save '{path}': the image could not be encoded ({_reason(e)}).")


def _atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """atomic_write with each failure told as one ImageSaveError sentence naming the file."""
    target = Path(path)
    try:
        if target.is_symlink():
            target = target.resolve()  # write through the link rather than replacing it
        target = target.absolute()
        folder = target.parent
        is_dir, folder_ok = target.is_dir(), folder.is_dir()
    except (OSError, ValueError) as e:
        raise ImageSaveError(f"Cannot save '{path}': {_reason(e)}.") from None
    if is_dir:
        raise ImageSaveError(f"Cannot save '{path}': it is a folder.")
    if not folder_ok:
        raise ImageSaveError(f"Cannot save '{path}': the folder '{folder}' does not exist.")
    try:
        atomic_write(target, write)
    except ImageSaveError:
        raise
    except Exception as e:  # KeyboardInterrupt and friends pass through unchanged
        raise _save_error(target, e) from None


def save_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    exif: bytes | Image.Exif | None = None,
    icc: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    quality: int = 95,
    format: str | None = None,
    xmp: bytes | str | None = None,
    iptc: bytes | None = None,
    text: Mapping[str, str] | None = None,
) -> None:
    """Write RGB uint8 (H x W x 3) atomically, keeping the metadata each format can hold.

    Format from `format` or the extension (.png, .jpg/.jpeg, .webp, .tif/.tiff). EXIF
    (Orientation forced to 1), ICC and DPI go into PNG, JPEG, WebP (DPI via EXIF) and TIFF.
    XMP (tiff:Orientation forced to 1, dimensions fixed) goes into all four; IPTC into JPEG
    (APP13) and TIFF (tag 33723); PNG `text` chunks into PNG. When there is no XMP and the
    format has no place for the IPTC or PNG text, their caption, keywords, title, creator
    and copyright are written as XMP instead. A JPEG segment over 64 KB is left out (logged).
    `alpha` is kept in PNG, WebP and TIFF and dropped for JPEG. `quality` applies to JPEG and
    lossy WebP (WebP at 100 is written lossless). Raises ImageSaveError.
    """
    p = Path(path)
    fmt = _save_format(p, format)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(
            f"save_image expects an H x W x 3 uint8 array, got {rgb.dtype} {rgb.shape}"
        )
    h, w = rgb.shape[:2]
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.dtype != np.uint8 or alpha.shape != (h, w):
            raise ValueError(
                f"alpha must be an H x W uint8 array matching {w}x{h}, got {alpha.dtype} {alpha.shape}"
            )
    dpi = clean_dpi(dpi) if dpi is not None else None
    quality = int(min(max(quality, 1), 100))

    prepared = prepare_exif(exif, (w, h), dpi=dpi, add_dpi=fmt == "WEBP")
    exif_data = None
    if prepared is not None:
        exif_data = exif_bytes(prepared, limit=JPEG_EXIF_LIMIT if fmt == "JPEG" else None)
    icc = bytes(icc) if icc else None
    xmp_data, iptc, text = _text_metadata_for(fmt, (w, h), xmp, iptc, text)

    if fmt == "PNG":
        planes = np.dstack([rgb, alpha]) if alpha is not None else rgb
        png = functools.partial(
            _png_bytes, planes, exif=exif_data, icc=icc, dpi=dpi, xmp=xmp_data, text=text
        )
        _atomic_write(p, lambda f: f.write(png()))
        return

    params: dict[str, Any] = {}
    if fmt == "TIFF" and (xmp_data or iptc):
        tags = Image.Exif()  # Pillow writes an Exif's tags (and sub-IFDs) into the TIFF IFD
        if exif_data:
            tags.load(exif_data)
        if xmp_data:
            tags[700] = xmp_data
        if iptc:
            tags[33723] = iptc
        params["exif"] = tags
    elif exif_data:
        params["exif"] = exif_data
    if xmp_data and fmt in ("JPEG", "WEBP", "HEIF"):
        params["xmp"] = xmp_data
    if iptc and fmt == "JPEG":
        params["extra"] = iptc_jpeg_segment(iptc) or b""
    if icc:
        params["icc_profile"] = icc
    if dpi and fmt not in ("WEBP", "HEIF"):  # neither has a DPI field (WebP: via EXIF)
        params["dpi"] = dpi
    if fmt == "JPEG":
        # 4:4:4 chroma at high quality so thin coloured edges of the fill stay crisp.
        params.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=False)
    elif fmt == "WEBP":
        # method 2 is ~2x faster than libwebp's default 4 for ~1% larger files. Lossless
        # reads `quality` as effort: a middle value keeps a 24 MP save to seconds.
        lossless = quality >= 100
        params.update(quality=40 if lossless else quality, lossless=lossless, method=2)
    elif fmt == "HEIF":
        params["quality"] = quality
    elif fmt == "TIFF":
        # Uncompressed: 20x faster than deflate on photos, readable everywhere, and the only
        # Pillow path that can write the Exif/GPS sub-IFDs (libtiff's cannot).
        params["compression"] = "raw"

    if alpha is not None and fmt != "JPEG":
        im = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        im = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    _atomic_write(p, lambda f: im.save(f, format=fmt, **params))



def save_mask(path: str | os.PathLike[str], mask: np.ndarray) -> None:
    """Write a bool mask (True = hole) as an 8-bit greyscale PNG with 0 / 255, atomically."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"save_mask expects an H x W array, got shape {m.shape}")
    grey = np.where(m.astype(bool), 255, 0).astype(np.uint8)
    _atomic_write(path, lambda f: f.write(_png_bytes(grey)))


_INPAINTED_SUFFIX = re.compile(r"_inpainted(_\d+)?$")


def default_output_path(
    image_path: str | os.PathLike[str], ext: str | None = None, *, overwrite: bool = False
) -> Path:
    """`<name>_inpainted.<ext>` next to the image, made unique with _2, _3 ... unless `overwrite`.

    `ext` (with or without the dot) defaults to the image's own extension when we can write
    that format, else .png. An input already named *_inpainted[_N] is not suffixed twice.
    """
    src = Path(image_path)
    if ext:
        suffix = ext if ext.startswith(".") else f".{ext}"
    else:
        suffix = src.suffix if src.suffix.lower() in _SAVE_FORMATS else ".png"
    stem = _INPAINTED_SUFFIX.sub("", src.stem) + "_inpainted"
    candidate = src.with_name(stem + suffix)
    if overwrite:
        return candidate
    n = 2
    while candidate.exists():
        candidate = src.with_name(f"{stem}_{n}{suffix}")
        n += 1
    return candidate
