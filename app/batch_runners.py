"""Where batch jobs run: in this process, in local worker processes, or on Ray actors.

Every runner yields (job index, report record) as photos finish. Each worker loads the model
once and fills photos with `app.batch_jobs.fill_job`, which reads and writes the files itself
(on a cluster: shared storage), so results are the single-photo CLI's, byte for byte, when
the thread count is the same (float sums in a different order can move a filled pixel by one
level).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .batch_jobs import BatchJob, BatchSettings, fill_job
from .engine.types import EngineError

# (job index, record) as each job ends; close() stops the workers of an interrupted run
Results = Generator[tuple[int, dict[str, Any]], None, None]


def _load(settings: BatchSettings, threads: int) -> Any:
    from .fill_file import load_inpainter

    return load_inpainter(settings.model, settings.device, threads)


# --------------------------------------------------------------------------- this process


def serial_results(todo: list[tuple[int, BatchJob]], settings: BatchSettings, threads: int) -> Results:
    if not todo:
        return
    inpainter = _load(settings, threads)
    for index, job in todo:
        yield index, fill_job(inpainter, job, settings)


# --------------------------------------------------------------------------- local processes

_worker_state: dict[str, Any] = {}


def _init_worker(settings: BatchSettings, threads: int) -> None:
    """Process pool initializer: quiet stderr, then load the model once for this process."""
    from .quiet import quiet_library_warnings

    quiet_library_warnings("deepfill-studio")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _worker_state["settings"] = settings
    _worker_state["inpainter"] = _load(settings, threads)


def _fill_in_worker(job: BatchJob) -> dict[str, Any]:
    return fill_job(_worker_state["inpainter"], job, _worker_state["settings"])


def process_results(
    todo: list[tuple[int, BatchJob]], settings: BatchSettings, workers: int, threads: int
) -> Results:
    """`workers` processes with `threads` torch threads each. Started with 'spawn': forking a
    process whose torch already runs OpenMP threads can hang the children."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker,
        initargs=(settings, threads),
    )
    try:
        futures = {pool.submit(_fill_in_worker, job): (index, job) for index, job in todo}
        for future in as_completed(futures):
            index, job = futures[future]
            try:
                yield index, future.result()
            except Exception as error:  # noqa: BLE001 - a worker died (killed, out of memory)
                from .batch_jobs import record

                yield index, record(job, "failed", f"the worker process failed ({type(error).__name__})")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- Ray


class _RayFiller:
    """A Ray actor: loads the model once, then fills photos (reading and writing the files)."""

    def __init__(self, settings: BatchSettings, threads: int) -> None:
        from .quiet import quiet_library_warnings

        quiet_library_warnings("deepfill-studio")
        self.settings = settings
        self.inpainter = _load(settings, threads)

    def fill(self, job: BatchJob) -> dict[str, Any]:
        return fill_job(self.inpainter, job, self.settings)


def _code_root() -> str:
    """The folder holding the `app` package, for workers of a Ray instance we start here."""
    return str(Path(__file__).resolve().parents[1])


@contextlib.contextmanager
def ray_session(address: str, cpus: int | None = None) -> Iterator[Any]:
    """Connect to Ray: "local" starts an instance for this run (stopped after), anything else
    is the address of an existing cluster ("auto", "ray://head:10001", "head:6379")."""
    try:
        import ray
    except ImportError:
        raise EngineError(
            "--ray needs Ray: pip install \"deepfill-studio[ray]\" (or pip install ray)"
        ) from None
    if ray.is_initialized():  # a notebook or script that set Ray up itself
        yield ray
        return
    quiet: dict[str, Any] = {
        "log_to_driver": False, "logging_level": logging.ERROR, "include_dashboard": False
    }
    if address == "local":
        # workers of our own instance import the same `app` as this process
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_code_root(), saved]))
        try:
            ray.init(num_cpus=cpus, **quiet)
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
    else:
        try:
            ray.init(address=address, **quiet)
        except Exception as error:  # noqa: BLE001 - unreachable cluster, bad address
            raise EngineError(f"cannot join the Ray cluster at {address}: {error}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def ray_results(
    todo: list[tuple[int, BatchJob]],
    settings: BatchSettings,
    address: str,
    actors: int | None,
    threads: int,
    info: dict[str, Any] | None = None,
    cpus: int | None = None,
) -> Results:
    """Run the jobs on Ray actors (`actors`, default: one per GPU when the device is CUDA or
    auto on a cluster with GPUs, else one per `threads` CPUs of the cluster). GPU actors ask
    Ray for a GPU each. `info["workers"]` is set to the number of actors started."""
    if not todo:
        return
    with ray_session(address, cpus) as ray:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        use_gpu = settings.device == "cuda" or (settings.device == "auto" and gpus > 0)
        if use_gpu and gpus == 0:
            raise EngineError("--device cuda, but the Ray cluster has no GPU")
        if use_gpu:
            count = actors or gpus
        else:
            count = actors or max(1, int(resources.get("CPU", 1)) // threads)
        count = max(1, min(count, len(todo)))
        if info is not None:
            info["workers"] = count
        filler = ray.remote(_RayFiller).options(num_cpus=threads, num_gpus=1 if use_gpu else 0)
        idle = [filler.remote(settings, threads) for _ in range(count)]
        queue = list(todo)
        running: dict[Any, tuple[Any, int, BatchJob]] = {}
        while queue or running:
            while queue and idle:
                actor = idle.pop()
                index, job = queue.pop(0)
                running[actor.fill.remote(job)] = (actor, index, job)
            ready, _ = ray.wait(list(running), num_returns=1)
            actor, index, job = running.pop(ready[0])
            try:
                rec = ray.get(ready[0])
            except Exception as error:  # noqa: BLE001 - the actor died (node lost, out of memory)
                from .batch_jobs import record

                rec = record(job, "failed", f"the Ray worker failed ({type(error).__name__})")
                if not idle and not running:  # no actor left alive: start a fresh one
                    idle.append(filler.remote(settings, threads))
            else:
                idle.append(actor)
            yield index, rec
