"""Full-resolution fills (issue 4): wall time, peak memory and hole detail on the CPU.

    python benchmarks/bench_fullres.py [--model NAME_OR_PATH] [--photo PHOTO] [--repeats 3]

1. An 8K frame (7680 x 4320) with a ~10 % hole, end to end through the CLI
   (`python main.py inpaint ...`, JPEG in and out): wall time and peak memory (ru_maxrss of the
   child process), with the texture stage (the default; also with a sketched line across the
   hole), with CRA (--texture off) and with plain upsampling (--texture off --no-cra).
2. A 24 MP photo (6000 x 4000) with a small object (<= 300 px): request to result with the model
   already loaded, as the GUI sees it (median of the repeats after a warm-up).
3. Fine detail inside the 8K hole: mean absolute Laplacian of the real photo and of each result.

The frames are the bundled sample photo mirrored out to size, so they carry real full-resolution
detail. The model is --model, else the installed default, else random weights of the bundled
architecture (speed does not depend on the weights, but the detail numbers then only measure how
much high-frequency energy CRA transfers, not whether it is the right texture).
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT))

from app.engine.types import EngineError, InpaintRequest  # noqa: E402

SAMPLE = ROOT / "app" / "resources" / "sample" / "picos.jpg"


def mirrored(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """The photo reflected out to (height, width): real detail everywhere, no resampling."""
    ph, pw = max(0, height - photo.shape[0]), max(0, width - photo.shape[1])
    return np.ascontiguousarray(
        np.pad(photo, ((0, ph), (0, pw), (0, 0)), mode="symmetric")[:height, :width]
    )


def model_path(name: str | None, folder: Path) -> tuple[str, str]:
    """(path, description) of the model to use; random bundled-architecture weights as fallback."""
    from app.engine.checkpoints.models import resolve_model

    try:
        return str(resolve_model(name)), "installed"
    except EngineError:
        if name is not None:
            raise
    import torch

    from app.engine.checkpoints.weights import save_model
    from app.engine.networks.generator import Generator, GeneratorConfig

    torch.manual_seed(0)
    config = GeneratorConfig(
        cnum=24,
        in_channels=6,
        padding="reflect",
        coarse_gate="single",
        refine_gate="pixel",
        prefill="telea",
    )
    path = folder / "random-c24.pt"
    save_model(path, Generator(config).eval(), metadata={"name": "random-c24", "license": "test"})
    return str(path), "random weights, cnum 24 (no model installed)"


def run_cli(args: list[str], folder: Path) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak resident MB, stdout) of `python main.py ...` in a child process."""
    out_file, err_file = folder / "cli.out", folder / "cli.err"
    started = time.perf_counter()
    with open(out_file, "w") as out, open(err_file, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), *args], stdout=out, stderr=err, cwd=ROOT
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"CLI failed ({proc.returncode}): {err_file.read_text().strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024.0, out_file.read_text().strip()


def detail(image: np.ndarray, mask: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[mask].mean())


def bench_8k(model: str, photo: np.ndarray, folder: Path) -> None:
    h, w = 4320, 7680
    frame = mirrored(photo, h, w)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2 - 400, h // 2 + 200), (1300, 800), 15, 0, 360, 255, -1)
    frame_path, mask_path = folder / "frame8k.jpg", folder / "frame8k_mask.png"
    cv2.imwrite(str(frame_path), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(mask_path), mask)
    # A user's guide line across the hole, 8 px wide, from edge to edge.
    sketch = np.zeros((h, w), np.uint8)
    line = [(w // 2 - 1800, h // 2 + 600), (w // 2 - 400, h // 2 + 100), (w // 2 + 1000, h // 2)]
    cv2.polylines(sketch, [np.array(line, np.int32)], False, 255, 8)
    sketch_path = folder / "frame8k_sketch.png"
    cv2.imwrite(str(sketch_path), sketch)
    hole = mask > 0
    print(f"8K frame {w}x{h}, hole {hole.mean():.1%} of the frame")

    results = {}
    variants = (
        ("texture stage", [], "texture"),
        ("... with a sketch", ["--sketch", str(sketch_path)], "sketch"),
        ("CRA", ["--texture", "off"], "cra"),
        ("plain upsampling", ["--texture", "off", "--no-cra"], "plain"),
    )
    for label, extra, tag in variants:
        out_path = folder / f"out8k_{tag}.jpg"
        args = ["inpaint", str(frame_path), "--mask", str(mask_path), "-o", str(out_path)]
        wall, cpu, peak, stdout = run_cli(args + ["--model", model, *extra], folder)
        print(
            f"  CLI {label:17s}: {wall:5.2f} s wall ({cpu:5.2f} s CPU), peak {peak:5.0f} MB"
            f"   [{stdout.split('(', 1)[-1]}"
        )
        results[label] = cv2.imread(str(out_path))

    real = cv2.imread(str(frame_path))
    truth = detail(real, hole)
    print("  detail in the hole (mean |Laplacian|):")
    print(f"    real photo        {truth:6.2f}")
    for label, image in results.items():
        value = detail(image, hole)
        print(f"    {label:17s} {value:6.2f}  ({value / truth:.2f} of the real photo)")


def bench_24mp(model: str, photo: np.ndarray, repeats: int) -> None:
    from app.engine.inference.pipeline import Inpainter

    h, w = 4000, 6000
    frame = cv2.cvtColor(mirrored(photo, h, w), cv2.COLOR_BGR2RGB)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (4200, 2900), (140, 90), 30, 0, 360, 1, -1)  # 280 x 180 px object
    mask = mask.astype(bool)
    inpainter = Inpainter.load(model, "cpu")
    inpainter.run(InpaintRequest(frame, mask))  # warm-up: allocator, oneDNN kernels
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = inpainter.run(InpaintRequest(frame, mask))
        times.append(time.perf_counter() - started)
    stages = ", ".join(f"{k} {v:.3f}" for k, v in result.timings.items())
    print(
        f"24 MP {w}x{h}, object 280x180 px: {statistics.median(times):.3f} s median "
        f"(min {min(times):.3f}) request -> result, strategy {result.strategy}  [{stages}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--photo", default=str(SAMPLE))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", default=None, help="keep the frames and results in this folder")
    parser.add_argument(
        "--cores",
        type=int,
        default=0,
        help="pin this process and the CLI to the first N cores (0 = all); on a shared machine "
        "one pinned core gives steadier numbers than two contended ones",
    )
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    photo = cv2.imread(args.photo)
    if photo is None:
        raise SystemExit(f"cannot read {args.photo}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        model, how = model_path(args.model, folder)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"model: {model} ({how})")
        print(f"CPU cores available: {len(os.sched_getaffinity(0))}, load average {load}")
        bench_8k(model, photo, folder)
        bench_24mp(model, photo, args.repeats)


if __name__ == "__main__":
    main()
