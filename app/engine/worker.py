"""Hosts the engine on one long-lived QThread for the GUI (the only Qt module in app/engine).

The thread owns the Inpainter (and so its CUDA context). torch is imported and the model
is loaded inside the thread, so the window can show before either happens. Requests are
queued; a newer request supersedes an older one, which stops at its next checkpoint through
the cancel callback. Every outcome is reported by exactly one signal per request:
finished, failed or cancelled.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import itertools
import logging
import queue
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from app.engine.types import (
    CancelFn,
    Cancelled,
    EngineError,
    InpaintRequest,
    InpaintResult,
    ModelDescription,
    ProgressFn,
)
from app.signal_emit import emit

log = logging.getLogger(__name__)

_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)  # what a superseded queued request keeps


class WorkerRegistry:
    """The engine workers alive in this process, and the one way to stop them all.

    Qt aborts the process when a QThread object is destroyed while its thread still runs (a
    model still loading, a fill between checkpoints), so no worker's thread may outlive the
    interpreter. Threads belong to the process, so there is one registry, `WORKERS`: every
    EngineWorker joins it when made. The application stops them when its event loop ends
    (`app.application.Application.shutdown`, which decides what to do about a stuck one); in a
    process without an application (a script, a test) the interpreter's exit does, through
    the same `stop_all`.
    """

    def __init__(self) -> None:
        self._workers: weakref.WeakSet[EngineWorker] = weakref.WeakSet()

    def add(self, worker: EngineWorker) -> None:
        self._workers.add(worker)

    def workers(self) -> list[EngineWorker]:
        """Every worker not yet garbage-collected (one per editor window)."""
        return list(self._workers)

    def stop_all(self, timeout_ms: int) -> list[EngineWorker]:
        """Stop every running worker's thread (cancelling its work), waiting up to
        `timeout_ms` for each; returns those whose thread still runs."""
        stuck = []
        for worker in self.workers():
            try:
                if worker.running and not worker.shutdown(timeout_ms):
                    stuck.append(worker)
            except RuntimeError:  # its Qt object was deleted already: no thread left
                continue
        return stuck

    def stop_at_exit(self) -> None:
        """The interpreter is leaving (atexit): what an application did not stop, stop now."""
        with contextlib.suppress(Exception):
            self.stop_all(5000)


WORKERS = WorkerRegistry()
atexit.register(WORKERS.stop_at_exit)


class Runner(Protocol):
    """What the worker needs from an Inpainter (tests may pass a lighter object). An Inpainter
    also describes its model (`describe() -> ModelDescription`); a runner that does not is
    described by the name it was loaded under."""

    @property
    def device(self) -> str: ...

    def run(
        self,
        request: InpaintRequest,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> InpaintResult: ...


RunnerFactory = Callable[[str | None, str], Runner]


def load_inpainter(model: str | None, device: str) -> Runner:
    """Default factory: imports torch and the pipeline (slow) inside the engine thread, and
    warms the texture stage up there too, while the window still says the model is loading."""
    from app.engine.inference.pipeline import Inpainter

    inpainter = Inpainter.load(model, device)
    inpainter.warm_up_texture()
    return inpainter


def describe_runner(runner: Runner, requested_model: str | None) -> ModelDescription:
    """The runner's own description (an Inpainter's), else its name and device alone."""
    device = str(runner.device)
    describe = getattr(runner, "describe", None)
    if callable(describe):
        try:
            described = describe()
        except Exception:  # noqa: BLE001 - the description is cosmetic
            log.exception("could not describe the model")
        else:
            if isinstance(described, ModelDescription):
                return described.on_device(device)
    return ModelDescription(name=requested_model or "default", device=device)


def _memory_message(device: str) -> str:
    where = "GPU" if device == "cuda" else "computer"
    return (
        f"The {where} ran out of memory for this fill. Nothing was changed. Try the 'crop' or "
        "'resize' strategy, a smaller mask, or close other programs and press Fill again."
    )


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    try:
        from app.engine.device import is_out_of_memory
    except Exception:  # noqa: BLE001 - torch missing: then it is not a torch OOM either
        return False
    return is_out_of_memory(error)


@dataclass
class _Job:
    kind: str  # "load" | "run" | "stop"
    request: InpaintRequest | None = None
    model: str | None = None
    device: str = "auto"


class _EngineThread(QThread):
    def __init__(self, owner: EngineWorker) -> None:
        super().__init__()
        self.owner = owner
        self.setObjectName("engine")

    def run(self) -> None:
        self.owner._loop()


class EngineWorker(QObject):
    """GUI-side handle of the engine thread. All methods are called from the GUI thread."""

    progress = Signal(int, float, str)  # request_id, fraction, label
    finished = Signal(object)  # InpaintResult
    failed = Signal(int, str)  # request_id, message
    cancelled = Signal(int)  # request_id
    model_loaded = Signal(object)  # dict: model_info.to_dict() (name, license, device, ...)
    model_failed = Signal(str)  # why no model is available (none installed, broken file)
    switch_failed = Signal(str)  # a new model/device failed to load; the previous one stays
    busy_changed = Signal(bool)

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        runner_factory: RunnerFactory | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = runner_factory or load_inpainter
        self._model_name = model
        self._device_name = device
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._latest = 0  # id of the newest request: older ones are superseded
        self._cancelled: set[int] = set()
        self._pending = 0  # requests submitted and not yet reported
        self._stopping = False
        self._runner: Runner | None = None  # only touched by the engine thread
        self.model_info: ModelDescription | None = None  # set once a model is loaded
        self.model_error: str | None = None
        self._thread = _EngineThread(self)
        WORKERS.add(self)
        self.finished.connect(self._on_done)
        self.failed.connect(self._on_done)
        self.cancelled.connect(self._on_done)

    # --- control (GUI thread) -----------------------------------------------------------
    def start(self) -> None:
        """Start the thread and load the model there (call after the window is shown)."""
        if not self._thread.isRunning():
            self._queue.put(_Job("load", model=self._model_name, device=self._device_name))
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def load_model(self, model: str | None = None, device: str = "auto") -> None:
        """Switch model and/or device; runs after the request in progress."""
        self._model_name, self._device_name = model, device
        self._queue.put(_Job("load", model=model, device=device))
        if not self._thread.isRunning():
            self._thread.start()

    def submit(self, request: InpaintRequest) -> int:
        """Queue a request (ids are assigned when 0); any older request is superseded."""
        if not request.request_id:
            request.request_id = next(self._ids)
        with self._lock:
            self._latest = request.request_id
        self._pending += 1
        if self._pending == 1:
            emit(self.busy_changed, True)
        if not self._thread.isRunning():
            self.start()  # queues the model load first
        self._drop_superseded_pixels()
        self._queue.put(_Job("run", request=request))
        return request.request_id

    def _drop_superseded_pixels(self) -> None:
        """Requests still queued are superseded now and will only be reported as cancelled:
        let go of their pixels, or a burst of strokes keeps one photo copy per stroke."""
        with self._queue.mutex:
            for job in self._queue.queue:
                if job.kind == "run" and job.request is not None and job.request.image.size:
                    job.request = InpaintRequest(
                        _NO_PIXELS, _NO_PIXELS[..., 0], request_id=job.request.request_id
                    )

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel one request, or every request submitted so far."""
        with self._lock:
            if request_id is None:
                self._cancelled.update(range(1, self._latest + 1))
            else:
                self._cancelled.add(request_id)

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Stop the thread (cancelling work); True if it ended within the timeout."""
        self.cancel()
        self._stopping = True
        if not self._thread.isRunning():
            return True
        self._queue.put(_Job("stop"))
        return self._thread.wait(timeout_ms)

    def _on_done(self, *args) -> None:
        self._pending = max(0, self._pending - 1)
        if self._pending == 0:
            emit(self.busy_changed, False)

    # --- engine thread ------------------------------------------------------------------
    def _is_cancelled(self, request_id: int) -> bool:
        with self._lock:
            return self._stopping or request_id in self._cancelled or request_id != self._latest

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job.kind == "stop":
                self._drain()
                return
            if job.kind == "load":
                self._load(job.model, job.device)
            elif job.kind == "run" and job.request is not None:
                self._run(job.request)

    def _drain(self) -> None:
        """Report every request still queued as cancelled, so callers are never left waiting."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.kind == "run" and job.request is not None:
                emit(self.cancelled, job.request.request_id)

    def _load(self, model: str | None, device: str) -> None:
        try:
            runner = self._factory(model, device)
        except Exception as error:  # noqa: BLE001 - a broken install must not kill the thread
            if isinstance(error, EngineError):
                message = str(error)
            else:
                log.error("model load failed:\n%s", traceback.format_exc())
                message = f"The model could not be loaded ({type(error).__name__}: {error})."
            if self._runner is not None:
                # switching failed (e.g. CUDA asked for on a machine without it): keep the
                # model that works, and say so
                emit(self.switch_failed, message)
                return
            self.model_info = None
            self.model_error = message
            emit(self.model_failed, message)
            return
        self._runner = runner
        self.model_error = None
        self.model_info = describe_runner(runner, model)
        emit(self.model_loaded, self.model_info.to_dict())

    def _run(self, request: InpaintRequest) -> None:
        rid = request.request_id
        if self._is_cancelled(rid):
            emit(self.cancelled, rid)
            return
        runner = self._runner
        if runner is None:
            reason = self.model_error or "No model is loaded."
            emit(
                self.failed,
                rid,
                f"{reason} Install a model (python main.py models import FILE) and restart.",
            )
            return

        def progress(fraction: float, label: str) -> None:
            emit(self.progress, rid, float(fraction), str(label))

        try:
            if not request.image.flags.writeable:
                # the editor's live photo, lent read-only (Document.lend_image): copied here,
                # off the GUI thread; the editor drops the result if the photo changed meanwhile
                request = dataclasses.replace(request, image=request.image.copy())
            result = runner.run(request, progress=progress, cancel=lambda: self._is_cancelled(rid))
        except Cancelled:
            emit(self.cancelled, rid)
            return
        except EngineError as error:
            emit(self.failed, rid, str(error))
            return
        except Exception as error:  # noqa: BLE001 - reported to the user, thread keeps going
            if _is_out_of_memory(error):
                emit(self.failed, rid, _memory_message(str(getattr(runner, "device", "cpu"))))
            else:
                log.error("fill failed:\n%s", traceback.format_exc())
                emit(
                    self.failed,
                    rid,
                    f"The fill failed ({type(error).__name__}: {error}). Nothing was changed; "
                    "try another strategy or device.",
                )
            return
        if self._is_cancelled(rid):
            emit(self.cancelled, rid)  # finished, but a newer request or Cancel came first
            return
        result.request_id = rid
        emit(self.finished, result)
