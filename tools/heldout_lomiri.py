"""Build the lomiri held-out set: 14 wallpapers of Debian's lomiri-wallpapers, for evaluation only.

    apt-get download lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04
    for f in lomiri-wallpapers*.deb; do dpkg-deb -x "$f" lomiri; done
    python tools/heldout_lomiri.py OUT_DIR --backgrounds lomiri/usr/share/backgrounds
    python main.py eval --data OUT_DIR --split all --texture off

The 14 files below are the set every round's "lomiri" figures were measured on (docs/training.md;
2 masks per photo: Telea 20.02 dB hole PSNR, image SSIM 0.9366; 6 masks, seed 2026: Telea
20.17). Their names and sort order decide each case's mask, so the files are linked under their
own names, unchanged. Licences (the packages' copyright file): CC-BY-4.0 (the five by Aitzol
Berasategi, Wine, umang), CC-BY-SA-4.0 (Bridge, Dragonfly, free, greentock), CC-BY-SA-3.0
(Fossa, Kleiber), CC0-1.0 (seeding).

Never train on them or pick a checkpoint with them alone; nothing here is committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LOMIRI_SET = (
    "Bridge_by_Sander_Klootwijk.jpg",
    "Dragonfly_by_Bolly.jpg",
    "Fossa_by_Jasper_Roks.jpg",
    "Kleiber_by_Lukas_Baubkus.jpg",
    "Wine_by_Jakkub_Mede.jpg",
    "aitzgorri_by_Aitzol_Berasategi.jpg",
    "free_by_Peter_Nerlich.jpg",
    "friends_by_Aitzol_Berasategi.jpg",
    "greentock_by_Peter_Nerlich.jpg",
    "life_by_Aitzol_Berasategi.jpg",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "seeding_by_Clements_Engelhardt.jpg",
    "sunset_by_Aitzol_Berasategi.jpg",
    "umang_by_Abhishek_Mudgal.jpg",
)


def build(backgrounds: Path, out: Path) -> list[Path]:
    """Link the set's files from `backgrounds` (the packages' usr/share/backgrounds) into `out`."""
    missing = [name for name in LOMIRI_SET if not (backgrounds / name).is_file()]
    if missing:
        raise FileNotFoundError(f"not in {backgrounds}: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name in LOMIRI_SET:
        link = out / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to((backgrounds / name).resolve())
        made.append(link)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the set's links into")
    parser.add_argument("--backgrounds", type=Path, required=True,
                        help="usr/share/backgrounds of the three unpacked packages")
    args = parser.parse_args(argv)
    try:
        made = build(args.backgrounds, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(made)} photos in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
