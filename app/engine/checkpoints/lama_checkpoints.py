"""LaMa checkpoints: the release's Lightning checkpoint (``state_dict`` with ``generator.*``), a
bare generator state dict, our own saved LaMa files, and TorchScript exports; and writing LaMa in
our format. The network itself is in lama.py."""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from ..atomic import atomic_write
from ..networks.lama import (
    LaMaConfig,
    LaMaGenerator,
    LaMaModel,
    LaMaTorchScript,
    config_from_state_dict,
    generator_state_dict,
    is_lama_state_dict,
)
from ..types import COLOR_ORDERS, ModelFileError
from .safe_pickle import first_line, load_torch_restricted
from .weights import FORMAT, FORMAT_VERSION, LoadedModel, plain_data

LAMA_LICENSE = (
    "LaMa (Suvorov et al., github.com/advimman/lama, Apache-2.0): check the terms the "
    "weights were distributed under"
)
TORCHSCRIPT_META = "deepfill_studio.json"  # extra file carried inside imported TorchScript models



def zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def is_torchscript(names: list[str]) -> bool:
    return any(n.endswith("/constants.pkl") or "/code/__torch__" in n for n in names)


def _sniff(path: Path, needle: bytes) -> bool:
    """Does the pickle part of a torch file mention `needle`? (cheap: no tensors are read)"""
    names = zip_names(path)
    try:
        if names:
            pkl = [n for n in names if n.endswith("data.pkl")]
            if not pkl:
                return False
            with zipfile.ZipFile(path) as zf:
                return needle in zf.read(pkl[0])
        with open(path, "rb") as fh:
            return needle in fh.read(8 << 20)  # legacy format: the pickle comes first
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


def lama_from_state_dict(
    state: Mapping[str, torch.Tensor], source: Path | str, config: LaMaConfig | None = None
) -> LaMaModel:
    """Build LaMa from a state dict in the release layout (any prefix), checking every tensor."""
    gen_state = generator_state_dict(dict(state))
    if not gen_state:
        raise ModelFileError(f"{Path(source).name} holds no LaMa generator.")
    try:
        config = config or config_from_state_dict(gen_state)
        with torch.device("meta"):  # shapes only: the weights come from the file
            net = LaMaGenerator(config)
    except ValueError as exc:
        raise ModelFileError(f"{Path(source).name}: {exc}.") from None
    expected = net.state_dict()
    missing = [k for k in expected if k not in gen_state]
    unexpected = [k for k in gen_state if k not in expected]
    wrong = [k for k in expected if k in gen_state and gen_state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        example = (missing or unexpected or wrong)[0]
        raise ModelFileError(
            f"{Path(source).name} does not fit the LaMa generator ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong)} mis-shaped tensors, e.g. {example})."
        )
    tensors = {}
    for key, value in gen_state.items():
        if expected[key].dtype.is_floating_point:
            if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
                raise ModelFileError(f"{Path(source).name} holds invalid numbers in {key}.")
            value = value.detach().to(torch.float32)
        else:
            value = value.detach().to(expected[key].dtype)
        tensors[key] = value.contiguous()
    net.load_state_dict(tensors, assign=True)
    return LaMaModel(net, config).eval()


def _lama_loaded(
    model: LaMaModel, source: Path, metadata: dict, name: str = ""
) -> LoadedModel:
    color_order = str(metadata.get("color_order", "RGB"))
    if color_order not in COLOR_ORDERS:
        raise ModelFileError(f"{source.name} names an unknown colour order {color_order!r}")
    return LoadedModel(
        generator=model,
        config=None,  # LaMa declares its capabilities itself (LaMaModel.capabilities)
        color_order=color_order,
        metadata=metadata,
        name=name or str(metadata.get("name") or source.stem),
        license=str(metadata.get("license", LAMA_LICENSE)),
        source=str(source),
        architecture=str(metadata.get("architecture", "lama")),
    )


def load_lama_file(path: Path) -> LoadedModel | None:
    """Loader for FOREIGN_LOADERS: LaMa checkpoints, our saved LaMa files, TorchScript exports."""
    if not path.is_file():
        return None
    names = zip_names(path)
    if is_torchscript(names):
        return _load_torchscript(path, names)
    if not _sniff(path, b"ffc.convl2l"):
        return None
    data = load_torch_restricted(path)
    if not isinstance(data, dict):
        return None
    if data.get("format") == FORMAT:
        if data.get("architecture") != "lama":
            return None
        try:
            config = LaMaConfig.from_dict(dict(data["config"]))
            state = dict(data["state_dict"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path.name} has a damaged header ({exc}).") from None
        metadata = dict(data.get("metadata") or {})
        metadata.setdefault("architecture", "lama")
        metadata["color_order"] = data.get("color_order", "RGB")
        return _lama_loaded(lama_from_state_dict(state, path, config), path, metadata)
    state = data.get("state_dict", data)
    if not isinstance(state, dict) or not is_lama_state_dict(state):
        return None
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    metadata = {
        "layout": "LaMa release checkpoint",
        "architecture": "lama",
        "license": LAMA_LICENSE,
    }
    return _lama_loaded(lama_from_state_dict(state, path), path, metadata)


def torchscript_meta(path: Path, names: list[str]) -> dict:
    member = [n for n in names if n.endswith(f"/extra/{TORCHSCRIPT_META}")]
    if not member:
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(member[0]).decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return {}
    return meta if isinstance(meta, dict) else {}


def _load_torchscript(path: Path, names: list[str]) -> LoadedModel:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - a broken archive is a file error
        raise ModelFileError(
            f"{path.name} is not a loadable TorchScript model ({first_line(exc)})."
        ) from None
    module.eval()
    meta = torchscript_meta(path, names)
    state = {k: v for k, v in module.state_dict().items() if isinstance(v, torch.Tensor)}
    if is_lama_state_dict(state):
        # The export carries the release generator's weights: run them in our own module,
        # which handles devices and bfloat16 like every other model.
        try:
            model = lama_from_state_dict(state, path)
            meta = {"layout": "LaMa TorchScript export (weights re-used)", **meta}
            meta.setdefault("architecture", "lama")
            return _lama_loaded(model, path, meta)
        except ModelFileError:
            pass  # fall back to running the export as it is
    meta = {"layout": "TorchScript export (opaque)", **meta}
    meta.setdefault("architecture", "lama_torchscript")
    return _lama_loaded(LaMaModel(LaMaTorchScript(module), LaMaConfig()), path, meta)




def _write_file(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def save_lama_model(path: Path, model: LaMaModel, metadata: dict | None = None) -> None:
    """Our model format for a LaMa generator (read back by load_lama_file)."""
    net = model.net
    if not isinstance(net, LaMaGenerator):
        raise TypeError("only the native LaMa module can be saved in our format")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": "lama",
        "config": net.config.to_dict(),
        "color_order": "RGB",
        "metadata": plain_data(metadata or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    _write_file(path, lambda fh: torch.save(payload, fh))


def save_torchscript(path: Path, model: LaMaModel, metadata: dict) -> None:
    net = model.net
    if not isinstance(net, LaMaTorchScript):
        raise TypeError("only a TorchScript export can be saved as TorchScript")
    module = net.module
    extra = {TORCHSCRIPT_META: json.dumps(plain_data(metadata))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _write_file(path, lambda fh: torch.jit.save(module, fh, _extra_files=extra))


