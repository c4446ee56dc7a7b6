"""The fill side of the editor window: requests to the engine thread, results onto the undo
stack, progress / cancel / errors, model status, and "Another variant" of a textured fill."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from app.commands import HistoryStack, fill_command
from app.document import Document, FlowPatch
from app.engine.types import Guide, InpaintOptions, InpaintRequest, InpaintResult
from app.engine.worker import EngineWorker
from app.settings import Settings
from app.signal_emit import emit
from app.widgets.status import StatusBar
from app.widgets.tool_panel import ToolPanel


@dataclass(eq=False)
class VariantSource:
    """What a textured fill leaves for "Another variant": its request and the network's fill.

    Every variant of one fill shares this object (kept on each of their undo steps as
    `PatchCommand.source`); `last_seed` only grows, so a variant never repeats one undone."""

    mask: np.ndarray  # bool, the mask the fill used
    sketch: np.ndarray | None
    options: InpaintOptions  # the fill's options (its seed is the first variant's)
    guide: Guide  # the network's fill before the texture stage (InpaintResult.guide)
    flow: FlowPatch | None  # the fill's attention flow (a variant runs no network)
    last_seed: int


@dataclass
class Pending:
    """What a fill request was made from, to apply (or drop) its result later."""

    image_revision: int
    mask: np.ndarray  # bool, the mask the request used
    sketch: np.ndarray | None
    options: InpaintOptions
    variant_of: VariantSource | None = None  # set for "Another variant" requests


class FillController(QObject):
    """Sends fills to the engine worker and applies their results as undo steps."""

    applied = Signal(object)  # InpaintResult, once its undo step is on the stack

    def __init__(
        self,
        doc: Document,
        history: HistoryStack,
        worker: EngineWorker,
        panel: ToolPanel,
        status: StatusBar,
        settings: Settings,
        auto_action: QAction,
        cancel_action: QAction,
        variant_action: QAction,
        strategy: Callable[[], str],
        show_message: Callable[[str, str], object],
        update_actions: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.doc, self.history, self.worker = doc, history, worker
        self.panel, self.status, self.settings = panel, status, settings
        self.auto_action, self.cancel_action = auto_action, cancel_action
        self.variant_action = variant_action
        self._strategy, self._show_message = strategy, show_message
        self._update_actions = update_actions
        self._pending: dict[int, Pending] = {}
        self.latest_request = 0
        worker.progress.connect(self.on_progress)
        worker.finished.connect(self.on_result)
        worker.failed.connect(self.on_failed)
        worker.cancelled.connect(self.on_cancelled)
        worker.model_loaded.connect(self.on_model_loaded)
        worker.model_failed.connect(self.on_model_failed)
        worker.switch_failed.connect(self.on_switch_failed)
        worker.busy_changed.connect(self.on_busy)
        history.indexChanged.connect(self.update_variant_action)
        doc.replaced.connect(self.update_variant_action)
        panel.texture.setChecked(bool(settings.get("run/texture")))
        panel.texture.toggled.connect(lambda on: settings.set("run/texture", on))
        panel.lines.setChecked(bool(settings.get("run/lines")))
        panel.lines.setEnabled(panel.texture.isChecked())
        panel.lines.toggled.connect(lambda on: settings.set("run/lines", on))
        self.update_variant_action()

    def forget_pending(self) -> None:
        """A new photo: results of requests made for the old one are dropped."""
        self._pending.clear()

    # ================================================================== filling
    def fill(self) -> int | None:
        """Send the current image, mask and sketch to the engine; returns the request id."""
        if self.doc.is_empty:
            return None
        if not self.doc.has_mask():
            self.status.showMessage("Paint over what should be removed first.", 4000)
            return None
        if self.worker.model_error and not self.worker.busy:
            self._show_message("No model", self._no_model_text(self.worker.model_error))
            return None
        mask = self.doc.mask > 0
        sketch = (self.doc.sketch > 0) if self.doc.sketch.any() else None
        options = InpaintOptions(
            strategy=self._strategy(),
            texture=self.panel.texture.isChecked(),
            lines=self.panel.lines.isChecked(),
        )
        return self._submit(InpaintRequest(self.doc.lend_image(), mask, sketch, options))

    def another_variant(self) -> int | None:
        """Re-run only the texture stage of the last fill with the next seed: the engine gets
        the fill's mask, sketch and network fill (`guide`), so the network does not run."""
        source = self.variant_source()
        if source is None:
            self.status.showMessage(self._no_variant_reason(), 6000)
            return None
        if self.worker.busy:
            self.status.showMessage("Wait for the fill in progress (or press Esc).", 4000)
            return None
        options = dataclasses.replace(source.options, seed=source.last_seed + 1)
        request = InpaintRequest(
            self.doc.lend_image(), source.mask, source.sketch, options, guide=source.guide
        )
        return self._submit(request, source, f"Variant {options.seed + 1}…")

    def _submit(
        self, request: InpaintRequest, variant_of: VariantSource | None = None, busy: str = ""
    ) -> int:
        """The one way a request reaches the engine (fills and variants alike)."""
        rid = self.worker.submit(request)
        # older requests are superseded (never applied): drop their masks, or a burst of
        # auto-fill strokes keeps one mask per stroke alive
        self._pending.clear()
        self._pending[rid] = Pending(
            self.doc.image_revision, request.mask, request.sketch, request.options, variant_of
        )
        self.latest_request = rid
        self.status.set_busy(True, busy or "Filling…")
        return rid

    # ================================================================== variants
    def variant_source(self) -> VariantSource | None:
        """The textured fill (or variant) that is the latest undo step, if any: variants are
        offered only while nothing (a stroke, a mask change, a paint) came after it."""
        index = self.history.index()
        top = self.history.command(index - 1) if index > 0 else None
        source = getattr(top, "source", None)
        return source if isinstance(source, VariantSource) else None

    def _no_variant_reason(self) -> str:
        done = self.history.commands()[: self.history.index()]
        if not any(isinstance(getattr(c, "source", None), VariantSource) for c in done):
            return "Another variant needs a fill with Texture on first."
        return (
            "The photo or mask changed after the last fill, so it has no more variants; "
            "undo back to the fill, or fill again."
        )

    def update_variant_action(self, *_args: object) -> None:
        try:
            ok = self.variant_source() is not None and not self.worker.busy
            self.variant_action.setEnabled(ok)
        except RuntimeError:  # the window is being destroyed: QUndoStack's clear() still signals
            pass

    def cancel_fill(self) -> None:
        if self.worker.busy:
            self.worker.cancel()

    def edit_finished(self, _kind: str) -> None:
        """A stroke or mask operation ended: fill now when "fill automatically" is on."""
        if self.auto_action.isChecked() and self.doc.has_mask() and not self.worker.model_error:
            self.fill()

    def on_progress(self, rid: int, fraction: float, label: str) -> None:
        if rid == self.latest_request:
            self.status.set_progress(fraction, label)

    def on_busy(self, busy: bool) -> None:
        self.status.set_busy(busy, "Filling…")
        self.cancel_action.setEnabled(busy)
        self.update_variant_action()

    def on_result(self, result: InpaintResult) -> None:
        info = self._pending.pop(result.request_id, None)
        if info is None:
            return
        if info.image_revision != self.doc.image_revision:
            self.status.showMessage(
                "The photo changed while the fill was running; press Fill again.", 6000
            )
            return
        variant = info.variant_of
        if variant is not None and self.variant_source() is not variant:
            self.status.showMessage(
                "The photo or mask changed while the variant was made; nothing was changed.", 6000
            )
            return
        flow = variant.flow if variant is not None else None
        if result.flow is not None:
            x, y, w, h = self.doc.clip(result.rect)
            if w > 0 and h > 0:
                rgba = np.zeros((h, w, 4), np.uint8)
                rgba[..., :3] = result.flow[y : y + h, x : x + w]
                rgba[..., 3] = np.where(info.mask[y : y + h, x : x + w], 255, 0)
                flow = FlowPatch((x, y, w, h), rgba)
        seconds = result.timings.get("total") or sum(result.timings.values())
        number = info.options.seed + 1  # variant 1 is the fill itself (seed 0)
        if variant is not None:
            text = f"Variant {number} ({seconds:.1f} s)"
            done = f"Variant {number} in {seconds:.2f} s (Ctrl+Z: the one before)."
        else:
            text = f"Fill ({result.strategy}, {seconds:.1f} s)"
            done = f"Filled in {seconds:.2f} s."
        cmd = fill_command(self.doc, result.image, result.rect, info.mask, info.sketch, flow, text)
        if variant is not None:
            variant.last_seed = max(variant.last_seed, info.options.seed)
            cmd.source = variant
        elif result.guide is not None and info.options.texture:
            cmd.source = VariantSource(
                info.mask, info.sketch, info.options, result.guide, flow, info.options.seed
            )
        self.history.push(cmd)
        self.status.set_last_run(seconds, number if variant is not None else None)
        self.status.set_device(result.device)
        note = " ".join(result.notes)
        self.status.showMessage(f"{done} {note}".strip(), 6000)
        emit(self.applied, result)

    def on_failed(self, rid: int, message: str) -> None:
        self._pending.pop(rid, None)
        if rid != self.latest_request:
            return
        self.status.set_busy(False)
        self._show_message(
            "The fill did not work", f"{message}\n\nYour photo and mask are unchanged."
        )

    def on_cancelled(self, rid: int) -> None:
        self._pending.pop(rid, None)
        if rid == self.latest_request:
            self.status.showMessage("Cancelled. Nothing was changed.", 4000)

    @staticmethod
    def _no_model_text(error: str) -> str:
        return (
            f"No inpainting model is available yet ({error.rstrip('.')}).\n\n"
            "You can still open photos and paint masks. To fill, import a model with\n"
            "    python main.py models import FILE\n"
            "and restart DeepFill Studio."
        )

    def on_model_loaded(self, _info: dict[str, object]) -> None:
        """A model is loaded: the signal's dict is for outside listeners; this reads the
        worker's typed description (the latest, should loads have followed each other)."""
        info = self.worker.model_info
        if info is None:
            return
        self.panel.model_label.setText(info.name or "model")
        self.panel.model_label.setToolTip(info.license)
        device = info.device or "cpu"
        self.panel.device_label.setText(device.upper())
        self.status.set_device(device)
        caps = info.capabilities  # a stand-in runner declares none: say nothing
        note = "This model ignores sketch lines." if caps is not None and not caps.sketch else ""
        self.panel.set_engine_note(note)
        self._update_actions()

    def on_switch_failed(self, message: str) -> None:
        info = self.worker.model_info
        device = (info.device if info is not None else "") or "cpu"
        name = info.name if info is not None else "the model"
        self.panel.device_label.setText(device.upper())
        self.status.set_device(device)
        self.panel.device.blockSignals(True)
        self.panel.set_device_choice(device if device in ("cpu", "cuda") else "auto")
        self.panel.device.blockSignals(False)
        self.settings.set("run/device", self.panel.device.currentData())
        self._show_message(
            "Could not switch",
            f"{message}\n\nStill using {name} on {device.upper()}.",
        )

    def on_model_failed(self, message: str) -> None:
        self.panel.model_label.setText("none")
        self.panel.device_label.setText("–")
        self.status.set_device("no model")
        self.panel.set_engine_note(
            "No model is installed yet, so Fill is not available. Import one with "
            "“python main.py models import FILE” and restart."
            if "no default model" in message.lower() or "no model" in message.lower()
            else f"The model could not be loaded: {message}"
        )
        self.status.showMessage("No inpainting model is available: see the Model panel.", 8000)
        self._update_actions()
