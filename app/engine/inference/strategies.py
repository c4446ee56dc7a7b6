"""Strategies for photos larger than the network's working size.

* crop:   every connected hole region (close ones merged) is filled inside a context window around
          it. The window is downscaled by the photo's texture scale (see `texture_scale`), or more
          if it would not fit the crop size (3/4 of the working size), and CRA or the texture
          stage brings the fill back to full resolution; on photos up to ~1500 px, windows up
          to 1.5x the working size run natively.
          Small objects on big photos cost one small network call.
* resize: the network fills a copy downscaled by an integer factor (long side <= working size,
          aspect kept by padding) and CRA brings the fill back to full resolution (`cra.py`).

Both write only hole pixels into a copy of the photo, so everything outside the hole (already
grown by the pipeline) keeps its bytes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..geometry import Box, changed_rect_in_hole, hole_regions
from ..geometry import bbox as _bbox
from ..types import (
    CancelFn,
    EngineError,
    InpaintOptions,
    InpaintRequest,
    InpaintResult,
    ProgressFn,
    check_cancel,
)
from .cra import cra_upscale, downscale_image, downscale_mask, plan_grid
from .flow import flow_to_rgb
from .network_call import Network

NATIVE_MARGIN = 0.5  # context margin of a native window, as a share of the region's long side
RESIZE_MARGIN = 1.0  # larger context for windows that are downscaled anyway
# Crop windows run the network at most at this share of the working size (384 px by default).
# The attention costs grow with the square of the cell count: a 512 px window costs ~2.2x a
# 384 px one on the CPU, and a 2x downscale + CRA of a larger window looks the same.
CROP_SHARE = 0.75
MIN_CONTEXT = 0.5  # windows span at least this share of the working size (in network pixels)
MAX_WINDOWS = 32  # beyond this many separate regions one window covers them all
AUTO_CROP_AREA = 0.5  # auto picks crop while the windows cover at most this share of the photo
# The models learn texture from photos downscaled to 512-1024 px (long side). At native resolution
# a 6000 px photo shows them grass blades 6x larger than they ever saw, and they paint a smooth
# blob; downscaled to about this long side they paint texture, and CRA adds the photo's own
# full-resolution detail. Measured in benchmarks/bench_windows.py.
TEXTURE_SIDE = 1024
# Windows up to this share of the working size run natively at the texture scale 1. On 768 px
# photos with large holes native beat downscaling by 0.03 dB alone and 0.17 dB with the texture
# stage, at 4x the CPU; at 1024 px it lost 0.15 dB (the holes are then larger, in network
# pixels, than any the model was trained on) at 6x the CPU (benchmarks/bench_texture.py).
NATIVE_SHARE = 1.5


@dataclass(frozen=True)
class Window:
    """A context window (x0, y0, x1, y1 exclusive) and the downscale it runs at (1 = native)."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: int

    @property
    def native(self) -> bool:
        return self.scale == 1

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def _place(lo: int, hi: int, margin: int, size: int) -> tuple[int, int]:
    """[lo - margin, hi + margin) clipped to [0, size), shifted inward to keep its length."""
    length = min(hi - lo + 2 * margin, size)
    start = min(max(lo - margin, 0), size - length)
    return start, start + length


def crop_size(working_size: int) -> int:
    """Long side of the network input for crop windows."""
    return max(64, int(CROP_SHARE * working_size))


def texture_scale(shape: tuple[int, ...]) -> int:
    """Smallest downscale of a photo of this size at which the network sees texture about as
    large as in training (1 = native for photos up to ~1.5x TEXTURE_SIDE)."""
    return max(1, round(max(shape[:2]) / TEXTURE_SIDE))


def window_for(region: Box, shape: tuple[int, int], working_size: int, scale: int = 1) -> Window:
    """Context window of a hole region at downscale `scale`: a tight one if it then fits the crop
    size, else a larger one downscaled further to fit."""
    x0, y0, x1, y1 = region
    h, w = shape
    r = max(x1 - x0, y1 - y0)
    net_side = crop_size(working_size)
    # At the texture scale 1 windows up to NATIVE_SHARE x the working size run natively (the
    # attention scores only cells near the hole, so it costs about the hole's share of them).
    native_side = max(net_side, int(NATIVE_SHARE * working_size))
    fits = native_side if scale == 1 else net_side * scale
    # Small objects still get enough surroundings for the attention to find texture in.
    min_margin = math.ceil((MIN_CONTEXT * working_size * scale - r) / 2)
    for ratio in (NATIVE_MARGIN, RESIZE_MARGIN):
        margin = max(min_margin, math.ceil(ratio * r))
        wx0, wx1 = _place(x0, x1, margin, w)
        wy0, wy1 = _place(y0, y1, margin, h)
        side = max(wx1 - wx0, wy1 - wy0)
        if side <= fits:
            return Window(wx0, wy0, wx1, wy1, scale)
    return Window(wx0, wy0, wx1, wy1, max(scale, math.ceil(side / net_side)))


def _overlap(a: Window, b: Window) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _hole_box(mask: np.ndarray) -> Box:
    """The box around every hole pixel (plan_windows is only asked about masks with holes)."""
    box = _bbox(mask)
    if box is None:
        raise EngineError("the mask is empty: paint over what should be removed")
    return box


def plan_windows(mask: np.ndarray, working_size: int = 512) -> list[Window]:
    """Disjoint context windows covering every hole pixel; regions whose windows overlap merge."""
    shape = mask.shape
    scale = texture_scale(shape)
    regions = hole_regions(mask)
    if len(regions) > 4 * MAX_WINDOWS:
        regions = [_hole_box(mask)]
    windows = [window_for(r, shape, working_size, scale) for r in regions]
    merged = True
    while merged:  # a grown window may reach earlier ones: repeat until nothing merges
        merged = False
        i = 0
        while i < len(windows):
            j = i + 1
            while j < len(windows):
                if _overlap(windows[i], windows[j]):
                    a, b = regions[i], regions.pop(j)
                    regions[i] = (
                        min(a[0], b[0]),
                        min(a[1], b[1]),
                        max(a[2], b[2]),
                        max(a[3], b[3]),
                    )
                    windows.pop(j)
                    windows[i] = window_for(regions[i], shape, working_size, scale)
                    merged = True
                else:
                    j += 1
            i += 1
        if len(windows) > MAX_WINDOWS:
            box = _hole_box(mask)
            regions, windows = [box], [window_for(box, shape, working_size, scale)]
    return windows


def choose_strategy(image_shape: tuple[int, ...], mask: np.ndarray, options: InpaintOptions) -> str:
    """full for photos within the working size; crop when the holes' context windows are a small
    part of the photo (or all run natively); resize + CRA otherwise."""
    if options.strategy != "auto":
        return options.strategy
    h, w = image_shape[:2]
    if max(h, w) <= options.working_size:
        return "full"
    windows = plan_windows(mask, options.working_size)
    if not windows:
        return "full"
    if all(win.native for win in windows):
        return "crop"
    covered = sum(win.area for win in windows)
    return "crop" if covered <= AUTO_CROP_AREA * h * w else "resize"


# ---------------------------------------------------------------------------------- filling


class _Run:
    """State shared by the windows of one request: output, flow, timings, progress."""

    def __init__(
        self,
        inpainter: Network,
        request: InpaintRequest,
        report: ProgressFn,
        cancel: CancelFn | None,
    ):
        self.inpainter, self.request, self.report, self.cancel = inpainter, request, report, cancel
        self.options = request.options
        self.out = request.image.copy()
        # Zeroed pages are only materialised where colours are drawn (inside the hole).
        self.flow = np.zeros(request.image.shape, np.uint8)
        self.has_flow = False
        self.timings: dict[str, float] = {}
        self.native = True  # every window ran at the photo's own resolution

    def add_time(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - started
        return now

    def draw_flow(self, offsets: np.ndarray | None, cell: int, window: Window) -> None:
        """Attention offsets (in cells) -> colours on the window's hole pixels; the colour scale
        is set by the longest offset among the cells that hold hole pixels."""
        if offsets is None:
            return
        ys, xs = window.slices
        mask = self.request.mask[ys, xs]
        box = _bbox(mask)
        if box is None:
            return
        x0, y0, x1, y1 = box
        sub_mask = mask[y0:y1, x0:x1]
        cy, cx = np.arange(y0, y1) // cell, np.arange(x0, x1) // cell
        row_starts = np.flatnonzero(np.diff(cy, prepend=-1))
        col_starts = np.flatnonzero(np.diff(cx, prepend=-1))
        hole_cells = np.logical_or.reduceat(sub_mask, row_starts, axis=0)
        hole_cells = np.logical_or.reduceat(hole_cells, col_starts, axis=1)
        lengths = np.hypot(offsets[0], offsets[1])[cy[row_starts][:, None], cx[col_starts]]
        longest = float(lengths[hole_cells].max()) if hole_cells.any() else 0.0
        colours = flow_to_rgb(offsets, longest or 1.0)[cy[0] : cy[-1] + 1, cx[0] : cx[-1] + 1]
        patch = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
        oy, ox = y0 - cy[0] * cell, x0 - cx[0] * cell
        patch = patch[oy : oy + y1 - y0, ox : ox + x1 - x0]
        np.copyto(self.flow[ys, xs][y0:y1, x0:x1], patch, where=sub_mask[..., None])
        self.has_flow = True

    def fill_native(self, window: Window, span: tuple[float, float]) -> None:
        ys, xs = window.slices
        req = self.request
        started = time.perf_counter()
        self.report(span[0], "filling")
        mask = req.mask[ys, xs]
        sketch = req.sketch[ys, xs] if req.sketch is not None else None
        net = self.inpainter.infer(
            req.image[ys, xs], mask, sketch, bf16=self.options.bf16, attention=False, cancel=self.cancel
        )
        started = self.add_time("network", started)
        self.out[ys, xs][mask] = net.image[mask]
        self.draw_flow(net.offsets, 8, window)
        self.add_time("composite", started)

    def fill_resized(self, window: Window, span: tuple[float, float], net_size: int) -> None:
        """Downscale the window (by its scale at least, long side <= net_size), fill it, bring
        it back with CRA."""
        ys, xs = window.slices
        req, opts = self.request, self.options
        image, mask = req.image[ys, xs], req.mask[ys, xs]
        grid = plan_grid(image.shape[0], image.shape[1], net_size, window.scale)
        if grid.scale == 1:
            self.fill_native(window, span)
            return
        self.native = False
        started = time.perf_counter()
        lo, hi = span
        self.report(lo, "downscaling")
        low_in = downscale_image(image, grid)
        low_mask = downscale_mask(mask, grid)
        low_sketch = downscale_mask(req.sketch[ys, xs], grid) if req.sketch is not None else None
        net_in = np.rint(low_in).astype(np.uint8)
        started = self.add_time("prepare", started)
        check_cancel(self.cancel)
        self.report(lo + 0.05 * (hi - lo), "filling")
        net = self.inpainter.infer(net_in, low_mask, low_sketch, bf16=opts.bf16, cancel=self.cancel)
        started = self.add_time("network", started)
        if tuple(net.grid) != (grid.rows, grid.cols):
            raise EngineError("the network's attention grid does not match the downscaled photo")
        low_out = low_in.copy()
        low_out[low_mask] = net.image[low_mask]
        attention = net.attention if opts.cra else None
        cra_lo = lo + 0.6 * (hi - lo)
        self.report(cra_lo, "adding detail" if attention is not None else "upscaling")
        cra_upscale(
            image,
            mask,
            low_in,
            low_out,
            attention,
            grid,
            low_mask=low_mask,
            topk=opts.cra_topk,
            feather=opts.feather,
            out=self.out[ys, xs],
            cancel=self.cancel,
            progress=lambda f: self.report(cra_lo + f * (hi - cra_lo), "adding detail"),
        )
        started = self.add_time("cra", started)
        self.draw_flow(net.offsets, grid.cell, window)
        self.add_time("composite", started)

    def result(self, strategy: str) -> InpaintResult:
        started = time.perf_counter()
        rect = changed_rect_in_hole(self.request.image, self.out, self.request.mask)
        self.add_time("composite", started)
        return InpaintResult(
            image=self.out,
            rect=rect,
            flow=self.flow if self.has_flow else None,
            timings=self.timings,
            strategy=strategy,
            native=self.native,
        )


def _spans(windows: list[Window]) -> list[tuple[float, float]]:
    """Progress range of each window, proportional to its area, within [0.05, 0.98]."""
    total = sum(w.area for w in windows) or 1
    spans, at = [], 0.05
    for w in windows:
        step = 0.93 * w.area / total
        spans.append((at, at + step))
        at += step
    return spans


def _noop(fraction: float, label: str) -> None:
    pass


def run_crop(
    inpainter: Network,
    request: InpaintRequest,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> InpaintResult:
    """Fill each hole region inside its own context window (native, or downscaled + CRA)."""
    started = time.perf_counter()
    run = _Run(inpainter, request, progress or _noop, cancel)
    windows = plan_windows(request.mask, request.options.working_size)
    run.add_time("prepare", started)
    for window, span in zip(windows, _spans(windows), strict=True):
        check_cancel(cancel)
        if window.native:
            run.fill_native(window, span)
        else:
            run.fill_resized(window, span, crop_size(request.options.working_size))
    return run.result("crop")


def run_resize(
    inpainter: Network,
    request: InpaintRequest,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> InpaintResult:
    """Fill a downscaled copy of the whole photo and bring the fill back with CRA."""
    run = _Run(inpainter, request, progress or _noop, cancel)
    h, w = request.mask.shape
    run.fill_resized(Window(0, 0, w, h, 1), (0.05, 0.98), request.options.working_size)
    return run.result("resize")
