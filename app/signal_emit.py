"""emit(): Signal.emit with a guard against a reference-count bug in PySide6 6.12.0.

PySide6 6.12.0's SignalInstance.emit() returns Py_True without taking a reference, so every
emit from Python lowers True's reference count by one; after a few hundred emits (a single
brush stroke emits one per mouse move) the interpreter aborts with "deallocating True".
We measure the leak once and put back the lost reference after each emit, so the code is
right on both a fixed and a broken PySide6.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    ping = Signal()


def _measure_leak() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) - before <= -8


_LEAKS_TRUE = _measure_leak()
if _LEAKS_TRUE:  # put back the references the probe itself took away
    for _ in range(8):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


def emit(signal: SignalInstance, *args) -> None:
    """signal.emit(*args), balancing PySide6 6.12.0's missing reference to True."""
    # the stubs say emit returns None; 6.12.0 returns True, which is what we look for
    call: Callable[..., object] = signal.emit
    result = call(*args)
    if _LEAKS_TRUE and result is True:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


def emit_leaks_true() -> bool:
    return _LEAKS_TRUE
