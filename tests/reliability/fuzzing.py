"""Mutation fuzzing of the image and mask loaders: seeds, mutations, outcome signatures.

The pytest module (test_fuzz_loaders.py) drives the mutations with hypothesis. A longer
campaign that grows the corpus with inputs whose outcome was not seen before:

    python -m tests.reliability.fuzzing 3000 [SEED]
    python -m tests.reliability.fuzzing refresh     # re-record outcomes after a loader fix

Only ImageLoadError may come out of the loaders; anything else is a crash worth a fix.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from app import imageio
from app.imageio import ImageLoadError

CORPUS = Path(__file__).with_name("corpus")
EXPECTED = CORPUS / "expected.json"
FUZZ_MAX_PIXELS = 4_000_000  # while fuzzing: mutated headers stay cheap to refuse or decode
SIZE = (12, 8)  # (w, h) of every seed, so masks of that size pass the size check


def _seed_images() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    w, h = SIZE
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Fuzz"
    out: dict[str, bytes] = {}

    def save(name: str, im: Image.Image, fmt: str, **kw) -> None:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    save("rgb.png", Image.fromarray(rgb), "PNG", exif=exif.tobytes(), dpi=(72, 72))
    save("rgba.png", Image.fromarray(np.dstack([rgb, alpha])), "PNG")
    save("palette.png", Image.fromarray(rgb).quantize(8), "PNG", transparency=0)
    save("grey16.png", Image.fromarray(grey16), "PNG")
    save("photo.jpg", Image.fromarray(rgb), "JPEG", quality=80, exif=exif.tobytes())
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), "JPEG")
    frames = [Image.fromarray(np.roll(rgb, i, axis=1)).quantize(8) for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out["anim.gif"] = buf.getvalue()
    save("rgb.tif", Image.fromarray(rgb), "TIFF")
    save("rgba_lzw.tif", Image.fromarray(np.dstack([rgb, alpha])), "TIFF", compression="tiff_lzw")
    save("rgb.bmp", Image.fromarray(rgb), "BMP")
    save("rgba.webp", Image.fromarray(np.dstack([rgb, alpha])), "WEBP", lossless=True)
    save("rgb.webp", Image.fromarray(rgb), "WEBP", quality=60)
    return out


SEEDS = _seed_images()
SEED_NAMES = sorted(SEEDS)

# A mutation is (kind, position, value); positions wrap around the data length.
Mutation = tuple[str, int, int]


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in mutations:
        if not buf:
            break
        i = pos % len(buf)
        if kind == "flip":
            buf[i] ^= 1 << (value % 8)
        elif kind == "set":
            buf[i] = value % 256
        elif kind == "insert":
            buf[i:i] = bytes([value % 256]) * (1 + value % 7)
        elif kind == "delete":
            del buf[i : i + 1 + value % 16]
        elif kind == "truncate":
            del buf[i:]
        elif kind == "duplicate":
            n = 1 + value % 64
            buf[i:i] = buf[i : i + n]
        elif kind == "big16":  # a 16-bit field set to an extreme (sizes, counts, lengths)
            buf[i : i + 2] = (0xFFFF if value % 2 else 0).to_bytes(2, "big")
        elif kind == "big32":
            buf[i : i + 4] = (0x7FFFFFFF if value % 2 else 0).to_bytes(4, "big")
    return bytes(buf)


def outcome_of(load: Callable[[Path], object], path: Path) -> str:
    """'ok', or 'refused: <message with the path and numbers blanked>'; other errors raise."""
    try:
        result = load(path)
    except ImageLoadError as error:
        text = str(error).replace(str(path), "FILE")
        text = re.sub(r"b'[^']*'|b\"[^\"]*\"", "BYTES", text)  # e.g. a garbled chunk name
        return "refused: " + re.sub(r"\d[\d,]*", "N", text)
    check_result(result)
    return "ok"


def check_result(result: object) -> None:
    if isinstance(result, np.ndarray):  # a mask
        assert result.dtype == np.bool_ and result.shape == (SIZE[1], SIZE[0])
        return
    rgb = result.rgb  # type: ignore[attr-defined]
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
    alpha = result.alpha  # type: ignore[attr-defined]
    assert alpha is None or (alpha.dtype == np.uint8 and alpha.shape == rgb.shape[:2])


def load_image(path: Path) -> object:
    return imageio.load_image(path, max_pixels=FUZZ_MAX_PIXELS)


def load_mask(path: Path) -> object:
    return imageio.load_mask(path, SIZE)


LOADERS = {"image": load_image, "mask": load_mask}


def expected() -> dict[str, dict[str, str]]:
    return json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}


def campaign(n: int, seed: int = 0) -> None:
    """Random mutations; files with an outcome not seen before join the corpus."""
    rng = np.random.default_rng(seed)
    known = expected()
    seen = {(k, v) for entry in known.values() for k, v in entry.items()}
    kinds = ["flip", "set", "insert", "delete", "truncate", "duplicate", "big16", "big32"]
    imageio.max_pixels = FUZZ_MAX_PIXELS
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            name = SEED_NAMES[int(rng.integers(len(SEED_NAMES)))]
            muts = [
                (kinds[int(rng.integers(len(kinds)))], int(rng.integers(1 << 20)),
                 int(rng.integers(1 << 16)))
                for _ in range(int(rng.integers(1, 5)))
            ]
            data = mutate(SEEDS[name], muts)
            path = Path(tmp) / f"case{Path(name).suffix}"
            path.write_bytes(data)
            results = {}
            for kind, load in LOADERS.items():
                started = time.perf_counter()
                try:
                    results[kind] = outcome_of(load, path)
                except Exception as error:  # noqa: BLE001 - a crash: keep it for the replay
                    results[kind] = f"CRASH {type(error).__name__}: {error}"
                took = time.perf_counter() - started
                if took > slowest[0]:
                    slowest = (took, f"{name} {muts}")
            new = [(k, v) for k, v in results.items() if (k, v) not in seen]
            if new:
                file = f"{len(known):03d}_{Path(name).stem}{Path(name).suffix}"
                (CORPUS / file).write_bytes(data)
                known[file] = results
                seen.update(results.items())
                print(f"{i}: new outcome {new} -> {file} ({len(data)} bytes)")
    EXPECTED.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    print(f"slowest load: {slowest[0] * 1000:.0f} ms ({slowest[1]})")


def refresh() -> None:
    """Record the current outcome of every corpus file (after a loader fix; review the diff)."""
    imageio.max_pixels = FUZZ_MAX_PIXELS
    known = expected()
    for name in sorted(known):
        new = {kind: outcome_of(load, CORPUS / name) for kind, load in LOADERS.items()}
        if new != known[name]:
            print(f"{name}: {known[name]} -> {new}")
        known[name] = new
    EXPECTED.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["refresh"]:
        refresh()
    else:
        campaign(int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
                 int(sys.argv[2]) if len(sys.argv) > 2 else 0)
