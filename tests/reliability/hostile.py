"""Hostile and unusual inputs, built on the fly (tiny files) for the CLI, GUI and loader tests.

Every case knows what it is, how to write itself into a folder and what must happen:
`ok` (opened, possibly with a note) or `refused` (ImageLoadError / exit code 2 / message box)
with a phrase the one-line message must contain.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

from tests.conftest import make_photo

H, W = 48, 64  # size of the ordinary test photo (and of the masks of the mask cases)


@dataclass(frozen=True)
class Case:
    name: str  # file name written into the folder
    kind: str  # "image" | "mask"
    build: Callable[[Path], None]  # writes the file
    expect: str  # "ok" | "refused"
    match: str = ""  # phrase of the message (refused) or of a note (ok)
    size: tuple[int, int] | None = None  # upright (w, h) of an image case that opens
    fill: str = "ok"  # for images that open: "ok", or the phrase a fill is refused with

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        self.build(path)
        return path


# --------------------------------------------------------------------------- small writers


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG header claiming width x height, with one tiny compressed row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * (width + 1), 9)  # only the first row: never decoded anyway
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(
        b"IEND", b""
    )


def jpeg_bytes(rgb: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def jpeg_bomb(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(jpeg_bytes(make_photo(16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_bomb(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    data = bytearray(buf.getvalue())
    struct.pack_into("<HH", data, 6, width, height)  # logical screen
    image_block = data.find(b"\x2c")
    struct.pack_into("<HH", data, image_block + 5, width, height)
    return bytes(data)


def tiff_bomb(width: int, height: int) -> bytes:
    """Uncompressed 8-bit greyscale TIFF header claiming width x height, 16 bytes of data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack(
            "<HHIHH", tag, kind, 1, value, 0
        )
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8 + 16) + b"\x00" * 16 + ifd


def _save(im: Image.Image, path: Path, fmt: str | None = None, **kw) -> None:
    im.save(path, fmt, **kw)


def _photo(h: int = H, w: int = W) -> np.ndarray:
    return make_photo(h, w)


def _animated_gif(path: Path) -> None:
    frames = [Image.fromarray(make_photo(H, W, seed=s)).quantize(64) for s in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)


def _png16(path: Path) -> None:
    arr = (_photo().astype(np.uint16) * 257 + 3)[..., ::-1]  # BGR for OpenCV
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))


def _png16_grey(path: Path) -> None:
    arr = _photo()[..., 0].astype(np.uint16) * 257
    Image.fromarray(arr).save(path)  # mode I;16


def _tif16(path: Path) -> None:
    arr = (_photo().astype(np.uint16) * 257)[..., ::-1]
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))


def _cmyk_jpeg(path: Path) -> None:
    Image.fromarray(_photo()).convert("CMYK").save(path, "JPEG", quality=95)


def _rgba_png(path: Path) -> None:
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, : W // 4] = 0
    alpha[:, W // 4 : W // 2] = 128
    Image.fromarray(np.dstack([_photo(), alpha])).save(path)


def _la_png(path: Path) -> None:
    grey = _photo()[..., 1]
    alpha = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)


def _palette_transparent(path: Path) -> None:
    im = Image.fromarray(_photo()).quantize(16)
    im.info["transparency"] = 0
    im.save(path, transparency=0)


def _exif_jpeg(orientation: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "RotCam"
        stored = _photo(H, W) if orientation in (1, 2, 3, 4) else _photo(W, H)
        path.write_bytes(jpeg_bytes(stored, exif=exif.tobytes()))

    return build


def _truncated_jpeg(path: Path) -> None:
    data = jpeg_bytes(make_photo(120, 160))
    path.write_bytes(data[: len(data) // 2])


def _truncated_png(path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(make_photo(120, 160)).save(buf, "PNG")
    data = buf.getvalue()
    path.write_bytes(data[: len(data) * 2 // 3])


def _bad_crc_png(path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[29] ^= 0xFF  # IHDR CRC
    path.write_bytes(bytes(data))


def _png_named_jpg(path: Path) -> None:
    Image.fromarray(_photo()).save(path, "PNG")


def _folder(path: Path) -> None:
    path.mkdir()


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _array(arr: np.ndarray, fmt: str | None = None, **kw) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        Image.fromarray(arr).save(path, fmt, **kw)

    return build


def _mode(mode: str, fmt: str | None = None, **kw) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        im = Image.fromarray(_photo())
        im = im.quantize(32) if mode == "P" else im.convert(mode)
        im.save(path, fmt, **kw)

    return build


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'

IMAGE_CASES: list[Case] = [
    Case("zero_byte.png", "image", _bytes(b""), "refused", "empty (0 bytes)"),
    Case("truncated.jpg", "image", _truncated_jpeg, "refused", "truncated"),
    Case("truncated.png", "image", _truncated_png, "refused", "truncated"),
    Case("bad_crc.png", "image", _bad_crc_png, "refused", "damaged PNG"),
    Case("text.png", "image", _bytes(b"hello, I am not a picture\n" * 20), "refused", "text file"),
    Case("svg.png", "image", _bytes(SVG), "refused", "text file"),
    Case("postscript.png", "image", _bytes(EPS), "refused", "text file"),
    Case("random.jpg", "image", _bytes(bytes(range(256)) * 4), "refused", "not in a supported"),
    Case("folder.png", "image", _folder, "refused", "is a folder"),
    Case("bomb.png", "image", _bytes(png_bomb(100_000, 100_000)), "refused", "100000x100000"),
    Case("bomb.jpg", "image", _bytes(jpeg_bomb(65_000, 65_000)), "refused", "65000x65000"),
    Case("bomb.gif", "image", _bytes(gif_bomb(65_000, 65_000)), "refused", "65000x65000"),
    Case("bomb.tif", "image", _bytes(tiff_bomb(200_000, 200_000)), "refused", "200000x200000"),
    Case("animated.gif", "image", _animated_gif, "ok", "only the first frame", (W, H)),
    Case("palette.png", "image", _mode("P"), "ok", "", (W, H)),
    Case("palette_alpha.png", "image", _palette_transparent, "ok", "", (W, H)),
    Case("rgb16.png", "image", _png16, "ok", "16-bit", (W, H)),
    Case("grey16.png", "image", _png16_grey, "ok", "16-bit", (W, H)),
    Case("rgb16.tif", "image", _tif16, "ok", "16-bit", (W, H)),
    Case("cmyk.jpg", "image", _cmyk_jpeg, "ok", "CMYK", (W, H)),
    Case("grey.jpg", "image", _mode("L", "JPEG"), "ok", "", (W, H)),
    Case("grey.png", "image", _mode("L"), "ok", "", (W, H)),
    Case("bilevel.png", "image", _mode("1"), "ok", "", (W, H)),
    Case("rgba.png", "image", _rgba_png, "ok", "", (W, H)),
    Case("grey_alpha.png", "image", _la_png, "ok", "", (W, H)),
    Case("rgba.webp", "image", _array(np.dstack([_photo(), np.full((H, W), 200, np.uint8)]),
                                       lossless=True), "ok", "", (W, H)),
    Case("photo.bmp", "image", _array(_photo()), "ok", "", (W, H)),
    Case("png_named.jpg", "image", _png_named_jpg, "ok", "", (W, H)),
    *[Case(f"exif_orientation_{o}.jpg", "image", _exif_jpeg(o), "ok", "", (W, H))
      for o in range(1, 9)],
    Case("one_pixel.png", "image", _array(np.full((1, 1, 3), 90, np.uint8)), "ok", "", (1, 1),
         fill="whole photo"),
    Case("one_row.png", "image", _array(make_photo(1, 9)), "ok", "", (9, 1)),
    Case("one_column.png", "image", _array(make_photo(9, 1)), "ok", "", (1, 9)),
]


# --------------------------------------------------------------------------- masks
# Every mask case is for the ordinary W x H photo; `hole` says which pixels must be holes.


@dataclass(frozen=True)
class MaskCase(Case):
    hole: Callable[[], np.ndarray] | None = None  # expected bool mask of an accepted file


def _square() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[10:30, 20:44] = True
    return m


def _mask_rgba_strokes(path: Path) -> None:
    """White strokes on a transparent layer: colour is white everywhere, alpha says where."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = _square() * 255
    Image.fromarray(rgba).save(path)


def _mask_rgba_black_transparent(path: Path) -> None:
    """White square on black, with a transparent band that hides part of the square."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = np.where(_square()[..., None], 255, 0)
    rgba[..., 3] = 255
    rgba[:, :30, 3] = 0
    Image.fromarray(rgba).save(path)


def _square_right() -> np.ndarray:
    m = _square()
    m[:, :30] = False
    return m


def _mask_la(path: Path) -> None:
    la = np.zeros((H, W, 2), np.uint8)
    la[..., 0] = _square() * 255
    la[..., 1] = 255
    Image.fromarray(la, "LA").save(path)


def _mask_red(path: Path) -> None:
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[_square()] = (200, 0, 0)
    Image.fromarray(rgb).save(path)


def _mask_jpeg(path: Path) -> None:
    Image.fromarray((_square() * 255).astype(np.uint8)).save(path, quality=75)


def _mask_grey(value: int = 255, fmt: str | None = None) -> Callable[[Path], None]:
    return _array((_square() * value).astype(np.uint8), fmt)


def _mask_16(path: Path) -> None:
    Image.fromarray((_square() * 3).astype(np.uint16)).save(path)  # 3 / 65535 is still a hole


def _mask_palette(path: Path) -> None:
    im = Image.fromarray((_square() * 255).astype(np.uint8)).convert("P")
    im.save(path)


def _full() -> np.ndarray:
    return np.ones((H, W), bool)


def _none() -> np.ndarray:
    return np.zeros((H, W), bool)


MASK_CASES: list[MaskCase] = [
    MaskCase("mask_grey.png", "mask", _mask_grey(), "ok", hole=_square),
    MaskCase("mask_grey_faint.png", "mask", _mask_grey(1), "ok", hole=_square),
    MaskCase("mask_rgba_strokes.png", "mask", _mask_rgba_strokes, "ok", hole=_square),
    MaskCase("mask_rgba_hidden_part.png", "mask", _mask_rgba_black_transparent, "ok",
             hole=_square_right),
    MaskCase("mask_grey_alpha.png", "mask", _mask_la, "ok", hole=_square),
    MaskCase("mask_red.png", "mask", _mask_red, "ok", hole=_square),
    MaskCase("mask_lossy.jpg", "mask", _mask_jpeg, "ok", hole=_square),
    MaskCase("mask_16bit.png", "mask", _mask_16, "ok", hole=_square),
    MaskCase("mask_palette.png", "mask", _mask_palette, "ok", hole=_square),
    MaskCase("mask_bilevel.bmp", "mask", _array(_square()), "ok", hole=_square),
    MaskCase("mask_empty.png", "mask", _array(np.zeros((H, W), np.uint8)), "ok", hole=_none,
             fill="empty"),
    MaskCase("mask_full.png", "mask", _array(np.full((H, W), 255, np.uint8)), "ok", hole=_full,
             fill="whole photo"),
    MaskCase("mask_wrong_size.png", "mask", _array(np.full((10, 12), 255, np.uint8)), "refused",
             f"is 12x10 but the image is {W}x{H}"),
    MaskCase("mask_rotated.png", "mask", _array(np.full((W, H), 255, np.uint8)), "refused",
             "rotated by 90 degrees"),
    MaskCase("mask_zero_byte.png", "mask", _bytes(b""), "refused", "empty (0 bytes)"),
    MaskCase("mask_text.png", "mask", _bytes(b"x" * 300), "refused", "text file"),
    MaskCase("mask_truncated.png", "mask", _truncated_png, "refused", "truncated"),
    MaskCase("mask_bomb.png", "mask", _bytes(png_bomb(90_000, 90_000)), "refused",
             "90000x90000"),
]


@functools.cache
def icc_srgb() -> bytes:
    """One sRGB profile per session (each created profile carries its creation time)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
