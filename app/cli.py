"""Headless commands: `python main.py inpaint IMAGE --mask MASK ...`, `batch`, `select`, `models`,
`train`, `eval`.

Bad input exits with code 2 and one line on stderr; the output file is written atomically or
not at all. The `inpaint` pipeline is the one the editor uses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cli_batch, cli_select
from .cli_options import add_fill_options, fill_options
from .engine.types import EngineError
from .quiet import quiet_library_warnings

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
    add_fill_options(p)  # shared with `batch`
    p.add_argument("--flow", metavar="PNG", help="also write the attention flow image")
    p.add_argument("--overwrite", action="store_true", help="allow OUT to be IMAGE itself")
    p.set_defaults(func=_run_inpaint)


def _output_path(image: Path, output: str | None) -> Path:
    if output:
        return Path(output)
    return image.with_name(f"{image.stem}_inpainted{image.suffix or '.png'}")


def _run_inpaint(args: argparse.Namespace) -> int:
    from .api import inpaint_file

    image_path = Path(args.image)
    out_path = _output_path(image_path, args.output)
    if out_path.resolve() == image_path.resolve() and not args.overwrite:
        raise EngineError(f"refusing to overwrite the original {image_path.name}: pass --overwrite")
    options = fill_options(args)
    done = inpaint_file(
        image_path, args.mask, out_path, args.sketch,
        model=args.model, device=args.device, threads=args.threads,
        options=options, quality=args.quality, flow=args.flow,
    )
    for note in done.notes:  # after success: a refusal stays one line
        print(f"note: {note}", file=sys.stderr)
    skip = ("read", "save", "fill", "total")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in done.timings.items() if k not in skip)
    width, height = done.size
    print(
        f"{out_path}  ({width}x{height}, strategy {done.strategy}, {done.device}, "
        f"model {done.model}; read {done.timings['read']:.2f} s, {stages}, "
        f"save {done.timings['save']:.2f} s, total {done.timings['total']:.2f} s)"
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
    cli_batch.register(sub)
    cli_select.register(sub)
    for register in _extra_commands() if extras else ():
        register(sub)
    return parser


def _extra_commands() -> list:
    """Subcommands that live in their own modules (model management, training, evaluation)."""
    from . import cli_models, cli_train

    return [cli_models.register, cli_train.add_train_parser, cli_train.add_eval_parser]


COMMANDS = ("inpaint", "batch", "select", "models", "train", "eval")
# Their options need no torch: bad input is refused fast.
LIGHT_COMMANDS = ("inpaint", "batch", "select")


def main(argv: Sequence[str] | None = None) -> int:
    quiet_library_warnings(PROG)
    words = list(sys.argv[1:] if argv is None else argv)
    # `inpaint`, `batch` and `select` skip the training commands, whose defaults import torch: bad
    # input is then refused in a fraction of a second instead of after torch's start-up.
    parser = build_parser(extras=not (words and words[0] in LIGHT_COMMANDS))
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
