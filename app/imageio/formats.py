"""Formats we open and save, the errors, and what a loaded photo carries."""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.engine.types import EngineError

log = logging.getLogger(__name__)


# Largest image (width x height) we agree to decode. Configurable per call or here.
DEFAULT_MAX_PIXELS = 250_000_000
max_pixels: int = DEFAULT_MAX_PIXELS

# Large photos are handled on purpose: our own guard above refuses hostile sizes from the
# header (with a clear error), so Pillow's DecompressionBombWarning for anything over its
# 89.5 MP default says nothing useful and must never reach stderr, in any thread or process
# that opens photos (the editor's loader thread, batch workers, Ray actors).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def _register_heif() -> bool:
    """Teach Pillow HEIC/HEIF (phone photos) through pillow-heif, when it is installed."""
    try:
        import pillow_heif
    except ImportError:  # an optional codec: everything else works without it
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_AVAILABLE = _register_heif()

# Formats we open (JPEG includes MPO). Anything else is refused, notably EPS (Pillow would
# start Ghostscript on it) and the many rarely used formats Pillow can also parse.
_OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "GIF", "BMP", "PPM") + (
    ("HEIF",) if HEIF_AVAILABLE else ()
)
_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
if HEIF_AVAILABLE:
    _SAVE_FORMATS.update({".heic": "HEIF", ".heif": "HEIF"})
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "MPO": "JPEG", "HEIC": "HEIF"}
_DEFAULT_EXT = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif"}
if HEIF_AVAILABLE:
    _DEFAULT_EXT["HEIF"] = ".heic"
_FORMAT_LIST = "PNG, JPEG, WebP, TIFF, GIF, BMP" + (" or HEIC" if HEIF_AVAILABLE else "")
_SAVE_LIST = "PNG, JPEG, WebP, TIFF" + (" or HEIC" if HEIF_AVAILABLE else "")
_SAVE_EXTS = ".png, .jpg, .webp, .tif" + (" or .heic" if HEIF_AVAILABLE else "")
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")

# Serialises our reads: Image.MAX_IMAGE_PIXELS is process-wide (see _pillow_session).
_pillow_lock = threading.Lock()


class ImageLoadError(EngineError):
    """A photo, mask or sketch that cannot be opened; str(error) is one sentence."""


class ImageSaveError(EngineError):
    """A picture that cannot be written; str(error) is one sentence."""


@dataclass
class LoadedImage:
    rgb: np.ndarray  # H x W x 3 uint8, upright, C-contiguous
    alpha: np.ndarray | None  # H x W uint8, or None when the file has no alpha channel
    exif: bytes | None  # Orientation reset to 1 (the rotation is already applied)
    icc: bytes | None
    dpi: tuple[float, float] | None
    format: str  # "PNG", "JPEG", "WEBP", "TIFF", "GIF", ...
    path: Path
    notes: list[str] = field(default_factory=list)  # user-facing remarks
    mtime: float = 0.0  # of the file when it was read
    size_on_disk: int = 0
    quality: int | None = None  # estimated JPEG quality of the source (IJG scale)
    xmp: bytes | None = None  # XMP packet; tiff:Orientation reset to 1, dimensions fixed
    iptc: bytes | None = None  # raw IPTC-IIM datasets (caption, keywords, by-line, ...)
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks (Title, Author, ...)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright image."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def save_kwargs(self) -> dict[str, Any]:
        """Metadata keyword arguments for save_image() so a result keeps the source's."""
        kw: dict[str, Any] = {
            "exif": self.exif,
            "icc": self.icc,
            "dpi": self.dpi,
            "xmp": self.xmp,
            "iptc": self.iptc,
            "text": dict(self.text),
        }
        if self.quality is not None:
            kw["quality"] = self.quality
        return kw
