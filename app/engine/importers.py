"""Models users already have, read without their original frameworks.

* Official DeepFill v2 and v1 TensorFlow checkpoints (folder, ``checkpoint`` file, ``.index``
  file or prefix), read with :mod:`tf_bundle` and mapped onto our generator by name:
  ``inpaint_net/<layer>/kernel`` (HWIO) -> ``<layer>.conv.weight`` (OIHW), ``.../bias`` ->
  ``<layer>.conv.bias``; the up-sampling layers' convolutions live one scope deeper,
  ``inpaint_net/<layer>/<layer>_conv/...`` -> ``<layer>.conv.conv.*``. Optimiser slots,
  the discriminator and counters are skipped. Official weights expect BGR input and are
  CC BY-NC 4.0.
* LaMa: the release's Lightning checkpoint (``state_dict`` with ``generator.*``), a bare
  generator state dict, our own saved LaMa files, and TorchScript exports.

Every loader here is registered in ``weights.FOREIGN_LOADERS``, so these paths work wherever a
model path is accepted. The functions at the end manage the per-user models folder (import,
list, default, remove) for the CLI and the editor's model manager.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import models as model_paths
from . import weights
from .atomic import atomic_write
from .generator import Generator, GeneratorConfig
from .lama import (
    LaMaConfig,
    LaMaGenerator,
    LaMaModel,
    LaMaTorchScript,
    config_from_state_dict,
    generator_state_dict,
    is_lama_state_dict,
)
from .tf_bundle import CheckpointReader, is_tf_checkpoint, open_checkpoint
from .types import ModelFileError

OFFICIAL_LICENSE = weights.OFFICIAL_LICENSE
OFFICIAL_V1_LICENSE = (
    "DeepFill v1 official weights: CC BY-NC 4.0 (non-commercial use only), "
    "Jiahui Yu et al., github.com/JiahuiYu/generative_inpainting"
)
LAMA_LICENSE = (
    "LaMa (Suvorov et al., github.com/advimman/lama, Apache-2.0): check the terms the "
    "weights were distributed under"
)
NON_COMMERCIAL_NOTE = (
    "These are the official DeepFill weights, licensed CC BY-NC 4.0: non-commercial use "
    "only (education and research), with attribution to Yu et al."
)
TORCHSCRIPT_META = "deepfill_studio.json"  # extra file carried inside imported TorchScript models

# ---------------------------------------------------------------------------
# TensorFlow DeepFill checkpoints
# ---------------------------------------------------------------------------

_TF_SCOPE = "inpaint_net/"
_TF_LAYER_VAR = re.compile(r"^(?:.*/)?inpaint_net/([A-Za-z0-9_]+)(?:/\1_conv)?/(kernel|bias)$")
_OPTIMIZER_SLOT = re.compile(
    r"/(Adam(_\d+)?|Momentum|RMSProp(_\d+)?|Adagrad|Ftrl(_\d+)?|ExponentialMovingAverage)$"
)


def classify_tf_variable(name: str) -> str:
    """'generator', 'optimizer', 'discriminator', 'counter' or 'other'."""
    if _OPTIMIZER_SLOT.search(name) or re.match(r"^(beta[12]_power|.*/beta[12]_power)$", name):
        return "optimizer"
    if name.startswith("discriminator") or "/discriminator" in name:
        return "discriminator"
    if name.endswith("global_step") or name.split("/")[-1] in (
        "step",
        "iterations",
        "save_counter",
    ):
        return "counter"
    if _TF_LAYER_VAR.match(name):
        return "generator"
    return "other"


def tf_name_for(key: str, scope: str = _TF_SCOPE) -> str:
    """Our state-dict key -> the official TensorFlow variable name."""
    parts = key.split(".")
    leaf = {"weight": "kernel", "bias": "bias"}.get(parts[-1])
    if leaf is None or len(parts) not in (3, 4) or any(p != "conv" for p in parts[1:-1]):
        raise ValueError(f"{key} has no TensorFlow counterpart")
    layer = parts[0]
    inner = f"{layer}/{layer}_conv" if len(parts) == 4 else layer
    return f"{scope}{inner}/{leaf}"


class _Variables:
    """Uniform read access over a CheckpointReader or a plain {name: array} mapping."""

    def __init__(self, source: CheckpointReader | Mapping[str, np.ndarray]) -> None:
        self.source = source

    def names(self) -> list[str]:
        src = self.source
        return src.names() if isinstance(src, CheckpointReader) else list(src)

    def shape(self, name: str) -> tuple[int, ...]:
        src = self.source
        return src.shape(name) if isinstance(src, CheckpointReader) else tuple(src[name].shape)

    def read(self, name: str) -> np.ndarray:
        src = self.source
        return src.read(name) if isinstance(src, CheckpointReader) else np.asarray(src[name])


def _scope(variables: _Variables) -> str:
    """The prefix before `conv1/kernel` of the inpainting network (normally `inpaint_net/`)."""
    hits = [n for n in variables.names() if n.endswith("inpaint_net/conv1/kernel")]
    hits = [n for n in hits if classify_tf_variable(n) == "generator"]
    if not hits:
        raise ModelFileError(
            "This TensorFlow checkpoint has no DeepFill generator (no inpaint_net/conv1/kernel)."
        )
    return min(hits, key=len)[: -len("conv1/kernel")]


def deepfill_config_from_tf(
    source: CheckpointReader | Mapping[str, np.ndarray],
) -> tuple[GeneratorConfig, str]:
    """Recognise DeepFill v2 (gated) or v1 (plain convolutions) from the variable shapes."""
    variables = _Variables(source)
    scope = _scope(variables)
    try:
        conv1 = variables.shape(f"{scope}conv1/kernel")  # (k, k, in, out)
        conv2 = variables.shape(f"{scope}conv2_downsample/kernel")
        xconv1 = variables.shape(f"{scope}xconv1/kernel")
    except (ModelFileError, KeyError):
        raise ModelFileError(
            "This TensorFlow checkpoint lacks layers of the DeepFill generator."
        ) from None
    if len(conv1) != 4 or len(conv2) != 4 or len(xconv1) != 4:
        raise ModelFileError("DeepFill kernels in this checkpoint are not 4-dimensional.")
    cin, cout = conv1[2], conv1[3]
    if cin not in (5, 6):
        raise ModelFileError(f"The checkpoint's first layer takes {cin} channels, not 5 or 6.")
    if conv2[2] * 2 == cout:  # gated: each layer passes on half its output channels
        config = GeneratorConfig(cnum=cout, in_channels=cin, padding="same")
        return config, "deepfill_v2"
    if conv2[2] == cout:
        config = GeneratorConfig(
            cnum=cout,
            in_channels=cin,
            padding="same",
            coarse_gate="none",
            refine_gate="none",
            refine_mask_input=xconv1[2] == 5,
            output="clip",
        )
        return config, "deepfill_v1"
    raise ModelFileError("The checkpoint's layer widths match neither DeepFill v1 nor v2.")


def state_dict_from_tf(
    source: CheckpointReader | Mapping[str, np.ndarray], config: GeneratorConfig
) -> dict[str, torch.Tensor]:
    """The generator's variables as our state dict (kernels HWIO -> OIHW), shapes checked."""
    variables = _Variables(source)
    scope = _scope(variables)
    available = set(variables.names())
    expected = Generator(config).state_dict()
    state: dict[str, torch.Tensor] = {}
    missing: list[str] = []
    for key, ref in expected.items():
        tf_name = tf_name_for(key, scope)
        if tf_name not in available:
            missing.append(tf_name)
            continue
        value = variables.read(tf_name)
        if value.ndim == 4:
            value = value.transpose(3, 2, 0, 1)
        if tuple(value.shape) != tuple(ref.shape):
            raise ModelFileError(
                f"Variable {tf_name} has shape {tuple(variables.shape(tf_name))}, which does not "
                f"fit layer {key} {tuple(ref.shape)}."
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise ModelFileError(f"Variable {tf_name} is not a floating-point tensor.")
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if missing:
        raise ModelFileError(
            f"The checkpoint lacks {len(missing)} generator variables (e.g. {missing[0]})."
        )
    return state


def load_tf_checkpoint(path: Path) -> weights.LoadedModel | None:
    """Loader for FOREIGN_LOADERS: a DeepFill TF checkpoint, or None if `path` is not one."""
    if not is_tf_checkpoint(path):
        return None
    reader = open_checkpoint(path)
    config, architecture = deepfill_config_from_tf(reader)
    state = state_dict_from_tf(reader, config)
    generator = weights.build_generator(config, state, path)
    skipped: dict[str, int] = {}
    for name in reader.names():
        kind = classify_tf_variable(name)
        if kind != "generator":
            skipped[kind] = skipped.get(kind, 0) + 1
    metadata: dict = {
        "layout": f"official TensorFlow checkpoint ({architecture})",
        "architecture": architecture,
        "tf_prefix": reader.prefix.name,
        "skipped_variables": skipped,
    }
    if "global_step" in reader:
        with contextlib.suppress(ModelFileError, TypeError, ValueError):
            metadata["global_step"] = int(reader.read("global_step"))
    name = reader.prefix.parent.name if Path(path).is_dir() or path.name == "checkpoint" else ""
    license_text = OFFICIAL_LICENSE if architecture == "deepfill_v2" else OFFICIAL_V1_LICENSE
    return weights.LoadedModel(
        generator=generator,
        config=config,
        color_order="BGR",  # official models were trained on cv2-read images
        metadata=metadata,
        name=name or reader.prefix.name,
        license=license_text,
        source=str(path),
        architecture=architecture,
    )


# ---------------------------------------------------------------------------
# Restricted unpickling (Lightning checkpoints carry configuration objects)
# ---------------------------------------------------------------------------


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

    def extend(self, values: object) -> None:
        self.__dict__.setdefault("_list", []).extend(values)  # type: ignore[arg-type]


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
    def load(file: io.IOBase, **kwargs: object) -> object:
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
            f"{path.name} is not a readable PyTorch file ({_first_line(exc)})."
        ) from None
    try:
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickle
        )
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file is a file error
        raise ModelFileError(
            f"{path.name} could not be read safely: it holds Python objects beyond tensors and "
            f"settings ({_first_line(exc)})."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# ---------------------------------------------------------------------------
# LaMa
# ---------------------------------------------------------------------------


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _is_torchscript(names: list[str]) -> bool:
    return any(n.endswith("/constants.pkl") or "/code/__torch__" in n for n in names)


def _sniff(path: Path, needle: bytes) -> bool:
    """Does the pickle part of a torch file mention `needle`? (cheap: no tensors are read)"""
    names = _zip_names(path)
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
) -> weights.LoadedModel:
    return weights.LoadedModel(
        generator=model,
        config=None,  # not a DeepFill GeneratorConfig: no sketch, no pre-fill, no attention
        color_order=str(metadata.get("color_order", "RGB")),
        metadata=metadata,
        name=name or str(metadata.get("name") or source.stem),
        license=str(metadata.get("license", LAMA_LICENSE)),
        source=str(source),
        architecture=str(metadata.get("architecture", "lama")),
    )


def load_lama_file(path: Path) -> weights.LoadedModel | None:
    """Loader for FOREIGN_LOADERS: LaMa checkpoints, our saved LaMa files, TorchScript exports."""
    if not path.is_file():
        return None
    names = _zip_names(path)
    if _is_torchscript(names):
        return _load_torchscript(path, names)
    if not _sniff(path, b"ffc.convl2l"):
        return None
    data = load_torch_restricted(path)
    if not isinstance(data, dict):
        return None
    if data.get("format") == weights.FORMAT:
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


def _torchscript_meta(path: Path, names: list[str]) -> dict:
    member = [n for n in names if n.endswith(f"/extra/{TORCHSCRIPT_META}")]
    if not member:
        return {}
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(member[0]).decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return {}
    return meta if isinstance(meta, dict) else {}


def _load_torchscript(path: Path, names: list[str]) -> weights.LoadedModel:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - a broken archive is a file error
        raise ModelFileError(
            f"{path.name} is not a loadable TorchScript model ({_first_line(exc)})."
        ) from None
    module.eval()
    meta = _torchscript_meta(path, names)
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


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

_LOADERS: tuple[Callable[[Path], weights.LoadedModel | None], ...] = (
    load_tf_checkpoint,
    load_lama_file,
)


def register() -> None:
    """Add the loaders above to weights.FOREIGN_LOADERS (idempotent)."""
    for loader in _LOADERS:
        if loader not in weights.FOREIGN_LOADERS:
            weights.FOREIGN_LOADERS.append(loader)


register()

# ---------------------------------------------------------------------------
# The per-user models folder: import, list, default, remove
# ---------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


@dataclass
class ModelInfo:
    """One installed model, as the `models list` command and the model manager show it."""

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

    def to_dict(self) -> dict:
        return {**self.__dict__, "path": str(self.path)}


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


def _write_file(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def save_lama_model(path: Path, model: LaMaModel, metadata: dict | None = None) -> None:
    """Our model format for a LaMa generator (read back by load_lama_file)."""
    net = model.net
    if not isinstance(net, LaMaGenerator):
        raise TypeError("only the native LaMa module can be saved in our format")
    payload = {
        "format": weights.FORMAT,
        "format_version": weights.FORMAT_VERSION,
        "architecture": "lama",
        "config": net.config.to_dict(),
        "color_order": "RGB",
        "metadata": weights._plain(metadata or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    _write_file(path, lambda fh: torch.save(payload, fh))


def _save_torchscript(path: Path, model: LaMaModel, metadata: dict) -> None:
    module = model.net.module  # type: ignore[union-attr]
    extra = {TORCHSCRIPT_META: json.dumps(weights._plain(metadata))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _write_file(path, lambda fh: torch.jit.save(module, fh, _extra_files=extra))


def import_model(
    source: str | os.PathLike[str],
    name: str | None = None,
    *,
    overwrite: bool = False,
    dest_dir: Path | None = None,
) -> tuple[Path, weights.LoadedModel]:
    """Convert any readable model (TF checkpoint, LaMa, port layouts, our own) into the user
    models folder in our format, with its source and licence recorded; returns the new file
    and the model as loaded back from it."""
    src = Path(source).expanduser()
    loaded = weights.load_model(src)
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
        weights.save_model(dest, gen, color_order=loaded.color_order, metadata=metadata)
    elif isinstance(gen, LaMaModel) and isinstance(gen.net, LaMaGenerator):
        save_lama_model(dest, gen, metadata)
    elif isinstance(gen, LaMaModel) and isinstance(gen.net, LaMaTorchScript):
        _save_torchscript(dest, gen, metadata)
    else:
        raise ModelFileError(f"{src.name} loaded, but its kind of model cannot be installed.")
    try:
        again = weights.load_model(dest)
    except ModelFileError:
        dest.unlink(missing_ok=True)
        raise
    return dest, again


def is_official_deepfill(model: weights.LoadedModel) -> bool:
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
    info = ModelInfo(name=path.stem, path=path, location=location)
    try:
        info.size_bytes = path.stat().st_size
        names = _zip_names(path)
        if _is_torchscript(names):
            meta = _torchscript_meta(path, names)
            info.architecture = str(meta.get("architecture", "torchscript"))
            info.color_order = "RGB"
            info.source = str(meta.get("source", ""))
            info.license = str(meta.get("license", ""))
            return info
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=bool(names))
    except Exception as exc:  # noqa: BLE001 - listing must survive any broken file
        info.error = _first_line(exc)
        return info
    if not isinstance(data, dict):
        info.error = "not a model file"
        return info
    meta = dict(data.get("metadata") or {})
    state = data.get("state_dict", data.get("G", {}))
    if data.get("format") == weights.FORMAT:
        info.architecture = str(meta.get("architecture") or data.get("architecture", ""))
        info.color_order = str(data.get("color_order", "RGB"))
    else:
        info.architecture = "deepfill_v2 (PyTorch port)" if "G" in data else "unknown"
        info.color_order = "BGR" if "G" in data else ""
        info.license = OFFICIAL_LICENSE if "G" in data else ""
    if info.architecture == "deepfill":
        info.architecture = "deepfill_v2"
    info.parameters = _count_parameters(state) if isinstance(state, dict) else 0
    info.source = str(meta.get("source", info.source))
    info.license = str(meta.get("license", info.license))
    return info


def list_installed() -> list[ModelInfo]:
    """Every installed model (imported ones first), the default one marked."""
    default = model_paths.default_model_path()
    infos = [describe_file(p) for p in model_paths.list_models()]
    for info in infos:
        info.is_default = default is not None and info.path == default
    return infos


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
