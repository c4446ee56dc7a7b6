"""`train` and `eval` subcommands (registered by app/cli.py; also runnable as a module)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    from app.engine.training.sketch import SKETCH_STYLES
    from app.engine.training.train import TrainConfig

    p = subparsers.add_parser("train", help="train a model on a folder of photos (resumable)")
    p.add_argument("--data", required=True, help="folder of training photos")
    p.add_argument("--out", required=True, help="run folder for checkpoints and logs")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument("--smoke", action="store_true", help="a few tiny steps, for tests")
    p.add_argument("--export", metavar="PATH", help="write the run's best model to PATH and exit")
    p.add_argument("--latest", action="store_true",
                   help="with --export: the latest checkpoint instead of the best validated one")
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("data", "out"):
            continue
        value = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):  # `--flag` alone means on; `--flag off` as before
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes", "on"),
                           nargs="?", const=True, default=value, metavar="BOOL")
        elif f.name == "sketch_style":
            p.add_argument(flag, choices=SKETCH_STYLES, default=value,
                           help="canny: every edge in the hole; user: a few strokes as users "
                           "draw them; mix: either, per sample")
        elif isinstance(value, tuple):
            p.add_argument(flag, type=type(value[0]), nargs="+", default=list(value))
        else:
            p.add_argument(flag, type=type(value), default=value)
    p.set_defaults(func=run_train)
    return p


def run_train(args: argparse.Namespace) -> int:
    from app.engine.training.train import TrainConfig, run

    if args.export:
        from app.engine.training.train import export_best

        path = export_best(Path(args.out), Path(args.export), data=args.data, latest=args.latest)
        print(f"exported {path}")
        return 0
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    for f in dataclasses.fields(TrainConfig):
        if isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    if args.smoke:
        values.update(steps=min(values["steps"], 3), batch=2, crop=128, cnum=8,
                      long_sides=(256,), max_images=2, gan_start=1, log_every=1)
    cfg = TrainConfig(**values)
    run(cfg, resume=args.resume, smoke=args.smoke, echo=lambda s: print(s, flush=True))
    return 0


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="compare a model with classical fills on held-out photos")
    p.add_argument("--data", required=True, help="folder of photos")
    p.add_argument("--model", help="model name or file (default: the bundled model)")
    p.add_argument("--no-model", action="store_true", help="only the classical fills")
    p.add_argument("--split", choices=["val", "all"], default="val",
                   help="val = the held-out files (sorted names, every 7th from the first)")
    p.add_argument("--long-side", type=int, nargs="+", default=[512])
    p.add_argument("--masks", type=int, default=2, help="masks per photo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sketch-style", choices=("canny", "user"), default="canny",
                   help="the sketch of the 'model+sketch' rows: canny = every edge of the original "
                   "in the hole; user = 1-4 partial strokes along the main edges, 1-4 px wide and "
                   "up to 2 px off, as users draw them (default canny)")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--texture", choices=("on", "off"), default="on",
                   help="also evaluate the model with the texture stage, and report the texture "
                   "figures (struct, swd, hf, seam) for every method (default on)")
    p.add_argument("--json", metavar="OUT", help="write the full report here")
    p.add_argument("--examples", metavar="DIR", help="write before/after panels here")
    p.add_argument("--example-cases", nargs="*", metavar="NAME#K",
                   help="which cases to draw (default: all)")
    p.set_defaults(func=run_eval)
    return p


def run_eval(args: argparse.Namespace) -> int:
    from app.engine.training.evaluate import (
        default_methods,
        evaluate,
        format_table,
        list_images,
        make_cases,
        split_holdout,
        write_json,
    )

    paths = list_images(args.data)
    if args.split == "val":
        paths = split_holdout(paths)[1]
    model = None
    if not args.no_model:
        from app.engine.checkpoints.loaders import load_model
        from app.engine.checkpoints.models import resolve_model

        model = load_model(resolve_model(args.model))
    texture = args.texture == "on"
    methods = default_methods(model, bf16=args.bf16, texture=texture)
    reports = {}
    for side in args.long_side:
        cases = make_cases(paths, long_side=side, masks_per_image=args.masks, seed=args.seed,
                           sketch_style=args.sketch_style)
        report = evaluate(cases, methods, figures=texture)
        reports[str(side)] = report
        print(f"long side {side} px, {len(paths)} photos:")
        print(format_table(report))
        if args.examples and side == args.long_side[0]:
            from app.engine.training.evaluate import save_examples

            save_examples(cases, methods, args.examples, args.example_cases)
    if args.json:
        write_json({"model": getattr(model, "source", None), "by_long_side": reports}, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cli_train")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_eval_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
