"""XMP, IPTC and PNG text survive load -> save in every format, with the XMP orientation reset.

Source files are built byte by byte here (the IPTC datasets and the Photoshop APP13 block
included) and results are read back with Pillow, independently of app.metadata's parsers.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps, IptcImagePlugin, PngImagePlugin

from app import imageio
from app.metadata_text import prepare_xmp

CAPTION = "Café au lait — Straße"
KEYWORDS = ["street", "night", "Zürich"]
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
SAVE_EXTS = ["jpg", "png", "tif", "webp"]


def iim(*datasets: tuple[int, int, bytes]) -> bytes:
    """IPTC-IIM bytes: 0x1C, record, dataset, 2-byte big-endian size, value."""
    return b"".join(b"\x1c" + bytes((r, d)) + struct.pack(">H", len(v)) + v for r, d, v in datasets)


def photo_iptc(caption: str = CAPTION) -> bytes:
    return iim(
        (1, 90, b"\x1b%G"),  # coded character set: UTF-8
        (2, 120, caption.encode()),
        *((2, 25, k.encode()) for k in KEYWORDS),
        (2, 116, b"(c) 2024 Ann Example"),
        (2, 80, b"Ann Example"),
    )


def app13(iptc: bytes, *others: tuple[int, bytes]) -> bytes:
    """A JPEG APP13 segment: "Photoshop 3.0" + 8BIM resources (IPTC first, then `others`)."""
    body = b"Photoshop 3.0\x00"
    for code, data in ((0x0404, iptc), *others):
        body += b"8BIM" + struct.pack(">HHI", code, 0, len(data)) + data + b"\x00" * (len(data) & 1)
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def xmp_packet(orientation: int, w: int, h: int, caption: str = CAPTION, pad: int = 0) -> bytes:
    keywords = "".join(f"<rdf:li>{k}</rdf:li>" for k in KEYWORDS)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '<rdf:Description rdf:about=""'
        ' xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        f' tiff:Orientation="{orientation}" tiff:ImageWidth="{w}" tiff:ImageLength="{h}"'
        f' exif:PixelXDimension="{w}" exif:PixelYDimension="{h}" xmp:Rating="4">\n'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{caption}</rdf:li></rdf:Alt></dc:description>\n'
        f"<dc:subject><rdf:Bag>{keywords}</rdf:Bag></dc:subject>\n"
        "</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
        + " " * pad
        + '<?xpacket end="w"?>'
    ).encode()


def stored_pixels(w: int = 40, h: int = 30) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 6, yy * 8, (xx + yy) * 3], axis=2).astype(np.uint8)


@pytest.fixture
def tagged_jpeg(tmp_path: Path) -> Path:
    """40x30 stored, EXIF and XMP Orientation 6 (upright 30x40), XMP + IPTC + a thumbnail."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "tagged.jpg"
    thumbnail = (0x040C, b"old thumbnail bytes")
    Image.fromarray(stored_pixels()).save(
        path,
        quality=95,
        exif=exif.tobytes(),
        xmp=xmp_packet(6, 40, 30),
        extra=app13(photo_iptc(), thumbnail),
    )
    return path


def xmp_fields(xmp: bytes) -> dict[str, object]:
    """Caption, keywords and the tiff:/exif: attributes of an XMP packet, parsed as XML."""
    root = ET.fromstring(xmp.decode("utf-8").split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    desc = root.find(f"{RDF}RDF/{RDF}Description")
    assert desc is not None
    attrs = {k.split("}")[1]: v for k, v in desc.attrib.items() if "}" in k}
    caption = desc.find(f"{DC}description/{RDF}Alt/{RDF}li")
    return {
        **attrs,
        "caption": caption.text if caption is not None else None,
        "keywords": [li.text for li in desc.findall(f"{DC}subject/{RDF}Bag/{RDF}li")],
    }


def saved_iptc(im: Image.Image) -> dict[tuple[int, int], object]:
    return IptcImagePlugin.getiptcinfo(im) or {}


def check_saved(path: Path, size: tuple[int, int], *, iptc_expected: bool) -> None:
    """What a photographer's viewer would see in `path`: caption, keywords, upright size."""
    with Image.open(path) as im:
        assert im.size == size
        assert ImageOps.exif_transpose(im).size == size  # honours EXIF and XMP orientation
        fields = xmp_fields(im.info["xmp"])
        assert fields["caption"] == CAPTION
        assert fields["keywords"] == KEYWORDS
        assert fields["Orientation"] == "1"
        assert (fields["PixelXDimension"], fields["PixelYDimension"]) == tuple(map(str, size))
        assert (fields["ImageWidth"], fields["ImageLength"]) == tuple(map(str, size))
        assert fields["Rating"] == "4"
        if iptc_expected:
            info = saved_iptc(im)
            assert info[(2, 120)].decode() == CAPTION
            assert [k.decode() for k in info[(2, 25)]] == KEYWORDS
            assert info[(2, 116)] == b"(c) 2024 Ann Example"
            assert info[(2, 80)] == b"Ann Example"


def test_load_reads_xmp_and_iptc_with_orientation_reset(tagged_jpeg: Path) -> None:
    loaded = imageio.load_image(tagged_jpeg)
    assert loaded.size == (30, 40)  # EXIF orientation 6 applied
    assert loaded.iptc == photo_iptc()
    fields = xmp_fields(loaded.xmp)
    assert fields["Orientation"] == "1"
    assert (fields["PixelXDimension"], fields["PixelYDimension"]) == ("30", "40")
    assert fields["caption"] == CAPTION and fields["keywords"] == KEYWORDS
    kw = loaded.save_kwargs()
    assert kw["xmp"] == loaded.xmp and kw["iptc"] == loaded.iptc


@pytest.mark.parametrize("ext", SAVE_EXTS)
def test_round_trip_keeps_caption_keywords_and_upright_orientation(
    tagged_jpeg: Path, tmp_path: Path, ext: str
) -> None:
    loaded = imageio.load_image(tagged_jpeg)
    out = tmp_path / f"result.{ext}"
    imageio.save_image(out, loaded.rgb, alpha=loaded.alpha, **loaded.save_kwargs())
    check_saved(out, (30, 40), iptc_expected=ext in ("jpg", "tif"))
    again = imageio.load_image(out)  # and our own loader does not turn it a second time
    assert again.size == (30, 40)
    assert xmp_fields(again.xmp)["keywords"] == KEYWORDS  # read back from every format
    assert (again.iptc == photo_iptc()) == (ext in ("jpg", "tif"))
    if ext in ("png", "tif"):
        assert np.array_equal(again.rgb, loaded.rgb)


def test_jpeg_app13_holds_only_the_iptc_and_its_digest(tagged_jpeg: Path, tmp_path: Path) -> None:
    loaded = imageio.load_image(tagged_jpeg)
    out = tmp_path / "result.jpg"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        resources = im.info["photoshop"]
    assert set(resources) == {0x0404, 0x0425}  # the stale thumbnail is not carried over
    assert resources[0x0404] == photo_iptc()
    assert resources[0x0425] == hashlib.md5(photo_iptc()).digest()


@pytest.mark.parametrize("ext", SAVE_EXTS)
def test_xmp_only_orientation_is_not_applied_twice(tmp_path: Path, ext: str) -> None:
    src = tmp_path / "xmp_rotated.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet(6, 40, 30).decode())
    Image.fromarray(stored_pixels()).save(src, pnginfo=info)
    with Image.open(src) as im:  # a viewer turns the source by its XMP orientation
        assert ImageOps.exif_transpose(im).size == (30, 40)
    loaded = imageio.load_image(src)
    assert loaded.size == (30, 40)
    out = tmp_path / f"result.{ext}"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    check_saved(out, (30, 40), iptc_expected=False)


def test_16bit_png_keeps_its_xmp(tmp_path: Path) -> None:
    ok, png = cv2.imencode(".png", (stored_pixels().astype(np.uint16) * 257)[..., ::-1])
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet(1, 40, 30)
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    src = tmp_path / "deep.png"
    src.write_bytes(png.tobytes()[:33] + chunk + png.tobytes()[33:])  # right after IHDR
    loaded = imageio.load_image(src)
    assert "16-bit image reduced to 8 bits per channel." in loaded.notes
    assert xmp_fields(loaded.xmp)["caption"] == CAPTION


def test_prepare_xmp_rewrites_every_spelling_and_nothing_else() -> None:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        "<rdf:Description xmlns:t='http://ns.adobe.com/tiff/1.0/' xmlns:e='http://ns.adobe.com/exif/1.0/'"
        " t:Orientation = '8' xmp:Label='tiff:Orientation=\"5\" is only text'>"
        "<t:ImageWidth>4000</t:ImageWidth><e:PixelYDimension>3000</e:PixelYDimension>"
        "<tiff:Orientation>3</tiff:Orientation><mytiff:Orientation>7</mytiff:Orientation>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    out = prepare_xmp(packet.encode(), (640, 480)).decode()
    assert "t:Orientation = '1'" in out
    assert "<tiff:Orientation>1</tiff:Orientation>" in out
    assert "<t:ImageWidth>640</t:ImageWidth>" in out
    assert "<e:PixelYDimension>480</e:PixelYDimension>" in out
    assert "<mytiff:Orientation>7</mytiff:Orientation>" in out  # another namespace: untouched
    assert """xmp:Label='tiff:Orientation="5" is only text'""" in out  # a value, not a property
    assert len(out) == len(packet) - 2  # only the values changed ("4000" -> "640", ...)
    assert prepare_xmp(b"\xff\xfe not utf-8", (1, 1)) is None
    assert prepare_xmp(b"<html>not xmp</html>", (1, 1)) is None


def test_iptc_only_jpeg_gives_xmp_in_png_and_webp(tmp_path: Path) -> None:
    src = tmp_path / "iptc_only.jpg"
    caption = "Fish & <chips>"  # XML-special characters must be escaped, not break the packet
    Image.fromarray(stored_pixels()).save(src, extra=app13(photo_iptc(caption)))
    loaded = imageio.load_image(src)
    assert loaded.xmp is None and loaded.iptc
    for ext in ("png", "webp"):
        out = tmp_path / f"result.{ext}"
        imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
        with Image.open(out) as im:
            fields = xmp_fields(im.info["xmp"])
        assert fields["caption"] == caption
        assert fields["keywords"] == KEYWORDS
    out = tmp_path / "result.jpg"  # JPEG holds the IPTC itself: no XMP is made up
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        assert "xmp" not in im.info
        assert saved_iptc(im)[(2, 120)].decode() == caption


def test_png_text_round_trip_and_xmp_elsewhere(tmp_path: Path) -> None:
    src = tmp_path / "text.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Harbour at dawn")
    info.add_text("Author", "Ann Example")
    info.add_itxt("Description", CAPTION)  # not Latin-1: must stay UTF-8 text
    info.add_text("Comment", "x" * 3000, zip=True)
    Image.fromarray(stored_pixels()).save(src, pnginfo=info)
    loaded = imageio.load_image(src)
    assert loaded.text["Description"] == CAPTION
    out = tmp_path / "result.png"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        im.load()
        assert im.text == {
            "Title": "Harbour at dawn",
            "Author": "Ann Example",
            "Description": CAPTION,
            "Comment": "x" * 3000,
        }
    out = tmp_path / "result.jpg"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        fields = xmp_fields(im.info["xmp"])
        root = im.info["xmp"].decode()
    assert fields["caption"] == CAPTION
    assert "Harbour at dawn" in root and "Ann Example" in root


def tiff_with_long_iptc(iptc: bytes, w: int = 4, h: int = 3) -> bytes:
    """Uncompressed RGB TIFF whose IPTC tag 33723 is LONGs, as Photoshop writes it."""
    pixels = bytes(range(w * h * 3))
    block = iptc + b"\x00" * (-len(iptc) % 4)
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, h),
               (279, 4, 1, len(pixels)), (33723, 4, len(block) // 4, None)]  # fmt: skip
    ifd_at = 8 + len(pixels)
    bits_at = ifd_at + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if value is None:  # stored after the IFD: bits per sample, then the IPTC block
            ifd += struct.pack("<HHII", tag, kind, count, bits_at if tag == 258 else bits_at + 6)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += b"\x00" * 4 + struct.pack("<HHH", 8, 8, 8)
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + ifd + block


def test_photoshop_style_tiff_iptc_is_read_whole(tmp_path: Path) -> None:
    src = tmp_path / "photoshop.tif"
    src.write_bytes(tiff_with_long_iptc(photo_iptc()))
    loaded = imageio.load_image(src)
    out = tmp_path / "result.jpg"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        info = saved_iptc(im)
    assert info[(2, 120)].decode() == CAPTION
    assert [k.decode() for k in info[(2, 25)]] == KEYWORDS


def test_imagemagick_png_iptc_profile_is_read(tmp_path: Path) -> None:
    data = photo_iptc().hex()
    lines = "\n".join(data[i : i + 72] for i in range(0, len(data), 72))
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type iptc", f"\niptc\n{len(photo_iptc()):8d}\n{lines}\n", zip=True)
    src = tmp_path / "magick.png"
    Image.fromarray(stored_pixels()).save(src, pnginfo=info)
    loaded = imageio.load_image(src)
    assert loaded.iptc == photo_iptc()
    assert loaded.text == {}  # travels as IPTC, not as a text chunk
    imageio.save_image(tmp_path / "result.tif", loaded.rgb, **loaded.save_kwargs())
    with Image.open(tmp_path / "result.tif") as im:
        assert saved_iptc(im)[(2, 120)].decode() == CAPTION


def test_oversize_xmp_in_jpeg_is_compacted_or_left_out(
    tagged_jpeg: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = imageio.load_image(tagged_jpeg)
    padded = xmp_packet(1, 30, 40, pad=70_000)  # fits once its editing padding is dropped
    out = tmp_path / "padded.jpg"
    imageio.save_image(out, loaded.rgb, xmp=padded, iptc=loaded.iptc)
    with Image.open(out) as im:
        assert xmp_fields(im.info["xmp"])["caption"] == CAPTION
        assert len(im.info["xmp"]) < 65_504
    huge = xmp_packet(1, 30, 40, caption="y" * 70_000)
    out = tmp_path / "huge.jpg"
    with caplog.at_level(logging.WARNING, logger="app.metadata"):
        imageio.save_image(out, loaded.rgb, xmp=huge, iptc=loaded.iptc)
    assert "XMP metadata dropped" in caplog.text
    with Image.open(out) as im:  # the file is whole and the IPTC still there
        im.load()
        assert "xmp" not in im.info
        assert saved_iptc(im)[(2, 120)].decode() == CAPTION
    imageio.save_image(tmp_path / "huge.png", loaded.rgb, xmp=huge)  # PNG has no such limit
    with Image.open(tmp_path / "huge.png") as im:
        assert xmp_fields(im.info["xmp"])["caption"] == "y" * 70_000


def test_oversize_iptc_in_jpeg_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big = iim(*((2, 25, b"k" * 1000) for _ in range(70)))
    out = tmp_path / "big_iptc.jpg"
    with caplog.at_level(logging.WARNING, logger="app.metadata"):
        imageio.save_image(out, stored_pixels(), iptc=big)
    assert "IPTC metadata dropped" in caplog.text
    with Image.open(out) as im:
        im.load()
        assert "photoshop" not in im.info
    out = tmp_path / "big_iptc.tif"  # TIFF holds it
    imageio.save_image(out, stored_pixels(), iptc=big)
    with Image.open(out) as im:
        assert len(saved_iptc(im)[(2, 25)]) == 70


def test_damaged_iptc_is_dropped_and_the_photo_opens(tmp_path: Path) -> None:
    src = tmp_path / "bad_iptc.jpg"
    damaged = b"\x1c\x02\x78\x10\x00short"  # says 4096 bytes follow
    Image.fromarray(stored_pixels()).save(src, extra=app13(damaged), xmp=xmp_packet(1, 40, 30))
    loaded = imageio.load_image(src)
    assert loaded.iptc is None
    assert "The IPTC metadata is damaged and was not kept." in loaded.notes
    assert xmp_fields(loaded.xmp)["caption"] == CAPTION
    out = tmp_path / "result.jpg"
    imageio.save_image(out, loaded.rgb, **loaded.save_kwargs())
    with Image.open(out) as im:
        assert "photoshop" not in im.info and "xmp" in im.info


def test_cli_inpaint_keeps_xmp_and_iptc(tagged_jpeg: Path, tmp_path: Path) -> None:
    from app.cli import main as cli
    from tests.tiny import save_tiny_model

    mask = np.zeros((40, 30), np.uint8)
    mask[10:20, 8:18] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    save_tiny_model(tmp_path / "tiny.pt")
    for ext in ("png", "jpg"):
        out = tmp_path / f"cli_out.{ext}"
        code = cli(["inpaint", str(tagged_jpeg), "--mask", str(tmp_path / "mask.png"),
                    "--model", str(tmp_path / "tiny.pt"), "--strategy", "full", "-o", str(out)])  # fmt: skip
        assert code == 0
        check_saved(out, (30, 40), iptc_expected=ext == "jpg")


def test_gui_save_keeps_xmp_and_iptc(qtbot, make_window, tagged_jpeg: Path) -> None:
    from tests.conftest import open_and_wait

    win = make_window()
    open_and_wait(qtbot, win, tagged_jpeg)
    assert win.doc.meta.iptc == photo_iptc()
    for ext in ("png", "jpg"):
        out = tagged_jpeg.with_name(f"gui_result.{ext}")
        with qtbot.waitSignal(win.saved, timeout=15000):
            win.save_to(out, quality=90)
        check_saved(out, (30, 40), iptc_expected=ext == "jpg")


def test_autosave_recovery_keeps_xmp_iptc_and_text(tmp_path: Path) -> None:
    from app.autosave import FORMAT_VERSION, Snapshot, read_session, write_snapshot

    rgb = stored_pixels()
    manifest = {"version": FORMAT_VERSION, "token": "t1", "size": [40, 30],
                "text": {"Title": "Harbour"}}  # fmt: skip
    snap = Snapshot(token="t1", manifest=manifest, mask=np.zeros((30, 40), bool), sketch=None,
                    image_patch=None, original=rgb, xmp=b"<x:xmpmeta/>", iptc=photo_iptc())  # fmt: skip
    write_snapshot(tmp_path, snap)
    meta = read_session(tmp_path).meta
    assert (meta.xmp, meta.iptc, meta.text) == (b"<x:xmpmeta/>", photo_iptc(), {"Title": "Harbour"})
