"""Restricted unpickling: read checkpoints that carry configuration objects (Lightning) without
running any of them."""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..types import ModelFileError


class _Inert:
    """Stand-in for any class a checkpoint names that is not a tensor building block.

    It records what it is given and runs nothing, so hyper-parameter objects (OmegaConf
    configs, paths, enums ...) cost nothing and cannot execute code.
    """

    def __new__(cls, *args: object, **kwargs: object) -> _Inert:
        return object.__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.__dict__["_args"] = args

    def __setstate__(self, state: object) -> None:
        self.__dict__["_state"] = state

    def __setitem__(self, key: object, value: object) -> None:
        self.__dict__.setdefault("_items", {})[key] = value

    def append(self, value: object) -> None:
        self.__dict__.setdefault("_list", []).append(value)

    def extend(self, values: Iterable[object]) -> None:
        self.__dict__.setdefault("_list", []).extend(values)


_STORAGES = {n for n in dir(torch) if n.endswith("Storage")}
_REBUILDERS = {
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
}
_SAFE_BUILTINS = {"set", "frozenset", "complex", "slice"}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "torch._utils" and name in _REBUILDERS:
            return super().find_class(module, name)
        if module == "torch" and (name in _STORAGES or name == "Size"):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module == "torch.storage" and name == "UntypedStorage":
            return super().find_class(module, name)
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        return type(name, (_Inert,), {"__module__": f"inert.{module}"})


class _RestrictedPickle:
    """A `pickle_module` for torch.load that never imports arbitrary classes."""

    Unpickler = _RestrictedUnpickler
    __name__ = "restricted_pickle"

    @staticmethod
    def load(file: io.IOBase, **kwargs: Any) -> object:  # torch.load's pickle_load_args
        return _RestrictedUnpickler(file, **kwargs).load()


def load_torch_restricted(path: Path) -> object:
    """torch.load that accepts checkpoints with configuration objects without running them.

    Plain `weights_only=True` is tried first; if the file names other classes (a Lightning
    checkpoint's hyper-parameters), it is read again with an unpickler that builds tensors and
    containers only and replaces every other object by an inert placeholder.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"{path.name} is not a readable PyTorch file ({first_line(exc)})."
        ) from None
    try:
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickle
        )
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is a file error
        raise ModelFileError(
            f"{path.name} could not be read safely: it holds Python objects beyond tensors and "
            f"settings ({first_line(exc)})."
        ) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


