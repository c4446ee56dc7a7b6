"""Batch throughput: photos per second for 1 worker, 2 workers and Ray, through `batch` itself.

    python benchmarks/bench_batch.py [--photos 8] [--size 1024] [--model NAME_OR_PATH] [--no-ray]

The photos are the bundled sample (scaled to --size on the long side) in mirrored and shifted
variants, each with its own mask, written as JPEG. Every configuration is a separate
`python main.py batch` process, timed end to end as a user sees it (start-up, model loads,
worker start, reading, filling, writing); the per-photo fill times come from report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "app" / "resources" / "sample"


def make_photos(folder: Path, count: int, size: int) -> tuple[Path, Path]:
    photo = cv2.imread(str(SAMPLE / "picos.jpg"))
    mask = cv2.imread(str(SAMPLE / "picos_mask.png"), cv2.IMREAD_GRAYSCALE)
    scale = size / max(photo.shape[:2])
    dsize = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    photo = cv2.resize(photo, dsize, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, dsize, interpolation=cv2.INTER_NEAREST)
    photos, masks = folder / "photos", folder / "masks"
    photos.mkdir()
    masks.mkdir()
    for i in range(count):
        p, m = photo, mask
        if i % 2:
            p, m = p[:, ::-1], m[:, ::-1]
        shift = (i // 2) * 37
        p, m = np.roll(p, shift, axis=1), np.roll(m, shift, axis=1)
        cv2.imwrite(str(photos / f"shot_{i:03d}.jpg"), p, [cv2.IMWRITE_JPEG_QUALITY, 92])
        cv2.imwrite(str(masks / f"shot_{i:03d}.png"), m)
    return photos, masks


def run(photos: Path, masks: Path, out: Path, extra: list[str], model: str | None) -> dict:
    args = [sys.executable, str(ROOT / "main.py"), "batch", str(photos), "--masks", str(masks),
            "-o", str(out), "--progress", "lines", *extra]
    if model:
        args += ["--model", model]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(extra)} failed:\n{proc.stdout}\n{proc.stderr}")
    report = json.loads((out / "report.json").read_text())
    fills = [r["timings"]["fill"] for r in report["photos"] if r["status"] == "ok"]
    return {"wall": wall, "ok": report["counts"]["ok"], "fill": statistics.median(fills),
            "workers": report["workers"], "threads": report["threads_per_worker"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024, help="long side of the photos")
    parser.add_argument("--model", help="model name or file (default: the installed default)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray configuration")
    args = parser.parse_args()
    configs = [
        ("1 worker x 2 threads", ["--workers", "1", "--threads", "2"]),
        ("1 worker x 1 thread", ["--workers", "1", "--threads", "1"]),
        ("2 workers x 1 thread", ["--workers", "2", "--threads", "1"]),
    ]
    if not args.no_ray:
        configs.append(("Ray, local, 2 actors x 1 thread", ["--ray", "--workers", "2"]))
    print(f"{args.photos} photos, long side {args.size} px, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        photos, masks = make_photos(Path(tmp), args.photos, args.size)
        for i, (label, extra) in enumerate(configs):
            r = run(photos, masks, Path(tmp) / f"out{i}", extra, args.model)
            print(f"  {label:<32} {r['ok'] / r['wall']:.3f} photos/s  "
                  f"({r['wall']:.1f} s wall for {r['ok']}, median fill {r['fill']:.2f} s)")


if __name__ == "__main__":
    main()
