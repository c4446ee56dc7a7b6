"""What the strategies need from a loaded model: one network call at native size.

`Network` is the protocol (the pipeline's `Inpainter` implements it; tests pass stand-ins), and
`NetworkOutput` is what the call returns. Living here, apart from the pipeline, it lets the
strategies depend on the call alone, so pipeline -> strategies is the only edge between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..types import CancelFn

if TYPE_CHECKING:
    import torch


@dataclass
class NetworkOutput:
    image: np.ndarray  # H x W x 3 uint8 RGB: hole filled, everything else the input's bytes
    attention: torch.Tensor | None  # [Lk, Hq, Wq] post-softmax scores on the padded grid
    offsets: np.ndarray | None  # [2, Hq, Wq] best key cell minus query cell
    grid: tuple[int, int]  # (Hq, Wq): attention cells, each GRID x GRID input pixels
    padded_size: tuple[int, int]  # (H, W) after padding at the bottom and right


class Network(Protocol):
    """A model that fills a hole at the image's own size (padded to its grid)."""

    def infer(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        sketch: np.ndarray | None = None,
        *,
        bf16: bool = False,
        attention: bool = True,
        cancel: CancelFn | None = None,
    ) -> NetworkOutput: ...
