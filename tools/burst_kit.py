"""Pack what a training burst on a lent GPU machine needs into one ignored folder of the repository.

    python tools/burst_kit.py TRAIN_DIR --init MODEL.pt [--out burst]

The device machine receives the working tree plus the ignored paths a call names (64 MiB in all)
and can reach nothing else, so the kit holds:

- data/     the training photos, their long side cut to 1024 px (the largest size training keeps
            in RAM) as JPEG quality 92, under their own names, so the held-out split (sorted
            names, every 7th) is the same photos (checked); credit files are copied along;
- init.pt   the model the burst fine-tunes;
- wheels/   the pure-Python packages the training code imports that the machine's image lacks
            (platformdirs), installed by tools/train_burst.sh before it trains.

Then on the machine: `bash tools/train_burst.sh OUT MINUTES` (docs/training.md, "A training burst
on a GPU"). Never commit the kit: the photos are not ours to redistribute there.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.training.evaluate import list_images, split_holdout  # noqa: E402

LONG_SIDE = 1024
QUALITY = 92
LIMIT_MB = 64  # what one device call may carry, the repository's tracked files included
WHEELS = ("platformdirs",)


def pack_photos(source: Path, target: Path, long_side: int = LONG_SIDE) -> list[Path]:
    """Every photo of `source` (links followed) as a JPEG of at most `long_side` px in
    `target`, named `<stem>.jpg`; the held-out split must stay the same photos."""
    target.mkdir(parents=True, exist_ok=True)
    photos = list_images(source)
    written = []
    for path in photos:
        image = cv2.imread(str(path.resolve()), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"cannot read {path}")
        scale = long_side / max(image.shape[:2])
        if scale < 1:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        out = target / f"{path.stem}.jpg"
        if out in written:
            raise SystemExit(f"two photos would both be {out.name}")
        cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        written.append(out)
    before = [p.stem for p in split_holdout(photos)[1]]
    after = [p.stem for p in split_holdout(list_images(target))[1]]
    if before != after:
        raise SystemExit("the packed names change the held-out split: rename the photos first")
    for credits in source.glob("CREDITS*"):
        shutil.copyfile(credits.resolve(), target / credits.name)
    return written


def download_wheels(target: Path) -> None:
    """Pure-Python wheels (any platform) of WHEELS, from the package index pip is set up with."""
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(target), *WHEELS],
        check=True,
    )


def tracked_bytes() -> int:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    paths = [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    return sum(path.stat().st_size for path in paths if path.exists())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="folder of training photos (links are followed)")
    p.add_argument("--init", type=Path, required=True, help="model file the burst fine-tunes")
    p.add_argument("--out", type=Path, default=ROOT / "burst")
    p.add_argument("--long-side", type=int, default=LONG_SIDE)
    p.add_argument("--no-wheels", action="store_true", help="skip downloading the wheels")
    args = p.parse_args(argv)
    for path, what in ((args.data, "photo folder"), (args.init, "model file")):
        if not path.exists():
            print(f"burst_kit: error: no such {what}: {path}", file=sys.stderr)
            return 2
    if args.out.exists():  # checked inputs first: a mistyped path must not cost the old kit
        shutil.rmtree(args.out)
    photos = pack_photos(args.data, args.out / "data", args.long_side)
    shutil.copyfile(args.init, args.out / "init.pt")
    if not args.no_wheels:
        download_wheels(args.out / "wheels")
    kit = folder_bytes(args.out)
    total = kit + tracked_bytes()
    print(f"{args.out}: {len(photos)} photos, {kit / 2**20:.1f} MiB "
          f"({total / 2**20:.1f} MiB with the repository; a call carries {LIMIT_MB} MiB)")
    if total > LIMIT_MB * 2**20:
        print("too large to carry: lower --long-side", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
