"""Where training batches come from: this process, or worker processes.

Made here, a batch is drawn from the trainer's own random generator, so a resumed run replays
an uninterrupted one exactly. A GPU trains faster than one process makes crops (Telea and the
carried sketch cost ~25 ms a crop), so with `workers` the crops come from that many processes,
each with a random generator of its own seeded by (seed, the step the stream starts at, its
number): runs stay reproducible from the same start, but no longer replay across a resume.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator, Iterator
from typing import Protocol

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info


class Sampler(Protocol):
    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, torch.Tensor]: ...


class _WorkerBatches(IterableDataset):
    def __init__(self, sampler: Sampler, batch: int, seed: int, start_step: int) -> None:
        self.sampler, self.batch, self.seed, self.start_step = sampler, batch, seed, start_step

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, self.start_step, info.id if info else 0])
        while True:
            yield self.sampler.sample(rng, self.batch)


def batch_stream(
    sampler: Sampler,
    batch: int,
    rng: np.random.Generator,
    workers: int = 0,
    seed: int = 0,
    start_step: int = 0,
    pin_memory: bool = False,
) -> Generator[dict[str, torch.Tensor], None, None]:
    """Endless training batches: from `rng` in this process (workers = 0), else from `workers`
    processes (their crops made ahead, up to 4 batches each)."""
    if workers <= 0:
        while True:
            yield sampler.sample(rng, batch)
    # Forked workers share the photos held in RAM with this process instead of loading their own.
    # Each is one core's worth (torch's loader gives each one thread); OpenCV's pool must be
    # set to one thread here, before the fork: setting it in a forked child deadlocks on the
    # pool's lock, copied held.
    methods = multiprocessing.get_all_start_methods()
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    loader = DataLoader(
        _WorkerBatches(sampler, batch, seed, start_step),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4,
        pin_memory=pin_memory,
        multiprocessing_context="fork" if "fork" in methods else None,
    )
    try:
        yield from loader
    finally:
        cv2.setNumThreads(threads)
