"""Model files: our own format, and the layouts of other DeepFill releases mapped onto our names.

Our format is a torch file holding only plain data, read with `weights_only=True` so that
loading never executes pickled code:

    {"format": "deepfill-studio-model", "format_version": 1, "architecture": "deepfill",
     "config": GeneratorConfig as a dict, "color_order": "RGB" | "BGR",
     "metadata": {name, license, source, training facts, metrics ...}, "state_dict": {...}}

Foreign layouts live in deepfill_checkpoints.py and lama_checkpoints.py; loaders.py lists every
loader and reads any supported file (`load_model`).
"""

from __future__ import annotations

import math
import os
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..networks.generator import Generator, GeneratorConfig
from ..networks.lama import LaMaModel
from ..types import COLOR_ORDERS, ModelCapabilities, ModelDescription, ModelFileError

FORMAT = "deepfill-studio-model"
FORMAT_VERSION = 1
OFFICIAL_LICENSE = (
    "DeepFill v2 official weights: CC BY-NC 4.0 (non-commercial use only), "
    "Jiahui Yu et al., github.com/JiahuiYu/generative_inpainting"
)


@dataclass
class LoadedModel:
    """A model read from a file: its network and what the file says about it."""

    generator: Generator | LaMaModel  # every network has the DeepFill generator's forward
    config: GeneratorConfig | None  # the DeepFill configuration (None for LaMa)
    color_order: str  # "RGB" or "BGR": the order the network expects its input in
    metadata: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    license: str = ""
    source: str = ""  # file it was read from
    architecture: str = "deepfill_v2"

    def __post_init__(self) -> None:
        if self.color_order not in COLOR_ORDERS:  # the loaders name the file first
            raise ValueError(f"unknown colour order {self.color_order!r}")

    @property
    def capabilities(self) -> ModelCapabilities:
        """What the network declares (sketch, attention, pre-fill) with the file's colour
        order: the pipeline prepares its input from these alone."""
        return replace(self.generator.capabilities, color_order=self.color_order)

    def describe(self) -> ModelDescription:
        """Facts for `models import`, the model manager and the About box (on no device)."""
        return ModelDescription(
            name=self.name,
            architecture=self.architecture,
            parameters=sum(p.numel() for p in self.generator.parameters()),
            license=self.license,
            source=self.source,
            capabilities=self.capabilities,
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


def read_torch_file(path: Path) -> object:
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


def own_model(data: dict, source: Path) -> LoadedModel:
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{source.name} was written by a newer DeepFill Studio; please update")
    try:
        config = GeneratorConfig.from_dict(dict(data["config"]))
        state = dict(data["state_dict"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source.name} has a damaged header ({exc})") from None
    color_order = data.get("color_order", "RGB")
    if color_order not in COLOR_ORDERS:
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
        "metadata": plain_data(metadata or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()},
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))


def plain_data(value: object) -> object:
    """Metadata restricted to what weights_only loading accepts (and NaN-free numbers)."""
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
