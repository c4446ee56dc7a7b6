"""Masks and sketches: any image of the photo's size, non-zero = set (lossy files thresholded)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from app.metadata import (
    orient_array,
    oriented_size,
    read_exif,
)

from .convert import _expand_palette, _is_16bit_rgb, _read16
from .formats import ImageLoadError
from .load import (
    _limit,
    _load_failure,
    _opened,
    _pillow_rotated,
    _pillow_session,
    _stat_readable,
    _stored_size,
)

log = logging.getLogger(__name__)


def _webp_is_lossy(path: Path) -> bool:
    """True when a WebP file's image data is lossy VP8 (rather than lossless VP8L)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
                return False
            for _ in range(64):  # walk the RIFF chunks; the image chunk comes early
                chunk = f.read(8)
                if len(chunk) < 8:
                    return False
                kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if kind == b"VP8 ":
                    return True
                if kind == b"VP8L":
                    return False
                f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return False
    return False


def _binary_planes(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour H x W x C, alpha H x W or None) of a mask, keeping values as stored."""
    mode = im.mode
    if mode in ("P", "PA"):
        im = _expand_palette(im)
        mode = im.mode
    elif mode == "La":
        im, mode = im.convert("LA"), "LA"
    elif mode == "RGBa":
        im, mode = im.convert("RGBA"), "RGBA"
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "F", "I") and not mode.startswith("I;16"):
        im, mode = im.convert("RGB"), "RGB"
    arr = np.asarray(im)
    if arr.ndim == 2:
        return arr[..., None], None
    if mode in ("LA", "RGBA"):
        return arr[..., :-1], arr[..., -1]
    return arr, None


def _load_binary(path: str | os.PathLike[str], size: tuple[int, int], what: str) -> np.ndarray:
    p = Path(path)
    _stat_readable(p, what)
    want = (int(size[0]), int(size[1]))
    limit = _limit(None)
    with _pillow_session(), _opened(p, what, limit) as im:
        try:
            sixteen = _is_16bit_rgb(im)  # before read_exif, which may decode a PNG
            stored = _stored_size(im)
            if stored not in (want, want[::-1]):  # wrong either way: no need to read EXIF
                raise ImageLoadError(
                    f"The {what} file '{p}' is {stored[0]}x{stored[1]} but the image is "
                    f"{want[0]}x{want[1]}."
                )
            try:
                _, orientation = read_exif(im)
            except Exception:
                orientation = 1
            got = oriented_size(stored, orientation)
            if got != want:  # refused from the header, before decoding anything
                hint = " (it looks rotated by 90 degrees)" if got == want[::-1] else ""
                raise ImageLoadError(
                    f"The {what} file '{p}' is {got[0]}x{got[1]} but the image is "
                    f"{want[0]}x{want[1]}{hint}."
                )
            lossy = im.format == "JPEG" or (im.format == "WEBP" and _webp_is_lossy(p))
            # 16-bit colour is read exactly: a stored 3 out of 65535 must stay non-zero.
            raw16 = _read16(p, im.format or "") if sixteen else None
            if raw16 is not None:
                planes = raw16[0], raw16[1]
                if raw16[2]:
                    orientation = 1
            else:
                im.load()
                if _pillow_rotated(im, orientation):
                    orientation = 1
                planes = _binary_planes(im)
        except ImageLoadError:
            raise
        except Exception as e:
            raise _load_failure(p, what, e, im.size) from None
    return orient_array(_hole(planes[0], planes[1], lossy), orientation)


def _hole(colour: np.ndarray, alpha: np.ndarray | None, lossy: bool) -> np.ndarray:
    """Apply the mask contract to decoded planes. See load_mask for the rules."""
    if colour.dtype == np.bool_:
        painted = colour[..., 0].copy()
    else:
        c = colour.max(axis=2) if colour.shape[2] > 1 else colour[..., 0]
        if c.dtype.kind == "f":
            c = np.nan_to_num(c, nan=0.0)
        painted = c > 127 if lossy else c != 0
    if alpha is None:
        return painted
    opaque = alpha > 127 if lossy else alpha > 0
    flat = colour.reshape(-1, colour.shape[2])
    colour_uniform = bool((flat == flat[:1]).all())
    alpha_uniform = bool((alpha == alpha.flat[0]).all())
    if colour_uniform and not alpha_uniform:
        return opaque
    return painted & opaque


def load_mask(path: str | os.PathLike[str], size: tuple[int, int]) -> np.ndarray:
    """Read a mask as H x W bool (True = hole) for an image of `size` = (w, h).

    Contract: any non-zero pixel is a hole (all channels are looked at, so a red stroke
    counts). Accepted: 1-bit, L, I;16, RGB(A), palette (with transparency), LA. The mask
    file's own EXIF orientation is applied first.
    - Masks with alpha whose colour is the same everywhere (e.g. white strokes painted on a
      transparent layer) are read from the alpha channel; otherwise fully transparent pixels
      are never holes.
    - Lossy files (JPEG, lossy WebP) blur the edge values, so they are thresholded at > 127
      instead of non-zero.
    Raises ImageLoadError, including when the sizes differ ("is 640x480 but the image is ...").
    """
    return _load_binary(path, size, "mask")


def load_sketch(path: str | os.PathLike[str], size: tuple[int, int]) -> np.ndarray:
    """Read a sketch (white lines on black) as H x W bool, True = line. Same rules as load_mask."""
    return _load_binary(path, size, "sketch")
