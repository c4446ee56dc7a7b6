"""`python main.py models import|list|default|remove`: manage the installed models.

Imported models are converted into the per-user models folder in our own format (source and
licence recorded); the default is kept in the user config folder. Errors are EngineErrors,
which `app.cli` turns into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json

from .engine.types import EngineError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `models` command and its subcommands to the main parser."""
    p = sub.add_parser(
        "models",
        help="list, import, choose or remove models",
        description="Manage installed models: bundled ones and those imported into your "
        "models folder (official DeepFill v2/v1 TensorFlow checkpoints, LaMa checkpoints or "
        "TorchScript exports, PyTorch-port files, DeepFill Studio models).",
    )
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(p))

    q = msub.add_parser("list", help="show installed models")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_run_list)

    q = msub.add_parser(
        "import",
        help="convert a model into your models folder",
        description="Convert SOURCE into your models folder. SOURCE may be a TensorFlow "
        "checkpoint (its folder, its 'checkpoint' file or its .index file), a LaMa "
        "checkpoint (best.ckpt) or TorchScript export (.pt), or a PyTorch model file.",
    )
    q.add_argument("source", metavar="SOURCE", help="checkpoint folder or model file")
    q.add_argument("--name", help="name to install it under (default: from the file name)")
    q.add_argument("--replace", action="store_true", help="replace a model of the same name")
    q.add_argument("--default", action="store_true", help="also make it the default model")
    q.set_defaults(func=_run_import)

    q = msub.add_parser("default", help="show or set the default model")
    q.add_argument("name", nargs="?", metavar="NAME", help="installed model to use by default")
    q.set_defaults(func=_run_default)

    q = msub.add_parser("remove", help="delete an imported model")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=_run_remove)

    p.set_defaults(func=_run_list, json=False)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _run_list(args: argparse.Namespace) -> int:
    from .engine.checkpoints import library, models

    infos = library.list_installed()
    if getattr(args, "json", False):
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    if not infos:
        print(f"no models installed (models folder: {models.user_models_dir()})")
        print("import one with: python main.py models import CHECKPOINT_OR_FILE")
        return 0
    width = max(len(i.name) for i in infos)
    for i in infos:
        mark = "*" if i.is_default else " "
        if i.error:
            print(f"{mark} {i.name:<{width}}  unreadable: {i.error}")
            continue
        params = f"{i.parameters / 1e6:.2f} M params" if i.parameters else "? params"
        print(
            f"{mark} {i.name:<{width}}  {i.architecture or '?':<16} {i.color_order or '?':<3}  "
            f"{params:>15}  {_mb(i.size_bytes):>9}  {i.location}"
        )
        if i.source:
            print(f"  {'':<{width}}  source:  {i.source}")
        if i.license:
            print(f"  {'':<{width}}  license: {i.license}")
    print(f"(* = default; imported models live in {models.user_models_dir()})")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from .engine.checkpoints import library

    dest, model = library.import_model(args.source, args.name, overwrite=args.replace)
    info = model.describe()
    print(
        f"imported {info.name!r} ({info.architecture}, {info.color_order} input, "
        f"{info.parameters / 1e6:.2f} M parameters) -> {dest}"
    )
    skipped = model.metadata.get("skipped_variables")
    if skipped:
        parts = ", ".join(f"{kind} {n}" for kind, n in sorted(skipped.items()))
        print(f"skipped {sum(skipped.values())} variables that are not the generator ({parts})")
    if library.is_official_deepfill(model):
        print(f"license: {library.NON_COMMERCIAL_NOTE}")
    elif model.license:
        print(f"license: {model.license}")
    if args.default:
        library.set_default(model.name)
        print(f"{model.name!r} is now the default model")
    return 0


def _run_default(args: argparse.Namespace) -> int:
    from .engine.checkpoints import library, models

    if args.name:
        path = library.set_default(args.name)
        print(f"default model: {args.name} ({path})")
        return 0
    default = models.default_model_path()
    if default is None:
        raise EngineError("no default model is installed; import one with 'models import'")
    print(f"default model: {default.stem} ({default})")
    return 0


def _run_remove(args: argparse.Namespace) -> int:
    from .engine.checkpoints import library

    path = library.remove_model(args.name)
    print(f"removed {args.name!r} ({path})")
    return 0
