"""Descriptive photo metadata carried across saves: XMP (orientation reset to 1, dimensions
fixed), IPTC-IIM (JPEG APP13 / TIFF tag 33723) and PNG text chunks, and an XMP packet built from
IPTC / PNG text for formats that cannot hold those. Used by app.imageio; Qt-free and pixel-free.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
from xml.sax.saxutils import escape

from PIL import Image, ImageFile, IptcImagePlugin

from app.metadata import JPEG_EXIF_LIMIT

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- XMP

# Bytes an XMP packet may have in a JPEG APP1 segment, after the segment's namespace header.
_XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_XMP_LIMIT = JPEG_EXIF_LIMIT - len(_XMP_JPEG_HEADER)
# Bytes a JPEG APP13 (Photoshop image resources) segment may hold after its length field.
JPEG_APP13_LIMIT = JPEG_EXIF_LIMIT

_NS_TIFF = "http://ns.adobe.com/tiff/1.0/"
_NS_EXIF = "http://ns.adobe.com/exif/1.0/"
_PREFIX = r"[A-Za-z_][\w.-]{0,40}"


def read_xmp(im: Image.Image) -> bytes | None:
    """The raw XMP packet of an opened image (JPEG APP1, PNG iTXt, WebP chunk, TIFF tag 700).

    PNGs written by ImageMagick keep XMP in a "Raw profile type xmp" text chunk instead.
    """
    data = im.info.get("xmp")
    if not data and im.format == "PNG":  # some writers use tEXt/zTXt, not the iTXt of the spec
        data = im.info.get("XML:com.adobe.xmp") or _raw_profile(
            im.info.get("Raw profile type xmp")
        )
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data) if isinstance(data, (bytes, bytearray)) and data else None


def _prefixes(text: str, uri: str, usual: str) -> set[str]:
    """Prefixes bound to `uri` in the packet (almost always just `usual`)."""
    bound = re.findall(rf"xmlns:({_PREFIX})\s*=\s*[\"']{re.escape(uri)}[\"']", text)
    return {usual, *bound}


def _set_property(text: str, prefix: str, name: str, value: int) -> str:
    """Give every `prefix:name` property, as attribute or element, the value `value`."""
    qname = re.escape(f"{prefix}:{name}")
    text = re.sub(
        rf"(?<=\s)({qname}\s*=\s*)([\"'])[^\"'<>]*\2",  # XML puts space before attributes
        lambda m: f"{m[1]}{m[2]}{value}{m[2]}",
        text,
    )
    return re.sub(
        rf"(<{qname}(?:\s[^<>]*)?>)[^<]*(</{qname}\s*>)",
        lambda m: f"{m[1]}{value}{m[2]}",
        text,
    )


def prepare_xmp(xmp: bytes | str | None, size: tuple[int, int]) -> bytes | None:
    """An XMP packet fit to travel with upright pixels of `size` (w, h), or None.

    tiff:Orientation becomes 1 (the pixels are already upright: a viewer that honours the
    XMP copy would otherwise turn them again) and the tiff:/exif: pixel dimensions are set
    to `size`. The edit is textual, so everything else in the packet stays byte for byte.
    A packet that is not UTF-8 text or does not look like XMP is dropped (logged).
    """
    if not xmp:
        return None
    try:
        text = xmp if isinstance(xmp, str) else bytes(xmp).decode("utf-8")
    except UnicodeDecodeError:
        log.warning("dropping XMP metadata that is not UTF-8 text")
        return None
    if "xmpmeta" not in text and "rdf:RDF" not in text:
        log.warning("dropping XMP metadata without an x:xmpmeta or rdf:RDF element")
        return None
    w, h = int(size[0]), int(size[1])
    for prefix in _prefixes(text, _NS_TIFF, "tiff"):
        if f"{prefix}:" not in text:
            continue
        text = _set_property(text, prefix, "Orientation", 1)
        text = _set_property(text, prefix, "ImageWidth", w)
        text = _set_property(text, prefix, "ImageLength", h)
    for prefix in _prefixes(text, _NS_EXIF, "exif"):
        if f"{prefix}:" not in text:
            continue
        text = _set_property(text, prefix, "PixelXDimension", w)
        text = _set_property(text, prefix, "PixelYDimension", h)
    return text.encode("utf-8")


def fit_xmp(xmp: bytes, limit: int) -> bytes | None:
    """`xmp` within `limit` bytes: its in-place-editing padding is removed if that helps.

    Returns None (logged) when even the compact packet is too large.
    """
    if len(xmp) <= limit:
        return xmp
    # The padding is the whitespace ahead of the closing processing instruction.
    end = xmp.rfind(b"<?xpacket end=")
    compact = xmp[:end].rstrip() + b"\n" + xmp[end:] if end > 0 else xmp
    if len(compact) <= limit:
        return compact
    log.warning("XMP metadata dropped: %d bytes is more than JPEG can hold", len(compact))
    return None


# --------------------------------------------------------------------------- IPTC

_PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
_IRB_IPTC = 0x0404
_IRB_IPTC_DIGEST = 0x0425
_IPTC_UTF8 = b"\x1b%G"  # record 1 dataset 90 (coded character set) value for UTF-8


def read_iptc(im: Image.Image) -> bytes | None:
    """The raw IPTC-IIM block of an opened image, or None.

    JPEG: the Photoshop resource 0x0404 in APP13; TIFF: tag 33723 (stored as bytes or, as
    Photoshop does, as LONGs); PNG: ImageMagick's "Raw profile type iptc" text chunk.
    Raises ValueError for a block that does not parse as IIM datasets.
    """
    data: object = None
    if im.format in ("JPEG", "MPO"):
        data = (im.info.get("photoshop") or {}).get(_IRB_IPTC)
    elif im.format == "TIFF":
        tags = getattr(im, "tag_v2", None)
        data = tags.get(33723) if tags is not None else None
        if data is not None and not isinstance(data, bytes) and isinstance(im, ImageFile.ImageFile):
            # Photoshop stores the block as LONGs, of which tag_v2 keeps only the first:
            # Pillow's IPTC reader sees the whole tag, and its datasets are written back.
            data = iptc_block(IptcImagePlugin.getiptcinfo(im) or {})
    elif im.format == "PNG":
        data = _raw_profile(im.info.get("Raw profile type iptc"))
        if data and data.startswith((_PHOTOSHOP_HEADER, b"8BIM")):
            data = _irb_resources(data).get(_IRB_IPTC)
    if not isinstance(data, (bytes, bytearray)) or not data:
        return None
    return bytes(data) if iptc_records(bytes(data)) else None


def clean_iptc(data: object) -> bytes | None:
    """`data` as bytes when it is a readable IPTC-IIM block with datasets, else None (logged)."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or not data:
        return None
    data = bytes(data)
    try:
        if not iptc_records(data):
            return None
    except ValueError as e:
        log.warning("dropping unreadable IPTC metadata (%s)", e)
        return None
    return data


def iptc_records(data: bytes) -> list[tuple[int, int, bytes]]:
    """(record, dataset, value) of each IPTC-IIM dataset; trailing padding is ignored.

    Raises ValueError when the block is damaged (a dataset running past the end).
    """
    out: list[tuple[int, int, bytes]] = []
    pos, end = 0, len(data)
    while pos + 5 <= end and data[pos] == 0x1C:
        record, dataset = data[pos + 1], data[pos + 2]
        size = int.from_bytes(data[pos + 3 : pos + 5], "big")
        pos += 5
        if size & 0x8000:  # extended dataset: the low bits give the length of the length
            n = size & 0x7FFF
            if n > 4 or pos + n > end:
                raise ValueError("bad extended IPTC dataset length")
            size = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        if pos + size > end:
            raise ValueError("IPTC dataset runs past the end of the block")
        out.append((record, dataset, data[pos : pos + size]))
        pos += size
    if pos < end and data[pos:].strip(b"\x00"):
        raise ValueError("IPTC block has bytes that are not datasets")
    return out


def iptc_block(datasets: dict[tuple[int, int], bytes | list[bytes]]) -> bytes:
    """IPTC-IIM bytes of {(record, dataset): value or values} (as Pillow's getiptcinfo gives)."""
    out = b""
    for (record, dataset), values in sorted(datasets.items()):
        for value in values if isinstance(values, list) else [values]:
            n = len(value)
            # Values of 32 KB and more use the extended form: a 4-byte length follows.
            size = struct.pack(">H", n) if n < 0x8000 else struct.pack(">HI", 0x8004, n)
            out += bytes((0x1C, record, dataset)) + size + value
    return out


def _irb_resource(code: int, data: bytes) -> bytes:
    # 8BIM, id, empty Pascal name padded to an even length, size, data padded to even.
    return b"8BIM" + struct.pack(">HHI", code, 0, len(data)) + data + b"\x00" * (len(data) & 1)


def _irb_resources(data: bytes) -> dict[int, bytes]:
    """Photoshop image resources {id: data} of an IRB (with or without its APP13 header)."""
    pos = len(_PHOTOSHOP_HEADER) if data.startswith(_PHOTOSHOP_HEADER) else 0
    out: dict[int, bytes] = {}
    while data[pos : pos + 4] == b"8BIM" and pos + 7 <= len(data):
        code, name_len = struct.unpack(">HB", data[pos + 4 : pos + 7])
        pos += 7 + name_len
        pos += pos & 1
        if pos + 4 > len(data):
            break
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 4
        out[code] = data[pos : pos + size]
        pos += size + (size & 1)
    return out


def iptc_jpeg_segment(iptc: bytes) -> bytes | None:
    """A complete JPEG APP13 segment holding `iptc`, or None (logged) when over 64 KB.

    Only the IPTC resource travels, with its MD5 digest (0x0425) so Photoshop trusts it;
    other Photoshop resources of the source (thumbnails, slices) would describe old pixels.
    """
    payload = (
        _PHOTOSHOP_HEADER
        + _irb_resource(_IRB_IPTC, iptc)
        + _irb_resource(_IRB_IPTC_DIGEST, hashlib.md5(iptc).digest())
    )
    if len(payload) > JPEG_APP13_LIMIT:
        log.warning("IPTC metadata dropped: %d bytes is more than JPEG can hold", len(iptc))
        return None
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def _raw_profile(value: object) -> bytes | None:
    """Bytes of an ImageMagick "Raw profile type NAME" PNG text: "\\nNAME\\n  LEN\\nHEX..."."""
    if not isinstance(value, str):
        return None
    lines = value.strip("\n").split("\n")
    try:
        size = int(lines[1])
        data = bytes.fromhex("".join(lines[2:]))
    except (IndexError, ValueError):
        return None
    return data[:size] if len(data) >= size else None


# --------------------------------------------------------------------------- PNG text

# Text chunks that hold a metadata block in another guise: they travel as that block.
_PNG_TEXT_HANDLED = ("XML:com.adobe.xmp", "Raw profile type ")


def read_png_text(im: Image.Image) -> dict[str, str]:
    """A PNG's descriptive text chunks (Title, Author, Description, Copyright, ...).

    Pillow files text chunks under im.info as str values (no other PNG info entry is a str).
    Call after im.load() to include chunks stored after the pixels; before it, only those
    ahead of the pixels are seen.
    """
    if im.format != "PNG":
        return {}
    return {
        str(k): str(v)
        for k, v in im.info.items()
        if isinstance(k, str) and isinstance(v, str) and not k.startswith(_PNG_TEXT_HANDLED)
    }


# --------------------------------------------------------------------------- XMP from IPTC / PNG text

# IPTC-IIM datasets (record 2) and PNG text keys with their IPTC Core XMP property.
# Kind: "alt" = language alternative, "seq" / "bag" = list, "text" = simple value.
_IPTC_TO_XMP: dict[int, tuple[str, str]] = {
    5: ("dc:title", "alt"),
    120: ("dc:description", "alt"),
    116: ("dc:rights", "alt"),
    80: ("dc:creator", "seq"),
    25: ("dc:subject", "bag"),
    105: ("photoshop:Headline", "text"),
    110: ("photoshop:Credit", "text"),
    115: ("photoshop:Source", "text"),
    40: ("photoshop:Instructions", "text"),
    90: ("photoshop:City", "text"),
    95: ("photoshop:State", "text"),
    101: ("photoshop:Country", "text"),
}
_PNG_TO_XMP: dict[str, tuple[str, str]] = {
    "Title": ("dc:title", "alt"),
    "Description": ("dc:description", "alt"),
    "Copyright": ("dc:rights", "alt"),
    "Author": ("dc:creator", "seq"),
}
_XML_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _iptc_text(value: bytes, utf8: bool) -> str:
    if utf8:
        return value.decode("utf-8", errors="replace")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")  # older files: ISO 8859-1 without a charset dataset


def metadata_fields(iptc: bytes | None, text: dict[str, str] | None) -> dict[str, list[str]]:
    """{XMP property: values} of the IPTC block and PNG text; IPTC wins where both have one."""
    fields: dict[str, list[str]] = {}
    for key, value in (text or {}).items():
        if key in _PNG_TO_XMP and value.strip():
            fields[_PNG_TO_XMP[key][0]] = [value]
    if iptc:
        try:
            records = iptc_records(iptc)
        except ValueError:
            records = []
        utf8 = any(r == 1 and d == 90 and v == _IPTC_UTF8 for r, d, v in records)
        from_iptc: dict[str, list[str]] = {}
        for record, dataset, raw in records:
            if record == 2 and dataset in _IPTC_TO_XMP and raw.strip(b"\x00 "):
                prop = _IPTC_TO_XMP[dataset][0]
                from_iptc.setdefault(prop, []).append(_iptc_text(raw.rstrip(b"\x00"), utf8))
        fields.update(from_iptc)
    return fields


def xmp_from_fields(fields: dict[str, list[str]]) -> bytes | None:
    """A small XMP packet (IPTC Core properties) holding `fields`, or None when empty."""
    kinds = dict((*_IPTC_TO_XMP.values(), *_PNG_TO_XMP.values()))
    parts: list[str] = []
    for prop, values in fields.items():
        values = [_XML_CONTROL.sub("", v) for v in values]
        kind = kinds.get(prop)
        if not values or kind is None:
            continue
        if kind == "alt":
            inner = f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(values[0])}</rdf:li></rdf:Alt>'
        elif kind in ("seq", "bag"):
            items = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in values)
            inner = f"<rdf:{kind.capitalize()}>{items}</rdf:{kind.capitalize()}>"
        else:
            inner = escape(values[0])
        parts.append(f"   <{prop}>{inner}</{prop}>\n")
    if not parts:
        return None
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">\n'
        + "".join(parts)
        + "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")
