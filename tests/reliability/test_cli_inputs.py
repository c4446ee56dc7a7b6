"""Hostile and unusual images, masks and model files through the command line.

Refusals run the real entry point (`python main.py inpaint ...`) in a subprocess: exit code 2,
exactly one line on stderr, no output file or temporary left behind. Inputs that must work
run in-process (same code path, much faster) and their results are checked pixel by pixel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import imageio
from app.cli import main as cli
from tests.reliability.conftest import shorten
from tests.reliability.hostile import IMAGE_CASES, MASK_CASES, Case, H, W
from tests.reliability.hostile_models import MODEL_CASES, ModelCase, sentinel
from tests.tiny import save_tiny_model

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> dict[str, Path]:
    """A good photo, its mask and a tiny model, shared by the cases of this module."""
    folder = tmp_path_factory.mktemp("cli_kit")
    from tests.conftest import make_photo

    Image.fromarray(make_photo(H, W)).save(folder / "photo.png")
    Image.fromarray(hole_for((W, H)).astype(np.uint8) * 255).save(folder / "mask.png")
    save_tiny_model(folder / "tiny.pt")
    return {"photo": folder / "photo.png", "mask": folder / "mask.png", "model": folder / "tiny.pt"}


def hole_for(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    m = np.zeros((h, w), bool)
    if min(w, h) >= 8:
        m[h // 4 : h // 2, w // 4 : w // 2] = True
    else:
        m[h // 2, w // 2] = True
    return m


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DEEPFILL_STUDIO_MODELS": str(cwd / "no_models"),
        "DEEPFILL_STUDIO_CONFIG": str(cwd / "no_config.json"),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "inpaint", *args],
        capture_output=True, text=True, timeout=180, cwd=cwd, env=env,
    )


def assert_refused(proc: subprocess.CompletedProcess, match: str, before: set, folder: Path):
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("deepfill-studio: error: ")
    assert match in err, err
    assert set(folder.iterdir()) == before, "an output or temporary file was left behind"
    assert proc.stdout == ""


# --------------------------------------------------------------------------- refusals


REFUSED_IMAGES = [c for c in IMAGE_CASES if c.expect == "refused"]
REFUSED_MASKS = [c for c in MASK_CASES if c.expect == "refused" or c.fill != "ok"]


@pytest.mark.parametrize("case", REFUSED_IMAGES, ids=lambda c: c.name)
def test_broken_image_exits_2_with_one_line(case: Case, kit, tmp_path, report):
    path = case.write(tmp_path)
    before = set(tmp_path.iterdir())
    proc = run_cli(str(path), "--mask", str(kit["mask"]), "--model", str(kit["model"]),
                   "-o", str(tmp_path / "out.png"), cwd=tmp_path)
    outcome = f"exit {proc.returncode}: {shorten(proc.stderr.strip(), tmp_path)}"
    report.add("CLI: images", case.name, outcome,
               proc.returncode == 2 and case.match in proc.stderr)
    assert_refused(proc, case.match, before, tmp_path)


@pytest.mark.parametrize("case", REFUSED_MASKS, ids=lambda c: c.name)
def test_broken_or_unusable_mask_exits_2_with_one_line(case: Case, kit, tmp_path, report):
    path = case.write(tmp_path)
    before = set(tmp_path.iterdir())
    proc = run_cli(str(kit["photo"]), "--mask", str(path), "--model", str(kit["model"]),
                   "-o", str(tmp_path / "out.png"), cwd=tmp_path)
    match = case.match if case.expect == "refused" else case.fill
    outcome = f"exit {proc.returncode}: {shorten(proc.stderr.strip(), tmp_path, kit['photo'].parent)}"
    report.add("CLI: masks", case.name, outcome, proc.returncode == 2 and match in proc.stderr)
    assert_refused(proc, match, before, tmp_path)


def test_sketch_of_the_wrong_size_exits_2(kit, tmp_path, report):
    Image.new("L", (W + 1, H), 255).save(tmp_path / "sketch.png")
    before = set(tmp_path.iterdir())
    proc = run_cli(str(kit["photo"]), "--mask", str(kit["mask"]), "--sketch",
                   str(tmp_path / "sketch.png"), "--model", str(kit["model"]),
                   "-o", str(tmp_path / "out.png"), cwd=tmp_path)
    report.add("CLI: masks", "sketch 65x48 for a 64x48 photo",
               f"exit {proc.returncode}: {shorten(proc.stderr.strip(), tmp_path)}",
               proc.returncode == 2)
    assert_refused(proc, f"is {W + 1}x{H} but the image is {W}x{H}", before, tmp_path)


@pytest.mark.parametrize("mask, match", [("full", "whole photo"), ("empty", "empty")])
def test_one_pixel_photo_with_a_full_or_empty_mask(mask, match, kit, tmp_path, report):
    Image.new("RGB", (1, 1), (90, 90, 90)).save(tmp_path / "dot.png")
    Image.new("L", (1, 1), 255 if mask == "full" else 0).save(tmp_path / "dot_mask.png")
    before = set(tmp_path.iterdir())
    proc = run_cli(str(tmp_path / "dot.png"), "--mask", str(tmp_path / "dot_mask.png"),
                   "--model", str(kit["model"]), cwd=tmp_path)
    report.add("CLI: images", f"1x1 photo, {mask} mask",
               f"exit {proc.returncode}: {shorten(proc.stderr.strip(), tmp_path)}",
               proc.returncode == 2)
    assert_refused(proc, match, before, tmp_path)


# --------------------------------------------------------------------------- inputs that work

OK_IMAGES = [c for c in IMAGE_CASES if c.expect == "ok" and c.fill == "ok"]


@pytest.mark.parametrize("case", OK_IMAGES, ids=lambda c: c.name)
def test_unusual_image_is_filled_and_keeps_everything_outside_the_hole(
    case: Case, kit, tmp_path, capfd, report
):
    path = case.write(tmp_path)
    loaded = imageio.load_image(path)
    assert loaded.size == case.size
    hole = hole_for(case.size)
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "hole.png")
    out = tmp_path / "out.png"
    code = cli(["inpaint", str(path), "--mask", str(tmp_path / "hole.png"),
                "--model", str(kit["model"]), "-o", str(out)])
    err = capfd.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    report.add("CLI: images", case.name,
               f"exit {code}; {' '.join(notes) or 'no notes'}", code == 0 and case.match in err)
    assert code == 0, err
    assert case.match in err
    assert all(line.startswith("note: ") for line in err.splitlines()), err
    with Image.open(out) as im:
        result = np.asarray(im.convert("RGBA" if loaded.alpha is not None else "RGB"))
        exif = im.getexif()
    assert result.shape[:2] == hole.shape
    assert np.array_equal(result[..., :3][~hole], loaded.rgb[~hole])  # byte for byte
    if loaded.alpha is not None:
        assert np.array_equal(result[..., 3][~hole], loaded.alpha[~hole])
    if case.name.startswith("exif_orientation"):
        assert exif.get(0x0112) in (None, 1)  # pixels written upright, so no rotation left
        assert exif.get(0x010F) == "RotCam"


OK_MASKS = [c for c in MASK_CASES if c.expect == "ok" and c.fill == "ok"]


@pytest.mark.parametrize("case", OK_MASKS, ids=lambda c: c.name)
def test_unusual_mask_fills_exactly_its_hole(case, kit, tmp_path, capfd, report):
    path = case.write(tmp_path)
    out = tmp_path / "out.png"
    code = cli(["inpaint", str(kit["photo"]), "--mask", str(path), "--model", str(kit["model"]),
                "--strategy", "full", "-o", str(out)])
    err = capfd.readouterr().err
    photo = np.asarray(Image.open(kit["photo"]))
    result = np.asarray(Image.open(out)) if out.exists() else None
    changed = (result != photo).any(axis=2) if result is not None else None
    expected = case.hole()
    ok = code == 0 and changed is not None and not changed[~expected].any()
    report.add("CLI: masks", case.name,
               f"exit {code}; {int(expected.sum())} hole pixels, "
               f"{int(changed.sum()) if changed is not None else 0} changed", ok)
    assert code == 0, err
    assert not changed[~expected].any()  # nothing outside the hole moved
    assert changed[expected].mean() > 0.5  # and the hole really was filled


def test_animated_gif_through_the_real_entry_point_says_first_frame(kit, tmp_path, report):
    case = next(c for c in IMAGE_CASES if c.name == "animated.gif")
    path = case.write(tmp_path)
    proc = run_cli(str(path), "--mask", str(kit["mask"]), "--model", str(kit["model"]),
                   "-o", str(tmp_path / "out.png"), cwd=tmp_path)
    report.add("CLI: images", "animated.gif (real entry point)",
               f"exit {proc.returncode}; {shorten(proc.stderr.strip(), tmp_path)}",
               proc.returncode == 0)
    assert proc.returncode == 0, proc.stderr
    assert "note: Animated GIF: only the first frame was opened." in proc.stderr
    assert (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: c.name)
def test_hostile_model_file_is_refused_and_runs_nothing(
    case: ModelCase, kit, tmp_path, capfd, report
):
    model = case.write(tmp_path)
    out = tmp_path / "out.png"
    before = set(tmp_path.iterdir())
    code = cli(["inpaint", str(kit["photo"]), "--mask", str(kit["mask"]), "--model", str(model),
                "-o", str(out)])
    captured = capfd.readouterr()
    err = captured.err.strip()
    ran = sentinel(tmp_path).exists() or "code ran" in captured.out
    report.add("CLI: model files", case.name,
               f"exit {code}: {shorten(err, tmp_path)}" + (" — CODE RAN" if ran else ""),
               code == 2 and not ran and case.match in err)
    assert not ran, "unpickling the model file executed code"
    assert code == 2, err
    assert len(err.splitlines()) == 1 and case.match in err, err
    assert "\x1b" not in err  # no terminal escapes copied from torch's messages
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "case", [c for c in MODEL_CASES if c.exploit][:3], ids=lambda c: c.name
)
def test_code_running_model_through_the_real_entry_point(case, kit, tmp_path, report):
    model = case.write(tmp_path)
    before = set(tmp_path.iterdir())
    proc = run_cli(str(kit["photo"]), "--mask", str(kit["mask"]), "--model", str(model),
                   "-o", str(tmp_path / "out.png"), cwd=tmp_path)
    ran = sentinel(tmp_path).exists()
    report.add("CLI: model files", f"{case.name} (real entry point)",
               f"exit {proc.returncode}: {shorten(proc.stderr.strip(), tmp_path)}",
               proc.returncode == 2 and not ran)
    assert not ran
    assert_refused(proc, case.match, before, tmp_path)


@pytest.mark.parametrize("case", [c for c in IMAGE_CASES if c.name.startswith("bomb")],
                         ids=lambda c: c.name)
def test_decompression_bomb_is_refused_from_its_header_at_once(case, tmp_path, report):
    """A freeze or an out-of-memory kill would show here as seconds or a dead test."""
    import time

    path = case.write(tmp_path)
    started = time.perf_counter()
    with pytest.raises(imageio.ImageLoadError) as info:
        imageio.load_image(path)
    ms = (time.perf_counter() - started) * 1000
    report.add("CLI: images", f"{case.name} ({path.stat().st_size} bytes on disk)",
               f"refused in {ms:.1f} ms: {shorten(str(info.value), tmp_path)}", ms < 2000)
    assert case.match in str(info.value) and "pixels" in str(info.value)
    assert ms < 2000  # generous: decoding it would take minutes and gigabytes
