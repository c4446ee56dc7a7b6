"""A trained generator carried into a wider one (larger `cnum`) that starts at the same output.

Runs that continue the small bundled model have stopped gaining; a wider network may hold more,
and starting it from the trained weights saves the many hours the small one took. Each layer's
old channels keep their weights; each new channel's features get zero weights and bias, so it
outputs exactly 0 whatever its (fresh) gate, and everything downstream computes what the old
network did. The weights that read the new channels keep their fresh random values: they see
zeros, and they carry the gradient that brings the new channels to life (ELU's slope at 0 is 1).
The one ReLU layer (pmconv6, before the attention) would stay dead at 0, so its new channels get
a small positive bias instead: a near-constant 1e-3 that moves the output by ~1e-4.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from .generator import Generator, GeneratorConfig
from .layers import GatedConv

RELU_START = 1e-3


def _rows(old: int, new: int, gated_full: bool) -> torch.Tensor:
    """Where the old output rows go: features stay in front; a full gate's rows (features,
    then gates) split at the new width."""
    if not gated_full:
        return torch.arange(old)
    half = old // 2
    return torch.cat([torch.arange(half), new // 2 + torch.arange(half)])


def _width(conv_weight: torch.Tensor, gate: str) -> int:
    """A gated layer's output width (a full gate's conv emits features, then gates)."""
    return conv_weight.shape[0] // (2 if gate == "full" else 1)


def widen_state(
    state: dict[str, torch.Tensor], old: GeneratorConfig, target: Generator
) -> dict[str, torch.Tensor]:
    """`state` (weights of a generator configured `old`) for `target`, which differs from it
    only by a cnum at least as large. `target`'s own (freshly initialised) weights fill what is
    new."""
    new = target.config
    if new.cnum < old.cnum or replace(old, cnum=new.cnum) != new:
        raise ValueError(
            f"can only widen a generator (cnum {old.cnum} -> {new.cnum}), nothing else may change"
        )
    out = {k: v.detach().clone() for k, v in target.state_dict().items()}
    # allconv11 reads the dilated branch's channels (xconv10's output), then the attention's.
    split_old = _width(state["xconv10_atrous.conv.weight"], old.refine_gate)
    split_new = _width(out["xconv10_atrous.conv.weight"], new.refine_gate)
    with torch.no_grad():
        for name, module in target.named_modules():
            if not isinstance(module, GatedConv):
                continue
            full = module.gate_kind == "full"
            for part in ("conv", "gate"):
                key_w, key_b = f"{name}.{part}.weight", f"{name}.{part}.bias"
                if key_w not in out:
                    continue
                w_old, w_new = state[key_w], out[key_w]
                rows = _rows(w_old.shape[0], w_new.shape[0], full and part == "conv")
                cols = torch.arange(w_old.shape[1])
                if name == "allconv11":
                    cols = torch.where(cols < split_old, cols, cols - split_old + split_new)
                if part == "conv" and module.activation is not None:
                    # The new channels' features: zero in, so zero out.
                    fresh = torch.ones(w_new.shape[0], dtype=torch.bool)
                    fresh[rows] = False
                    if full:
                        fresh[w_new.shape[0] // 2 :] = False  # their gates stay fresh
                    w_new[fresh] = 0.0
                    out[key_b][fresh] = RELU_START if module.activation == "relu" else 0.0
                w_new[rows[:, None], cols[None, :]] = w_old
                out[key_b][rows] = state[key_b]
    return out


__all__ = ["widen_state"]
