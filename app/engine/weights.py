"""Model files: our own format, and the layouts of other DeepFill releases mapped onto our names.

Our format is a torch file holding only plain data, read with `weights_only=True` so that
loading never executes pickled code:

    {"format": "deepfill-studio-model", "format_version": 1, "architecture": "deepfill",
     "config": GeneratorConfig as a dict, "color_order": "RGB" | "BGR",
     "metadata": {name, license, source, training facts, metrics ...}, "state_dict": {...}}

Foreign layouts are small functions that rename keys onto the one generator definition
(the way timm keeps one model and a filter function per upstream checkpoint).
"""

from __future__ import annotations

import math
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_write
from .generator import Generator, GeneratorConfig
from .types import ModelFileError

FORMAT = "deepfill-studio-model"
FORMAT_VERSION = 1
OFFICIAL_LICENSE = (
    "DeepFill v2 official weights: CC BY-NC 4.0 (non-commercial use only), "
    "Jiahui Yu et al., github.com/JiahuiYu/generative_inpainting"
)


@dataclass
class LoadedModel:
    generator: nn.Module  # Generator, or another module with the same forward (e.g. LaMa)
    config: GeneratorConfig | None
    color_order: str  # "RGB" or "BGR": the order the network expects its input in
    metadata: dict = field(default_factory=dict)
    name: str = ""
    license: str = ""
    source: str = ""  # file it was read from
    architecture: str = "deepfill_v2"

    def describe(self) -> dict:
        """Plain facts for `models` listings and the About box."""
        params = sum(p.numel() for p in self.generator.parameters())
        return {
            "name": self.name,
            "architecture": self.architecture,
            "color_order": self.color_order,
            "parameters": params,
            "license": self.license,
            "source": self.source,
            "sketch": bool(self.config and self.config.sketch),
        }


# ---------------------------------------------------------------- the PyTorch port's layouts

_PORT_NETWORKS_RENAMES = {
    "stage1.conv1": "conv1",
    "stage1.down_block1.conv1_downsample": "conv2_downsample",
    "stage1.down_block1.conv2": "conv3",
    "stage1.down_block2.conv1_downsample": "conv4_downsample",
    "stage1.down_block2.conv2": "conv5",
    "stage1.conv_bn1": "conv6",
    "stage1.conv_bn2": "conv7_atrous",
    "stage1.conv_bn3": "conv8_atrous",
    "stage1.conv_bn4": "conv9_atrous",
    "stage1.conv_bn5": "conv10_atrous",
    "stage1.conv_bn6": "conv11",
    "stage1.conv_bn7": "conv12",
    "stage1.up_block1.conv1_upsample": "conv13_upsample",
    "stage1.up_block1.conv2": "conv14",
    "stage1.up_block2.conv1_upsample": "conv15_upsample",
    "stage1.up_block2.conv2": "conv16",
    "stage1.conv_to_rgb": "conv17",
    "stage2.conv_conv1": "xconv1",
    "stage2.conv_down_block1.conv1_downsample": "xconv2_downsample",
    "stage2.conv_down_block1.conv2": "xconv3",
    "stage2.conv_down_block2.conv1_downsample": "xconv4_downsample",
    "stage2.conv_down_block2.conv2": "xconv5",
    "stage2.conv_conv_bn1": "xconv6",
    "stage2.conv_conv_bn2": "xconv7_atrous",
    "stage2.conv_conv_bn3": "xconv8_atrous",
    "stage2.conv_conv_bn4": "xconv9_atrous",
    "stage2.conv_conv_bn5": "xconv10_atrous",
    "stage2.ca_conv1": "pmconv1",
    "stage2.ca_down_block1.conv1_downsample": "pmconv2_downsample",
    "stage2.ca_down_block1.conv2": "pmconv3",
    "stage2.ca_down_block2.conv1_downsample": "pmconv4_downsample",
    "stage2.ca_down_block2.conv2": "pmconv5",
    "stage2.ca_conv_bn1": "pmconv6",
    "stage2.ca_conv_bn4": "pmconv9",
    "stage2.ca_conv_bn5": "pmconv10",
    "stage2.conv_bn6": "allconv11",
    "stage2.conv_bn7": "allconv12",
    "stage2.up_block1.conv1_upsample": "allconv13_upsample",
    "stage2.up_block1.conv2": "allconv14",
    "stage2.up_block2.conv1_upsample": "allconv15_upsample",
    "stage2.up_block2.conv2": "allconv16",
    "stage2.conv_to_rgb": "allconv17",
}
_PORT_MODULES = sorted(_PORT_NETWORKS_RENAMES, key=len, reverse=True)  # longest prefix first
_PORT_DROPPED = {"stage2.contextual_attention.fuse_weight"}


def rename_port_networks(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The port's `networks.py` names (stage1.down_block1...) -> official layer names."""
    out = {}
    for key, value in state.items():
        if key in _PORT_DROPPED:
            continue
        module = next((m for m in _PORT_MODULES if key.startswith(m + ".")), None)
        if module is None:
            raise ModelFileError(f"unexpected tensor {key!r} for the DeepFill v2 port layout")
        out[_PORT_NETWORKS_RENAMES[module] + key[len(module):]] = value
    return out


def _port_model(state: dict[str, torch.Tensor], source: Path) -> LoadedModel | None:
    """Recognise the two state-dict layouts of the widely used PyTorch port from their keys."""
    if "stage1.conv1.conv.weight" in state:
        state, padding, layout = rename_port_networks(state), "zero", "port networks.py (fine-tuned)"
    elif "conv1.conv.weight" in state and "allconv17.conv.weight" in state:
        padding, layout = "same", "port networks_tf.py (converted official)"
    else:
        return None
    in_channels = state["conv1.conv.weight"].shape[1]
    cnum = state["conv1.conv.weight"].shape[0]
    config = GeneratorConfig(cnum=cnum, in_channels=in_channels, padding=padding)
    generator = build_generator(config, state, source)
    return LoadedModel(
        generator=generator,
        config=config,
        color_order="BGR",  # trained on cv2-read (BGR) images by the official code
        metadata={"layout": layout},
        name=source.stem,
        license=OFFICIAL_LICENSE,
        source=str(source),
    )


# ---------------------------------------------------------------- building and checking

def build_generator(
    config: GeneratorConfig, state: dict[str, torch.Tensor], source: Path | str
) -> Generator:
    """A generator in eval mode holding `state`, or a ModelFileError naming what does not fit."""
    generator = Generator(config)
    expected = generator.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]})")
    if problems:
        raise ModelFileError(f"{Path(source).name} does not fit the DeepFill generator: " + "; ".join(problems))
    for key, value in state.items():
        if not torch.is_floating_point(value) or not bool(torch.isfinite(value).all()):
            raise ModelFileError(f"{Path(source).name} holds invalid numbers in {key}")
    generator.load_state_dict({k: v.float() for k, v in state.items()})
    return generator.eval()


def _read_torch_file(path: Path) -> object:
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": noise for a file we refuse
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's text says the file "can still be loaded" if trusted (with terminal escapes):
        # wrong advice here, so only the name of the object the file asks for is quoted.
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:
            with open(path, "rb") as fh:
                head = fh.read(2)
            if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a raw pickle
                raise ModelFileError(
                    f"{path.name} was refused: it holds Python objects other than plain tensors "
                    "and settings, which could run code"
                ) from None
            raise ModelFileError(f"{path.name} is not a readable model file") from None
        raise ModelFileError(
            f"{path.name} was refused: it asks for the Python object {found.group(1)}, which "
            "could run code (model files may only hold plain tensors and settings)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse means 'not a model file'
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):  # torch's zip, cut short
            raise ModelFileError(
                f"{path.name} is damaged or incomplete (was the download cut short?)"
            ) from None
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path.name} is not a readable model file ({first})") from None


def _own_model(data: dict, source: Path) -> LoadedModel:
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{source.name} was written by a newer DeepFill Studio; please update")
    try:
        config = GeneratorConfig.from_dict(dict(data["config"]))
        state = dict(data["state_dict"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source.name} has a damaged header ({exc})") from None
    color_order = data.get("color_order", "RGB")
    if color_order not in ("RGB", "BGR"):
        raise ModelFileError(f"{source.name} names an unknown colour order {color_order!r}")
    metadata = dict(data.get("metadata") or {})
    return LoadedModel(
        generator=build_generator(config, state, source),
        config=config,
        color_order=color_order,
        metadata=metadata,
        name=str(metadata.get("name") or source.stem),
        license=str(metadata.get("license", "")),
        source=str(source),
        architecture=str(metadata.get("architecture", "deepfill_v2")),
    )


# Loaders for other formats (TensorFlow checkpoints, LaMa, ...) register here: each takes the path
# and returns a LoadedModel, or None when the file is not of its kind.
FOREIGN_LOADERS: list[Callable[[Path], LoadedModel | None]] = []


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read any supported model file; ModelFileError with one clear sentence otherwise."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    from . import importers  # noqa: F401 - registers the TensorFlow and LaMa loaders
    for loader in FOREIGN_LOADERS:
        model = loader(path)
        if model is not None:
            return model
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder without a model DeepFill Studio can read")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path.name} is empty")
    data = _read_torch_file(path)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name} does not hold a model (found {type(data).__name__})")
    if data.get("format") == FORMAT:
        return _own_model(data, path)
    state = data.get("G", data.get("state_dict", data))
    if isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()):
        model = _port_model(state, path)
        if model is not None:
            return model
    raise ModelFileError(f"{path.name} is not a DeepFill model layout DeepFill Studio knows")


def save_model(
    path: str | os.PathLike,
    generator: Generator,
    *,
    color_order: str = "RGB",
    metadata: dict | None = None,
) -> None:
    """Write our model format atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": "deepfill",
        "config": generator.config.to_dict(),
        "color_order": color_order,
        "metadata": _plain(metadata or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()},
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))


def _plain(value: object) -> object:
    """Metadata restricted to what weights_only loading accepts (and NaN-free numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
