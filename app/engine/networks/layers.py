"""Convolution blocks of DeepFill: gated convolutions and their light-weight variants.

Naming follows the official TensorFlow code so that official weights map onto these modules
by name: a gated layer owns `conv` (a Conv2d with twice the output width: features, then gate),
and an up-sampling layer owns `conv` (the gated layer applied after a nearest x2 resize).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

GATES = ("full", "single", "pixel", "none")
PADDINGS = ("same", "reflect", "zero")


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class PaddedConv(nn.Module):
    """Conv2d with TensorFlow SAME zero padding (asymmetric at stride 2), or symmetric reflect or
    zero padding of dilation * (kernel - 1) / 2 (the PyTorch port's fine-tuned models use "zero")."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        padding: str = "same",
    ) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")
        self.kernel, self.stride, self.dilation, self.padding = kernel, stride, dilation, padding
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride, self.dilation)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride, self.dilation)
            x = F.pad(x, (left, right, top, bottom))
        else:
            p = self.dilation * (self.kernel - 1) // 2
            if p:
                mode = "constant"
                if self.padding == "reflect":
                    # Reflection needs a border wider than the pad; tiny maps replicate instead.
                    mode = "reflect" if p < min(x.shape[-2:]) else "replicate"
                x = F.pad(x, (p, p, p, p), mode=mode)
        if self.kernel == 1 and self.stride > 1:
            # The same arithmetic as a strided 1 x 1 conv. oneDNN's backward of that conv on
            # channels-last tensors with few channels (the pixel gates at stride 2) writes
            # outside its buffers on the CPU (torch 2.13: heap corruption, docs/training.md).
            s = self.stride
            return F.conv2d(x[..., ::s, ::s], self.weight, self.bias)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation)


class GatedConv(nn.Module):
    """One DeepFill layer: act(features) * sigmoid(gate).

    `width` is the layer's output width (the official code's `cnum` argument halved for gated
    layers). Gate kinds: "full" = the official gated conv (one conv emitting features and gate);
    "single" = light-weight gate with one k x k gate channel broadcast over all features (CRA's
    LWGC-sc); "pixel" = 1 x 1 gate conv (LWGC-pw); "none" = plain convolution (DeepFill v1).
    `activation` None gives a raw output layer (no gate, no activation).
    """

    def __init__(
        self,
        cin: int,
        width: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        gate: str = "full",
        padding: str = "same",
        activation: str | None = "elu",
    ) -> None:
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, not {gate!r}")
        self.gate_kind = gate if activation is not None else "none"
        self.activation = activation
        conv_out = 2 * width if self.gate_kind == "full" else width
        self.conv = PaddedConv(cin, conv_out, kernel, stride, dilation, padding)
        if self.gate_kind == "single":
            self.gate = PaddedConv(cin, 1, kernel, stride, dilation, padding)
        elif self.gate_kind == "pixel":
            # 1x1 gate sampled at the same stride as the features.
            self.gate = PaddedConv(cin, width, 1, stride, 1, padding)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "elu":
            return F.elu(x)
        if self.activation == "relu":
            return F.relu(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.activation is None:
            return y
        if self.gate_kind == "full":
            features, gate = torch.chunk(y, 2, dim=1)
            return self._act(features) * torch.sigmoid(gate)
        if self.gate_kind == "none":
            return self._act(y)
        return self._act(y) * torch.sigmoid(self.gate(x))


class GatedUpConv(nn.Module):
    """Nearest x2 up-sampling followed by a 3x3 gated conv (the official `gen_deconv`)."""

    def __init__(self, cin: int, width: int, gate: str = "full", padding: str = "same") -> None:
        super().__init__()
        self.conv = GatedConv(cin, width, 3, 1, 1, gate, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # For an exact x2 factor TF's align_corners nearest resize equals PyTorch's nearest.
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
