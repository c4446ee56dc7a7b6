"""The fill options `inpaint` and `batch` share: defined once, so both commands always agree.

Add a fill option here (and, when it changes the fill, a field of the same name in
`app.engine.types.InpaintOptions`): `fill_options` copies every argument whose name is an
InpaintOptions field, so the new option reaches the single-photo CLI, batch workers and Ray
actors without further code. "on"/"off" values become booleans for boolean fields.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from .engine.types import STRATEGIES, EngineError, InpaintOptions


def add_fill_options(p: argparse.ArgumentParser) -> None:
    """The model, device and fill options of `inpaint` (and so of `batch`)."""
    p.add_argument("--model", metavar="NAME_OR_PATH", help="installed model name or model file")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads per fill (default: all cores; batch: divided among workers)")
    p.add_argument("--strategy", choices=STRATEGIES, default="auto")
    p.add_argument("--grow-mask", type=int, default=0, metavar="PX", help="dilate the hole (default 0)")
    p.add_argument("--working-size", type=int, default=512, metavar="PX",
                   help="long side the network works at for the resize strategy (default 512)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast where the hardware has it")
    p.add_argument("--texture", choices=("on", "off"), default="on",
                   help="copy real texture from the photo into the fill (default on; off: the "
                   "network's fill with CRA detail)")
    p.add_argument("--lines", choices=("on", "off"), default="on",
                   help="continue straight lines the hole cuts (a horizon, a shore, a rail) "
                   "across it where no sketch is given (texture stage; default on)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="texture variant: another seed gives another plausible fill (default 0)")
    p.add_argument("--no-cra", action="store_true", help="plain upsampling instead of CRA detail")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP/HEIC quality (default 95)")


def _value(field: dataclasses.Field, value: object) -> object:
    if isinstance(field.default, bool) and isinstance(value, str):
        if value.lower() in ("on", "yes", "true", "1"):
            return True
        if value.lower() in ("off", "no", "false", "0"):
            return False
        raise EngineError(f"--{field.name.replace('_', '-')} takes on or off, not {value!r}")
    return value


def fill_options(args: argparse.Namespace) -> InpaintOptions:
    """InpaintOptions from parsed arguments (checked: one clear EngineError otherwise)."""
    if args.working_size < 64:
        raise EngineError("--working-size must be at least 64")
    if args.threads is not None and args.threads < 1:
        raise EngineError("--threads must be at least 1")
    given = vars(args)
    values: dict[str, Any] = {  # each of InpaintOptions' fields, of its own type
        f.name: _value(f, given[f.name])
        for f in dataclasses.fields(InpaintOptions)
        if given.get(f.name) is not None
    }
    values["cra"] = not args.no_cra
    return InpaintOptions(**values)
