"""Device selection, CPU threading and bfloat16 support."""

from __future__ import annotations

import functools
import os

import torch

from .types import EngineError

DEVICES = ("auto", "cpu", "cuda")


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; asking for CUDA without one is an error."""
    if name not in DEVICES:
        raise EngineError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise EngineError("no CUDA GPU is available here: use --device cpu or auto")
        return torch.device("cuda")
    return torch.device("cpu")


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_cpu_threads(threads: int | None = None) -> int:
    """Use `threads` (default: every core this process may run on), and flush denormal floats
    to zero. Batch workers pass their share of the cores.

    The attention softmax underflows into denormals for most keys; x86 arithmetic on denormals
    is ~100x slower, which made the attention paste (a large matmul) several times slower.
    """
    torch.set_flush_denormal(True)
    cores = max(1, int(threads)) if threads else available_cores()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
    return cores


@functools.cache
def cpu_has_bf16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the CPU allocator failing."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )
