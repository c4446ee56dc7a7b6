"""Photo metadata helpers for app.imageio: EXIF orientation, EXIF clean-up, DPI, JPEG quality.
XMP, IPTC and PNG text live in app/metadata_text.py.

Kept Qt-free and pixel-free so both the loader and the saver can share one set of rules:
the pixels we hand out are always upright, so every EXIF block and XMP packet we return or
write carries Orientation = 1 and the image's real width/height.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np
from PIL import ExifTags, Image

log = logging.getLogger(__name__)

ORIENTATION = 0x0112
X_RESOLUTION = 0x011A
Y_RESOLUTION = 0x011B
RESOLUTION_UNIT = 0x0128
EXIF_IFD = int(ExifTags.IFD.Exif)
GPS_IFD = int(ExifTags.IFD.GPSInfo)
MAKER_NOTE = 0x927C
PIXEL_X_DIMENSION = 0xA002
PIXEL_Y_DIMENSION = 0xA003

# JPEG's APP1 segment holds at most 65533 bytes after its length field.
JPEG_EXIF_LIMIT = 65533

# Tags a TIFF file's main IFD uses to describe its own pixel layout. When the metadata of a
# TIFF is carried over to another file (or another TIFF) they would be wrong, so they are
# dropped; everything descriptive (camera, dates, author, GPS, Exif sub-IFD) is kept.
# Resolution is dropped too because it travels separately as `dpi`.
_TIFF_LAYOUT_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281,
    X_RESOLUTION, Y_RESOLUTION, 284, 286, 287, 290, 291, 292, 293, RESOLUTION_UNIT, 297, 317,
    320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 347, 512, 513, 514, 515, 517,
    518, 519, 520, 521, 530, 531, 532, 700, 33723, 34377, 34675, 37724, 50341
})

# IJG (libjpeg) reference luminance quantisation table, used to estimate a JPEG's quality.
_IJG_LUMA = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ],
    dtype=np.int64,
)


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_IJG_LUMA * scale + 50) // 100, 1, 255)


# Sorted so the comparison does not depend on zig-zag versus natural table order.
_IJG_SORTED = {q: np.sort(_ijg_table(q)) for q in range(1, 101)}


def estimate_jpeg_quality(im: Image.Image) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's, or None."""
    tables = getattr(im, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    luma = np.sort(np.asarray(tables[0], dtype=np.int64))
    return min(_IJG_SORTED, key=lambda q: (int(np.abs(_IJG_SORTED[q] - luma).sum()), -q))


def _orient_numpy(arr: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:  # transpose (mirror across the main diagonal)
        return arr.swapaxes(0, 1)
    if orientation == 6:  # stored rotated 90° counter-clockwise: turn it clockwise
        return np.rot90(arr, -1)
    if orientation == 7:  # transverse (mirror across the anti-diagonal)
        return arr.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(arr, 1)
    return arr


def _orient_cv2(arr: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 2:
        return cv2.flip(arr, 1)
    if orientation == 3:
        return cv2.flip(arr, -1)
    if orientation == 4:
        return cv2.flip(arr, 0)
    if orientation == 5:
        return cv2.transpose(arr)
    if orientation == 6:
        return cv2.rotate(arr, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(arr), -1)
    return cv2.rotate(arr, cv2.ROTATE_90_COUNTERCLOCKWISE)


def orient_array(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Return `arr` (H x W [x C]) as it should be displayed for an EXIF Orientation value.

    The result is C-contiguous. OpenCV does the copy when it can (about 5x faster than a
    strided numpy copy on a 24 MP photo); numpy covers other dtypes and channel counts.
    """
    if orientation not in range(2, 9):
        return np.ascontiguousarray(arr)
    shape_ok = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))
    if shape_ok and arr.dtype in (np.uint8, np.uint16, np.bool_) and min(arr.shape[:2]) > 0:
        src = np.ascontiguousarray(arr)
        out = _orient_cv2(src.view(np.uint8) if arr.dtype == np.bool_ else src, orientation)
        return out.view(np.bool_) if arr.dtype == np.bool_ else out
    return np.ascontiguousarray(_orient_numpy(arr, orientation))


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(w, h) after applying `orientation`: values 5-8 swap the two sides."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def read_exif(im: Image.Image) -> tuple[Image.Exif | None, int]:
    """The image's EXIF block (TIFF layout tags removed) and its Orientation value (1-8).

    Raises whatever Pillow raises on a damaged block; the caller turns that into a note.
    """
    exif = im.getexif()
    if im.format == "TIFF":
        exif = _descriptive_tiff_tags(exif)
    if len(exif) == 0:
        return None, 1
    orientation = exif.get(ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return exif, orientation


def _sub_ifd(exif: Image.Exif, tag: int) -> dict:
    """A sub-IFD (editable, cached by Pillow) or {} when absent.

    Exif.get_ifd() on a missing tag would cache an empty IFD that tobytes() then writes.
    """
    return exif.get_ifd(tag) if tag in exif else {}


def _descriptive_tiff_tags(src: Image.Exif) -> Image.Exif:
    out = Image.Exif()
    for tag, value in src.items():
        if tag in (EXIF_IFD, GPS_IFD) or tag in _TIFF_LAYOUT_TAGS:
            continue
        out[tag] = value
    for ifd in (EXIF_IFD, GPS_IFD):
        sub = _sub_ifd(src, ifd)
        if sub:
            out[ifd] = dict(sub)
    return out


def exif_dpi(exif: Image.Exif | None) -> tuple[float, float] | None:
    """DPI recorded in EXIF IFD0 (XResolution/YResolution/ResolutionUnit), if any."""
    if exif is None:
        return None
    try:
        x, y = exif.get(X_RESOLUTION), exif.get(Y_RESOLUTION)
        if x is None or y is None:
            return None
        unit = exif.get(RESOLUTION_UNIT, 2)
        factor = 2.54 if unit == 3 else 1.0
        if unit not in (2, 3):
            return None
        dpi = (float(x) * factor, float(y) * factor)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return clean_dpi(dpi)


def clean_dpi(dpi: object) -> tuple[float, float] | None:
    """A positive (x, y) DPI pair, with round-off from px/m storage removed, or None."""
    if not isinstance(dpi, Iterable):
        return None
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    if not (x > 0 and y > 0 and np.isfinite(x) and np.isfinite(y)):
        return None

    def snap(v: float) -> float:
        # PNG stores pixels per metre, so 300 dpi reads back as 299.9994: whole numbers
        return float(round(v)) if abs(v - round(v)) < 0.05 else round(v, 3)

    return snap(x), snap(y)


def prepare_exif(
    exif: bytes | Image.Exif | None,
    size: tuple[int, int],
    *,
    dpi: tuple[float, float] | None = None,
    add_dpi: bool = False,
) -> Image.Exif | None:
    """An EXIF block fit to travel with upright pixels of `size` (w, h).

    Orientation becomes 1, the Exif pixel dimensions match `size`, and when `dpi` is given
    the IFD0 resolution tags agree with it (added when `add_dpi`, for formats such as WebP
    whose only resolution field is EXIF). Returns None when there is nothing to write or
    the block cannot be parsed (logged: saving the picture matters more than its metadata).
    """
    if exif is None:
        if not (add_dpi and dpi):
            return None
        out = Image.Exif()
    else:
        out = Image.Exif()
        try:
            # Round-trip through bytes so the caller's object is never modified.
            out.load(exif.tobytes() if isinstance(exif, Image.Exif) else bytes(exif))
        except Exception as e:  # a damaged block: drop it rather than fail the save
            log.warning("dropping unreadable EXIF metadata (%s)", e)
            return None
    if ORIENTATION in out:
        out[ORIENTATION] = 1
    sub = _sub_ifd(out, EXIF_IFD)
    if sub:
        if PIXEL_X_DIMENSION in sub:
            sub[PIXEL_X_DIMENSION] = int(size[0])
        if PIXEL_Y_DIMENSION in sub:
            sub[PIXEL_Y_DIMENSION] = int(size[1])
    if dpi and (add_dpi or X_RESOLUTION in out or Y_RESOLUTION in out):
        out[X_RESOLUTION] = float(dpi[0])
        out[Y_RESOLUTION] = float(dpi[1])
        out[RESOLUTION_UNIT] = 2
    return out


def exif_bytes(exif: Image.Exif, *, limit: int | None = None) -> bytes | None:
    """Serialise `exif`; when over `limit` bytes drop the MakerNote, then give up (None)."""
    data = exif.tobytes()
    if limit is None or len(data) <= limit:
        return data
    sub = _sub_ifd(exif, EXIF_IFD)
    if MAKER_NOTE in sub:
        del sub[MAKER_NOTE]
        data = exif.tobytes()
        if len(data) <= limit:
            log.warning("EXIF MakerNote dropped: the block was too large for JPEG")
            return data
    log.warning("EXIF metadata dropped: %d bytes is more than JPEG can hold", len(data))
    return None
