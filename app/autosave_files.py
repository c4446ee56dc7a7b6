"""The autosave files: what one session folder holds and how it is written and read back.

    original-<token>.npz  the photo as opened (written once per photo)
    state.npz             manifest, changed image rectangle, packed mask and sketch

Every file is written to a temporary name, flushed and renamed over the old one. No Qt here.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.commands import Patch, PatchCommand
from app.document import Document, ImageMeta
from app.engine.atomic import atomic_write
from app.engine.geometry import Rect, bounding_rect

FORMAT_VERSION = 1
STATE = "state.npz"


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as a compressed .npz atomically (temporary file, fsync, rename).

    zlib level 1: photos barely compress at higher levels but take several times longer;
    the packed masks shrink to almost nothing either way.
    """

    def write(raw) -> None:
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)

    atomic_write(path, write)


def _bytes_array(data: bytes | None) -> np.ndarray:
    return np.frombuffer(data or b"", np.uint8)


def _pack(layer: np.ndarray) -> np.ndarray:
    return np.packbits(layer > 0)


def _unpack(bits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    n = shape[0] * shape[1]
    if bits.dtype != np.uint8 or bits.size * 8 < n:
        raise ValueError("damaged layer")
    return np.unpackbits(bits, count=n).reshape(shape) * np.uint8(255)


@dataclass
class Snapshot:
    """Copies of the document taken on the GUI thread; written on a pool thread."""

    token: str
    manifest: dict[str, Any]
    mask: np.ndarray
    sketch: np.ndarray | None
    image_patch: np.ndarray | None  # current pixels inside manifest["image_rect"]
    original: np.ndarray | None = None  # only when original-<token>.npz is not written yet
    alpha: np.ndarray | None = None
    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None


def write_snapshot(folder: Path, snap: Snapshot) -> Path:
    """Write one autosave into a session folder; returns the state file."""
    original_file = folder / f"original-{snap.token}.npz"
    if snap.original is not None:
        arrays = {
            "original": snap.original,
            "exif": _bytes_array(snap.exif),
            "icc": _bytes_array(snap.icc),
            "xmp": _bytes_array(snap.xmp),
            "iptc": _bytes_array(snap.iptc),
        }
        if snap.alpha is not None:
            arrays["alpha"] = snap.alpha
        write_npz(original_file, arrays)
    state: dict[str, np.ndarray] = {
        "manifest": np.array(json.dumps(snap.manifest)),
        "mask": _pack(snap.mask),
    }
    if snap.sketch is not None:
        state["sketch"] = _pack(snap.sketch)
    if snap.image_patch is not None:
        state["image_patch"] = snap.image_patch
    write_npz(folder / STATE, state)
    for old in folder.glob("original-*.npz"):  # the previous photo's, no longer referenced
        if old.name != original_file.name:
            with contextlib.suppress(OSError):
                old.unlink()
    return folder / STATE


@dataclass
class Recovered:
    """A document read back from an autosave."""

    manifest: dict[str, Any]
    original: np.ndarray
    image: np.ndarray
    mask: np.ndarray
    sketch: np.ndarray
    meta: ImageMeta

    @property
    def image_rect(self) -> Rect | None:
        rect = self.manifest.get("image_rect")
        if not rect:
            return None
        x, y, w, h = (int(v) for v in rect)
        return (x, y, w, h)


def read_manifest(folder: Path) -> dict[str, Any]:
    with np.load(folder / STATE, allow_pickle=False) as data:
        manifest = json.loads(str(data["manifest"]))
    if not isinstance(manifest, dict) or manifest.get("version") != FORMAT_VERSION:
        raise ValueError("unknown autosave version")
    return manifest


def read_session(folder: Path) -> Recovered:
    """Read a session's document (ValueError/OSError when it is damaged)."""
    with np.load(folder / STATE, allow_pickle=False) as data:
        manifest = json.loads(str(data["manifest"]))
        if manifest.get("version") != FORMAT_VERSION:
            raise ValueError("unknown autosave version")
        w, h = (int(v) for v in manifest["size"])
        mask = _unpack(data["mask"], (h, w))
        sketch = _unpack(data["sketch"], (h, w)) if "sketch" in data else np.zeros((h, w), np.uint8)
        patch = data.get("image_patch")
    with np.load(folder / f"original-{manifest['token']}.npz", allow_pickle=False) as data:
        original = np.ascontiguousarray(data["original"])
        alpha = data.get("alpha")
        exif = data["exif"].tobytes() or None
        icc = data["icc"].tobytes() or None
        # absent from autosaves written before XMP/IPTC were kept
        xmp = (data["xmp"].tobytes() or None) if "xmp" in data else None
        iptc = (data["iptc"].tobytes() or None) if "iptc" in data else None
    if original.shape != (h, w, 3) or original.dtype != np.uint8:
        raise ValueError("the saved photo does not match its manifest")
    if alpha is not None and alpha.shape != (h, w):
        raise ValueError("the saved alpha does not match the photo")
    image = original.copy()
    rect = manifest.get("image_rect")
    if rect:
        x, y, rw, rh = (int(v) for v in rect)
        if patch is None or patch.shape != (rh, rw, 3):
            raise ValueError("the saved image patch does not match its rectangle")
        image[y : y + rh, x : x + rw] = patch
    dpi = manifest.get("dpi")
    source = manifest.get("source")
    meta = ImageMeta(
        path=Path(source) if source else None,
        format=str(manifest.get("format") or "PNG"),
        exif=exif,
        icc=icc,
        xmp=xmp,
        iptc=iptc,
        text={str(k): str(v) for k, v in (manifest.get("text") or {}).items()},
        dpi=(float(dpi[0]), float(dpi[1])) if dpi else None,
        alpha=alpha,
        notes=[str(n) for n in manifest.get("notes", [])],
        display_name=str(manifest.get("display_name") or "Recovered photo"),
    )
    return Recovered(manifest, original, image, mask, sketch, meta)


def recovered_edits(doc: Document, rec: Recovered) -> PatchCommand | None:
    """The one undo step of a recovered document, applied to `doc` (showing the photo as opened):
    its changed pixels, mask and sketch. None when nothing was changed."""
    patches = []
    rect = rec.image_rect
    if rect is not None:
        x, y, w, h = rect
        before, after = rec.original[y : y + h, x : x + w], rec.image[y : y + h, x : x + w]
        patches.append(Patch.make("image", rect, before, after))
    for layer, arr in (("mask", rec.mask), ("sketch", rec.sketch)):
        box = bounding_rect(arr)
        if box is not None:
            x, y, w, h = box
            before = doc.layer(layer)[y : y + h, x : x + w].copy()
            patches.append(Patch.make(layer, box, before, arr[y : y + h, x : x + w]))
    if rect is None and not patches:
        return None
    return PatchCommand(doc, "Recovered unsaved edits", patches, kind="recovered")
