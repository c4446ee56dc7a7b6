"""At what scale should crop windows run? Object removal on full-resolution photos.

    python benchmarks/bench_windows.py PHOTO_OR_DIR [...] [--model NAME_OR_PATH]
        [--sides 0 1024] [--topk 16] [--masks 3] [--max-side 6000] [--panels DIR] [--json FILE]

Each photo (a folder of the training data counts only its held-out photos) gets seeded
object-shaped holes of three sizes (small / medium / large: about 0.3 %, 1.2 % and 4 % of the
frame), filled by the crop strategy with `strategies.TEXTURE_SIDE` set to each of --sides
(0 = always native) and by the resize strategy (the whole photo downscaled + CRA). Per method:
hole PSNR and SSIM against the real photo, and hole detail = mean |Laplacian| of the fill over
that of the photo, summed over the cases (1 = as much fine detail as the truth; a smooth blob scores well below 1 and
PSNR rewards it anyway, which is why both are printed). --panels writes, per case, the photo,
the hole and each method's fill side by side (cropped around the hole).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.inference import strategies  # noqa: E402
from app.engine.training.evaluate import list_images, psnr, read_rgb, split_holdout, ssim  # noqa: E402
from app.engine.training.masks import blob_mask  # noqa: E402
from app.engine.types import InpaintOptions, InpaintRequest  # noqa: E402

SIZES = {"small": (0.002, 0.004), "medium": (0.008, 0.016), "large": (0.03, 0.05)}


def photos(items: list[str]) -> list[Path]:
    """Files as given; folders -> their held-out photos (all photos if the split keeps none)."""
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
            held = split_holdout(found)[1]
            out += held or found
        else:
            out.append(path)
    return out


def detail(image: np.ndarray, mask: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[mask].mean())


def hole_box(mask: np.ndarray, pad: float = 0.6) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    m = int(pad * max(y1 - y0, x1 - x0))
    h, w = mask.shape
    return slice(max(0, y0 - m), min(h, y1 + m)), slice(max(0, x0 - m), min(w, x1 + m))


def panel(truth: np.ndarray, mask: np.ndarray, fills: dict[str, np.ndarray], height: int = 320):
    ys, xs = hole_box(mask)
    holed = truth.copy()
    holed[mask] = (255, 255, 255)
    tiles = [("photo", truth), ("hole", holed)] + list(fills.items())
    row = []
    for name, img in tiles:
        crop = img[ys, xs]
        w = max(1, round(crop.shape[1] * height / crop.shape[0]))
        tile = cv2.resize(crop, (w, height), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
        cv2.putText(tile, name, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        row.append(tile)
        row.append(np.full((height, 4, 3), 255, np.uint8))
    return np.concatenate(row[:-1], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("photos", nargs="+")
    ap.add_argument("--model", default=None)
    ap.add_argument("--sides", type=int, nargs="+", default=[0, 1024])
    ap.add_argument("--topk", type=int, nargs="+", default=[16], help="CRA keys per query cell")
    ap.add_argument("--masks", type=int, default=1, help="holes per size per photo")
    ap.add_argument("--max-side", type=int, default=6000)
    ap.add_argument("--no-resize", action="store_true", help="skip the whole-photo resize method")
    ap.add_argument("--panels", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from app.engine.inference.pipeline import Inpainter

    torch.set_num_threads(1)
    inpainter = Inpainter.load(args.model, "cpu")
    tag = (lambda k: f"/k{k}") if len(args.topk) > 1 else (lambda k: "")
    methods = {f"crop@{s or 'native'}{tag(k)}": (s, k) for s in args.sides for k in args.topk}
    if not args.no_resize:
        methods.update({f"resize{tag(k)}": (None, k) for k in args.topk})
    if args.panels:
        Path(args.panels).mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    original_side = strategies.TEXTURE_SIDE
    for i, path in enumerate(photos(args.photos)):
        truth = read_rgb(path)
        if max(truth.shape[:2]) > args.max_side:
            truth = read_rgb(path, args.max_side)
        h, w = truth.shape[:2]
        for size, area in SIZES.items():
            for k in range(args.masks):
                rng = np.random.default_rng([args.seed, i, k, list(SIZES).index(size)])
                mask = blob_mask(h, w, rng, area)
                fills = {}
                for name, (side, topk) in methods.items():
                    strategies.TEXTURE_SIDE = side if side else 10**9
                    strategy = "resize" if side is None else "crop"
                    options = InpaintOptions(strategy=strategy, grow_mask=0, cra_topk=topk)
                    request = InpaintRequest(truth, mask, options=options)
                    started = time.perf_counter()
                    out = inpainter.run(request).image
                    seconds = time.perf_counter() - started
                    fills[name] = out
                    # Metrics on the hole's surroundings only: SSIM of a 24 MP frame is slow.
                    box = hole_box(mask, 0.1)
                    o, t, m = out[box], truth[box], mask[box]
                    rows.append({
                        "photo": path.name, "size": size, "case": k, "method": name,
                        "psnr": psnr(o, t, m), "ssim": ssim(o, t, m),
                        "detail": detail(o, m), "truth_detail": detail(t, m),
                        "seconds": seconds,
                    })
                strategies.TEXTURE_SIDE = original_side
                line = " ".join(
                    f"{r['method']} {r['psnr']:.2f}/{r['detail']:.2f}"
                    for r in rows[-len(methods):]
                )
                print(f"{path.name} {w}x{h} {size}#{k}: {line}", flush=True)
                if args.panels:
                    name = f"{path.stem}_{size}{k}.png"
                    tile = panel(truth, mask, fills)
                    cv2.imwrite(str(Path(args.panels) / name), tile[..., ::-1])

    print(f"\n{'method':<18} {'size':<7} {'hole PSNR':>9} {'SSIM':>7} {'detail':>7} {'s/fill':>7}")
    for size in [*SIZES, "all"]:
        for name in methods:
            sel = [r for r in rows if r["method"] == name and size in (r["size"], "all")]
            if not sel:
                continue
            mean = {k: float(np.mean([r[k] for r in sel])) for k in ("psnr", "ssim")}
            # Ratio of sums: flat holes (sky) would make per-case ratios explode.
            mean["detail"] = sum(r["detail"] for r in sel) / sum(r["truth_detail"] for r in sel)
            secs = float(np.mean([r["seconds"] for r in sel]))
            print(f"{name:<18} {size:<7} {mean['psnr']:9.2f} {mean['ssim']:7.4f} "
                  f"{mean['detail']:7.2f} {secs:7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
