"""The engine thread: results, progress, cancel, superseding, model errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.engine.types import (
    EngineError,
    InpaintOptions,
    InpaintRequest,
    InpaintResult,
    ModelFileError,
)
from app.engine.worker import EngineWorker
from tests.conftest import make_photo


def request(h=64, w=80, strategy="full") -> InpaintRequest:
    mask = np.zeros((h, w), bool)
    mask[20:40, 30:50] = True
    return InpaintRequest(make_photo(h, w), mask, options=InpaintOptions(strategy=strategy))


class SlowRunner:
    """A stand-in for Inpainter that waits at checkpoints until released (test-only)."""

    device = "cpu"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.thread_names: list[int] = []
        self.calls = 0

    def run(self, req, progress=None, cancel=None):
        from app.engine.types import Cancelled

        self.calls += 1
        self.thread_names.append(threading.get_ident())
        self.started.set()
        for i in range(400):
            if cancel():
                raise Cancelled()
            if progress:
                progress(i / 400, "filling")
            if self.release.is_set():
                break
            time.sleep(0.005)
        out = req.image.copy()
        out[req.mask] = 0
        return InpaintResult(out, (30, 20, 20, 20), request_id=req.request_id)


@pytest.fixture
def fake_worker(qtbot):
    runner = SlowRunner()
    w = EngineWorker(runner_factory=lambda model, device: runner)
    w.runner = runner  # type: ignore[attr-defined]
    yield w
    w.shutdown()


def test_real_model_fills_on_the_thread_with_progress(qtbot, tiny_model_path):
    worker = EngineWorker(model=str(tiny_model_path), device="cpu")
    progress: list[tuple[int, float, str]] = []
    worker.progress.connect(lambda rid, f, label: progress.append((rid, f, label)))
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=60000) as loaded:
            worker.start()
        assert loaded.args[0]["device"] == "cpu"
        assert loaded.args[0]["parameters"] > 0
        req = request()
        with qtbot.waitSignal(worker.finished, timeout=60000) as done:
            rid = worker.submit(req)
        result = done.args[0]
        assert result.request_id == rid
        assert result.image.shape == req.image.shape
        outside = ~req.mask
        assert np.array_equal(result.image[outside], req.image[outside])
        assert not np.array_equal(result.image[req.mask], req.image[req.mask])
        assert progress and all(p[0] == rid for p in progress)
        fractions = [p[1] for p in progress]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert not worker.busy
    finally:
        assert worker.shutdown()


def test_work_runs_off_the_gui_thread(qtbot, fake_worker):
    fake_worker.runner.release.set()
    with qtbot.waitSignal(fake_worker.finished, timeout=10000):
        fake_worker.submit(request())
    assert fake_worker.runner.thread_names
    assert threading.get_ident() not in fake_worker.runner.thread_names


def test_cancel_stops_the_running_request(qtbot, fake_worker):
    finished: list = []
    fake_worker.finished.connect(finished.append)
    rid = fake_worker.submit(request())
    assert fake_worker.runner.started.wait(10)
    with qtbot.waitSignal(fake_worker.cancelled, timeout=10000) as sig:
        fake_worker.cancel()
    assert sig.args == [rid]
    qtbot.waitUntil(lambda: not fake_worker.busy)
    assert finished == []


def test_newer_request_supersedes_the_older(qtbot, fake_worker):
    cancelled: list[int] = []
    finished: list[InpaintResult] = []
    fake_worker.cancelled.connect(cancelled.append)
    fake_worker.finished.connect(finished.append)
    first = fake_worker.submit(request())
    assert fake_worker.runner.started.wait(10)
    second = fake_worker.submit(request())
    third = fake_worker.submit(request())  # queued behind: second never even starts
    fake_worker.runner.release.set()
    qtbot.waitUntil(lambda: len(finished) == 1 and len(cancelled) == 2, timeout=10000)
    assert finished[0].request_id == third
    assert sorted(cancelled) == [first, second]
    assert fake_worker.runner.calls == 2  # first (cancelled mid-run) and third
    assert not fake_worker.busy


def test_missing_model_is_reported_and_requests_fail_clearly(qtbot):
    def no_model(model, device):
        raise ModelFileError("no default model is installed: pass --model PATH")

    worker = EngineWorker(runner_factory=no_model)
    try:
        with qtbot.waitSignal(worker.model_failed, timeout=10000) as sig:
            worker.start()
        assert "no default model" in sig.args[0]
        with qtbot.waitSignal(worker.failed, timeout=10000) as failed:
            rid = worker.submit(request())
        assert failed.args[0] == rid
        assert "Install a model" in failed.args[1]
    finally:
        worker.shutdown()


@pytest.mark.parametrize(
    "error, expected",
    [
        (MemoryError(), "ran out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "ran out of memory"),
        (EngineError("the mask is empty: paint over what should be removed"), "the mask is empty"),
        (ValueError("boom"), "Nothing was changed"),
    ],
)
def test_errors_become_messages_and_the_thread_survives(qtbot, error, expected):
    class Failing:
        device = "cpu"
        fail = True

        def run(self, req, progress=None, cancel=None):
            if self.fail:
                raise error
            return InpaintResult(req.image.copy(), (0, 0, 1, 1))

    runner = Failing()
    worker = EngineWorker(runner_factory=lambda m, d: runner)
    try:
        with qtbot.waitSignal(worker.failed, timeout=10000) as sig:
            worker.submit(request())
        assert expected in sig.args[1]
        runner.fail = False
        with qtbot.waitSignal(worker.finished, timeout=10000):
            worker.submit(request())
    finally:
        worker.shutdown()


def test_shutdown_reports_queued_requests_as_cancelled(qtbot, fake_worker):
    cancelled: list[int] = []
    fake_worker.cancelled.connect(cancelled.append)
    a = fake_worker.submit(request())
    assert fake_worker.runner.started.wait(10)
    assert fake_worker.shutdown(5000)
    qtbot.waitUntil(lambda: cancelled == [a], timeout=5000)


def test_one_registry_stops_every_engine_thread_and_names_the_stuck_ones(qtbot):
    """Every worker joins the process's registry; stop_all (the application's shutdown and the
    interpreter's exit both use it) stops each running thread and returns those that did not."""
    from app.engine.worker import WORKERS, WorkerRegistry

    class Stuck:
        """Ignores cancelling until released (a long stage without a checkpoint)."""

        device = "cpu"

        def __init__(self) -> None:
            self.started = threading.Event()
            self.release = threading.Event()

        def run(self, req, progress=None, cancel=None):
            self.started.set()
            self.release.wait(10)
            return InpaintResult(req.image.copy(), (0, 0, 1, 1))

    quick, stuck = SlowRunner(), Stuck()
    a = EngineWorker(runner_factory=lambda m, d: quick)
    b = EngineWorker(runner_factory=lambda m, d: stuck)
    idle = EngineWorker(runner_factory=lambda m, d: quick)  # never started
    assert {a, b, idle} <= set(WORKERS.workers())
    registry = WorkerRegistry()
    for worker in (a, b, idle):
        registry.add(worker)
    try:
        a.submit(request())
        b.submit(request())
        assert quick.started.wait(10) and stuck.started.wait(10)
        assert registry.stop_all(200) == [b]
        assert not a.running and b.running and not idle.running
        stuck.release.set()
        assert registry.stop_all(5000) == []
        assert not b.running
    finally:
        stuck.release.set()
        for worker in (a, b, idle):
            worker.shutdown()


_KERNELS_AFTER_LOAD = """
import sys
from app.engine.inference import patchmatch
from app.engine.inference.pipeline import Inpainter
from app.engine.worker import load_inpainter
runner = load_inpainter(sys.argv[1], "cpu") if sys.argv[2] == "editor" else Inpainter.load(sys.argv[1], "cpu")
print(sum(bool(k.signatures) for k in (patchmatch.patchmatch, patchmatch.vote)))
"""


def test_the_editor_loads_the_texture_kernels_with_the_model(tiny_model_path):
    """The first fill must not stall the window loading them (they hold the GIL ~0.7 s): the
    editor's model load does it on the engine thread, a plain Inpainter.load does not."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def kernels(way: str) -> int:
        out = subprocess.run([sys.executable, "-c", _KERNELS_AFTER_LOAD, str(tiny_model_path), way],
                             cwd=root, capture_output=True, text=True, timeout=300, check=True)
        return int(out.stdout.split()[-1])

    assert kernels("plain") == 0
    assert kernels("editor") == 2  # both kernels loaded
