"""The fill side of the editor window: requests to the engine thread, results onto the undo
stack, progress / cancel / errors, model status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from app.commands import HistoryStack, fill_command
from app.document import Document, FlowPatch
from app.engine.types import InpaintOptions, InpaintRequest, InpaintResult
from app.engine.worker import EngineWorker
from app.settings import Settings
from app.signal_emit import emit
from app.widgets.status import StatusBar
from app.widgets.tool_panel import ToolPanel


@dataclass
class Pending:
    """What a fill request was made from, to apply (or drop) its result later."""

    image_revision: int
    mask: np.ndarray  # bool, the mask the request used
    sketch: np.ndarray | None


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
        strategy: Callable[[], str],
        show_message: Callable[[str, str], object],
        update_actions: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.doc, self.history, self.worker = doc, history, worker
        self.panel, self.status, self.settings = panel, status, settings
        self.auto_action, self.cancel_action = auto_action, cancel_action
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
        request = InpaintRequest(
            image=self.doc.image.copy(),
            mask=mask,
            sketch=sketch,
            options=InpaintOptions(strategy=self._strategy()),
        )
        rid = self.worker.submit(request)
        # older requests are superseded (never applied): drop their masks, or a burst of
        # auto-fill strokes keeps one mask per stroke alive
        self._pending.clear()
        self._pending[rid] = Pending(self.doc.image_revision, mask, sketch)
        self.latest_request = rid
        self.status.set_busy(True, "Filling…")
        return rid

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

    def on_result(self, result: InpaintResult) -> None:
        info = self._pending.pop(result.request_id, None)
        if info is None:
            return
        if info.image_revision != self.doc.image_revision:
            self.status.showMessage(
                "The photo changed while the fill was running; press Fill again.", 6000
            )
            return
        flow = None
        if result.flow is not None:
            x, y, w, h = self.doc.clip(result.rect)
            if w > 0 and h > 0:
                rgba = np.zeros((h, w, 4), np.uint8)
                rgba[..., :3] = result.flow[y : y + h, x : x + w]
                rgba[..., 3] = np.where(info.mask[y : y + h, x : x + w], 255, 0)
                flow = FlowPatch((x, y, w, h), rgba)
        seconds = result.timings.get("total") or sum(result.timings.values())
        text = f"Fill ({result.strategy}, {seconds:.1f} s)"
        cmd = fill_command(self.doc, result.image, result.rect, info.mask, info.sketch, flow, text)
        self.history.push(cmd)
        self.status.set_last_run(seconds)
        self.status.set_device(result.device)
        note = " ".join(result.notes)
        self.status.showMessage(f"Filled in {seconds:.2f} s. {note}".strip(), 6000)
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
            self.status.showMessage("Fill cancelled. Nothing was changed.", 4000)

    @staticmethod
    def _no_model_text(error: str) -> str:
        return (
            f"No inpainting model is available yet ({error.rstrip('.')}).\n\n"
            "You can still open photos and paint masks. To fill, import a model with\n"
            "    python main.py models import FILE\n"
            "and restart DeepFill Studio."
        )

    def on_model_loaded(self, info: dict) -> None:
        name = str(info.get("name") or "model")
        lic = str(info.get("license") or "")
        self.panel.model_label.setText(name)
        self.panel.model_label.setToolTip(lic)
        device = str(info.get("device", "cpu"))
        self.panel.device_label.setText(device.upper())
        self.status.set_device(device)
        note = "" if info.get("sketch", True) else "This model ignores sketch lines."
        self.panel.set_engine_note(note)
        self._update_actions()

    def on_switch_failed(self, message: str) -> None:
        info = self.worker.model_info or {}
        device = str(info.get("device", "cpu"))
        self.panel.device_label.setText(device.upper())
        self.status.set_device(device)
        self.panel.device.blockSignals(True)
        self.panel.set_device_choice(device if device in ("cpu", "cuda") else "auto")
        self.panel.device.blockSignals(False)
        self.settings.set("run/device", self.panel.device.currentData())
        self._show_message(
            "Could not switch",
            f"{message}\n\nStill using {info.get('name', 'the model')} on {device.upper()}.",
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
