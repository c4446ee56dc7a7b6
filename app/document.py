"""The open photo as numpy arrays: image, mask, sketch, plus the last fill's flow preview.

Widgets read these arrays and repaint on the change signals; commands write patches back.
Rectangles are (x, y, w, h) in image pixels throughout.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.engine.geometry import Rect, clip_rect
from app.signal_emit import emit

LAYERS = ("image", "mask", "sketch")

# Copies the photo as opened in the background, for the first edit to keep as the original:
# made there, on the GUI thread, the copy stalled the window for ~0.6 s at 12 MP.
_COPIER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="original-copy")


@dataclass
class ImageMeta:
    """What must survive a save: where the photo came from and its metadata."""

    path: Path | None = None
    format: str = "PNG"
    exif: bytes | None = None
    icc: bytes | None = None
    dpi: tuple[float, float] | None = None
    alpha: np.ndarray | None = None  # H x W uint8, kept untouched and written back on save
    notes: list[str] = field(default_factory=list)
    display_name: str = "Untitled"
    quality: int | None = None  # estimated JPEG quality of the source, the default for saving
    xmp: bytes | None = None  # caption, keywords, rating, ... (app.imageio.LoadedImage.xmp)
    iptc: bytes | None = None  # raw IPTC-IIM datasets
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks


@dataclass
class FlowPatch:
    """Colour-coded attention flow of the last fill, only inside its rectangle (RGBA)."""

    rect: Rect
    rgba: np.ndarray  # h x w x 4 uint8, alpha 0 outside the filled hole


class Document(QObject):
    """Image, mask and sketch of one photo; emits the changed rectangle on every edit."""

    image_changed = Signal(object)  # Rect
    mask_changed = Signal(object)  # Rect
    sketch_changed = Signal(object)  # Rect
    flow_changed = Signal()
    replaced = Signal()  # a different photo (or size) was loaded

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.meta = ImageMeta()
        self._image = np.zeros((1, 1, 3), np.uint8)
        self._original: np.ndarray | None = None  # kept from the first image edit on
        self._spare: Future[np.ndarray] | None = None  # the photo's copy, made in the background
        self.mask = np.zeros((1, 1), np.uint8)
        self.sketch = np.zeros((1, 1), np.uint8)
        self.flow: FlowPatch | None = None
        self.image_revision = 0
        self.is_empty = True

    # --- loading ------------------------------------------------------------------------
    def load(self, rgb: np.ndarray, meta: ImageMeta | None = None) -> None:
        """Replace everything with a new photo (H x W x 3 uint8 RGB)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("expected an H x W x 3 uint8 RGB image")
        h, w = rgb.shape[:2]
        if not (rgb.flags.c_contiguous and rgb.flags.writeable):
            rgb = rgb.copy()  # decoders may hand out read-only buffers
        self._image = rgb
        self._original = None
        if self._spare is not None:
            self._spare.cancel()
        # nothing writes into the photo before the first edit takes the copy (write_patch)
        self._spare = _COPIER.submit(np.copy, rgb)
        self.mask = np.zeros((h, w), np.uint8)
        self.sketch = np.zeros((h, w), np.uint8)
        self.flow = None
        self.meta = meta or ImageMeta()
        self.image_revision += 1
        self.is_empty = False
        emit(self.replaced)

    # --- accessors ----------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray:
        return self._image

    def lend_image(self) -> np.ndarray:
        """The photo itself, read-only, for a fill request: the engine copies it on its own
        thread (a copy here froze the window for seconds on a 50 MP photo). An edit made while
        the engine copies changes image_revision, and the fill's result is then dropped."""
        view = self._image.view()
        view.flags.writeable = False
        return view

    @property
    def original(self) -> np.ndarray:
        """The photo as opened (the current image until the first fill)."""
        return self._original if self._original is not None else self._image

    @property
    def width(self) -> int:
        return int(self._image.shape[1])

    @property
    def height(self) -> int:
        return int(self._image.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def layer(self, name: str) -> np.ndarray:
        if name == "image":
            return self._image
        if name == "mask":
            return self.mask
        if name == "sketch":
            return self.sketch
        raise KeyError(name)

    def clip(self, rect: Rect) -> Rect:
        return clip_rect(rect, self.width, self.height)

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    # --- edits --------------------------------------------------------------------------
    def read_patch(self, layer: str, rect: Rect) -> np.ndarray:
        x, y, w, h = rect
        return self.layer(layer)[y : y + h, x : x + w].copy()

    def write_patch(self, layer: str, rect: Rect, data: np.ndarray) -> None:
        """Put data (shape of rect) into a layer and announce the change."""
        x, y, w, h = rect
        if w <= 0 or h <= 0:
            return
        if layer == "image" and self._original is None:
            self._original = self._take_spare()
        self.layer(layer)[y : y + h, x : x + w] = data
        self.notify(layer, rect)

    def _take_spare(self) -> np.ndarray:
        """The copy of the photo as opened, made in the background (waits if still copying)."""
        spare, self._spare = self._spare, None
        try:
            if spare is not None:
                return spare.result()
        except MemoryError:
            pass  # try once more here; if that fails too, the edit reports it
        return self._image.copy()

    def notify(self, layer: str, rect: Rect) -> None:
        """Announce an in-place change (tools draw straight into mask/sketch)."""
        if layer == "image":
            self.image_revision += 1
            emit(self.image_changed, rect)
        elif layer == "mask":
            emit(self.mask_changed, rect)
        elif layer == "sketch":
            emit(self.sketch_changed, rect)
        else:
            raise KeyError(layer)

    def set_flow(self, flow: FlowPatch | None) -> None:
        self.flow = flow
        emit(self.flow_changed)

    def title(self) -> str:
        return self.meta.display_name if not self.is_empty else "No photo"
