"""Photo / mask / sketch file I/O. Every fixture is built in tmp_path (no binary test files)."""

from __future__ import annotations

import errno
import io
import itertools
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from app import imageio
from app.engine.types import EngineError
from app.imageio import (
    ImageLoadError,
    ImageSaveError,
    default_output_path,
    file_changed_since,
    load_image,
    load_mask,
    load_sketch,
    save_image,
    save_mask,
)

ORIENTATION = 0x0112


def _rand_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _exif(**tags: object) -> Image.Exif:
    ex = Image.Exif()
    for key, value in tags.items():
        ex[int(key.lstrip("t"))] = value
    return ex


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif_of(data: bytes | None) -> Image.Exif:
    assert data is not None
    ex = Image.Exif()
    ex.load(data)
    return ex


# How a camera stores an upright picture U for each EXIF Orientation value, written from the
# EXIF spec's "0th row / 0th column" wording rather than from the implementation.
STORED = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],  # 0th row top, 0th column right
    3: lambda u: u[::-1, ::-1],  # 0th row bottom, 0th column right
    4: lambda u: u[::-1],  # 0th row bottom, 0th column left
    5: lambda u: u.swapaxes(0, 1),  # 0th row left, 0th column top
    6: lambda u: np.rot90(u, 1),  # 0th row right, 0th column top
    7: lambda u: u[::-1, ::-1].swapaxes(0, 1),  # 0th row right, 0th column bottom
    8: lambda u: np.rot90(u, -1),  # 0th row left, 0th column bottom
}


# --------------------------------------------------------------------------- loading


def test_plain_png_loads_exactly(tmp_path: Path) -> None:
    rgb = _rand_rgb(5, 7)
    p = tmp_path / "a.png"
    Image.fromarray(rgb).save(p)
    li = load_image(p)
    assert li.format == "PNG"
    assert li.rgb.dtype == np.uint8 and li.rgb.flags.c_contiguous
    np.testing.assert_array_equal(li.rgb, rgb)
    assert li.alpha is None and li.exif is None and li.notes == []
    assert li.size == (7, 5)
    assert li.path == p and li.size_on_disk == p.stat().st_size


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_every_exif_orientation_gives_upright_pixels(
    tmp_path: Path, fmt: str, orientation: int
) -> None:
    upright = _rand_rgb(4, 6, seed=orientation)  # 6 wide, 4 tall: rotations are visible
    p = tmp_path / f"o.{fmt.lower()}"
    stored = np.ascontiguousarray(STORED[orientation](upright))
    extra = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(stored).save(p, format=fmt, exif=_exif(t274=orientation, t271="Cam"), **extra)
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb, upright)
    ex = _exif_of(li.exif)
    assert ex[ORIENTATION] == 1  # the rotation is applied, so the tag must say so
    assert ex[271] == "Cam"


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation(tmp_path: Path, orientation: int) -> None:
    # Big flat blocks so JPEG loss does not matter: 2 x 3 blocks of 16 px.
    colours = np.array(
        [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[255, 255, 0], [0, 0, 0], [255, 255, 255]]],
        dtype=np.uint8,
    )
    upright = colours.repeat(16, axis=0).repeat(16, axis=1)
    p = tmp_path / "o.jpg"
    Image.fromarray(np.ascontiguousarray(STORED[orientation](upright))).save(
        p, exif=_exif(t274=orientation), quality=95
    )
    li = load_image(p)
    assert li.rgb.shape == upright.shape
    centres = li.rgb[8::16, 8::16].astype(int)  # block centres, away from chroma bleeding
    assert np.abs(centres - colours).max() < 24


def test_png_orientation_rotates_alpha_too(tmp_path: Path) -> None:
    rgba = np.dstack([_rand_rgb(3, 5), np.arange(15, dtype=np.uint8).reshape(3, 5)])
    p = tmp_path / "a.png"
    Image.fromarray(np.ascontiguousarray(STORED[6](rgba)), "RGBA").save(p, exif=_exif(t274=6))
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb, rgba[..., :3])
    np.testing.assert_array_equal(li.alpha, rgba[..., 3])


def _png_16bit_values() -> np.ndarray:
    # 511 -> 2 with proper scaling (511/257 = 1.99); truncation gives 1 and clipping 255.
    return np.array([[0, 511, 32896, 65535], [257, 1000, 40000, 65280]], dtype=np.uint16)


def _scaled(v: np.ndarray) -> np.ndarray:
    return np.rint(v / 257.0).astype(np.uint8)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_grey_is_scaled_not_clipped(tmp_path: Path, ext: str) -> None:
    v = _png_16bit_values()
    p = tmp_path / f"g16.{ext}"
    Image.fromarray(v).save(p)  # Pillow writes a uint16 array as I;16
    li = load_image(p)
    assert li.rgb[0, 1, 0] == 2
    np.testing.assert_array_equal(li.rgb[..., 0], _scaled(v))
    np.testing.assert_array_equal(li.rgb[..., 0], li.rgb[..., 2])
    assert any("16-bit" in n for n in li.notes)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_colour_with_alpha_is_scaled_with_rounding(tmp_path: Path, ext: str) -> None:
    v = _png_16bit_values()
    r, g, b, a = v, v[:, ::-1].copy(), v[::-1].copy(), np.full_like(v, 32896)
    p = tmp_path / f"c16.{ext}"
    # Pillow cannot write 16-bit colour; OpenCV can (channel order BGRA).
    assert cv2.imwrite(str(p), np.dstack([b, g, r, a]))
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb, np.dstack([_scaled(r), _scaled(g), _scaled(b)]))
    np.testing.assert_array_equal(li.alpha, _scaled(a))
    assert any("16-bit" in n for n in li.notes)


def test_16bit_colour_png_applies_orientation(tmp_path: Path) -> None:
    v = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000
    p = tmp_path / "c16.png"
    assert cv2.imwrite(str(p), np.ascontiguousarray(STORED[8](v))[..., ::-1])
    with Image.open(p) as im:  # add an eXIf chunk with Orientation 8 to OpenCV's file
        data = _png_with_exif(p.read_bytes(), _exif(t274=8).tobytes()[6:])
    p.write_bytes(data)
    assert im.mode == "RGB"
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb, _scaled(v))


def _tiff_rgb16(pixels: np.ndarray, orientation: int) -> bytes:
    """An uncompressed little-endian 16-bit RGB TIFF with an Orientation tag (built by hand)."""
    h, w, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    ifd_at = 8 + len(data)
    entries = [
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 3, None),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, 8),
        (274, 3, 1, orientation),
        (277, 3, 1, 3),
        (278, 4, 1, h),
        (279, 4, 1, len(data)),
        (284, 3, 1, 1),
    ]
    bits_at = ifd_at + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if value is None:
            ifd += struct.pack("<HHII", tag, kind, count, bits_at)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16)
    return b"II*\x00" + struct.pack("<I", ifd_at) + data + ifd


@pytest.mark.parametrize("orientation", [1, 3, 6, 7])
def test_16bit_colour_tiff_applies_orientation(tmp_path: Path, orientation: int) -> None:
    v = (np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3001 + 7).astype(np.uint16)
    p = tmp_path / "c16.tif"
    p.write_bytes(_tiff_rgb16(np.ascontiguousarray(STORED[orientation](v)), orientation))
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb, _scaled(v))
    assert _exif_of(li.exif).get(ORIENTATION, 1) == 1
    mask_stored = np.zeros((2, 3, 3), np.uint16)
    mask_stored[0, 2, 0] = 5  # top-right pixel, tiny 16-bit value
    p.write_bytes(_tiff_rgb16(np.ascontiguousarray(STORED[orientation](mask_stored)), orientation))
    np.testing.assert_array_equal(load_mask(p, (3, 2)), mask_stored[..., 0] > 0)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with_exif(png: bytes, exif_tiff: bytes) -> bytes:
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + _png_chunk(b"eXIf", exif_tiff) + png[ihdr_end:]


def test_cmyk_jpeg_becomes_rgb_with_note(tmp_path: Path) -> None:
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, 16:, 0] = 255  # right half full cyan, left half no ink (white)
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(cmyk, "CMYK").save(p, quality=95)
    li = load_image(p)
    assert li.rgb.shape == (16, 32, 3)
    assert li.rgb[8, 4].min() > 240  # white
    r, g, b = li.rgb[8, 28].astype(int)
    assert r < 30 and g > 220 and b > 220  # cyan
    assert any("CMYK" in n for n in li.notes)


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _cmyk_profile() -> bytes:
    """A tiny ICC v2 CMYK printer profile (lut8 A2B0) that prints cyan ink as salmon red.

    Deliberately unlike the naive formula (which gives cyan), so the test can tell whether the
    embedded profile was used.
    """
    clut = b""
    for c, m, y, k in itertools.product((0, 1), repeat=4):  # first channel varies slowest
        lightness = max(0, 100 - 70 * k - 15 * (c + m + y))
        clut += bytes([round(lightness * 2.55), 128 + 70 * c, 128 + 50 * c])
    identity = bytes(range(256))
    matrix = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + matrix + identity * 4 + clut + identity * 3
    text = b"test CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(78)
    wtpt = b"XYZ " + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"A2B0", a2b0)]
    offset = 128 + 4 + 12 * len(tags)
    table = body = b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body))
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"prtr"
        + b"CMYK"
        + b"Lab "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


def test_cmyk_jpeg_uses_embedded_profile(tmp_path: Path) -> None:
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, 16:, 0] = 255
    p = tmp_path / "cmyk.jpg"
    Image.fromarray(cmyk, "CMYK").save(p, quality=95, icc_profile=_cmyk_profile())
    li = load_image(p)
    assert li.rgb[8, 4].min() > 240  # paper white stays white
    r, g, b = li.rgb[8, 28].astype(int)
    assert r > 230 and g < 190 and b < 180  # the profile's salmon, not the formula's cyan
    assert li.icc == _srgb_icc()  # the pixels are sRGB now, and say so
    assert any("colour profile" in n and "approximate" not in n for n in li.notes)


def test_cmyk_jpeg_with_bad_profile_falls_back(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(p, icc_profile=b"not a real profile" * 10)
    li = load_image(p)
    assert li.rgb.shape == (8, 8, 3) and li.rgb.min() > 240
    assert li.icc is None  # the bogus CMYK profile must not be attached to RGB pixels
    assert any("approximate" in n for n in li.notes)


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (4, 2))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    im.putdata([0, 1, 2, 0, 1, 2, 0, 1])
    p = tmp_path / "pal.png"
    im.save(p, transparency=1)
    li = load_image(p)
    assert li.rgb[0, 0].tolist() == [255, 0, 0] and li.rgb[0, 2].tolist() == [0, 0, 255]
    assert li.alpha is not None
    assert li.alpha.tolist() == [[255, 0, 255, 255], [0, 255, 255, 0]]


def test_palette_without_transparency_has_no_alpha(tmp_path: Path) -> None:
    p = tmp_path / "pal.gif"
    Image.fromarray(_rand_rgb(6, 6)).convert("P").save(p)
    li = load_image(p)
    assert li.alpha is None and li.format == "GIF" and li.rgb.shape == (6, 6, 3)


def test_greyscale_and_la(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "l.png")
    li = load_image(tmp_path / "l.png")
    assert li.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(li.rgb[..., c], grey)
    la = np.dstack([grey, 255 - grey])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    li = load_image(tmp_path / "la.png")
    np.testing.assert_array_equal(li.rgb[..., 1], grey)
    np.testing.assert_array_equal(li.alpha, 255 - grey)


def test_one_bit_image(tmp_path: Path) -> None:
    bits = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
    Image.fromarray(bits).save(tmp_path / "b.png")
    li = load_image(tmp_path / "b.png")
    assert li.rgb[..., 0].tolist() == [[255, 0, 255], [0, 255, 0]]


def test_rgba_keeps_alpha_separately(tmp_path: Path) -> None:
    rgb = _rand_rgb(3, 4)
    alpha = np.arange(12, dtype=np.uint8).reshape(3, 4) * 21
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "a.png")
    li = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(li.rgb, rgb)  # colour under low alpha is not premultiplied
    np.testing.assert_array_equal(li.alpha, alpha)
    assert li.rgb.flags.c_contiguous and li.alpha.flags.c_contiguous


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_opens_first_frame_with_note(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    p = tmp_path / f"anim.{fmt.lower()}"
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(p, format=fmt, save_all=True, append_images=frames[1:], duration=100, **extra)
    li = load_image(p)
    assert li.rgb[4, 4].tolist() == [255, 0, 0]
    assert any("only the first frame" in n and fmt in n for n in li.notes)


def test_multipage_tiff_note(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (4, 4), c) for c in ((9, 9, 9), (200, 0, 0))]
    p = tmp_path / "pages.tif"
    pages[0].save(p, save_all=True, append_images=pages[1:])
    li = load_image(p)
    assert li.rgb[0, 0].tolist() == [9, 9, 9]
    assert any("first page" in n for n in li.notes)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif", "gif", "bmp"])
def test_one_pixel_images(tmp_path: Path, ext: str) -> None:
    p = tmp_path / f"one.{ext}"
    Image.new("RGB", (1, 1), (10, 200, 30)).save(p)
    li = load_image(p)
    assert li.rgb.shape == (1, 1, 3)
    assert np.abs(li.rgb[0, 0].astype(int) - [10, 200, 30]).max() <= 12


def test_jpeg_quality_dpi_and_format(tmp_path: Path) -> None:
    for q in (50, 75, 90, 95):
        p = tmp_path / f"q{q}.jpeg"
        Image.fromarray(_rand_rgb(16, 16)).save(p, quality=q, dpi=(240, 240))
        li = load_image(p)
        assert li.format == "JPEG" and li.dpi == (240.0, 240.0)
        assert li.quality is not None and abs(li.quality - q) <= 1


# --------------------------------------------------------------------------- refusals


def _refused(path: Path, *needles: str, **kw: object) -> str:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert isinstance(info.value, EngineError)
    assert str(path) in msg, msg
    assert "\n" not in msg and msg.endswith(".")
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.png", "does not exist")


def test_nul_in_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError):
        load_image(str(tmp_path / "a\x00b.png"))
    with pytest.raises(ImageSaveError):
        save_image(str(tmp_path / "a\x00b.png"), _rand_rgb(2, 2))


def test_folder_instead_of_file(tmp_path: Path) -> None:
    _refused(tmp_path, "folder")


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.touch()
    _refused(p, "empty")


def test_text_file_named_png(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("this is not a picture\nreally\n")
    _refused(p, "text file")


def test_unknown_binary_format(tmp_path: Path) -> None:
    p = tmp_path / "blob.png"
    p.write_bytes(bytes(range(256)) * 4)
    _refused(p, "not in a supported image format")


def test_eps_is_not_handed_to_ghostscript(tmp_path: Path) -> None:
    p = tmp_path / "x.eps"
    p.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    _refused(p)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_truncated_files(tmp_path: Path, ext: str) -> None:
    full = tmp_path / f"full.{ext}"
    Image.fromarray(_rand_rgb(64, 64)).save(full)
    p = tmp_path / f"cut.{ext}"
    p.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    _refused(p)


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG claiming w x h pixels whose data stream is a few bytes: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused_from_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(40000, 40000))

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    msg = _refused(p, "40000x40000", "1,600,000,000 pixels", "250,000,000")
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard is restored afterwards
    assert "decompression bomb" in msg


def test_pixel_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "small.png"
    Image.new("RGB", (64, 64)).save(p)
    _refused(p, "64x64", "4,096 pixels", "limit of 1,000 pixels", max_pixels=1000)
    monkeypatch.setattr(imageio.formats, "max_pixels", 4000)
    _refused(p, "limit of 4,000 pixels")
    assert load_image(p, max_pixels=4096).size == (64, 64)


def test_image_over_pillows_own_limit_but_under_ours_is_not_refused_early(tmp_path: Path) -> None:
    # Pillow alone raises DecompressionBombError above 2 x 89.5 MP; our default is 250 MP.
    # Here the header is accepted and the (fake) data stream then fails as a damaged file.
    p = tmp_path / "big.png"
    p.write_bytes(_png_header_only(15000, 14000))  # 210 MP
    msg = _refused(p)
    assert "limit" not in msg


# --------------------------------------------------------------------------- masks


def test_mask_grey_nonzero_is_hole(tmp_path: Path) -> None:
    m = np.array([[0, 1, 128], [255, 0, 7]], dtype=np.uint8)
    Image.fromarray(m).save(tmp_path / "m.png")
    out = load_mask(tmp_path / "m.png", (3, 2))
    assert out.dtype == np.bool_ and out.tolist() == [[False, True, True], [True, False, True]]


def test_mask_rgb_any_channel_counts(tmp_path: Path) -> None:
    m = np.zeros((2, 3, 3), np.uint8)
    m[0, 0] = (255, 0, 0)
    m[1, 2] = (0, 0, 1)
    Image.fromarray(m).save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (3, 2)).tolist() == [
        [True, False, False],
        [False, False, True],
    ]


def test_mask_rgba_uniform_colour_uses_alpha(tmp_path: Path) -> None:
    m = np.zeros((2, 3, 4), np.uint8)
    m[..., :3] = 255  # white everywhere; only the alpha says where the strokes are
    m[0, 1, 3] = 255
    m[1, 0, 3] = 10
    Image.fromarray(m, "RGBA").save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (3, 2)).tolist() == [
        [False, True, False],
        [True, False, False],
    ]


def test_mask_rgba_opaque_uses_colour(tmp_path: Path) -> None:
    m = np.zeros((2, 2, 4), np.uint8)
    m[..., 3] = 255
    m[0, 0, :3] = 255
    Image.fromarray(m, "RGBA").save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (2, 2)).tolist() == [[True, False], [False, False]]
    Image.new("RGBA", (2, 2), (0, 0, 0, 255)).save(tmp_path / "black.png")
    assert not load_mask(tmp_path / "black.png", (2, 2)).any()


def test_mask_palette_16bit_and_1bit(tmp_path: Path) -> None:
    pal = Image.new("P", (3, 1))
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.putdata([0, 1, 0])
    pal.save(tmp_path / "p.png")
    assert load_mask(tmp_path / "p.png", (3, 1)).tolist() == [[False, True, False]]
    Image.fromarray(np.array([[0, 1, 65535]], dtype=np.uint16)).save(tmp_path / "i16.png")
    assert load_mask(tmp_path / "i16.png", (3, 1)).tolist() == [[False, True, True]]
    Image.fromarray(np.array([[True, False, True]])).save(tmp_path / "b.png")
    assert load_mask(tmp_path / "b.png", (3, 1)).tolist() == [[True, False, True]]


def test_mask_16bit_colour_keeps_small_values(tmp_path: Path) -> None:
    m = np.zeros((1, 3, 3), np.uint16)
    m[0, 1, 1] = 3  # would become 0 if reduced to 8 bits first
    assert cv2.imwrite(str(tmp_path / "c16.png"), m)
    assert load_mask(tmp_path / "c16.png", (3, 1)).tolist() == [[False, True, False]]


def test_mask_jpeg_threshold(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint8)
    m[5:21, 7:19] = 255  # not aligned with the 8 x 8 blocks, so JPEG rings around it
    p = tmp_path / "m.jpg"
    Image.fromarray(m).save(p, quality=60)
    with Image.open(p) as im:
        noisy = np.asarray(im)
    assert ((noisy > 0) != (m > 0)).any()  # JPEG ringing: non-zero alone would be wrong
    np.testing.assert_array_equal(load_mask(p, (32, 32)), m > 0)


def test_mask_lossy_and_lossless_webp(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint8)
    m[5:21, 7:19] = 255
    m[30, 30] = 1  # a faint dot: a hole in a lossless file
    lossy, lossless = tmp_path / "lossy.webp", tmp_path / "lossless.webp"
    Image.fromarray(m).save(lossy, quality=40)
    Image.fromarray(m).save(lossless, lossless=True)
    with Image.open(lossy) as im:
        decoded = np.asarray(im.convert("L"))
    assert ((decoded > 0) != (decoded > 127)).any()  # the threshold matters for this file
    np.testing.assert_array_equal(load_mask(lossy, (32, 32)), decoded > 127)
    np.testing.assert_array_equal(load_mask(lossless, (32, 32)), m > 0)


@pytest.mark.parametrize("ext", ["png", "tif", "jpg"])
@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_mask_applies_its_own_orientation(tmp_path: Path, ext: str, orientation: int) -> None:
    upright = np.zeros((16, 32), np.uint8)
    upright[:8, 24:] = 255  # top-right block
    p = tmp_path / f"m.{ext}"
    Image.fromarray(np.ascontiguousarray(STORED[orientation](upright))).save(
        p, exif=_exif(t274=orientation)
    )
    np.testing.assert_array_equal(load_mask(p, (32, 16)), upright > 0)


def test_mask_size_mismatch_names_both_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "m.png"
    Image.new("L", (640, 480)).save(p)
    with monkeypatch.context() as mp:  # refused from the header, nothing decoded
        mp.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
        with pytest.raises(ImageLoadError, match="640x480"):
            load_mask(p, (1000, 1000))
    with pytest.raises(ImageLoadError) as info:
        load_mask(p, (1024, 768))
    msg = str(info.value)
    assert "is 640x480 but the image is 1024x768" in msg and str(p) in msg
    with pytest.raises(ImageLoadError, match="rotated"):
        load_mask(p, (480, 640))


def test_mask_refusals_are_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="mask file .* does not exist"):
        load_mask(tmp_path / "none.png", (2, 2))
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(ImageLoadError, match="sketch file .* text file"):
        load_sketch(tmp_path / "t.png", (2, 2))


def test_sketch_white_on_black(tmp_path: Path) -> None:
    s = np.zeros((4, 4, 3), np.uint8)
    s[1, :] = 255
    Image.fromarray(s).save(tmp_path / "s.png")
    out = load_sketch(tmp_path / "s.png", (4, 4))
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, s[..., 0] > 0)


def test_save_mask_round_trip(tmp_path: Path) -> None:
    m = np.random.default_rng(3).random((9, 11)) > 0.5
    p = tmp_path / "mask.png"
    save_mask(p, m)
    with Image.open(p) as im:
        assert im.mode == "L" and im.format == "PNG"
        assert set(np.unique(np.asarray(im)).tolist()) <= {0, 255}
    np.testing.assert_array_equal(load_mask(p, (11, 9)), m)


# --------------------------------------------------------------------------- saving


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_metadata_round_trip(tmp_path: Path, ext: str) -> None:
    exif = _exif(t271="Maker", t272="Model", t274=6)
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09"}  # DateTimeOriginal in the Exif sub-IFD
    exif[0x8825] = {1: "N", 2: (52.0, 30.0, 0.0)}  # GPS
    icc = _srgb_icc()
    rgb = _rand_rgb(12, 10)
    p = tmp_path / f"out.{ext}"
    save_image(p, rgb, exif=exif.tobytes(), icc=icc, dpi=(300, 300), quality=100)
    li = load_image(p)
    assert li.size == (10, 12)  # Orientation 6 in the input must not rotate what we wrote
    ex = _exif_of(li.exif)
    assert ex[271] == "Maker" and ex[272] == "Model" and ex.get(ORIENTATION, 1) == 1
    assert ex.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert ex.get_ifd(0x8825)[1] == "N"
    assert li.icc == icc
    assert li.dpi == (300.0, 300.0)
    if ext != "jpg":
        np.testing.assert_array_equal(li.rgb, rgb)  # lossless (WebP at quality 100)


def test_load_then_save_keeps_everything(tmp_path: Path) -> None:
    src = tmp_path / "src.jpg"
    stored = _rand_rgb(8, 16)
    Image.fromarray(stored).save(
        src, quality=88, dpi=(72, 72), icc_profile=_srgb_icc(), exif=_exif(t274=8, t305="Cam 1.0")
    )
    li = load_image(src)
    out = tmp_path / "out.jpg"
    save_image(out, li.rgb, alpha=li.alpha, **li.save_kwargs())
    back = load_image(out)
    assert back.size == li.size == (8, 16)
    assert back.quality == 88 and back.dpi == (72.0, 72.0) and back.icc == li.icc
    assert _exif_of(back.exif)[305] == "Cam 1.0"


@pytest.mark.parametrize("ext", ["png", "webp", "tif"])
def test_alpha_kept(tmp_path: Path, ext: str) -> None:
    rgb = _rand_rgb(6, 5)
    alpha = np.random.default_rng(1).integers(0, 256, (6, 5), dtype=np.uint8)
    p = tmp_path / f"a.{ext}"
    save_image(p, rgb, alpha=alpha, quality=100)
    li = load_image(p)
    np.testing.assert_array_equal(li.alpha, alpha)
    np.testing.assert_array_equal(li.rgb, rgb)


def test_jpeg_drops_alpha(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    save_image(p, _rand_rgb(6, 5), alpha=np.zeros((6, 5), np.uint8))
    with Image.open(p) as im:
        assert im.mode == "RGB"


def test_jpeg_quality_is_used(tmp_path: Path) -> None:
    rgb = _rand_rgb(32, 32)
    save_image(tmp_path / "lo.jpg", rgb, quality=30)
    save_image(tmp_path / "hi.jpg", rgb, quality=95)
    assert load_image(tmp_path / "lo.jpg").quality == 30
    assert load_image(tmp_path / "hi.jpg").quality == 95
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size


def test_webp_dpi_travels_in_exif(tmp_path: Path) -> None:
    p = tmp_path / "d.webp"
    save_image(p, _rand_rgb(4, 4), dpi=(144, 96))
    assert load_image(p).dpi == (144.0, 96.0)


def test_format_argument_overrides_extension(tmp_path: Path) -> None:
    p = tmp_path / "noext"
    save_image(p, _rand_rgb(4, 4), format="jpg")
    with Image.open(p) as im:
        assert im.format == "JPEG"


def test_unknown_extension_is_a_save_error(tmp_path: Path) -> None:
    with pytest.raises(ImageSaveError, match=r"\.xyz"):
        save_image(tmp_path / "a.xyz", _rand_rgb(2, 2))
    assert list(tmp_path.iterdir()) == []


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n not in keep)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_failed_encode_leaves_target_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    target = tmp_path / f"photo_inpainted.{ext}"
    target.write_bytes(b"previous result")

    def half_written(self: Image.Image, fp: io.BufferedWriter, *a: object, **k: object) -> None:
        fp.write(b"partial")
        raise RuntimeError("encoder exploded")

    def png_fails(*a: object, **k: object) -> None:
        raise cv2.error("encoder exploded")

    # PNG goes through OpenCV's encoder, the other formats through Pillow's.
    monkeypatch.setattr(Image.Image, "save", half_written)
    monkeypatch.setattr(cv2, "imencode", png_fails)
    with pytest.raises(ImageSaveError) as info:
        save_image(target, _rand_rgb(4, 4), alpha=np.zeros((4, 4), np.uint8))
    assert str(target) in str(info.value) and "could not be encoded" in str(info.value)
    assert target.read_bytes() == b"previous result"
    assert _leftovers(tmp_path, {target.name}) == []


@pytest.mark.parametrize("ext", ["png", "jpg", "tif"])
def test_disk_full_message_and_cleanup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    target = tmp_path / f"x.{ext}"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:  # the data hits the disk at fsync at the latest
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ImageSaveError, match="disk is full"):
        save_image(target, _rand_rgb(4, 4))
    with pytest.raises(ImageSaveError, match="disk is full"):
        save_mask(tmp_path / "m.png", np.zeros((2, 2), bool))
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path, {target.name}) == []


def test_unwritable_or_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageSaveError, match="does not exist"):
        save_image(tmp_path / "no" / "such" / "x.png", _rand_rgb(2, 2))

    def denied(*a: object, **k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    from app.engine import atomic

    monkeypatch.setattr(atomic, "_create_temp", denied)  # the temp file beside the target
    with pytest.raises(ImageSaveError, match="not writable"):
        save_image(tmp_path / "x.png", _rand_rgb(2, 2))


def test_interrupted_rename_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "t.png"
    save_image(target, np.zeros((2, 2, 3), np.uint8))
    before = target.read_bytes()

    def busy(src: str, dst: object) -> None:
        raise PermissionError(errno.EACCES, "file is in use")

    monkeypatch.setattr(imageio.save.os, "replace", busy)
    with pytest.raises(ImageSaveError):
        save_image(target, np.full((2, 2, 3), 255, np.uint8))
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"t.png"}) == []


def test_successful_save_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "t.tif"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    save_image(target, _rand_rgb(3, 3))
    assert _leftovers(tmp_path, {"t.tif"}) == []
    assert target.stat().st_mode & 0o777 == 0o640  # an existing file's permissions are kept
    np.testing.assert_array_equal(load_image(target).rgb, _rand_rgb(3, 3))


def test_save_through_symlink_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "real.png"
    save_image(real, np.zeros((2, 2, 3), np.uint8))
    link = tmp_path / "link.png"
    link.symlink_to(real)
    save_image(link, np.full((2, 2, 3), 7, np.uint8))
    assert link.is_symlink()
    assert load_image(real).rgb[0, 0, 0] == 7


def test_bad_arrays_are_programming_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError):
        save_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError):
        save_image(
            tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8), alpha=np.zeros((3, 3), np.uint8)
        )


# --------------------------------------------------------------------------- paths / changes


def test_default_output_path(tmp_path: Path) -> None:
    img = tmp_path / "holiday.JPG"
    assert default_output_path(img) == tmp_path / "holiday_inpainted.JPG"
    assert default_output_path(img, "png") == tmp_path / "holiday_inpainted.png"
    assert default_output_path(img, ".webp") == tmp_path / "holiday_inpainted.webp"
    (tmp_path / "holiday_inpainted.JPG").write_bytes(b"x")
    assert default_output_path(img) == tmp_path / "holiday_inpainted_2.JPG"
    (tmp_path / "holiday_inpainted_2.JPG").write_bytes(b"x")
    assert default_output_path(img) == tmp_path / "holiday_inpainted_3.JPG"
    assert default_output_path(img, overwrite=True) == tmp_path / "holiday_inpainted.JPG"
    # A result opened again is not suffixed twice; formats we cannot write become PNG.
    assert (
        default_output_path(tmp_path / "holiday_inpainted_2.JPG")
        == tmp_path / "holiday_inpainted_3.JPG"
    )
    assert default_output_path(tmp_path / "anim.gif") == tmp_path / "anim_inpainted.png"


def test_file_changed_since(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    Image.fromarray(_rand_rgb(4, 4)).save(p)
    li = load_image(p)
    assert not file_changed_since(li)
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert file_changed_since(li)
    li2 = load_image(p)
    p.unlink()
    assert file_changed_since(li2)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_uncompressed_rotated_tiff_single_and_four_band(tmp_path: Path, mode: str) -> None:
    # Pillow memory-maps uncompressed L/RGBA files opened by name and then mis-rotates them;
    # the loader must give the same upright pixels as for any other layout.
    bands = len(mode)
    upright = np.random.default_rng(5).integers(0, 256, (4, 6, bands), dtype=np.uint8)
    stored = np.ascontiguousarray(STORED[6](upright))
    p = tmp_path / "r.tif"
    Image.fromarray(stored[..., 0] if bands == 1 else stored, mode).save(p, exif=_exif(t274=6))
    li = load_image(p)
    np.testing.assert_array_equal(li.rgb[..., 0], upright[..., 0])
    if bands == 4:
        np.testing.assert_array_equal(li.rgb, upright[..., :3])
        np.testing.assert_array_equal(li.alpha, upright[..., 3])


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((5, 7), np.bool_), ((5, 7, 4), np.uint16), ((5, 7, 2), np.uint8), ((5, 7, 3), np.float32)],
)
def test_orient_array_undoes_every_orientation_for_all_plane_kinds(
    shape: tuple[int, ...], dtype: type
) -> None:
    # Covers the OpenCV fast path (bool, uint16 x 4) and the numpy fallback (2 or float).
    from app.metadata import orient_array

    upright = (np.random.default_rng(2).random(shape) * 200).astype(dtype)
    for orientation in range(1, 9):
        out = orient_array(STORED[orientation](upright), orientation)
        assert out.dtype == upright.dtype and out.flags.c_contiguous
        np.testing.assert_array_equal(out, upright)


def test_jpeg_exif_over_64k_drops_makernote_then_gives_up(tmp_path: Path) -> None:
    big = _exif(t271="Maker")
    big[0x8769] = {0x927C: b"\x01" * 70_000, 0x9003: "2024:01:02 03:04:05"}  # huge MakerNote
    p = tmp_path / "a.jpg"
    save_image(p, _rand_rgb(8, 8), exif=big.tobytes())
    ex = _exif_of(load_image(p).exif)
    assert ex[271] == "Maker" and 0x927C not in ex.get_ifd(0x8769)
    assert ex.get_ifd(0x8769)[0x9003] == "2024:01:02 03:04:05"
    hopeless = _exif(t270="x" * 70_000)  # too big even without a MakerNote
    save_image(p, _rand_rgb(8, 8), exif=hopeless.tobytes())
    assert load_image(p).exif is None  # saved without EXIF rather than failing the save
    save_image(tmp_path / "a.png", _rand_rgb(8, 8), exif=hopeless.tobytes())
    assert len(_exif_of(load_image(tmp_path / "a.png").exif)[270]) == 70_000  # PNG has no cap
