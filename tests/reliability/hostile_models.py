"""Hostile model files: damaged, mislabelled, mis-shaped, and pickles that try to run code.

The code-running pickles all try to create the file named by SENTINEL (beside the model), so
a test can check afterwards that nothing ran.
"""

from __future__ import annotations

import builtins
import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from app.engine.checkpoints.weights import FORMAT, FORMAT_VERSION
from app.engine.networks.generator import GeneratorConfig
from tests.tiny import TINY, save_tiny_model, tiny_generator

SENTINEL = "PWNED"  # file name the exploits try to create in the model's folder


@dataclass(frozen=True)
class ModelCase:
    name: str
    build: Callable[[Path], None]
    match: str  # phrase of the one-line refusal
    exploit: bool = False  # a pickle that tries to run code

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        self.build(path)
        return path


def _payload_code(path: Path) -> str:
    return f"open({str(path.parent / SENTINEL)!r}, 'w').write('code ran')"


class _Exec:
    """Unpickling this calls exec(code): the classic pickle exploit."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (builtins.exec, (self.code,))


class _System:
    """Unpickling this runs a shell command through os.system."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch '{self.target}'",))


def _own_payload(**changes) -> dict:
    gen = tiny_generator(TINY)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": "deepfill",
        "config": TINY.to_dict(),
        "color_order": "RGB",
        "metadata": {"name": "hostile"},
        "state_dict": {k: v.clone() for k, v in gen.state_dict().items()},
    }
    payload.update(changes)
    return payload


def _truncated(path: Path) -> None:
    save_tiny_model(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_keys(path: Path) -> None:
    payload = _own_payload()
    payload["state_dict"] = {
        k.replace("conv", "layer"): v for k, v in payload["state_dict"].items()
    }
    torch.save(payload, path)


def _wrong_shapes(path: Path) -> None:
    smaller = tiny_generator(GeneratorConfig(cnum=4, in_channels=6, padding="reflect"))
    torch.save(_own_payload(state_dict=smaller.state_dict()), path)


def _nan_weights(path: Path) -> None:
    payload = _own_payload()
    key = next(iter(payload["state_dict"]))
    payload["state_dict"][key][...] = float("nan")
    torch.save(payload, path)


def _future(path: Path) -> None:
    torch.save(_own_payload(format_version=FORMAT_VERSION + 98), path)


def _bad_config(path: Path) -> None:
    torch.save(_own_payload(config={"cnum": "many", "padding": 7}), path)


def _jpeg(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 10, 10)).save(path, "JPEG")


def _random_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/readme.txt", "no model here")
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")


def _legacy_exec(path: Path) -> None:
    path.write_bytes(pickle.dumps({"G": _Exec(_payload_code(path))}, protocol=2))


def _legacy_system(path: Path) -> None:
    path.write_bytes(pickle.dumps({"state_dict": _System(path.parent / SENTINEL)}, protocol=2))


def _zip_exec(path: Path) -> None:
    """torch.save's zip format with the exploit in data.pkl (what a .pth download looks like)."""
    torch.save({"G": _Exec(_payload_code(path)), "w": torch.zeros(2)}, path)


def _lama_lure_exec(path: Path) -> None:
    """Mentions a LaMa layer name, so it is routed to the restricted unpickler, not weights_only."""
    torch.save(
        {"state_dict": {"generator.model.5.conv1.ffc.convl2l.weight": torch.zeros(1)},
         "hyper_parameters": _Exec(_payload_code(path))},
        path,
    )


def _torchscript_lure_exec(path: Path) -> None:
    """A zip that looks like a TorchScript export (code/__torch__) whose pickles run code."""
    evil = pickle.dumps(_Exec(_payload_code(path)), protocol=2)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/code/__torch__/model.py", "class Model(Module):\n  pass\n")
        zf.writestr("archive/data.pkl", evil)
        zf.writestr("archive/constants.pkl", evil)
        zf.writestr("archive/version", "3\n")


def _exec_in_metadata(path: Path) -> None:
    """A valid own-format file whose metadata hides the exploit."""
    torch.save(_own_payload(metadata={"name": "x", "note": _Exec(_payload_code(path))}), path)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _tensor(path: Path) -> None:
    torch.save(torch.zeros(3), path)


def _list(path: Path) -> None:
    torch.save([1, 2, 3], path)


MODEL_CASES: list[ModelCase] = [
    ModelCase("empty.pt", _bytes(b""), "empty"),
    ModelCase("truncated.pt", _truncated, "damaged or incomplete"),
    ModelCase("wrong_keys.pt", _wrong_keys, "missing tensors"),
    ModelCase("wrong_shapes.pt", _wrong_shapes, "wrong shape"),
    ModelCase("nan_weights.pt", _nan_weights, "invalid numbers"),
    ModelCase("future_version.pt", _future, "newer DeepFill Studio"),
    ModelCase("bad_config.pt", _bad_config, "damaged header"),
    ModelCase("photo.pt", _jpeg, "not a readable"),
    ModelCase("text.pth", _bytes(b"this is not a model\n" * 10), "not a readable"),
    ModelCase("random_zip.pt", _random_zip, "not a readable"),
    ModelCase("tensor.pt", _tensor, "does not hold a model"),
    ModelCase("list.pt", _list, "does not hold a model"),
    ModelCase("exploit_legacy_exec.pt", _legacy_exec, "refused", exploit=True),
    ModelCase("exploit_legacy_system.pt", _legacy_system, "refused", exploit=True),
    ModelCase("exploit_zip_exec.pt", _zip_exec, "refused", exploit=True),
    ModelCase("exploit_metadata.pt", _exec_in_metadata, "refused", exploit=True),
    ModelCase("exploit_lama_lure.ckpt", _lama_lure_exec, "", exploit=True),
    ModelCase("exploit_torchscript_lure.pt", _torchscript_lure_exec, "TorchScript", exploit=True),
]


def sentinel(folder: Path) -> Path:
    return folder / SENTINEL
