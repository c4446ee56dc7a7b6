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

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.device import configure_cpu_threads, cpu_has_bf16  # noqa: E402
from app.engine.networks.attention import contextual_attention  # noqa: E402
from app.engine.networks.generator import Generator, GeneratorConfig  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


REFERENCE = ROOT.parent / "shared" / "fixtures" / "deepfillv2_official_layout_reference.pt"


def print_bf16_quality(image: torch.Tensor, mask: torch.Tensor) -> None:
    """bf16 vs fp32 in the hole, with weights whose activations keep unit scale (the reference
    fixture's, when present; default-initialised random weights output a flat grey) and with
    the bundled model on the sample photo."""
    from app.engine.inference.pipeline import Inpainter
    from app.engine.types import InpaintOptions, InpaintRequest
    from app.imageio import load_image, load_mask

    generator = Generator(GeneratorConfig()).eval()
    label = "default-initialised random weights"
    if REFERENCE.exists():
        generator.load_state_dict(torch.load(REFERENCE, weights_only=False)["G"])
        label = "reference fixture weights"
    with torch.inference_mode():
        ref = generator(image, mask).refined
        with torch.autocast("cpu", torch.bfloat16):
            low = generator(image, mask).refined.float()
    hole = mask.expand_as(ref) > 0
    err = (ref - low)[hole].abs() * 127.5
    print(f"  bf16 vs fp32 in the hole ({label}): mean |diff| {err.mean():.2f} / 255, "
          f"max {err.max():.1f} / 255")
    sample = ROOT / "app" / "resources" / "sample" / "picos.jpg"
    try:
        inpainter = Inpainter.load(None, "cpu")
    except Exception as error:  # noqa: BLE001 - no bundled model: skip this line
        print(f"  (bundled model not measured: {error})")
        return
    photo = load_image(sample).rgb
    hole_mask = load_mask(sample.with_name("picos_mask.png"), (photo.shape[1], photo.shape[0]))
    outs = []
    for bf16 in (False, True):
        options = InpaintOptions(strategy="resize", bf16=bf16)
        outs.append(inpainter.run(InpaintRequest(photo, hole_mask, options=options)).image)
    diff = np.abs(outs[0].astype(int) - outs[1].astype(int))[hole_mask]
    mse = float((diff.astype(float) ** 2).mean())
    psnr = 10 * np.log10(255**2 / mse) if mse else float("inf")
    print(f"  bf16 vs fp32, bundled model on the sample photo (resize + CRA): mean |diff| "
          f"{diff.mean():.2f} / 255, PSNR between them {psnr:.1f} dB")


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
        print_bf16_quality(image, mask)
    for bf16 in (False, True):
        pair = {f: t for f, b, t in rows if b == bf16}
        if len(pair) == 2:
            extra = 100 * (pair[True] / pair[False] - 1)
            print(f"  fuse cost ({'bf16' if bf16 else 'fp32'}): {extra:+.1f}% over fuse off")


if __name__ == "__main__":
    main()
