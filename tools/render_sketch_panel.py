"""Render README's sketched-edge panel: the trench lip of the bundled sample, filled at full size.

    python tools/render_sketch_panel.py docs/images/texture_sketch_edge.jpg [--model M.pt]

The case is defined here, and `tests/test_gui_sketch_edge.py` paints the same strokes in the
editor (a 70 px brush along three rows over the trench's lip, a 3 px line along the lip); the
fills run through the engine as the editor runs them (strategy auto). Columns, cropped around the hole and
shown at 1.5x: the hole with the sketch in red, the network alone without and with the sketch,
the texture stage without and with it, the photo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.checkpoints.loaders import load_model  # noqa: E402
from app.engine.checkpoints.models import resolve_model  # noqa: E402
from app.engine.inference.pipeline import Inpainter  # noqa: E402
from app.engine.types import InpaintOptions, InpaintRequest  # noqa: E402
from app.resources import sample_path  # noqa: E402

BRUSH = 70  # px, the editor's brush size
ROWS = (755, 785, 815)  # the brush rows' heights at x = 300; they slope up to the right
LIP = [(200, 822), (250, 795), (300, 765), (345, 754), (380, 745)]  # along the trench's edge
SKETCH_WIDTH = 3
CENTRE = (290, 785)  # the middle of the strokes: the editor test paints there at 100 %
LABELS = ("hole + sketch", "network", "network + sketch", "texture stage",
          "texture stage + sketch", "photo")


def brush_row(y: int) -> list[tuple[float, float]]:
    """The points of one brush stroke over the lip, the editor test's drag path."""
    return [(x, y + (300 - x) * 0.25) for x in range(225, 365, 10)]


def trench_case(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The hole (round brush dabs along the rows) and the sketch (a polyline along the lip)."""
    hole = np.zeros(shape, np.uint8)
    for y in ROWS:
        points = [(x, round(py)) for x, py in brush_row(y)]
        cv2.polylines(hole, [np.array(points, np.int32)], False, 1, BRUSH)
        for p in points:
            cv2.circle(hole, p, BRUSH // 2, 1, -1)
    line = np.zeros(shape, np.uint8)
    cv2.polylines(line, [np.array(LIP, np.int32)], False, 1, SKETCH_WIDTH)
    return hole > 0, line > 0


def render(out: Path, model: str | None = None, scale: float = 1.5) -> None:
    photo = cv2.cvtColor(cv2.imread(str(sample_path())), cv2.COLOR_BGR2RGB)
    hole, line = trench_case(photo.shape[:2])
    inpainter = Inpainter(load_model(resolve_model(model)), device="cpu")
    columns = []
    shown = photo.copy()
    shown[hole] = (shown[hole] * 0.45 + 140).astype(np.uint8)
    shown[line & hole] = (230, 20, 20)
    columns.append(shown)
    for texture in (False, True):
        for sketch in (None, line):
            options = InpaintOptions(texture=texture)
            request = InpaintRequest(image=photo, mask=hole, sketch=sketch, options=options)
            columns.append(inpainter.run(request).image)
    columns.append(photo)
    ys, xs = np.nonzero(hole)
    pad = 40
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad, photo.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad, photo.shape[1])
    tiles = [cv2.resize(c[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
             for c in columns]
    labelled = []
    for tile, label in zip(tiles, LABELS, strict=True):
        strip = np.full((26, tile.shape[1], 3), 255, np.uint8)
        cv2.putText(strip, label, (4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        labelled.append(np.vstack([strip, tile]))
    gap = np.full((labelled[0].shape[0], 6, 3), 255, np.uint8)
    panel = np.hstack([t for tile in labelled for t in (tile, gap)][:-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default=None, help="model name or file (default: the bundled one)")
    args = parser.parse_args(argv)
    render(args.out, args.model)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
