"""Pixels of any mode to upright RGB uint8: 16-bit, float, CMYK (through its ICC profile),
palette, grayscale, alpha; EXIF orientation."""

from __future__ import annotations

import functools
import io
import logging
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile

from app.metadata import (
    ORIENTATION,
)

from .png import _png_chunk

log = logging.getLogger(__name__)


def _is_16bit_rgb(im: Image.Image) -> bool:
    """True for 16-bit-per-channel colour files that Pillow would cut to 8 bits itself."""
    if im.mode not in ("RGB", "RGBA", "LA") or im.format not in ("PNG", "TIFF"):
        return False
    tiles = im.tile if isinstance(im, ImageFile.ImageFile) else None  # a file's decoders
    return any(";16" in str(tile[-1]) for tile in (tiles or ()))


def _scale16(arr: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 with rounding (v / 257), not clipping or truncation."""
    v = arr.astype(np.uint32)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def _read16(path: Path, fmt: str) -> tuple[np.ndarray, np.ndarray | None, bool] | None:
    """Exact 16-bit planes of a PNG/TIFF via OpenCV (Pillow keeps only 8 bits of colour).

    Returns (colour H x W x C in RGB order, alpha or None, already_oriented) or None when
    OpenCV cannot read the file. Whether OpenCV applied the file's orientation differs
    between its decoders and versions, so it is measured once per format (see the probe).
    """
    import cv2  # only this path needs it

    data = np.fromfile(path, dtype=np.uint8)  # np.fromfile copes with non-ASCII paths
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        return None
    oriented = _cv2_applies_orientation(fmt)
    if arr.ndim == 2:
        return arr[..., None], None, oriented
    ch = arr.shape[2]
    if ch == 2:
        return arr[..., :1], arr[..., 1], oriented
    if ch == 3:
        return arr[..., ::-1], None, oriented
    if ch == 4:
        return arr[..., 2::-1], arr[..., 3], oriented
    return None


@functools.cache
def _cv2_applies_orientation(fmt: str) -> bool:
    """Does cv2.imdecode(IMREAD_UNCHANGED) apply EXIF orientation for `fmt`? Probed once.

    A 2 x 1 16-bit file with Orientation 2 (mirror) comes back swapped if it does.
    """
    import cv2

    pixels = np.array([[[1000, 2000, 3000], [4000, 5000, 6000]]], dtype=np.uint16)
    data = _tiff16_probe(pixels) if fmt == "TIFF" else _png16_probe(pixels)
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return out is not None and out.shape[:2] == (1, 2) and int(out[0, 0, 0]) == 6000


def _png16_probe(pixels: np.ndarray) -> bytes:
    import cv2

    ok, png = cv2.imencode(".png", pixels[..., ::-1])
    exif = Image.Exif()
    exif[ORIENTATION] = 2
    ihdr_end = 8 + 8 + 13 + 4
    raw = png.tobytes()
    return raw[:ihdr_end] + _png_chunk(b"eXIf", exif.tobytes()[6:]) + raw[ihdr_end:]


def _tiff16_probe(pixels: np.ndarray) -> bytes:
    """Minimal uncompressed little-endian 16-bit RGB TIFF with Orientation 2."""
    h, w, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    ifd_at = 8 + len(data)
    entries = [  # (tag, type 3=SHORT 4=LONG, value)
        (256, 4, w),
        (257, 4, h),
        (258, 3, 16),
        (259, 3, 1),
        (262, 3, 2),
        (273, 4, 8),
        (274, 3, 2),
        (277, 3, 3),
        (278, 4, h),
        (279, 4, len(data)),
        (284, 3, 1),
    ]
    bits_at = ifd_at + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        if tag == 258:  # three SHORTs do not fit in the entry: point at them
            ifd += struct.pack("<HHII", tag, kind, 3, bits_at)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, kind, 1, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, 1, value)
    ifd += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16)
    return b"II*\x00" + struct.pack("<I", ifd_at) + data + ifd


def _float_to_uint8(arr: np.ndarray) -> np.ndarray:
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if arr.size and arr.max() <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


_SRGB_BYTES: bytes | None = None


def _srgb_icc() -> bytes:
    global _SRGB_BYTES
    if _SRGB_BYTES is None:
        _SRGB_BYTES = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _SRGB_BYTES


def _cmyk_to_rgb(
    im: Image.Image, icc: bytes | None, notes: list[str]
) -> tuple[Image.Image, bytes | None]:
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(
                im, src, dst, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
            )
            if out is not None:
                notes.append("CMYK converted to RGB using the embedded colour profile.")
                return out, _srgb_icc()
        except Exception as e:  # an unusable profile: fall back to the plain formula
            log.warning("CMYK profile not usable (%s)", e)
    notes.append("CMYK converted to RGB (no usable colour profile; colours are approximate).")
    return im.convert("RGB"), None


def _expand_palette(im: Image.Image) -> Image.Image:
    """A palette image ("P" or "PA") as RGBA when any of it can be transparent, else RGB."""
    palette = im.palette
    has_alpha = (
        im.mode == "PA"
        or "transparency" in im.info
        or (palette is not None and palette.mode == "RGBA")
    )
    return im.convert("RGBA" if has_alpha else "RGB")


def _pixels(
    im: Image.Image, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """(rgb, alpha, icc) of a loaded Pillow image, as Pillow oriented it."""
    icc = im.info.get("icc_profile") or None
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im)
        if mode == "I":
            arr = np.clip(arr, 0, 65535)
        notes.append("16-bit image reduced to 8 bits per channel.")
        grey = _scale16(arr)
        return np.repeat(grey[..., None], 3, axis=2), None, icc
    if mode == "F":
        notes.append("32-bit floating-point image reduced to 8 bits per channel.")
        grey = _float_to_uint8(np.asarray(im))
        return np.repeat(grey[..., None], 3, axis=2), None, icc
    if mode == "CMYK":
        im, icc = _cmyk_to_rgb(im, icc, notes)
        mode = "RGB"
    if mode in ("P", "PA"):
        im = _expand_palette(im)
        mode = im.mode
    if mode in ("1", "L"):
        grey = np.asarray(im.convert("L"))
        return np.repeat(grey[..., None], 3, axis=2), None, icc
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return np.repeat(la[..., :1], 3, axis=2), la[..., 1].copy(), icc
    if mode in ("RGBA", "RGBa"):
        rgba = np.asarray(im.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3].copy(), icc
    if mode != "RGB":
        notes.append(f"{mode} colours converted to RGB.")
        im = im.convert("RGB")
    return np.asarray(im), None, icc


def _first_frame_note(im: Image.Image, notes: list[str]) -> None:
    if im.format == "MPO":
        return
    try:
        animated = getattr(im, "is_animated", False)  # reads the frames after the first
    except Exception:  # a damaged later frame: the first one may still be whole
        notes.append(f"Only the first frame of this {im.format} was opened; the rest is damaged.")
        return
    if not animated:
        return
    if im.format == "TIFF":
        notes.append("Multi-page TIFF: only the first page was opened.")
    else:
        notes.append(f"Animated {im.format}: only the first frame was opened.")
