"""The texture stage on real photos (issue 12): struct / swd / hf / seam and time, vs. OpenCV.

    python benchmarks/bench_texture.py PHOTOS [--set full|512|1024|both] [--limit N] [--save DIR]

Sets made here from the photos in PHOTOS (never commit them):
* full: each photo at its native size with three object-shaped holes of 0.2-1.2 % of the frame
  (a person, a rock, a sign), apart from each other; every method fills the same cases;
* 512: each photo at 512 px (long side) with two free-form holes of 8-34 % (`eval_mask`);
* 1024: the same at 1024 px, where auto runs the network natively; this set adds the resize
  strategy (downscaled to the working size, then CRA or the texture stage) for comparison.

Methods: OpenCV Telea (radius 5), the network alone (`--texture off`: CRA detail on full-size
photos), and the default (network + texture stage). Each runs through the same pipeline as the
CLI (`Inpainter.run`, strategy auto). Figures per hole from app/engine/training/fill_metrics.py
(mean struct and swd, median hf and seam, and struct's median beside its mean: a hole on flat
colour scores 45-110 dB and moves the mean alone), plus CPU seconds per photo (process time, so
other jobs on the machine count little) and whether any outside pixel changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.inference.pipeline import Inpainter  # noqa: E402
from app.engine.training.evaluate import list_images, read_rgb  # noqa: E402
from app.engine.training.fill_metrics import hole_figures, summarise  # noqa: E402
from app.engine.training.masks import blob_mask, eval_mask  # noqa: E402
from app.engine.types import InpaintOptions, InpaintRequest  # noqa: E402


def object_holes(h: int, w: int, seed: int) -> np.ndarray:
    """Three object-shaped holes, 0.2-1.2 % of the frame each, 20 px apart at least."""
    rng = np.random.default_rng(seed)
    total = np.zeros((h, w), bool)
    for _ in range(3):
        for _try in range(50):
            blob = blob_mask(h, w, rng, area=(0.002, 0.012))
            grown = cv2.dilate(blob.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
            if not (grown & total).any():
                total |= blob
                break
    return total


def cases(photos: list[Path], which: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for i, path in enumerate(photos):
        if which == "full":
            image = read_rgb(path)
            out.append((path.stem, image, object_holes(*image.shape[:2], 1000 + i)))
        else:
            image = read_rgb(path, int(which))
            for k in range(2):
                out.append((f"{path.stem}#{k}", image, eval_mask(*image.shape[:2], seed=i * 101 + k)))
    return out


def run(which: str, photos: list[Path], inpainter: Inpainter, save: Path | None) -> None:
    methods = {
        "telea": None,
        "network (--texture off)": InpaintOptions(texture=False),
        "network + texture": InpaintOptions(texture=True),
    }
    if which not in ("full", "512"):
        methods["resize, network + CRA"] = InpaintOptions(texture=False, strategy="resize")
        methods["resize, network + texture"] = InpaintOptions(texture=True, strategy="resize")
    psnr: dict[str, list[float]] = {m: [] for m in methods}
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    seconds: dict[str, float] = dict.fromkeys(methods, 0.0)
    changed = dict.fromkeys(methods, 0)
    all_cases = cases(photos, which)
    for name, image, mask in all_cases:
        for method, options in methods.items():
            started = time.process_time()
            if options is None:
                result = cv2.inpaint(image, mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
            else:
                result = inpainter.run(InpaintRequest(image, mask, options=options)).image
            seconds[method] += time.process_time() - started
            changed[method] += int((result[~mask] != image[~mask]).any())
            rows[method] += hole_figures(result, image, mask)
            err = (result[mask].astype(np.float64) - image[mask]) ** 2
            psnr[method].append(10 * np.log10(255.0**2 / max(err.mean(), 1e-6)))
            if save is not None:
                slug = method.replace(" ", "").replace("(--textureoff)", "").replace(",", "-")
                folder = save / which / slug
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(folder / f"{name.replace('#', '_')}.png"), result[..., ::-1])
    print(f"\n{which} set: {len(photos)} photos, {len(all_cases)} cases", flush=True)
    print(
        f"{'method':<28}{'PSNR dB':>9}{'struct dB':>10}{'median':>8}{'swd':>8}{'hf':>7}{'seam':>7}"
        f"{'CPU s/case':>12}{'outside':>9}"
    )
    for method in methods:
        s = summarise(rows[method])
        median = np.nanmedian([r["struct"] for r in rows[method]])
        print(
            f"{method:<28}{np.mean(psnr[method]):>9.2f}{s['struct']:>10.2f}{median:>8.2f}"
            f"{s['swd']:>8.3f}{s['hf']:>7.2f}{s['seam']:>7.2f}"
            f"{seconds[method] / len(all_cases):>12.2f}{changed[method]:>9}"
        )


TELEA_SCRIPT = (
    "import sys, cv2; im = cv2.imread(sys.argv[1]); m = cv2.imread(sys.argv[2], 0); "
    "cv2.imwrite(sys.argv[3], cv2.inpaint(im, m, 5, cv2.INPAINT_TELEA))"
)


def processes(photos: list[Path], folder: Path) -> None:
    """Wall time of one `python main.py inpaint` process per full-size case (PNG in and out, the
    defaults) against one Python process running OpenCV Telea on the same files."""
    import subprocess
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        work = Path(tmp)
        totals = {"telea": 0.0, "ours": 0.0, "ours --texture off": 0.0}
        all_cases = cases(photos, "full")
        for name, image, mask in all_cases:
            src, msk = work / f"{name}.png", work / f"{name}_mask.png"
            cv2.imwrite(str(src), image[..., ::-1])
            cv2.imwrite(str(msk), mask.astype(np.uint8) * 255)
            commands = {
                "telea": [sys.executable, "-c", TELEA_SCRIPT, str(src), str(msk), str(work / "t.png")],
                "ours": [sys.executable, str(ROOT / "main.py"), "inpaint", str(src), "--mask",
                         str(msk), "-o", str(work / "o.png")],
            }
            commands["ours --texture off"] = commands["ours"] + ["--texture", "off"]
            for method, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                totals[method] += time.perf_counter() - started
        n = len(all_cases)
        print(f"\nprocess wall time per photo ({n} full-size photos, PNG in and out):")
        for method, total in totals.items():
            print(f"  {method:<20} {total / n:6.2f} s   ({total / totals['telea']:.1f}x Telea)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", help="folder of photos (JPEG/PNG/WebP)")
    parser.add_argument("--set", choices=("full", "512", "768", "1024", "both", "none"), default="both")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos")
    parser.add_argument("--model", default=None)
    parser.add_argument("--save", default=None, help="write every result here")
    parser.add_argument("--processes", action="store_true",
                        help="also time whole CLI processes against an OpenCV Telea process")
    args = parser.parse_args()
    photos = list_images(args.photos)
    if args.limit:
        photos = photos[: args.limit]
    inpainter = Inpainter.load(args.model, "cpu")
    warm = np.full((64, 64, 3), 128, np.uint8)
    warm_mask = np.zeros((64, 64), bool)
    warm_mask[20:40, 20:40] = True
    inpainter.run(InpaintRequest(warm, warm_mask))  # compiles or loads the texture kernels
    save = Path(args.save) if args.save else None
    for which in {"both": ("full", "512"), "none": ()}.get(args.set, (args.set,)):
        run(which, photos, inpainter, save)
    if args.processes:
        processes(photos, Path(args.save) if args.save else Path("."))


if __name__ == "__main__":
    main()
