"""The inpainting pipeline: plain-data request in, plain-data result out.

`Inpainter.run` validates the request, grows the mask, picks a strategy (full / crop / resize+CRA),
runs the network and composites so that every pixel outside the hole is the input's byte for byte.
`Inpainter.infer` is the raw network call at native size that the strategies build on.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import cv2
import numpy as np
import torch

from ..checkpoints.loaders import load_model
from ..checkpoints.models import resolve_model
from ..checkpoints.weights import LoadedModel
from ..device import bf16_supported, configure_cpu_threads, is_out_of_memory, select_device
from ..geometry import bounding_rect, changed_rect_in_hole, grow_mask
from ..types import (
    STRATEGIES,
    CancelFn,
    Cancelled,
    EngineError,
    Guide,
    InpaintRequest,
    InpaintResult,
    ModelCapabilities,
    ModelDescription,
    ProgressFn,
    check_cancel,
)
from . import strategies
from .flow import flow_to_rgb
from .network_call import NetworkOutput
from .prefill import prefill_telea

GRID = 8  # the network's size multiple (two stride-2 convs, then attention at rate 2)


def flow_image(offsets: np.ndarray, mask: np.ndarray, padded: tuple[int, int]) -> np.ndarray:
    """Offsets on the cell grid -> H x W x 3 colours, drawn only inside the hole."""
    colours = flow_to_rgb(offsets)
    big = cv2.resize(colours, (padded[1], padded[0]), interpolation=cv2.INTER_NEAREST)
    h, w = mask.shape
    out = np.ascontiguousarray(big[:h, :w])
    out[~mask] = 0
    return out


def _layer_checkpoints(network: torch.nn.Module, cancel: CancelFn | None) -> list:
    """A cancel check before each top-level layer (removed again after the call): a cancel
    or a newer request is then honoured within one layer instead of one whole stage, which
    takes over a second on a large photo."""
    if cancel is None:
        return []
    return [layer.register_forward_pre_hook(lambda *_: check_cancel(cancel)) for layer in network.children()]


class Inpainter:
    """A loaded model on a device. Not thread-safe: one caller (thread) at a time."""

    def __init__(self, model: LoadedModel, device: str = "auto", threads: int | None = None) -> None:
        self.model = model
        self._device = select_device(device)
        if self._device.type == "cpu":
            configure_cpu_threads(threads)
        model.generator.to(self._device)
        self._texture_warm = False

    def warm_up_texture(self) -> None:
        """Load the texture stage's kernels now (numba's on-disk cache, scipy; ~0.7 s, mostly
        holding the GIL). The editor calls this while its model loads, so that its first fill
        does not stall the window; without it the first textured fill warms up alongside."""
        if not self._texture_warm:
            self._texture_warm = True
            _warm_up_texture()

    @classmethod
    def load(
        cls, name_or_path: str | None = None, device: str = "auto", threads: int | None = None
    ) -> Inpainter:
        """`threads`: CPU threads for this process (default: all its cores)."""
        return cls(load_model(resolve_model(name_or_path)), device, threads)

    @property
    def device(self) -> str:
        return self._device.type

    @property
    def capabilities(self) -> ModelCapabilities:
        return self.model.capabilities

    def describe(self) -> ModelDescription:
        """The model, described, on the device it runs on."""
        return self.model.describe().on_device(self.device)

    def to_device(self, device: str) -> None:
        self._device = select_device(device)
        self.model.generator.to(self._device)

    # ------------------------------------------------------------------ the network call

    def infer(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        sketch: np.ndarray | None = None,
        *,
        bf16: bool = False,
        attention: bool = True,
        cancel: CancelFn | None = None,
    ) -> NetworkOutput:
        """Run the network at the image's own size (padded to the grid) and composite."""
        h, w = mask.shape
        ph, pw = -(-h // GRID) * GRID, -(-w // GRID) * GRID
        pad = ((0, ph - h), (0, pw - w))
        caps = self.model.capabilities
        net_image = image[..., ::-1] if caps.color_order == "BGR" else image
        net_image = np.pad(net_image, pad + ((0, 0),), mode="reflect")
        net_mask = np.pad(mask, pad, mode="reflect")
        net_sketch = np.pad(sketch, pad, mode="reflect") if sketch is not None else None
        if caps.prefill == "telea":
            net_image = prefill_telea(net_image, net_mask, net_sketch)
        dev = self._device
        x = torch.from_numpy(np.ascontiguousarray(net_image)).to(dev).permute(2, 0, 1)[None]
        x = (x.float() / 127.5 - 1.0).contiguous()  # HWC -> CHW view: make it plain NCHW
        m = torch.from_numpy(net_mask).to(dev)[None, None].float()
        s = None
        if net_sketch is not None and caps.sketch:
            s = torch.from_numpy(net_sketch).to(dev)[None, None].float()
        use_bf16 = bf16 and bf16_supported(dev)
        checkpoints = _layer_checkpoints(self.model.generator, cancel)
        try:
            with (
                torch.inference_mode(),
                torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16),
            ):
                # Only hole pixels are kept, so the attention scores only the cells near the hole.
                out = self.model.generator(
                    x,
                    m,
                    s,
                    return_attention=attention and caps.attention,
                    between_stages=lambda: check_cancel(cancel),
                    near_hole_only=True,
                )
        finally:
            for handle in checkpoints:
                handle.remove()
        refined = out.refined.float()[0].permute(1, 2, 0)
        filled = ((refined + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        if caps.color_order == "BGR":
            filled = filled[..., ::-1]
        result = image.copy()
        result[mask] = filled[:h, :w][mask]
        grid = (ph // GRID, pw // GRID)
        scores = out.attention[0].float().cpu() if out.attention is not None else None
        offsets = out.offsets[0].cpu().numpy() if out.offsets is not None else None
        return NetworkOutput(result, scores, offsets, grid, (ph, pw))

    # ------------------------------------------------------------------ requests

    def run(
        self,
        request: InpaintRequest,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> InpaintResult:
        started = time.perf_counter()
        report = progress or (lambda fraction, label: None)
        image, mask, sketch = validate_request(request)
        options = request.options
        mask = grow_mask(mask, options.grow_mask)
        if not mask.any():
            raise EngineError("the mask is empty: paint over what should be removed")
        if mask.all():
            raise EngineError(
                "the mask covers the whole photo: leave some of it unmasked to borrow from"
            )
        request = dataclasses.replace(request, image=image, mask=mask, sketch=sketch)
        check_cancel(cancel)
        report(0.02, "starting")
        if request.guide is not None:  # another variant: the network's fill is known
            result = InpaintResult(image=paste_guide(image, mask, request.guide), rect=bounding_rect(mask) or (0, 0, 0, 0))
            result.strategy, network_share = "variant", 0.0
            notes: list[str] = []
        else:
            if options.texture:
                # The texture stage brings the detail: the network's fill is upscaled plainly.
                request = dataclasses.replace(request, options=dataclasses.replace(options, cra=False))
            network_share = 0.7 if options.texture else 1.0
            if options.texture and not self._texture_warm:
                # Load the texture kernels (numba's on-disk cache, ~0.7 s) while the network works.
                self._texture_warm = True
                threading.Thread(target=_warm_up_texture, name="texture-warm-up", daemon=True).start()
            result, notes = self._network_fill(request, report, network_share, cancel)
        if options.texture:
            result = self._add_texture(request, result, report, network_share, cancel)
        result.notes = notes + result.notes
        result.request_id = request.request_id
        result.device = self.device
        result.timings["total"] = time.perf_counter() - started
        report(1.0, "done")
        return result

    def _network_fill(
        self, request: InpaintRequest, report: ProgressFn, share: float, cancel: CancelFn | None
    ) -> tuple[InpaintResult, list[str]]:
        """The network's fill by the chosen strategy (progress scaled to [0, share])."""
        strategy = request.options.strategy
        if strategy == "auto":
            strategy = strategies.choose_strategy(request.image.shape, request.mask, request.options)

        def scaled(fraction: float, label: str) -> None:
            report(fraction * share, label)

        try:
            return self._dispatch(strategy, request, scaled, cancel), []
        except (Cancelled, EngineError):
            raise
        except Exception as error:  # noqa: BLE001 - memory errors are recognised, others re-raised
            if not is_out_of_memory(error):
                raise
            return self._after_out_of_memory(strategy, request, scaled, cancel)

    def _add_texture(
        self,
        request: InpaintRequest,
        result: InpaintResult,
        report: ProgressFn,
        start: float,
        cancel: CancelFn | None,
    ) -> InpaintResult:
        """Copy real texture from the photo into the network's fill (`texture.py`)."""
        from .texture import TextureOptions, synthesize  # numba-backed: loaded on first use

        started = time.perf_counter()
        check_cancel(cancel)
        report(start, "adding texture")
        network = result.image
        native = request.guide.native if request.guide is not None else result.native
        # The network's low frequencies are kept where it ran at the photo's own size; a fill
        # made downscaled is blurrier than the texture the stage finds (measured: docs/texture.md).
        options = TextureOptions.for_fill(native)
        # The band carried beside a sketched line is as wide as the smear the network leaves:
        # that is a few of its pixels, so wider where it ran downscaled.
        options = dataclasses.replace(
            options,
            continue_lines=request.options.lines,
            sketch_guide=options.sketch_guide * strategies.texture_scale(request.image.shape),
        )
        result.guide = guide_of(network, request.mask, native)
        # The network's result is the photo with the fill in the hole: the texture is written
        # over it in place (a cancel leaves the result unused).
        result.image = synthesize(
            request.image,
            request.mask,
            network,
            request.sketch,
            seed=request.options.seed,
            options=options,
            cancel=cancel,
            progress=lambda f: report(start + f * (0.99 - start), "adding texture"),
            out=network,
        )
        result.rect = changed_rect_in_hole(request.image, result.image, request.mask)
        result.timings["texture"] = time.perf_counter() - started
        return result

    def _dispatch(
        self, strategy: str, request: InpaintRequest, report: ProgressFn, cancel: CancelFn | None
    ) -> InpaintResult:
        if strategy == "full":
            return self._run_full(request, report, cancel)
        if strategy == "crop":
            return strategies.run_crop(self, request, report, cancel)
        if strategy == "resize":
            return strategies.run_resize(self, request, report, cancel)
        raise EngineError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")

    def _after_out_of_memory(
        self, strategy: str, request: InpaintRequest, report: ProgressFn, cancel: CancelFn | None
    ) -> tuple[InpaintResult, list[str]]:
        """GPU out of memory: retry on the CPU. CPU out of memory: retry at the working size."""
        if self._device.type == "cuda":
            torch.cuda.empty_cache()
            self.to_device("cpu")
            note = "the GPU ran out of memory, so fills now run on the CPU (this one included)"
            return self._dispatch(strategy, request, report, cancel), [note]
        if strategy != "resize":
            note = "not enough memory at full size, so the photo was filled at the working size"
            try:
                return self._dispatch("resize", request, report, cancel), [note]
            except Exception as error:  # noqa: BLE001
                if not is_out_of_memory(error):
                    raise
        raise EngineError(
            "not enough memory for this fill: close other programs, lower the working size, "
            "or use the resize strategy"
        )

    def _run_full(
        self, request: InpaintRequest, report: ProgressFn, cancel: CancelFn | None
    ) -> InpaintResult:
        t0 = time.perf_counter()
        report(0.1, "filling")
        out = self.infer(
            request.image,
            request.mask,
            request.sketch,
            bf16=request.options.bf16,
            attention=False,
            cancel=cancel,
        )
        t1 = time.perf_counter()
        check_cancel(cancel)
        flow = None
        if out.offsets is not None:
            flow = flow_image(out.offsets, request.mask, out.padded_size)
        return InpaintResult(
            image=out.image,
            rect=bounding_rect(request.mask) or (0, 0, 0, 0),
            flow=flow,
            timings={"network": t1 - t0},
            strategy="full",
        )


def _warm_up_texture() -> None:
    from .texture import warm_up

    warm_up()


def guide_of(network: np.ndarray, mask: np.ndarray, native: bool = True) -> Guide:
    """The network's fill over the hole's bounding box, kept for variants."""
    x, y, w, h = bounding_rect(mask) or (0, 0, 0, 0)
    return Guide(network[y : y + h, x : x + w].copy(), (x, y, w, h), native)


def paste_guide(image: np.ndarray, mask: np.ndarray, guide: Guide) -> np.ndarray:
    """The photo with the network's earlier fill in its hole (checked to cover the hole)."""
    x, y, w, h = guide.rect
    gh, gw = guide.image.shape[:2]
    if (gh, gw) != (h, w) or guide.image.ndim != 3 or x < 0 or y < 0:
        raise EngineError("the earlier fill does not match its rectangle")
    if y + h > image.shape[0] or x + w > image.shape[1]:
        raise EngineError("the earlier fill lies outside the photo")
    outside = mask.copy()
    outside[y : y + h, x : x + w] = False
    if outside.any():
        raise EngineError("the hole has changed since the fill: fill it again")
    out = image.copy()
    out[y : y + h, x : x + w][mask[y : y + h, x : x + w]] = guide.image[mask[y : y + h, x : x + w]]
    return out


def validate_request(
    request: InpaintRequest,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check shapes and types; returns contiguous (image, bool mask, bool sketch or None)."""
    image = np.asarray(request.image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise EngineError("the image must be an 8-bit RGB array (H x W x 3)")
    h, w = image.shape[:2]
    mask = _bool_plane(request.mask, "mask", h, w)
    sketch = None if request.sketch is None else _bool_plane(request.sketch, "sketch", h, w)
    if request.options.strategy not in STRATEGIES:
        raise EngineError(
            f"unknown strategy {request.options.strategy!r}: use one of {', '.join(STRATEGIES)}"
        )
    return np.ascontiguousarray(image), mask, sketch


def _bool_plane(array: np.ndarray, name: str, h: int, w: int) -> np.ndarray:
    """A mask or sketch as a contiguous H x W bool array (first channel of a 3-D one)."""
    plane = np.asarray(array)
    if plane.ndim == 3:
        plane = plane[..., 0]
    if plane.shape != (h, w):
        raise EngineError(f"the {name} is {plane.shape[1]}x{plane.shape[0]} but the image is {w}x{h}")
    return np.ascontiguousarray(plane.astype(bool))
