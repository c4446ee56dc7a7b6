"""One batch job and its record: what a batch worker gets and what it reports (`fill_job`).

Apart from app.batch (planning, running, the report) so that the runners in app.batch_runners
depend on it alone."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine.types import EngineError, InpaintOptions


@dataclass
class BatchJob:
    """One photo to fill; `reason` is set when planning already knows it cannot run."""

    photo: Path
    mask: Path | None
    sketch: Path | None
    output: Path
    reason: str | None = None


@dataclass
class BatchSettings:
    """What every job of a batch shares (sent to each worker once)."""

    model: str | None = None  # installed name or file; None = the default
    device: str = "auto"
    options: InpaintOptions = field(default_factory=InpaintOptions)
    quality: int | None = 95



def record(job: BatchJob, status: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """One photo's line in report.json."""
    return {
        "photo": str(job.photo),
        "mask": str(job.mask) if job.mask else None,
        "sketch": str(job.sketch) if job.sketch else None,
        "output": str(job.output),
        "status": status,
        "reason": reason,
        **extra,
    }


def fill_job(inpainter: Any, job: BatchJob, settings: BatchSettings) -> dict[str, Any]:
    """Run one job with a loaded Inpainter; any failure becomes a 'failed' record."""
    from .fill_file import inpaint_file

    if job.reason or job.mask is None:  # planning gives a job without a mask its reason
        return record(job, "failed", job.reason or "no mask")
    try:
        done = inpaint_file(
            job.photo, job.mask, job.output, job.sketch,
            inpainter=inpainter, options=settings.options, quality=settings.quality,
        )
    except EngineError as error:
        return record(job, "failed", _one_line(str(error)))
    except MemoryError:
        return record(job, "failed", "not enough memory for this photo")
    except Exception as error:  # noqa: BLE001 - one broken photo must not stop the batch
        return record(job, "failed", _one_line(f"{type(error).__name__}: {error}"))
    return record(
        job, "ok", None, size=list(done.size), strategy=done.strategy, device=done.device,
        model=done.model, timings=done.timings, notes=done.notes, worker=_worker_name(),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:400] or "unknown error"


def _worker_name() -> str:
    return f"{os.uname().nodename}:{os.getpid()}" if hasattr(os, "uname") else str(os.getpid())


