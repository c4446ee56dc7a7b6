"""`python main.py select IMAGE --box X0,Y0,X1,Y1 [--grow PX] [-o MASK]`: the mask the editor's
Select object tool makes, for scripts that feed `batch` (no torch needed)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .engine.types import EngineError


def register(sub: argparse._SubParsersAction) -> None:
    from .engine.selection import DEFAULT_GROW

    p = sub.add_parser(
        "select",
        help="write the mask of the object inside a box (GrabCut)",
        description="Select the object inside a loose box around it, as the editor's Select "
        "object tool does, and write the mask (white = object, grown by a margin).",
    )
    p.add_argument("image", metavar="IMAGE", help="photo")
    p.add_argument("--box", required=True, metavar="X0,Y0,X1,Y1",
                   help="a loose box around the object, in image pixels")
    p.add_argument("--grow", type=int, default=DEFAULT_GROW, metavar="PX",
                   help=f"margin added around the object (default {DEFAULT_GROW})")
    p.add_argument("-o", "--output", metavar="MASK",
                   help="mask PNG to write (default IMAGE_selection.png next to IMAGE)")
    p.set_defaults(func=run_select)


def output_path(image: Path, output: str | None) -> Path:
    if output:
        return Path(output)
    return image.with_name(f"{image.stem}_selection.png")


def run_select(args: argparse.Namespace) -> int:
    from . import imageio
    from .engine.selection import SelectionError, parse_box, select_object
    from .quiet import c_library_warnings_silenced

    image_path = Path(args.image)
    out_path = output_path(image_path, args.output)
    if out_path.resolve() == image_path.resolve():
        raise EngineError(f"refusing to write the mask over the photo {image_path.name}")
    if not 0 <= args.grow <= 500:
        raise EngineError("--grow must be between 0 and 500 pixels")
    try:
        box = parse_box(args.box)
    except SelectionError as error:
        raise EngineError(str(error)) from None
    with c_library_warnings_silenced():
        loaded = imageio.load_image(image_path)
    started = time.perf_counter()
    try:
        mask = select_object(loaded.rgb, box, grow_px=args.grow)
    except SelectionError as error:
        raise EngineError(str(error)) from None
    if not mask.any():
        raise EngineError(f"nothing was found inside the box {args.box} (try a larger box)")
    imageio.save_mask(out_path, mask)
    h, w = mask.shape
    share = 100.0 * mask.sum() / mask.size
    print(f"{out_path}  ({w}x{h}, {share:.1f} % selected, {time.perf_counter() - started:.2f} s)")
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
