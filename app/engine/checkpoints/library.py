"""The per-user models folder: import (any readable model, written in our format), list,
default, remove. Used by `python main.py models` and the editor's model manager."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO

import torch

from ..atomic import atomic_write
from ..networks.generator import Generator
from ..networks.lama import LaMaGenerator, LaMaModel, LaMaTorchScript
from ..types import ModelFileError
from . import models as model_paths
from .lama_checkpoints import (
    is_torchscript,
    save_lama_model,
    save_torchscript,
    torchscript_meta,
    zip_names,
)
from .loaders import load_model
from .safe_pickle import first_line
from .weights import FORMAT, OFFICIAL_LICENSE, LoadedModel, save_model

NON_COMMERCIAL_NOTE = (
    "These are the official DeepFill weights, licensed CC BY-NC 4.0: non-commercial use "
    "only (education and research), with attribution to Yu et al."
)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass(frozen=True)
class ModelInfo:
    """One installed model file, read cheaply (no network built), as the `models list` command
    and the model manager show it. (A loaded model describes itself as a ModelDescription.)"""

    name: str
    path: Path
    location: str  # "user" (imported, removable) or "bundled"
    architecture: str = ""
    color_order: str = ""
    size_bytes: int = 0
    parameters: int = 0
    source: str = ""
    license: str = ""
    is_default: bool = False
    error: str = ""  # non-empty when the file cannot be read

    def to_dict(self) -> dict[str, object]:
        """Plain data for `models list --json` (the fields in order, the path as a string)."""
        return {**asdict(self), "path": str(self.path)}


def valid_model_name(name: str) -> bool:
    return bool(_NAME.match(name)) and not name.endswith(".")


def suggested_name(source: Path) -> str:
    """A model name from a file or folder name (letters, digits, . _ -)."""
    base = source.name if source.is_dir() else source.stem
    if base in ("checkpoint", "") or base.startswith("snap-") or base.startswith("model.ckpt"):
        base = source.parent.name if not source.is_dir() else base
    if source.suffix == ".index":
        base = source.parent.name or source.stem
    if base in ("models", "best", "last"):
        base = f"{source.parent.parent.name}-{base}" if source.parent.parent.name else base
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_") or "model"
    return cleaned[:80]


def _write_file(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def import_model(
    source: str | os.PathLike[str],
    name: str | None = None,
    *,
    overwrite: bool = False,
    dest_dir: Path | None = None,
) -> tuple[Path, LoadedModel]:
    """Convert any readable model (TF checkpoint, LaMa, port layouts, our own) into the user
    models folder in our format, with its source and licence recorded; returns the new file
    and the model as loaded back from it."""
    src = Path(source).expanduser()
    loaded = load_model(src)
    name = name or suggested_name(src)
    if not valid_model_name(name):
        raise ModelFileError(
            f"{name!r} is not a usable model name (letters, digits, '.', '_' and '-' only)."
        )
    folder = dest_dir or model_paths.user_models_dir()
    dest = folder / f"{name}.pt"
    if dest.exists() and not overwrite:
        raise ModelFileError(
            f"a model named {name!r} is already installed (use another name, or replace it)"
        )
    if dest.exists() and dest.resolve() == src.resolve():
        raise ModelFileError(f"{src.name} is already the installed model {name!r}.")
    metadata = {
        **{k: v for k, v in loaded.metadata.items() if k != "color_order"},
        "name": name,
        "architecture": loaded.architecture,
        "license": loaded.license,
        "source": str(src.resolve()),
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    gen = loaded.generator
    if isinstance(gen, Generator):
        save_model(dest, gen, color_order=loaded.color_order, metadata=metadata)
    elif isinstance(gen, LaMaModel) and isinstance(gen.net, LaMaGenerator):
        save_lama_model(dest, gen, metadata)
    elif isinstance(gen, LaMaModel) and isinstance(gen.net, LaMaTorchScript):
        save_torchscript(dest, gen, metadata)
    else:
        raise ModelFileError(f"{src.name} loaded, but its kind of model cannot be installed.")
    try:
        again = load_model(dest)
    except ModelFileError:
        dest.unlink(missing_ok=True)
        raise
    return dest, again


def is_official_deepfill(model: LoadedModel) -> bool:
    return "CC BY-NC" in model.license


def _count_parameters(state: Mapping[str, object]) -> int:
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return sum(
        int(v.numel())
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and not k.endswith(skip)
    )


def describe_file(path: Path) -> ModelInfo:
    """Facts about one model file, read cheaply (memory-mapped, nothing built)."""
    location = "user" if path.parent == model_paths.user_models_dir() else "bundled"
    size = 0
    try:
        size = path.stat().st_size
        names = zip_names(path)
        if is_torchscript(names):
            meta = torchscript_meta(path, names)
            return ModelInfo(
                name=path.stem,
                path=path,
                location=location,
                architecture=str(meta.get("architecture", "torchscript")),
                color_order="RGB",
                size_bytes=size,
                source=str(meta.get("source", "")),
                license=str(meta.get("license", "")),
            )
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=bool(names))
    except Exception as exc:  # noqa: BLE001 - listing must survive any broken file
        return ModelInfo(path.stem, path, location, size_bytes=size, error=first_line(exc))
    if not isinstance(data, dict):
        return ModelInfo(path.stem, path, location, size_bytes=size, error="not a model file")
    meta = dict(data.get("metadata") or {})
    state = data.get("state_dict", data.get("G", {}))
    license_text = ""
    if data.get("format") == FORMAT:
        architecture = str(meta.get("architecture") or data.get("architecture", ""))
        color_order = str(data.get("color_order", "RGB"))
    else:
        port = "G" in data
        architecture = "deepfill_v2 (PyTorch port)" if port else "unknown"
        color_order = "BGR" if port else ""
        license_text = OFFICIAL_LICENSE if port else ""
    return ModelInfo(
        name=path.stem,
        path=path,
        location=location,
        architecture="deepfill_v2" if architecture == "deepfill" else architecture,
        color_order=color_order,
        size_bytes=size,
        parameters=_count_parameters(state) if isinstance(state, dict) else 0,
        source=str(meta.get("source", "")),
        license=str(meta.get("license", license_text)),
    )


def list_installed() -> list[ModelInfo]:
    """Every installed model (imported ones first), the default one marked."""
    default = model_paths.default_model_path()
    return [
        replace(info, is_default=default is not None and info.path == default)
        for info in map(describe_file, model_paths.list_models())
    ]


def _installed(name: str) -> Path:
    installed = {p.stem: p for p in model_paths.list_models()}
    if name not in installed:
        names = ", ".join(sorted(installed)) or "none"
        raise ModelFileError(f"no installed model is named {name!r} (installed: {names})")
    return installed[name]


def _write_settings(settings: dict) -> None:
    path = model_paths.user_config_file()
    text = json.dumps(settings, indent=2, sort_keys=True).encode("utf-8")
    _write_file(path, lambda fh: fh.write(text))


def set_default(name: str) -> Path:
    """Make an installed model the default (kept in the user config folder)."""
    path = _installed(name)
    settings = model_paths.read_settings()
    settings["default"] = name
    _write_settings(settings)
    return path


def remove_model(name: str) -> Path:
    """Delete an imported model; bundled models cannot be removed."""
    path = _installed(name)
    if path.parent != model_paths.user_models_dir():
        raise ModelFileError(f"{name!r} is bundled with DeepFill Studio and cannot be removed")
    path.unlink()
    settings = model_paths.read_settings()
    if settings.get("default") == name:
        settings.pop("default")
        _write_settings(settings)
    return path
