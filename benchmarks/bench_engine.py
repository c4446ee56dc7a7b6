"""512 x 512 CPU time of the official-size DeepFill v2 generator: fuse on/off, fp32/bf16.

    python benchmarks/bench_engine.py [--size 512] [--repeats 3]

Random weights at the official size (cnum 48, TF SAME padding, 4.05 M parameters); the
attention layer's share is timed separately. Prints the median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.attention import contextual_attention  # noqa: E402
from app.engine.device import configure_cpu_threads, cpu_has_bf16  # noqa: E402
from app.engine.generator import Generator, GeneratorConfig  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = configure_cpu_threads()
    size = args.size
    torch.manual_seed(0)
    image = torch.rand(1, 3, size, size) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2, size // 4 : 3 * size // 4] = 1
    print(f"DeepFill v2 generator, {size}x{size}, CPU threads {threads}, torch {torch.__version__}")
    rows = []
    for fuse in (False, True):
        generator = Generator(GeneratorConfig(fuse=fuse)).eval()
        for bf16 in (False, True):
            if bf16 and not cpu_has_bf16():
                continue

            def run(generator=generator, bf16=bf16):
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                    generator(image, mask)

            rows.append((fuse, bf16, median_time(run, args.repeats)))
    feats = torch.randn(1, 96, size // 4, size // 4)
    small_mask = torch.nn.functional.max_pool2d(mask, 4)
    for fuse in (False, True):
        t = median_time(lambda fuse=fuse: contextual_attention(feats, feats, small_mask, fuse=fuse),
                        args.repeats)
        print(f"  contextual attention alone, fuse {'on ' if fuse else 'off'}: {t:6.3f} s")
    print(f"  {'fuse':5} {'dtype':6} {'seconds':>8}")
    for fuse, bf16, t in rows:
        print(f"  {'on' if fuse else 'off':5} {'bf16' if bf16 else 'fp32':6} {t:8.3f}")
    if cpu_has_bf16():
        generator = Generator(GeneratorConfig()).eval()
        with torch.inference_mode():
            ref = generator(image, mask).refined
            with torch.autocast("cpu", torch.bfloat16):
                low = generator(image, mask).refined.float()
        hole = mask.expand_as(ref) > 0
        err = (ref - low)[hole].abs()
        mse = float(((ref - low)[hole] ** 2).mean()) / 4.0  # [-1, 1] -> [0, 1] scale
        psnr = 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()
        print(f"  bf16 vs fp32 in the hole: mean |diff| {err.mean() * 127.5:.2f} / 255, "
              f"max {err.max() * 127.5:.1f} / 255, PSNR {psnr:.1f} dB (random weights)")
    for bf16 in (False, True):
        pair = {f: t for f, b, t in rows if b == bf16}
        if len(pair) == 2:
            extra = 100 * (pair[True] / pair[False] - 1)
            print(f"  fuse cost ({'bf16' if bf16 else 'fp32'}): {extra:+.1f}% over fuse off")


if __name__ == "__main__":
    main()
