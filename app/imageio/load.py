"""Opening photos: sniffing the file, refusing hostile sizes from the header, decoding with
Pillow (HEIC through pillow-heif), and reading EXIF, XMP, IPTC, ICC, DPI and PNG text."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.metadata import (
    ORIENTATION,
    clean_dpi,
    estimate_jpeg_quality,
    exif_bytes,
    exif_dpi,
    orient_array,
    oriented_size,
    prepare_exif,
    read_exif,
)
from app.metadata_text import (
    prepare_xmp,
    read_iptc,
    read_png_text,
    read_xmp,
)

from . import formats
from .convert import _first_frame_note, _is_16bit_rgb, _pixels, _read16, _scale16
from .formats import (
    _FORMAT_ALIASES,
    _FORMAT_LIST,
    _HEIF_BRANDS,
    _OPEN_FORMATS,
    _SAVE_FORMATS,
    ImageLoadError,
    LoadedImage,
    _pillow_lock,
)

log = logging.getLogger(__name__)


def _text_like(head: bytes) -> bool:
    """Does the start of a file look like text (UTF-8, almost all printable, no NUL)?"""
    if not head or b"\x00" in head:
        return False
    text = head.decode("utf-8", errors="replace")  # a character cut at 512 bytes is fine
    good = sum((c.isprintable() and c != "\ufffd") or c in "\r\n\t" for c in text)
    return good >= 0.95 * len(text)


def _stat_readable(path: Path, what: str) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"The {what} file '{path}' does not exist.") from None
    except PermissionError:
        raise ImageLoadError(
            f"The {what} file '{path}' cannot be read (permission denied)."
        ) from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        reason = getattr(e, "strerror", None) or _reason(e)
        raise ImageLoadError(f"The {what} file '{path}' cannot be read ({reason}).") from None
    if path.is_dir():
        raise ImageLoadError(f"'{path}' is a folder, not {'an' if what == 'image' else 'a'} {what} file.")
    if st.st_size == 0:
        raise ImageLoadError(f"The {what} file '{path}' is empty (0 bytes).")
    return st


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _signature(head: bytes) -> str | None:
    """The format a file's first bytes announce, for telling damaged files from foreign ones."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIC"
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


@contextlib.contextmanager
def _pillow_session() -> Iterator[None]:
    """Serialise our decodes while Pillow's process-wide pixel guard follows our limit.

    Pillow checks Image.MAX_IMAGE_PIXELS when opening and again when decoding some formats
    (TIFF); it warns above it and refuses above twice it. We refuse above `limit` ourselves
    from the header (with a better message, and also above Pillow's own 179 MP), so during
    our reads its guard is off (restored after) and its warnings are silenced: they become
    notes or ImageLoadErrors here instead. The lock keeps our reads from overlapping.
    """
    with _pillow_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def _opened(path: Path, what: str, limit: int) -> Iterator[Image.Image]:
    """Open the header only; refuse unknown formats and images over `limit` pixels (0 = none).

    Pillow is given a file object rather than the name: with a name it may memory-map
    uncompressed files, and Pillow 13 then lays out an EXIF-rotated TIFF wrongly.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, after the image
    except PermissionError:
        raise ImageLoadError(
            f"The {what} file '{path}' cannot be read (permission denied)."
        ) from None
    except OSError as e:
        raise ImageLoadError(
            f"The {what} file '{path}' cannot be read ({e.strerror or _reason(e)})."
        ) from None
    with f:
        try:
            im = Image.open(f, formats=_OPEN_FORMATS)
        except Image.UnidentifiedImageError:
            try:
                f.seek(0)
                head = f.read(512)
            except OSError:
                head = b""
            if _text_like(head):
                raise ImageLoadError(
                    f"The {what} file '{path}' is a text file, not an image."
                ) from None
            kind = _signature(head)
            if kind:  # e.g. a PNG whose header checksum is wrong: damaged, not "unsupported"
                raise ImageLoadError(
                    f"The {what} file '{path}' is a damaged {kind} file and cannot be read."
                ) from None
            raise ImageLoadError(
                f"The {what} file '{path}' is not in a supported image format ({_FORMAT_LIST})."
            ) from None
        except Exception as e:  # damaged header, I/O error, ...
            raise ImageLoadError(
                f"The {what} file '{path}' is damaged and cannot be read ({_reason(e)})."
            ) from None
        with im:
            w, h = im.size
            if w <= 0 or h <= 0:
                raise ImageLoadError(f"The {what} file '{path}' has no pixels ({w}x{h}).")
            if limit and w * h > limit:
                raise ImageLoadError(
                    f"The {what} file '{path}' is {w}x{h} = {w * h:,} pixels, more than the limit "
                    f"of {limit:,} pixels (a possible decompression bomb)."
                )
            yield im


def _stored_size(im: Image.Image) -> tuple[int, int]:
    """(w, h) of the pixels as stored, before any orientation.

    Recent Pillow reports a TIFF's size already rotated by its Orientation tag (and rotates
    it while decoding), so for TIFF the size is read from the tags themselves.
    """
    tags = getattr(im, "tag_v2", None)
    if im.format == "TIFF" and tags is not None and 256 in tags and 257 in tags:
        return int(tags[256]), int(tags[257])
    return im.size


def _pillow_rotated(im: Image.Image, orientation: int) -> bool:
    """After load(): True when Pillow itself applied the orientation (recent Pillow, TIFF)."""
    tags = getattr(im, "tag_v2", None)
    return im.format == "TIFF" and orientation != 1 and tags is not None and ORIENTATION not in tags


def _reason(e: BaseException) -> str:
    text = str(e).strip().rstrip(".")
    return text[:120] if text else type(e).__name__


def _load_failure(path: Path, what: str, e: BaseException, size: tuple[int, int]) -> ImageLoadError:
    if isinstance(e, MemoryError):
        return ImageLoadError(
            f"There is not enough memory to open the {what} file '{path}' ({size[0]}x{size[1]} pixels)."
        )
    if isinstance(e, OSError) and "truncated" in str(e).lower():
        return ImageLoadError(f"The {what} file '{path}' is truncated (the file is incomplete).")
    return ImageLoadError(f"The {what} file '{path}' is damaged and cannot be read ({_reason(e)}).")




def load_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> LoadedImage:
    """Open a photo as upright RGB uint8 + optional alpha + its metadata.

    `max_pixels` (default: `app.imageio.formats.max_pixels`, 250 MP; 0 = no limit) refuses larger
    images from the header alone, before any pixel is decoded. Raises ImageLoadError.
    """
    p = Path(path)
    st = _stat_readable(p, "image")
    limit = _limit(max_pixels)
    notes: list[str] = []
    with _pillow_session(), _opened(p, "image", limit) as im:
        try:
            # Asked first: reading a PNG's EXIF may decode it, which clears the tiles.
            sixteen = _is_16bit_rgb(im)
            _first_frame_note(im, notes)
            fmt = _FORMAT_ALIASES.get(im.format or "", im.format or "")
            try:
                exif, orientation = read_exif(im)
            except Exception as e:
                log.warning("unreadable EXIF in %s: %s", p, e)
                exif, orientation = None, 1
                notes.append("The EXIF metadata is damaged and was not kept.")
            dpi = clean_dpi(im.info.get("dpi")) or exif_dpi(exif)
            quality = estimate_jpeg_quality(im) if fmt == "JPEG" else None
            planes = _read16(p, im.format or "") if sixteen else None
            if planes is not None:
                rgb = _scale16(planes[0])
                if rgb.shape[2] == 1:
                    rgb = np.repeat(rgb, 3, axis=2)
                alpha = _scale16(planes[1]) if planes[1] is not None else None
                if planes[2]:
                    orientation = 1
                icc = im.info.get("icc_profile") or None
                notes.append("16-bit image reduced to 8 bits per channel.")
            else:
                im.load()
                if _pillow_rotated(im, orientation):
                    orientation = 1
                rgb, alpha, icc = _pixels(im, notes)
                if sixteen:
                    notes.append("16-bit image reduced to 8 bits per channel.")
            xmp, iptc, text = _text_metadata(im, p, notes)  # after load(): PNG text may trail
        except ImageLoadError:
            raise
        except Exception as e:
            raise _load_failure(p, "image", e, im.size) from None
    rgb = orient_array(rgb, orientation)
    alpha = orient_array(alpha, orientation) if alpha is not None else None
    h, w = rgb.shape[:2]
    out_exif: bytes | None = None
    if exif is not None:
        try:
            prepared = prepare_exif(exif, (w, h))
            out_exif = exif_bytes(prepared) if prepared is not None else None
        except Exception as e:
            log.warning("EXIF of %s could not be re-encoded: %s", p, e)
            notes.append("The EXIF metadata is damaged and was not kept.")
    if xmp is not None:
        xmp = prepare_xmp(xmp, (w, h))
        if xmp is None:
            notes.append("The XMP metadata is damaged and was not kept.")
    return LoadedImage(
        rgb=np.ascontiguousarray(rgb, dtype=np.uint8),
        alpha=alpha,
        exif=out_exif,
        icc=icc,
        dpi=dpi,
        format=fmt,
        path=p,
        notes=notes,
        mtime=st.st_mtime,
        size_on_disk=st.st_size,
        quality=quality,
        xmp=xmp,
        iptc=iptc,
        text=text,
    )


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of a photo as load_image would return it, from its header alone."""
    p = Path(path)
    _stat_readable(p, "image")
    with _pillow_session(), _opened(p, "image", _limit(None)) as im:
        try:
            _, orientation = read_exif(im)
        except Exception:
            orientation = 1
        return oriented_size(_stored_size(im), orientation)


def can_save(path: str | os.PathLike[str]) -> bool:
    """True when save_image can write a file with this name's extension."""
    return Path(path).suffix.lower() in _SAVE_FORMATS


def _text_metadata(
    im: Image.Image, path: Path, notes: list[str]
) -> tuple[bytes | None, bytes | None, dict[str, str]]:
    """(XMP, IPTC, PNG text) of an opened image; a damaged block is left out with a note."""
    out: list[Any] = []
    for name, read in (("XMP", read_xmp), ("IPTC", read_iptc), ("text", read_png_text)):
        try:
            out.append(read(im))
        except Exception as e:  # a damaged block must not cost the photo
            log.warning("unreadable %s metadata in %s: %s", name, path, e)
            notes.append(f"The {name} metadata is damaged and was not kept.")
            out.append({} if name == "text" else None)
    return out[0], out[1], out[2]


def _limit(value: int | None) -> int:
    return int(formats.max_pixels if value is None else value)


def file_changed_since(loaded: LoadedImage) -> bool:
    """True when the file at loaded.path was modified, replaced or removed since it was read."""
    try:
        st = loaded.path.stat()
    except OSError:
        return True
    return st.st_mtime != loaded.mtime or st.st_size != loaded.size_on_disk
