"""Build held-out set 3: everyday photos from two openly licensed packages, for evaluation only.

    apt-get download jigzo-data && dpkg-deb -x jigzo-data_*.deb jigzo
    pip download scikit-image --no-deps -d skimage-wheel && unzip -q skimage-wheel/*.whl 'skimage/data/*' -d skimage-wheel
    python tools/heldout_set3.py OUT_DIR --jigzo jigzo/usr/share/games/jigzo/puzzles/00_default \
        --skimage skimage-wheel/skimage/data
    python main.py eval --data OUT_DIR --split all --texture off

- jigzo-data (Debian, GPL-2+; the heli photo GPL-2): eleven photos (a bike, a bird, blackberries,
  a castle, clouds, a gorilla, a helicopter, a horse, a playground, a train, a windmill), each
  the photo region of its puzzle's texture atlas. The penguin puzzle (CC-BY-NC-SA) is left out.
- scikit-image's sample data: astronaut (NASA, public domain), chelsea (CC0), coffee (CC0),
  rocket (SpaceX, public domain).

Real photos of everyday subjects, unlike the wallpapers the model trains on: never train on them
or pick a checkpoint with them alone. Nothing here is committed; the photos stay in OUT_DIR.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
LEFT_OUT = ("penguin",)  # non-commercial licence


def puzzle_photo(data: bytes) -> np.ndarray:
    """The photo of a jigzo .pzl file: the region named by its `image X Y W H` line, cut from
    the largest JPEG embedded in the file (the texture atlas `*-t.jpg`; the first JPEG is a
    thumbnail, and the PNG of the same size is the pieces' map, not the photo)."""
    found = re.search(rb"\nimage (\d+) (\d+) (\d+) (\d+)", data)
    if found is None:
        raise ValueError("not a jigzo puzzle: no image line")
    x, y, w, h = (int(v) for v in found.groups())
    starts = [m.start() for m in re.finditer(rb"\xff\xd8\xff", data)]
    best = None
    for start in starts:
        decoded = cv2.imdecode(np.frombuffer(data[start:], np.uint8), cv2.IMREAD_COLOR)
        if decoded is not None and (best is None or decoded.size > best.size):
            best = decoded
    if best is None or y + h > best.shape[0] or x + w > best.shape[1]:
        raise ValueError("not a jigzo puzzle: no texture holding the photo")
    return best[y : y + h, x : x + w]


def build(out: Path, jigzo: Path | None, skimage: Path | None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for pzl in sorted(jigzo.glob("*.pzl")) if jigzo else []:
        name = pzl.stem.split("-")[0]
        if name in LEFT_OUT:
            continue
        target = out / f"jigzo-{name}.png"
        cv2.imwrite(str(target), puzzle_photo(pzl.read_bytes()))
        written.append(target)
    for name in SKIMAGE_PHOTOS if skimage else ():
        target = out / f"skimage-{name}"
        shutil.copyfile(skimage / name, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--jigzo", type=Path, help="jigzo-data's puzzles/00_default folder")
    p.add_argument("--skimage", type=Path, help="scikit-image's skimage/data folder")
    args = p.parse_args(argv)
    written = build(args.out, args.jigzo, args.skimage)
    print(f"{len(written)} photos in {args.out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
