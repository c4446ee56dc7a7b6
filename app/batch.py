"""Batch runs: fill a folder of photos, locally (one or more processes) or on a Ray cluster.

`plan` pairs photos with masks (and sketches) by file stem and names the results; `run_batch`
skips complete results when resuming, hands the rest to a runner (`app.batch_runners`), shows
progress and writes `OUT_DIR/report.json`. A photo that fails is reported with a one-line
reason; the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import batch_runners
from .batch_jobs import BatchJob, BatchSettings, record
from .engine.types import EngineError

REPORT_NAME = "report.json"
# what a PHOTOS folder is searched for (any other file there is ignored)
PHOTO_SUFFIXES = (
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
    ".heic", ".heif",
)
# masks and sketches may be any image format
MASK_SUFFIXES = PHOTO_SUFFIXES + (".ppm", ".pgm", ".pbm")


class BatchArgumentError(EngineError):
    """Bad arguments for a batch (missing folder, no photos, output over the photos)."""


@dataclass
class BatchReport:
    """The outcome of a batch, as written to report.json."""

    records: list[dict[str, Any]]
    model: str
    backend: str
    workers: int
    threads: int
    elapsed_s: float
    path: Path | None = None  # where report.json was written

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every photo succeeded (or was already done), 1 when some failed."""
        return 1 if self.failed else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "workers": self.workers,
            "threads_per_worker": self.threads,
            "elapsed_s": round(self.elapsed_s, 3),
            "counts": {s: self.count(s) for s in ("ok", "failed", "skipped")},
            "photos": self.records,
        }


# --------------------------------------------------------------------------- planning


def _images_in(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
    )


def _by_stem(folder: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in _images_in(folder, MASK_SUFFIXES):
        index.setdefault(path.stem, []).append(path)
    return index


def _collect_photos(photos: Iterable[str | os.PathLike[str]]) -> list[Path]:
    found: list[Path] = []
    for item in photos:
        path = Path(item)
        if path.is_dir():
            found.extend(_images_in(path, PHOTO_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise BatchArgumentError(f"no such photo or folder: {path}")
    if not found:
        raise BatchArgumentError("no photos found (looked for " + ", ".join(PHOTO_SUFFIXES) + ")")
    return found


def _output_for(photo: Path, out_dir: Path) -> Path:
    """The result keeps the photo's name and format; formats we cannot write become PNG."""
    from .imageio import can_save

    return out_dir / (photo.name if can_save(photo) else photo.stem + ".png")


def _companion(
    photo: Path, source: Path | None, index: dict[str, list[Path]] | None, what: str
) -> tuple[Path | None, str | None]:
    """(the mask or sketch for `photo`, or None; a reason when it is missing or ambiguous)."""
    if source is None:
        return None, None
    if index is None:  # one file for every photo
        return source, None
    itself = photo.resolve()
    matches = [p for p in index.get(photo.stem, []) if p.resolve() != itself]
    if len(matches) == 1:
        return matches[0], None
    if not matches:
        return None, f"no {what} named {photo.stem}.* in {source}"
    names = ", ".join(p.name for p in matches)
    return None, f"more than one {what} for {photo.name} in {source} ({names})"


def plan(
    photos: Sequence[str | os.PathLike[str]],
    masks: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    sketches: str | os.PathLike[str] | None = None,
) -> list[BatchJob]:
    """One job per photo (folders are listed, not recursed). Raises BatchArgumentError."""
    photo_paths = _collect_photos(photos)
    mask_src = Path(masks)
    if not mask_src.exists():
        raise BatchArgumentError(f"no such mask file or folder: {mask_src}")
    sketch_src = Path(sketches) if sketches else None
    if sketch_src is not None and not sketch_src.exists():
        raise BatchArgumentError(f"no such sketch file or folder: {sketch_src}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BatchArgumentError(f"the output folder {out} is a file")
    sources = {p.parent.resolve() for p in photo_paths}
    if out.resolve() in sources:
        raise BatchArgumentError(
            f"the output folder {out} holds the photos themselves: choose another folder"
        )
    mask_index = _by_stem(mask_src) if mask_src.is_dir() else None
    sketch_index = _by_stem(sketch_src) if sketch_src is not None and sketch_src.is_dir() else None

    jobs: list[BatchJob] = []
    taken: dict[Path, Path] = {}
    for photo in photo_paths:
        output = _output_for(photo, out)
        mask, reason = _companion(photo, mask_src, mask_index, "mask")
        sketch, missing_sketch = _companion(photo, sketch_src, sketch_index, "sketch")
        if missing_sketch and not missing_sketch.startswith("no sketch"):
            reason = reason or missing_sketch  # ambiguous; a missing sketch is just no sketch
        if output in taken:
            reason = reason or f"{taken[output].name} already writes {output.name}"
        else:
            taken[output] = photo
        jobs.append(BatchJob(photo, mask, sketch, output, reason))
    return jobs


def is_complete(job: BatchJob) -> bool:
    """True when the job's result exists, decodes in full and has the photo's size."""
    from . import imageio
    from .quiet import c_library_warnings_silenced

    if not job.output.is_file():
        return False
    try:
        with c_library_warnings_silenced():
            return imageio.load_image(job.output).size == imageio.image_size(job.photo)
    except EngineError:
        return False


# --------------------------------------------------------------------------- progress


class Progress:
    """A tqdm bar with ETA on a terminal; one plain line per photo otherwise."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="photo", file=sys.stderr, dynamic_ncols=True)

    def update(self, rec: dict[str, Any]) -> None:
        self.done += 1
        name = Path(rec["photo"]).name
        if self.bar is not None:
            if rec["status"] == "failed":
                self.bar.write(f"failed: {name}: {rec['reason']}", file=sys.stderr)
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(1)
            return
        seconds = rec.get("timings", {}).get("total")
        detail = f" ({seconds:.2f} s)" if seconds is not None else ""
        if rec["reason"]:
            detail = f": {rec['reason']}"
        print(f"[{self.done}/{self.total}] {rec['status']} {name}{detail}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- running


def _model_for_workers(model: str | None) -> tuple[str, str]:
    """(the model's name, how workers find it). Validates the model here, once: bad models
    are a bad argument, not a failure of every photo. Bundled models go by name, so cluster
    nodes use their own installed copy; other models by path (shared storage)."""
    from .engine.checkpoints.loaders import load_model
    from .engine.checkpoints.models import bundled_models_dir, resolve_model

    path = resolve_model(model)
    loaded = load_model(path)
    try:
        bundled = path.resolve().parent == bundled_models_dir().resolve()
    except OSError:
        bundled = False
    return loaded.name, (path.stem if bundled else str(path.resolve()))


def write_report(report: BatchReport, out_dir: Path) -> Path:
    from .engine.atomic import atomic_write

    path = out_dir / REPORT_NAME
    data = json.dumps(report.as_json(), indent=2).encode("utf-8")
    atomic_write(path, lambda f: f.write(data))
    report.path = path
    return path


def run_batch(
    jobs: list[BatchJob],
    settings: BatchSettings,
    out_dir: Path,
    *,
    resume: bool = False,
    workers: int = 1,
    ray: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    ray_cpus: int | None = None,
) -> BatchReport:
    """Run the jobs and write report.json; the report lists every photo in `jobs` order.

    workers: local processes (1 = in this process); ray: None, "local" (start a Ray instance
    for the run) or a cluster address (then `workers` actors, default one per free CPU or GPU).
    threads: CPU threads per worker (default: the cores divided among the local workers, 1 per
    Ray actor). progress: True = bar, False = plain lines, None = bar on a terminal.
    ray_cpus: CPUs of a local Ray instance (default: all).
    """
    from .engine.device import available_cores

    started = time.perf_counter()
    if workers < 1:
        raise BatchArgumentError("--workers must be at least 1")
    if threads is not None and threads < 1:
        raise BatchArgumentError("--threads must be at least 1")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BatchArgumentError(f"cannot create the output folder {out_dir}: {error.strerror}") from None
    model_name, model_ref = _model_for_workers(settings.model)
    settings = dataclasses.replace(settings, model=model_ref)

    results: dict[int, dict[str, Any]] = {}
    todo: list[tuple[int, BatchJob]] = []
    for index, job in enumerate(jobs):
        if resume and not job.reason and is_complete(job):
            results[index] = record(job, "skipped", "the result exists and is complete")
        else:
            todo.append((index, job))

    info: dict[str, Any] = {"workers": workers}
    if ray is not None:
        backend = "ray"
        per_worker = threads or 1
        runner: batch_runners.Results = batch_runners.ray_results(
            todo, settings, ray, workers if workers > 1 else None, per_worker, info, ray_cpus
        )
    elif workers > 1 and len(todo) > 1:
        backend = "processes"
        info["workers"] = min(workers, len(todo))
        per_worker = threads or max(1, available_cores() // workers)
        runner = batch_runners.process_results(todo, settings, info["workers"], per_worker)
    else:
        backend = "in-process"
        per_worker = threads or available_cores()
        runner = batch_runners.serial_results(todo, settings, per_worker)

    bar = Progress(len(jobs), progress)
    for index in sorted(results):  # already complete: counted at once
        bar.update(results[index])
    try:
        for index, rec in runner:
            results[index] = rec
            bar.update(rec)
    finally:
        runner.close()  # interrupted: stops the worker processes or the Ray instance now
        bar.close()
        for index, job in todo:
            results.setdefault(index, record(job, "skipped", "interrupted"))
        report = BatchReport(
            records=[results[i] for i in sorted(results)],
            model=model_name,
            backend=backend,
            workers=1 if backend == "in-process" else int(info["workers"]),
            threads=per_worker,
            elapsed_s=time.perf_counter() - started,
        )
        write_report(report, out_dir)
    return report
