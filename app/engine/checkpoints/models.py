"""Where models live: the bundled ones inside the package (`app/resources/models`, package
data), imported ones in the per-user folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

from ..types import ModelFileError

APP_NAME = "DeepFillStudio"  # the per-user folder name (models, config, autosave)
BUNDLED_DEFAULT = "deepfill-studio-default"
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")


def bundled_models_dir() -> Path:
    """The models shipped inside the package (package data, also in an installed wheel)."""
    from app.resources import resource_dir

    return resource_dir("models")


def user_models_dir() -> Path:
    override = os.environ.get("DEEPFILL_STUDIO_MODELS")
    if override:
        return Path(override)
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "models"


def user_config_file() -> Path:
    override = os.environ.get("DEEPFILL_STUDIO_CONFIG")
    if override:
        return Path(override)
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "models.json"


def _model_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file())


def list_models() -> list[Path]:
    """Installed model files: imported ones first (they can shadow a bundled name), then bundled."""
    seen: dict[str, Path] = {}
    for path in _model_files(user_models_dir()) + _model_files(bundled_models_dir()):
        seen.setdefault(path.stem, path)
    return list(seen.values())


def read_settings() -> dict:
    try:
        return json.loads(user_config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def default_model_name() -> str:
    return str(read_settings().get("default") or BUNDLED_DEFAULT)


def default_model_path() -> Path | None:
    """The chosen default if installed, else the bundled default, else None."""
    installed = {p.stem: p for p in list_models()}
    return installed.get(default_model_name()) or installed.get(BUNDLED_DEFAULT)


def resolve_model(name_or_path: str | None) -> Path:
    """A model given by file path or installed name; None means the default."""
    if name_or_path is None:
        path = default_model_path()
        if path is None:
            raise ModelFileError(
                "no default model is installed: pass --model PATH, or import one with "
                "'python main.py models import FILE'"
            )
        return path
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        return candidate
    installed = {p.stem: p for p in list_models()}
    if name_or_path in installed:
        return installed[name_or_path]
    names = ", ".join(sorted(installed)) or "none"
    raise ModelFileError(f"unknown model {name_or_path!r} (no such file; installed models: {names})")
