"""Headless commands: `python main.py inpaint IMAGE --mask MASK ...`, `select`, `models`, `train`, `eval`.

Bad input exits with code 2 and one line on stderr; the output file is written atomically or
not at all. The `inpaint` pipeline is the one the editor uses.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import cli_select
from .engine.types import STRATEGIES, EngineError

PROG = "deepfill-studio"
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _add_inpaint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inpaint",
        help="fill the masked part of a photo",
        description="Fill the masked part of IMAGE and write the result; pixels outside the "
        "hole are returned unchanged.",
    )
    p.add_argument("image", metavar="IMAGE", help="photo to fill")
    p.add_argument("--mask", required=True, metavar="MASK", help="image of IMAGE's size; non-zero = hole")
    p.add_argument("--sketch", metavar="SKETCH", help="white guide lines on black, IMAGE's size")
    p.add_argument("-o", "--output", metavar="OUT", help="result file (default IMAGE_inpainted.EXT)")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="installed model name or model file")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--strategy", choices=STRATEGIES, default="auto")
    p.add_argument("--grow-mask", type=int, default=0, metavar="PX", help="dilate the hole (default 0)")
    p.add_argument("--working-size", type=int, default=512, metavar="PX",
                   help="long side the network works at for the resize strategy (default 512)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast where the hardware has it")
    p.add_argument("--no-cra", action="store_true", help="plain upsampling instead of CRA detail")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--flow", metavar="PNG", help="also write the attention flow image")
    p.add_argument("--overwrite", action="store_true", help="allow OUT to be IMAGE itself")
    p.set_defaults(func=_run_inpaint)


def _output_path(image: Path, output: str | None) -> Path:
    if output:
        return Path(output)
    return image.with_name(f"{image.stem}_inpainted{image.suffix or '.png'}")


@contextlib.contextmanager
def _c_library_warnings_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while decoding: libtiff and libpng print their
    warnings there directly (e.g. "Using code not yet in table." for a damaged TIFF), which
    would break the one-line error contract. What matters reaches the user as our error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _run_inpaint(args: argparse.Namespace) -> int:
    from . import imageio
    from .engine.types import InpaintOptions, InpaintRequest

    image_path = Path(args.image)
    out_path = _output_path(image_path, args.output)
    if out_path.resolve() == image_path.resolve() and not args.overwrite:
        raise EngineError(f"refusing to overwrite the original {image_path.name}: pass --overwrite")
    if args.working_size < 64:
        raise EngineError("--working-size must be at least 64")
    with _c_library_warnings_silenced():
        loaded = imageio.load_image(image_path)
        height, width = loaded.rgb.shape[:2]
        mask = imageio.load_mask(args.mask, (width, height))
        sketch = imageio.load_sketch(args.sketch, (width, height)) if args.sketch else None
    from .engine.pipeline import Inpainter  # torch: imported only once the inputs are good

    started = time.perf_counter()
    inpainter = Inpainter.load(args.model, args.device)
    loaded_in = time.perf_counter() - started
    options = InpaintOptions(
        strategy=args.strategy,
        working_size=args.working_size,
        grow_mask=args.grow_mask,
        bf16=args.bf16,
        cra=not args.no_cra,
    )
    result = inpainter.run(InpaintRequest(loaded.rgb, mask, sketch, options))
    imageio.save_image(
        out_path,
        result.image,
        alpha=loaded.alpha,
        **{**loaded.save_kwargs(), "quality": args.quality},  # the photo's metadata, our quality
    )
    if args.flow and result.flow is not None:
        imageio.save_image(Path(args.flow), result.flow)
    for note in loaded.notes + result.notes:  # after success: a refusal stays one line
        print(f"note: {note}", file=sys.stderr)
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(
        f"{out_path}  ({width}x{height}, strategy {result.strategy}, {result.device}, "
        f"model {inpainter.model.name}; load {loaded_in:.2f} s, {stages})"
    )
    return 0


def build_parser(extras: bool = True) -> argparse.ArgumentParser:
    """The full parser; extras=False leaves out the commands whose options need torch."""
    parser = _Parser(
        prog=PROG,
        description="DeepFill Studio: remove objects from photos. Without a command, "
        "'python main.py [PHOTO]' opens the editor.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_inpaint(sub)
    cli_select.register(sub)
    for register in _extra_commands() if extras else ():
        register(sub)
    return parser


def _extra_commands() -> list:
    """Subcommands that live in their own modules (model management, training, evaluation)."""
    from . import cli_models, cli_train

    return [cli_models.register, cli_train.add_train_parser, cli_train.add_eval_parser]


COMMANDS = ("inpaint", "select", "models", "train", "eval")


def _quiet_library_warnings() -> None:
    """Without a handler, logging's last resort prints library warnings to stderr, which would
    break the one-line error contract; the user gets notes and errors from us instead."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.ERROR)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
        root.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_library_warnings()
    words = list(sys.argv[1:] if argv is None else argv)
    # `inpaint` and `select` skip the training commands, whose defaults import torch: bad input is
    # then refused in a fraction of a second instead of after torch's start-up.
    parser = build_parser(extras=not (words and words[0] in ("inpaint", "select")))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported in one line
        return int(exit_.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except EngineError as error:
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write(f"{PROG}: error: not enough memory for this photo\n")
        return EXIT_BAD_INPUT
