"""Build the extra training photos: everyday photographs from openly licensed Debian packages.

    python tools/extra_training_photos.py OUT_DIR --work SCRATCH_DIR
    python main.py train --data OUT_DIR ...   (beside the wallpapers' training split)

- gcompris-qt-data 3.1-2 (the GCompris educational suite): 122 photos of animals, monuments,
  landmarks, musicians and the sea from its activities, each under the licence that the
  activity's `resource/README` gives for the file (public domain, CC0, CC-BY, CC-BY-SA; Wikimedia
  Commons sources). The data ships as Qt resource bundles (`rcc/*.rcc`); Qt reads them.
- stellarium-data 0.22.2-1 (GPL-2+): the four slices of the "Garching" panorama (a rapeseed
  field), cut to their opaque rows (the sky is transparent).
- 45 photos stored as plain files: tuxtype-data (13 Wikimedia Commons landscapes, CC-BY /
  CC-BY-SA / public domain per its doc/AUTHORS), kphotoalbum's demo album (23; CC-BY-SA-4.0
  upstream, GPL-2+ in Debian), scribus-template (6, public domain), gimp-help-en (2, GFDL-1.2+)
  and python-matplotlib-data (1, public domain).
- lxqt-themes 1.2.0-1: the 11 photographs among LXQt's wallpapers (skies, mountains, fog,
  flowers, butterflies, a dew drop; CC-BY-SA-3.0 per the wallpapers' own License file, LGPL-2.1+
  in Debian's copyright), added in round 25.
- palapeli-data 4:22.12.3-1 (KDE's jigsaw puzzle): its 5 puzzle photos (a castle, a bridge at
  night, citrus slices, a bee, a chameleon; public domain or GFDL per each puzzle's .desktop
  file, Wikimedia Commons), and python3-sklearn 1.2.1+dfsg-1: scikit-learn's two sample photos
  (a pagoda, a dahlia; CC-BY-2.0), added in round 26.

Selection is by the explicit lists below (photographs only: no paintings, drawings, cut-outs,
near-duplicates or photos under 400 px), so the set is the same on every machine; the packages
are pinned by version and sha256. Writes sRGB JPEGs (quality 92, long side at most 1600 px)
named `<prefix>-<name>.jpg` and `CREDITS.md` (licence, author and source per file) into OUT_DIR.
Never commit the photos, and never add the held-out sets' packages (lomiri-wallpapers,
jigzo-data, scikit-image's data) here.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from PIL import Image

PACKAGES = {  # name: (version, sha256 of the .deb)
    "gcompris-qt-data": ("3.1-2", "e9cf06ab2105529068df73085784e835d2ff03f870d2a8091f09125d40abac9f"),
    "stellarium-data": ("0.22.2-1", "45aaebf39a814acbd6dcccea058c2f5651bcb5635599da03a215feeb51f4d5a5"),
    "tuxtype-data": ("1.8.3-5.1", "62f85e2c6d6820efbaf1d914039b50c070bf5899b1d1d14aea00cebca14f4c78"),
    "kphotoalbum": ("5.9.1-1", "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43"),
    "scribus-template": ("1.2.4.1-6", "683bf35e43867cb17613d6807aa0238720d8526b1f524b9376404747a3e6128b"),
    "gimp-help-en": ("2.10.34-2", "a2deec76763aaf2fcdd197bac0736cdcb0770ba993d48d233329e1c92b0bfe36"),
    "python-matplotlib-data": ("3.6.3-1", "e4150fcebd35ea11e0f66268da97ce62f98a4cf530c944f755f241da1a9158f9"),
    "lxqt-themes": ("1.2.0-1", "d518df36b515b09d36cb00b12645dd8ce170bb82bb0966297741905ce3edc8e1"),
    "palapeli-data": ("4:22.12.3-1", "69a15dce2ac25ed8708ac518cd0cee5f4eb0c70ed15da2fdb8899a19ac0ee058"),
    "python3-sklearn": ("1.2.1+dfsg-1", "ca0c6be401d14871c7e93cfdd8d1f561595dc65e6e2ad2501d568aee7f7efc58"),
}
GC_RCC = "usr/share/gcompris-qt/rcc"
GC_ACTIVITIES = "gcompris/src/activities"
# activity: (folder holding the photos and their README, photo stems)
GCOMPRIS = {
    "erase": ("erase/resource", [
        "alpaca", "bee", "butterfly", "calf", "camels", "caterpillar", "chamaeleon", "cheetah",
        "crab", "dolphin", "flying_fox", "gibbon", "giraffe", "goat", "gorilla", "gosling",
        "heron", "horse", "kingfisher", "kitten", "long_nosed_monkey", "macaque", "meerkats",
        "northern_harrier", "nubian_ibex", "penguin", "pika", "red_panda", "rhinoceros",
        "spoonbills", "squirrel", "swans", "toucan"]),
    "explore_monuments": ("explore_monuments/resource", [
        "egypt/bentPyramid", "egypt/greatPyramidOfGiza", "egypt/meidumPyramid", "egypt/redPyramid",
        "france/arlesAmphitheater", "france/chateaudeChambord", "france/chateaudeChenonceau",
        "france/citedeCarcassonne", "france/eiffelTower", "france/montStMichel",
        "france/palaisdesPapes", "france/pontduGard", "france/reimsCathedral", "france/rocamadour",
        "germany/aulaPalatina", "germany/berlinCathedral", "germany/brandenburgGate",
        "germany/neuschwansteinCastle", "germany/schwerinPalace", "germany/trierImperialBaths",
        "germany/wormsCathedral", "india/ajantaCave", "india/charminar", "india/gatewayofIndia",
        "india/goldenTemple", "india/greatStupa", "india/hawaMahal", "india/konarkSunTemple",
        "india/mysorePalace", "india/qutubMinar", "india/rangGhar", "india/victoriaMemorial",
        "usa/canyondeChelly", "usa/castillodeSanMarcos", "usa/fortSumter",
        "usa/georgeWashingtonBirthplace", "usa/lincolnMemorial", "usa/mountRushmore", "usa/navajo",
        "usa/statueofLiberty", "wonders/chichenItza", "wonders/christTheRedeemer",
        "wonders/colosseum", "wonders/greatWallofChina", "wonders/machuPicchu", "wonders/petra",
        "wonders/tajMahal"]),
    "explore_world_animals": ("explore_world_animals/resource/animals", [
        "bison", "chameleon", "crocodile", "dragon", "giraffe", "hedgehog", "jaguar", "kangaroo",
        "koala", "lemur", "moose", "narwhal", "panda", "polar_bear", "scarlet_macaw"]),
    "explore_farm_animals": ("explore_farm_animals/resource/animals", [
        "cat", "chicken", "cow", "dog", "duck", "horse", "owl", "pig", "sheep"]),
    "explore_world_music": ("explore_world_music/resource/music", [
        "africa", "america", "australia", "ireland", "italy", "japan", "mexico", "orchestra"]),
    "clickgame": ("clickgame/resource", ["sea1", "sea2", "sea3", "sea4", "sea5", "sea6"]),
    "details": ("details/resource/image", [
        "EgeskovSlotSpejling_background", "EilanDonanCastle_background",
        "GizahPyramids_background", "TajMahal_background"]),
}
README_ALIASES = {"germany/aulaPalatina.webp": "germany/audaPalatina.webp"}  # upstream's typo
GARCHING = "usr/share/stellarium/landscapes/garching"
GARCHING_SLICES = ("garching-gl1", "garching-gl2", "garching-gl3", "garching-gl4")
GARCHING_OPAQUE = (0, 64, 1024, 512)  # rows 64-511 are opaque in every slice
# Photos stored as plain files: package: (name prefix, folder, default (licence, author) or None,
# {file: (licence, author) or None for the default}, {file: clockwise rotation}).
PLAIN = {
    # Wikimedia Commons photos: each file's licence and author as tuxtype's doc/AUTHORS lists them.
    "tuxtype-data": ("tuxtype", "usr/share/tuxtype/images", None, {
        "kcas0.jpg": ("CC-BY-3.0", "Ilya Haykinson"), "kcas1.jpg": ("CC-BY-SA-3.0", "Noodle snacks"),
        "kcas2.jpg": ("CC-BY-SA-3.0", "Tobias Alt"), "kcas3.jpg": ("CC-BY-3.0", "Luca Galuzzi"),
        "kcas4.jpg": ("CC-BY-SA-3.0", "Tobias Alt"), "kcas5.jpg": ("CC-BY-SA-3.0", "Noodle snacks"),
        "kcas6.jpg": ("CC-BY-SA-3.0", "Jakub Hejtmánek"), "kcas7.jpg": ("Public domain", "US NSF"),
        "kcas8.jpg": ("CC-BY-3.0", "Christian Mehlführer"), "kcas9.jpg": ("CC-BY-3.0", "Kim Hansen"),
        "kcas10.jpg": ("CC-BY-SA-3.0", "Chmee2"), "kcas11.jpg": ("CC-BY-3.0", "Jialiang Gao"),
        "hidden.jpg": ("Public domain", "NOAA / US Fish and Wildlife Service"),
    }, {}),
    # KPhotoAlbum's demo album (upstream REUSE: CC-BY-SA-4.0; Debian: GPL-2+); the rotations are
    # the album's own (demo/index.xml).
    "kphotoalbum": ("kphotoalbum", "usr/share/kphotoalbum/demo", ("CC-BY-SA-4.0", "Jesper K. Pedersen"),
                    dict.fromkeys([
                        "anne_helene.jpg", "bar55.jpg", "blackie.jpg", "cold_water.jpg", "donna.jpg",
                        "donna_2.jpg", "grand_canyon_1.jpg", "grand_canyon_2.jpg", "grand_canyon_3.jpg",
                        "jesper.jpg", "jesper_2.jpg", "new_wave_1.jpg", "new_wave_2.jpg", "pool.jpg",
                        "pool_2.jpg", "qt-logo.jpg", "skagen.jpg", "skagen_2.jpg", "snow.jpg", "spiff.jpg",
                        "spiff_2.jpg", "sunset.jpg", "wayne.jpg"]),
                    {"grand_canyon_1.jpg": 180, "new_wave_1.jpg": 90, "pool_2.jpg": 270, "wayne.jpg": 90}),
    "scribus-template": ("scribus", "usr/share/scribus/templates", ("Public domain", "Riku Leino"),
                         dict.fromkeys(["br2/brightness.jpg", "br2/halfmoon.jpg", "br2/nature.jpg",
                                        "br2/sunset.jpg", "cal2/moon.jpg", "menu2/pizza.jpg"]), {}),
    "gimp-help-en": ("gimphelp", "usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping",
                     ("GFDL-1.2+", "The GIMP Documentation Team"),
                     dict.fromkeys(["power-lines.jpg", "apple-orchard-truck-tone-mapped-with-Exposur.jpg"]), {}),
    "python-matplotlib-data": ("matplotlib", "usr/share/matplotlib/mpl-data/sample_data",
                               ("Public domain", "US Navy (Wikimedia Commons)"), {"grace_hopper.jpg": None}, {}),
    # The wallpapers' License file: "Copyright 2022: LXQt Project Team", CC-BY-SA-3.0, crediting
    # stefonarch for eight of the photos; the other three are credited to the team (and the
    # photographer the file name gives). The logos, polygons and waves are not photographs.
    "lxqt-themes": ("lxqt", "usr/share/lxqt/wallpapers", ("CC-BY-SA-3.0", "stefonarch (LXQt Project)"), {
        **dict.fromkeys(["after-the-rain.jpg", "appleflower.png", "beam.png", "butterfly.png", "drop.png",
                         "flowers.png", "fog.jpg", "this-is-not-windows.jpg"]),
        "Valendas.png": ("CC-BY-SA-3.0", "LXQt Project Team"),
        "cloud.png": ("CC-BY-SA-3.0", "LXQt Project Team"),
        "Butterfly-Kenneth-Wimer.jpg": ("CC-BY-SA-3.0", "Kenneth Wimer (LXQt Project Team)"),
    }, {}),
    # Palapeli's puzzle photos: licence, author and Commons source from each puzzle's .desktop file.
    "palapeli-data": ("palapeli", "usr/share/palapeli/collection", None, {
        "castle-maintenon.jpg": ("GFDL", "Eric Pouhier"),
        "cincinnati-bridge.jpg": ("Public domain", "Derek Jensen"),
        "citrus-fruits.jpg": ("Public domain", "US Department of Agriculture"),
        "european-honey-bee.jpg": ("Public domain", "John Severns"),
        "panther-chameleon-female.jpg": ("GFDL", "B. Navez and others"),
    }, {}),
    # scikit-learn's two sample photos (Flickr, CC-BY-2.0 per datasets/images/README.txt, whose
    # flower credit names the China photo's author but links vultilion's photostream).
    "python3-sklearn": ("sklearn", "usr/lib/python3/dist-packages/sklearn/datasets/images", None, {
        "china.jpg": ("CC-BY-2.0", "danielbuechele (Flickr)"),
        "flower.jpg": ("CC-BY-2.0", "vultilion (Flickr)"),
    }, {}),
}
MAX_SIDE, MIN_SHORT = 1600, 400


def download(name: str, work: Path) -> Path:
    """The pinned .deb of `name` in `work` (apt-get download, no root), checked by sha256."""
    version, digest = PACKAGES[name]
    pattern = f"{name}_{version.replace(':', '%3a')}_*.deb"  # apt writes an epoch's colon as %3a
    found_debs = sorted(work.glob(pattern))
    if not found_debs:
        subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=work, check=True)
        found_debs = sorted(work.glob(pattern))
    deb = found_debs[0]
    found = hashlib.sha256(deb.read_bytes()).hexdigest()
    if found != digest:
        raise SystemExit(f"{deb}: sha256 {found}, expected {digest}")
    return deb


def unpack(deb: Path, dest: Path, members: list[str]) -> None:
    """Extract `members` (tar wildcards) of a .deb's file tree into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    tree = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest), "--wildcards", *members], input=tree.stdout, check=True)


def read_resources(rcc: Path, prefix: str = "/extra") -> dict[str, bytes]:
    """Every file of a Qt binary resource bundle, by its path inside the bundle."""
    from PySide6.QtCore import QDirIterator, QFile, QIODevice, QResource

    root = f":{prefix}"
    if not QResource.registerResource(str(rcc), prefix):
        raise ValueError(f"{rcc}: not a Qt resource bundle")
    try:
        files = {}
        walk = QDirIterator(root, QDirIterator.IteratorFlag.Subdirectories)
        while walk.hasNext():
            path = walk.next()
            handle = QFile(path)
            if walk.fileInfo().isFile() and handle.open(QIODevice.OpenModeFlag.ReadOnly):
                files[path[len(root) + 1:]] = bytes(handle.readAll().data())
                handle.close()
        return files
    finally:
        QResource.unregisterResource(str(rcc), prefix)


def parse_readme(text: str) -> dict[str, dict[str, str]]:
    """A GCompris resource README: blank-line separated stanzas of `Key: value` lines and file
    names (bare, or after `Files:`); returns each file's stanza."""
    out: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        for line in (raw.strip() for raw in block.splitlines()):
            found = re.match(r"^(Copyright|License|Source|Comments?|Files)\s*:\s*(.*)$", line)
            if found is None:
                files += line.split()
            elif found.group(1) == "Files":
                files += found.group(2).split()
            else:
                key = "Comment" if found.group(1) == "Comments" else found.group(1)
                fields[key] = found.group(2).strip()
        out.update(dict.fromkeys(files, fields))
    return out


def licence_name(text: str) -> str:
    """A README's licence as an SPDX-like name; anything unrecognised stops the build."""
    low = text.strip().rstrip(".").lower().replace("_", " ")
    if "public domain" in low:
        return "Public domain"
    if re.fullmatch(r"cc[- ]?0([- ]?1\.0)?", low):
        return "CC0-1.0"
    found = re.fullmatch(r"cc[- ]by([- ]sa)?[- ]?(\d\.\d)", low)
    if found is None:
        raise ValueError(f"unrecognised licence {text!r}")
    return f"CC-BY{'-SA' if found.group(1) else ''}-{found.group(2)}"


def save_photo(image: Image.Image, dest: Path) -> tuple[int, int]:
    """sRGB JPEG, quality 92, long side at most MAX_SIDE (never enlarged); returns its size."""
    icc = image.info.get("icc_profile")
    if icc:  # e.g. Adobe RGB: convert, or its colours come out dull
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image.convert("RGB"), source, ImageCms.createProfile("sRGB"))
    image = image.convert("RGB")
    if min(image.size) < MIN_SHORT:
        raise ValueError(f"{dest.name}: short side {min(image.size)} < {MIN_SHORT} px")
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    image.save(dest, "JPEG", quality=92, subsampling=0)
    return image.size


def gcompris_photos(work: Path, out: Path) -> list[tuple[str, str, str, str]]:
    """(file, licence, author, source) of every GCompris photo written to `out`."""
    deb = download("gcompris-qt-data", work)
    bundles = sorted(GCOMPRIS)
    unpack(deb, work / "gcompris", [f"./{GC_RCC}/{name}.rcc" for name in bundles])
    rows = []
    for activity, (folder, stems) in GCOMPRIS.items():
        files = read_resources(work / "gcompris" / GC_RCC / f"{activity}.rcc")
        base = f"{GC_ACTIVITIES}/{folder}"
        credits = parse_readme(files[f"{base}/README"].decode("utf-8"))
        for stem in stems:
            name = f"{stem}.webp"
            entry = credits.get(name) or credits.get(README_ALIASES.get(name, ""))
            if entry is None:
                raise SystemExit(f"{activity}: no licence for {name} in its README")
            dest = out / f"gcompris-{activity}_{Path(stem).name}.jpg"
            with Image.open(io.BytesIO(files[f"{base}/{name}"])) as image:
                save_photo(image, dest)
            # The details activity credits its cropped photos in a comment.
            source = entry.get("Comment", "") if activity == "details" else entry.get("Source", "")
            rows.append((dest.name, licence_name(entry["License"]), entry.get("Copyright", ""), source))
    return rows


def garching_photos(work: Path, out: Path) -> list[tuple[str, str, str, str]]:
    deb = download("stellarium-data", work)
    unpack(deb, work / "stellarium", [f"./{GARCHING}/*"])
    rows = []
    for stem in GARCHING_SLICES:
        with Image.open(work / "stellarium" / GARCHING / f"{stem}.png") as image:
            cut = image.convert("RGBA").crop(GARCHING_OPAQUE)
            if cut.getchannel("A").getextrema()[0] != 255:
                raise SystemExit(f"{stem}: the cut is not opaque")
            dest = out / f"stellarium-{stem}.jpg"
            save_photo(cut, dest)
        rows.append((dest.name, "GPL-2+", "Fabien Chéreau", "Stellarium's Garching landscape"))
    return rows


def plain_photos(work: Path, out: Path) -> list[tuple[str, str, str, str]]:
    """The photos stored as plain files in their packages (PLAIN)."""
    rows = []
    for package, (prefix, folder, default, files, rotations) in PLAIN.items():
        deb = download(package, work)
        unpack(deb, work / package, [f"./{folder}/{name}" for name in files])
        for name, credit in files.items():
            licence, author = credit or default
            dest = out / f"{prefix}-{Path(name.replace('/', '_')).with_suffix('.jpg')}"
            with Image.open(work / package / folder / name) as image:
                save_photo(image.rotate(-rotations.get(name, 0), expand=True), dest)
            rows.append((dest.name, licence, author, f"Debian {package}: {folder}/{name}"))
    return rows


def write_credits(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    counts = Counter(row[1] for row in rows)
    lines = [
        "# Extra training photos: credits",
        "",
        f"{len(rows)} photographs built by DeepFill Studio's `tools/extra_training_photos.py` from "
        + ", ".join(f"Debian {name} {version}" for name, (version, _) in PACKAGES.items())
        + ". Licences: " + ", ".join(f"{name} ({n})" for name, n in sorted(counts.items())) + ".",
        "The CC-BY and CC-BY-SA photos need their author's credit wherever they are shown.",
        "",
        "| file | licence | author | source |",
        "|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder for the photos and CREDITS.md (created)")
    parser.add_argument("--work", required=True, help="scratch folder for the packages")
    args = parser.parse_args()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    rows = gcompris_photos(work, out) + garching_photos(work, out) + plain_photos(work, out)
    write_credits(out / "CREDITS.md", rows)
    print(f"{len(rows)} photos in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
