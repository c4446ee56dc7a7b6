"""The DeepFill generator: coarse network, then a refine network with a dilated branch and a
contextual-attention branch merged by a decoder (Yu et al., ICCV 2019).

One module tree serves every configuration: the official DeepFill v2 (cnum 48, gated, TF SAME
padding), our own light-weight models (reflect padding, CRA's single-channel / pixel-wise gates,
a sketch channel, a classical pre-fill), and DeepFill v1 (plain convolutions, ones+mask fed to
stage 2, clipped output). Layer names are the official TensorFlow layer names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from ..types import ModelCapabilities
from .attention import contextual_attention, downscale_mask
from .layers import GATES, PADDINGS, GatedConv, GatedUpConv

# (name, width as a multiple of cnum (the official `cnum` argument), kernel, stride, dilation, kind)
_ENCODER = [
    ("conv1", 1, 5, 1, 1, "conv"),
    ("conv2_downsample", 2, 3, 2, 1, "conv"),
    ("conv3", 2, 3, 1, 1, "conv"),
    ("conv4_downsample", 4, 3, 2, 1, "conv"),
    ("conv5", 4, 3, 1, 1, "conv"),
    ("conv6", 4, 3, 1, 1, "conv"),
]
_COARSE = _ENCODER + [
    ("conv7_atrous", 4, 3, 1, 2, "conv"),
    ("conv8_atrous", 4, 3, 1, 4, "conv"),
    ("conv9_atrous", 4, 3, 1, 8, "conv"),
    ("conv10_atrous", 4, 3, 1, 16, "conv"),
    ("conv11", 4, 3, 1, 1, "conv"),
    ("conv12", 4, 3, 1, 1, "conv"),
    ("conv13_upsample", 2, 3, 1, 1, "up"),
    ("conv14", 2, 3, 1, 1, "conv"),
    ("conv15_upsample", 1, 3, 1, 1, "up"),
    ("conv16", 0.5, 3, 1, 1, "conv"),
]
_HALLU = [
    ("xconv1", 1, 5, 1, 1, "conv"),
    ("xconv2_downsample", 1, 3, 2, 1, "conv"),
    ("xconv3", 2, 3, 1, 1, "conv"),
    ("xconv4_downsample", 2, 3, 2, 1, "conv"),
    ("xconv5", 4, 3, 1, 1, "conv"),
    ("xconv6", 4, 3, 1, 1, "conv"),
    ("xconv7_atrous", 4, 3, 1, 2, "conv"),
    ("xconv8_atrous", 4, 3, 1, 4, "conv"),
    ("xconv9_atrous", 4, 3, 1, 8, "conv"),
    ("xconv10_atrous", 4, 3, 1, 16, "conv"),
]
_ATTENTION_ENCODER = [
    ("pmconv1", 1, 5, 1, 1, "conv"),
    ("pmconv2_downsample", 1, 3, 2, 1, "conv"),
    ("pmconv3", 2, 3, 1, 1, "conv"),
    ("pmconv4_downsample", 4, 3, 2, 1, "conv"),
    ("pmconv5", 4, 3, 1, 1, "conv"),
    ("pmconv6", 4, 3, 1, 1, "relu"),
]
_ATTENTION_DECODER = [
    ("pmconv9", 4, 3, 1, 1, "conv"),
    ("pmconv10", 4, 3, 1, 1, "conv"),
]
_MERGE = [
    ("allconv11", 4, 3, 1, 1, "conv"),
    ("allconv12", 4, 3, 1, 1, "conv"),
    ("allconv13_upsample", 2, 3, 1, 1, "up"),
    ("allconv14", 2, 3, 1, 1, "conv"),
    ("allconv15_upsample", 1, 3, 1, 1, "up"),
    ("allconv16", 0.5, 3, 1, 1, "conv"),
]


def config_from_dict(cls, data: dict, what: str):
    """A config dataclass from a model file's dict; unknown keys are an error, not ignored."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} settings: {', '.join(sorted(unknown))}")
    return cls(**data)


@dataclass(frozen=True)
class GeneratorConfig:
    cnum: int = 48  # official width parameter; gated layers emit cnum/2, cnum, 2cnum
    in_channels: int = 5  # 5 = image + ones + mask; 6 = with the sketch (edge) channel
    padding: str = "same"  # "same" = TensorFlow SAME (official weights); "reflect" (own); "zero"
    coarse_gate: str = "full"  # full | single | pixel | none
    refine_gate: str = "full"
    fuse: bool = True  # attention propagation in contextual attention
    refine_mask_input: bool = False  # DeepFill v1 feeds ones + mask to stage 2 as well
    output: str = "tanh"  # "tanh" (v2) or "clip" (v1)
    prefill: str = "none"  # "telea": the hole arrives pre-filled and the stages predict a residual
    # The refine stage's two branches (xconv1, pmconv1) also take the sketch channel, after the
    # image (needs in_channels 6). Left out of `to_dict` when off, so such files stay readable
    # by versions that predate it.
    refine_sketch: bool = False

    def __post_init__(self) -> None:
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}")
        if self.coarse_gate not in GATES or self.refine_gate not in GATES:
            raise ValueError(f"gates must be among {GATES}")
        if self.in_channels not in (5, 6):
            raise ValueError("in_channels must be 5 or 6")
        if self.output not in ("tanh", "clip") or self.prefill not in ("none", "telea"):
            raise ValueError("unknown output or prefill kind")
        if self.refine_sketch and not self.sketch:
            raise ValueError("refine_sketch needs the sketch channel (in_channels 6)")

    @property
    def sketch(self) -> bool:
        return self.in_channels == 6

    @property
    def resize(self) -> str:
        """Resize convention inside the network: TensorFlow's for official weights."""
        return "tf" if self.padding == "same" else "native"

    def to_dict(self) -> dict:
        data = asdict(self)
        if not self.refine_sketch:
            del data["refine_sketch"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        return config_from_dict(cls, data, "generator")


# Layers after the attention see ~7 feature pixels (1/4 scale) around each output pixel, and a
# pasted patch spans 2 cells (1/8 scale): cells farther than this from the hole cannot change it.
HOLE_REACH_CELLS = 6


def attention_cells(mask: torch.Tensor) -> torch.Tensor:
    """[B, H/8, W/8] bool: the attention cells within HOLE_REACH_CELLS of a hole pixel."""
    cells = torch.nn.functional.max_pool2d(mask.float(), 8, 8)
    reach = 2 * HOLE_REACH_CELLS + 1
    cells = torch.nn.functional.max_pool2d(cells, reach, 1, HOLE_REACH_CELLS)
    return cells[:, 0] > 0


@dataclass
class GeneratorOutput:
    coarse: torch.Tensor  # [B, 3, H, W] in [-1, 1], before compositing
    refined: torch.Tensor  # [B, 3, H, W] in [-1, 1], before compositing
    attention: torch.Tensor | None = None  # [B, Lk, H/8, W/8] post-softmax scores
    offsets: torch.Tensor | None = None  # [B, 2, H/8, W/8] best key cell minus query cell


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        self._cin = 0
        self._width = 0

        def build(layers, cin: int, gate: str) -> int:
            for name, mult, kernel, stride, dilation, kind in layers:
                arg = int(config.cnum * mult)
                width = arg if gate == "none" else arg // 2
                module: nn.Module
                if kind == "up":
                    module = GatedUpConv(cin, width, gate, config.padding)
                else:
                    act = "relu" if kind == "relu" else "elu"
                    module = GatedConv(cin, width, kernel, stride, dilation, gate, config.padding, act)
                self.add_module(name, module)
                cin = width
            return cin

        self.coarse_layers = [spec[0] for spec in _COARSE]
        cin = build(_COARSE, config.in_channels, config.coarse_gate)
        self.conv17 = GatedConv(cin, 3, 3, 1, 1, "none", config.padding, activation=None)

        refine_in = (5 if config.refine_mask_input else 3) + int(config.refine_sketch)
        self.hallu_layers = [spec[0] for spec in _HALLU]
        hallu_out = build(_HALLU, refine_in, config.refine_gate)
        self.attention_encoder = [spec[0] for spec in _ATTENTION_ENCODER]
        att_out = build(_ATTENTION_ENCODER, refine_in, config.refine_gate)
        self.attention_decoder = [spec[0] for spec in _ATTENTION_DECODER]
        att_out = build(_ATTENTION_DECODER, att_out, config.refine_gate)
        self.merge_layers = [spec[0] for spec in _MERGE]
        cin = build(_MERGE, hallu_out + att_out, config.refine_gate)
        self.allconv17 = GatedConv(cin, 3, 3, 1, 1, "none", config.padding, activation=None)
        if config.prefill != "none":
            # Residual outputs start at exactly the pre-filled image.
            for layer in (self.conv17, self.allconv17):
                nn.init.zeros_(layer.conv.weight)
                nn.init.zeros_(layer.conv.bias)

    @property
    def capabilities(self) -> ModelCapabilities:
        """Declared for the pipeline: a sketch channel when configured with one, contextual
        attention always, and the pre-fill its stages expect (the colour order is the model
        file's, see checkpoints.weights.LoadedModel)."""
        return ModelCapabilities(
            sketch=self.config.sketch, attention=True, prefill=self.config.prefill
        )

    def _run(self, names: list[str], x: torch.Tensor) -> torch.Tensor:
        for name in names:
            x = getattr(self, name)(x)
        return x

    def _output(self, raw: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        if self.config.prefill != "none":
            return (base + torch.tanh(raw)).clamp(-1.0, 1.0)
        if self.config.output == "clip":
            return raw.clamp(-1.0, 1.0)
        return torch.tanh(raw)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        sketch: torch.Tensor | None = None,
        return_attention: bool = False,
        between_stages: Callable[[], None] | None = None,
        near_hole_only: bool = False,
    ) -> GeneratorOutput:
        """`between_stages` is called after the coarse stage (a cancel checkpoint may raise there).

        `near_hole_only`: the attention scores only the cells near the hole (`attention_cells`);
        the refined output is then the same inside the hole and meaningless far outside it, and
        the attention's cost grows with the hole instead of with the square of the photo."""
        cfg = self.config
        if image.shape[-1] % 8 or image.shape[-2] % 8:
            raise ValueError("image height and width must be multiples of 8")
        mask = mask.to(image.dtype)
        known = image if cfg.prefill != "none" else image * (1.0 - mask)
        ones = torch.ones_like(mask)
        # The sketch counts inside the hole only; no sketch is an empty one.
        lines = torch.zeros_like(mask)
        if cfg.sketch and sketch is not None:
            lines = sketch.to(image.dtype) * mask
        parts = [known, lines] if cfg.sketch else [known]
        x = torch.cat(parts + [ones, ones * mask], dim=1)

        x = self._run(self.coarse_layers[:6], x)
        mask_small = downscale_mask(mask, (x.shape[-2], x.shape[-1]), cfg.resize)
        x = self._run(self.coarse_layers[6:], x)
        coarse = self._output(self.conv17(x), known)
        if between_stages is not None:
            between_stages()

        composite = coarse * mask + known * (1.0 - mask)
        x = torch.cat([composite, lines], dim=1) if cfg.refine_sketch else composite
        if cfg.refine_mask_input:
            x = torch.cat([x, ones, ones * mask], dim=1)
        hallu = self._run(self.hallu_layers, x)
        pm = self._run(self.attention_encoder, x)
        att = contextual_attention(
            pm,
            pm,
            mask_small,
            fuse=cfg.fuse,
            resize=cfg.resize,
            return_scores=return_attention,
            queries=attention_cells(mask) if near_hole_only else None,
        )
        pm = self._run(self.attention_decoder, att.features)
        y = self._run(self.merge_layers, torch.cat([hallu, pm], dim=1))
        refined = self._output(self.allconv17(y), composite)
        return GeneratorOutput(coarse, refined, att.scores, att.offsets)


# The refine stage's first layers: with `refine_sketch` each takes one more input channel, the
# sketch, at index 3 (after the composited image, before DeepFill v1's ones + mask).
REFINE_INPUTS = ("xconv1", "pmconv1")
_REFINE_SKETCH_INDEX = 3


def with_refine_sketch(state: dict[str, torch.Tensor], generator: Generator) -> dict[str, torch.Tensor]:
    """The weights of a model without the refine stage's sketch input, fitted to `generator`
    (which has it): the new channel of `REFINE_INPUTS` gets zero weights, so the network
    computes what the old one did, whatever the sketch, until training moves them. Other
    tensors, and a state that fits already, are returned as they are."""
    if not generator.config.refine_sketch:
        return state
    target = generator.state_dict()
    out = dict(state)
    for key, value in state.items():
        want = target.get(key)
        if key.split(".")[0] not in REFINE_INPUTS or want is None or value.dim() != 4:
            continue
        if tuple(value.shape) == tuple(want.shape):
            continue
        if value.shape[1] + 1 != want.shape[1] or (value.shape[0], *value.shape[2:]) != (
            want.shape[0], *want.shape[2:]
        ):
            continue  # not this kind of difference: the strict load names it
        i = _REFINE_SKETCH_INDEX
        zero = value.new_zeros(value.shape[0], 1, *value.shape[2:])
        out[key] = torch.cat([value[:, :i], zero, value[:, i:]], dim=1)
    return out
