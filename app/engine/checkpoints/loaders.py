"""Every model file DeepFill Studio reads, through one explicit list of loaders.

A loader takes a path and returns a LoadedModel, or None when the file is not of its kind; the
first that recognises the file wins, and the last one (our own format and the PyTorch port's
layouts) names what is wrong when nothing did. To support a new format, write its loader next
to its mapping functions and add it to LOADERS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..types import ModelFileError
from .deepfill_checkpoints import load_deepfill_file, load_tf_checkpoint
from .lama_checkpoints import load_lama_file
from .weights import LoadedModel

Loader = Callable[[Path], "LoadedModel | None"]

LOADERS: list[Loader] = [load_tf_checkpoint, load_lama_file, load_deepfill_file]


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read any supported model file; ModelFileError with one clear sentence otherwise."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    for loader in LOADERS:
        model = loader(path)
        if model is not None:
            return model
    raise ModelFileError(f"{path.name} is not a model file DeepFill Studio can read")
