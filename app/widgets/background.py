"""Run slow file work (decoding a 50 MP photo, writing a PNG) on the Qt thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.signal_emit import emit


class _Signals(QObject):
    done = Signal(object)
    error = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self.setAutoDelete(False)  # the Python side keeps it until the result is delivered

    def run(self) -> None:
        try:
            value = self.fn()
        except BaseException as error:  # noqa: BLE001 - delivered to the GUI thread
            emit(self.signals.error, error)
        else:
            emit(self.signals.done, value)


_alive: set[_Task] = set()


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    pool: QThreadPool | None = None,
) -> _Task:
    """Call fn() on a pool thread; on_done/on_error run on the GUI thread afterwards."""
    task = _Task(fn)
    _alive.add(task)

    def finish(cb: Callable, value: Any) -> None:
        _alive.discard(task)
        cb(value)

    task.signals.done.connect(lambda v: finish(on_done, v))
    task.signals.error.connect(lambda e: finish(on_error, e))
    (pool or QThreadPool.globalInstance()).start(task)
    return task


def pending_tasks() -> int:
    return len(_alive)
