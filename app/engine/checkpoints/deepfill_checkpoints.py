"""DeepFill checkpoints from elsewhere, mapped onto our one generator definition.

Each foreign layout is a small function that renames keys and reorders axes (the way timm keeps
one model and a filter function per upstream checkpoint), never a second copy of the network:

* the two state-dict layouts of the widely used PyTorch port (`networks.py`, fine-tuned, and
  `networks_tf.py`, converted official weights), and our own format, read by `load_deepfill_file`;
* official DeepFill v2 and v1 TensorFlow checkpoints (folder, ``checkpoint`` file, ``.index``
  file or prefix), read with :mod:`tf_bundle`: ``inpaint_net/<layer>/kernel`` (HWIO) ->
  ``<layer>.conv.weight`` (OIHW), ``.../bias`` -> ``<layer>.conv.bias``; the up-sampling layers'
  convolutions live one scope deeper, ``inpaint_net/<layer>/<layer>_conv/...`` ->
  ``<layer>.conv.conv.*``. Optimiser slots, the discriminator and counters are skipped.
  Official weights expect BGR input and are CC BY-NC 4.0.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..networks.generator import Generator, GeneratorConfig
from ..types import ModelFileError
from .tf_bundle import CheckpointReader, is_tf_checkpoint, open_checkpoint
from .weights import (
    FORMAT,
    OFFICIAL_LICENSE,
    LoadedModel,
    build_generator,
    own_model,
    read_torch_file,
)

OFFICIAL_V1_LICENSE = (
    "DeepFill v1 official weights: CC BY-NC 4.0 (non-commercial use only), "
    "Jiahui Yu et al., github.com/JiahuiYu/generative_inpainting"
)

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



def load_deepfill_file(path: Path) -> LoadedModel:
    """The last loader: our own format or one of the port's layouts, else a ModelFileError."""
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder without a model DeepFill Studio can read")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path.name} is empty")
    data = read_torch_file(path)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name} does not hold a model (found {type(data).__name__})")
    if data.get("format") == FORMAT:
        return own_model(data, path)
    state = data.get("G", data.get("state_dict", data))
    if isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()):
        model = _port_model(state, path)
        if model is not None:
            return model
    raise ModelFileError(f"{path.name} is not a DeepFill model layout DeepFill Studio knows")


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


def load_tf_checkpoint(path: Path) -> LoadedModel | None:
    """Loader for FOREIGN_LOADERS: a DeepFill TF checkpoint, or None if `path` is not one."""
    if not is_tf_checkpoint(path):
        return None
    reader = open_checkpoint(path)
    config, architecture = deepfill_config_from_tf(reader)
    state = state_dict_from_tf(reader, config)
    generator = build_generator(config, state, path)
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
    return LoadedModel(
        generator=generator,
        config=config,
        color_order="BGR",  # official models were trained on cv2-read images
        metadata=metadata,
        name=name or reader.prefix.name,
        license=license_text,
        source=str(path),
        architecture=architecture,
    )


