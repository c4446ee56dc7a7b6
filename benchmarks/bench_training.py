"""Training throughput: how fast crops are made (in this process and by worker processes) and
how long one optimiser step takes at each width, to size a run or a GPU burst.

    python benchmarks/bench_training.py --data PHOTOS [--crop 192] [--batch 8]
        [--workers 0 2] [--cnum 24 32] [--device auto] [--seconds 20] [--channels-last off auto]

The crops use run Z6's recipe (user-like and Canny sketches, the carried pre-fill; 203 of its
photos make ~0.8 GB of RAM at four sizes). Prints crops/s per stream and the median step time.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.device import select_device  # noqa: E402
from app.engine.training.batches import batch_stream  # noqa: E402
from app.engine.training.evaluate import list_images, split_holdout  # noqa: E402
from app.engine.training.train import CropSampler, TrainConfig, Trainer  # noqa: E402


def crops_per_second(sampler: CropSampler, batch: int, workers: int, seconds: float) -> float:
    stream = batch_stream(sampler, batch, np.random.default_rng(0), workers, seed=0)
    next(stream)  # the workers' start-up and first crops are not throughput
    start, made = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        next(stream)
        made += batch
    rate = made / (time.perf_counter() - start)
    stream.close()
    return rate


def step_seconds(cfg: TrainConfig, batch: dict, repeats: int = 5) -> float:
    trainer = Trainer(cfg)
    trainer.train_step(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_step(batch)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--cnum", type=int, nargs="+", default=[24, 32])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--channels-last", nargs="+", default=["off", "auto"],
                   help="memory layouts to time the step in (auto: channels-last on the CPU)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(crop=args.crop, batch=args.batch, sketch_style="mix", sketch_prefill=True,
                      refine_sketch=True, mask_scale=(0.75, 2.0), threads=args.threads,
                      device=select_device(args.device).type)
    paths = split_holdout(list_images(args.data))[0]
    start = time.perf_counter()
    sampler = CropSampler(paths, cfg)
    print(f"{len(paths)} photos, {len(sampler.images)} scaled copies, loaded in "
          f"{time.perf_counter() - start:.1f} s")
    for workers in args.workers:
        rate = crops_per_second(sampler, args.batch, workers, args.seconds)
        print(f"crops at {args.crop} px, {workers} workers: {rate:.1f} crops/s")
    batch = sampler.sample(np.random.default_rng(1), args.batch)
    for cnum in args.cnum:
        for layout in args.channels_last:
            seconds = step_seconds(dataclasses.replace(cfg, cnum=cnum, channels_last=layout), batch)
            print(f"step, cnum {cnum}, batch {args.batch} at {args.crop} px on {cfg.device}, "
                  f"channels-last {layout}: {seconds:.3f} s ({args.batch / seconds:.1f} crops/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
