"""Plain-data contract of the engine: what a caller sends and what it gets back.

The same request/result pair serves the GUI worker thread, the CLI and the tests.
Nothing here imports torch, so the GUI can build requests without loading it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

STRATEGIES = ("auto", "crop", "resize", "full")
COLOR_ORDERS = ("RGB", "BGR")
PREFILLS = ("none", "telea")

# progress(fraction in [0, 1], short stage label)
ProgressFn = Callable[[float, str], None]
# cancel() -> True when the caller wants the work abandoned
CancelFn = Callable[[], bool]


class EngineError(Exception):
    """A failure the user can act on; str(error) is one clear sentence."""


class Cancelled(Exception):
    """Raised at a checkpoint when the caller's cancel() returned True."""


def check_cancel(cancel: CancelFn | None) -> None:
    """A checkpoint: raise Cancelled when the caller's cancel() says so."""
    if cancel is not None and cancel():
        raise Cancelled()


class ModelFileError(EngineError):
    """A model file that is missing, unreadable, of unknown layout, or unsafe."""


@dataclass
class InpaintOptions:
    strategy: str = "auto"  # auto | crop | resize | full
    working_size: int = 512  # long side the network works at (resize strategy)
    grow_mask: int = 0  # dilate the hole by this many pixels before filling
    bf16: bool = False  # bfloat16 autocast (CPU with AVX512-BF16 / AMX, or CUDA)
    cra: bool = True  # add full-resolution detail with CRA after a resized run
    cra_topk: int = 16  # keys kept per query cell in CRA (0 = all)
    feather: float = -1.0  # CRA blend feather in px; < 0 chooses from the scale
    texture: bool = True  # copy real texture from the photo into the fill (texture stage)
    lines: bool = True  # texture stage: carry straight lines the hole cuts across it (no sketch)
    seed: int = 0  # the texture stage's random choices: another seed gives another variant


@dataclass
class Guide:
    """The network's fill of a request, before the texture stage, for re-running that stage."""

    image: np.ndarray  # h x w x 3 uint8: the network's fill of the rectangle
    rect: tuple[int, int, int, int]  # (x, y, w, h) of `image` in the photo; holds the whole hole
    native: bool = True  # the network ran at the photo's own resolution (`InpaintResult.native`)


@dataclass
class InpaintRequest:
    image: np.ndarray  # H x W x 3 uint8, RGB
    mask: np.ndarray  # H x W bool, True = hole
    sketch: np.ndarray | None = None  # H x W bool, True = guide line (used inside the hole only)
    options: InpaintOptions = field(default_factory=InpaintOptions)
    request_id: int = 0
    # The network's fill from an earlier result (`InpaintResult.guide`): when given, the network
    # is skipped and only the texture stage runs (a new variant costs one texture pass).
    guide: Guide | None = None


@dataclass
class InpaintResult:
    image: np.ndarray  # H x W x 3 uint8 RGB, identical to the input outside the hole
    rect: tuple[int, int, int, int]  # (x, y, w, h): every changed pixel lies inside
    flow: np.ndarray | None = None  # H x W x 3 uint8 attention flow colours (None if unavailable)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    strategy: str = "full"  # the strategy that actually ran
    native: bool = True  # the network ran at the photo's own resolution in every window
    device: str = "cpu"
    request_id: int = 0
    notes: list[str] = field(default_factory=list)  # user-facing remarks (e.g. "fell back to CPU")
    guide: Guide | None = None  # the network's fill, when the texture stage ran (for variants)


# ------------------------------------------------------------------------------ models


@dataclass(frozen=True)
class ModelCapabilities:
    """What a loaded model does with a request, declared by its network class (sketch,
    attention, pre-fill) and its model file (colour order), never guessed from its config.
    The pipeline reads them to prepare the network's input; the editor to say what works."""

    sketch: bool = False  # reads guide lines (a sketch channel); other models ignore the sketch
    attention: bool = False  # contextual attention: CRA's full-resolution detail, the flow view
    color_order: str = "RGB"  # the channel order the network was trained on ("RGB" | "BGR")
    prefill: str = "none"  # "telea": the hole must arrive pre-filled (Telea) ("none" | "telea")

    def __post_init__(self) -> None:
        if self.color_order not in COLOR_ORDERS:
            raise ValueError(f"unknown colour order {self.color_order!r}")
        if self.prefill not in PREFILLS:
            raise ValueError(f"unknown pre-fill {self.prefill!r}")


@dataclass(frozen=True)
class ModelDescription:
    """A loaded model, described: what the About box, the model manager, `models import` and
    the worker's `model_loaded` signal (as `to_dict()`) tell about it."""

    name: str
    architecture: str = ""
    parameters: int = 0
    license: str = ""
    source: str = ""  # the file it was read from
    capabilities: ModelCapabilities | None = None  # None: not declared (a stand-in runner)
    device: str = ""  # where it runs ("cpu", "cuda"); "" while on no device

    @property
    def color_order(self) -> str:
        return self.capabilities.color_order if self.capabilities is not None else "RGB"

    def on_device(self, device: str) -> ModelDescription:
        return replace(self, device=device)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and Qt signals: the fields, with the capabilities flattened
        (color_order, sketch, attention, prefill) when they are declared."""
        data: dict[str, Any] = {
            "device": self.device,
            "name": self.name,
            "architecture": self.architecture,
            "parameters": self.parameters,
            "license": self.license,
            "source": self.source,
        }
        caps = self.capabilities
        if caps is not None:
            data.update(
                color_order=caps.color_order,
                sketch=caps.sketch,
                attention=caps.attention,
                prefill=caps.prefill,
            )
        return data
