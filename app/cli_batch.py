"""`python main.py batch PHOTOS --masks MASKS -o OUT_DIR`: fill a folder of photos.

Exit 0 when every photo succeeded (or was already done with --resume), 1 when some failed
(each listed in OUT_DIR/report.json with its reason), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_options import add_fill_options, fill_options


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "batch",
        help="fill a folder of photos (locally or on a Ray cluster)",
        description="Fill every photo in PHOTOS with its mask and write the results, under the "
        "photos' own names and formats with their metadata, to OUT_DIR, with OUT_DIR/report.json. "
        "Exit 0: all done; 1: some photos failed (see the report); 2: bad arguments.",
    )
    p.add_argument("photos", nargs="+", metavar="PHOTOS", help="folders of photos, or photo files")
    p.add_argument("--masks", required=True, metavar="MASKS",
                   help="folder with one mask per photo by file stem (any image format), or one "
                   "mask file for every photo")
    p.add_argument("--sketches", metavar="SKETCHES",
                   help="folder of sketches by file stem (photos without one get none), or one file")
    p.add_argument("-o", "--output-dir", required=True, metavar="OUT_DIR", help="results folder")
    p.add_argument("--resume", action="store_true",
                   help="skip photos whose result in OUT_DIR exists and is complete")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (or Ray actors), each loading the model once (default 1)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: alone, start a local Ray instance for the run; with ADDRESS "
                   "(auto, HOST:PORT, ray://HOST:10001), join that cluster. Put it after PHOTOS (or "
                   "write --ray=ADDRESS). Needs pip install \"deepfill-studio[ray]\"")
    p.add_argument("--progress", choices=("auto", "bar", "lines"), default="auto",
                   help="a progress bar (default on a terminal) or one line per photo")
    add_fill_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from .batch import BatchSettings, plan, run_batch

    options = fill_options(args)
    out_dir = Path(args.output_dir)
    jobs = plan(args.photos, args.masks, out_dir, args.sketches)
    settings = BatchSettings(
        model=args.model, device=args.device, options=options, quality=args.quality
    )
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    report = run_batch(
        jobs, settings, out_dir, resume=args.resume, workers=args.workers, ray=args.ray,
        threads=args.threads, progress=progress,
    )
    counts = ", ".join(f"{report.count(s)} {s}" for s in ("ok", "failed", "skipped"))
    rate = report.count("ok") / report.elapsed_s if report.elapsed_s > 0 else 0.0
    print(
        f"{len(report.records)} photos: {counts} in {report.elapsed_s:.1f} s "
        f"({rate:.2f} photos/s, {report.backend}, {report.workers} worker(s) x "
        f"{report.threads} thread(s), model {report.model}); report: {report.path}"
    )
    return report.exit_code
