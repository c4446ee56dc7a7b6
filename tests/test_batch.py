"""`python main.py batch PHOTOS --masks MASKS -o OUT_DIR`: results, report.json, exit codes,
--resume, progress output, worker processes, and equality with the single-photo CLI."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from app.batch import Progress
from app.cli import main as cli

from .conftest import make_photo

H, W = 72, 96


def _mask(offset: int = 0) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[20 + offset : 44 + offset, 30:66] = 255
    return mask


@pytest.fixture
def shoot(tmp_path: Path, tiny_model_path: Path) -> dict:
    """photos/: a JPEG with EXIF + ICC, a PNG, a WebP and a broken JPEG; masks/ by stem in
    mixed formats; a tiny model."""
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.fromarray(make_photo(H, W, seed=1)).save(
        photos / "a.jpg", quality=92, exif=exif.tobytes(), icc_profile=icc
    )
    Image.fromarray(make_photo(H, W, seed=2)).save(photos / "b.png")
    Image.fromarray(make_photo(H, W, seed=3)).save(photos / "c.webp", lossless=True)
    (photos / "d.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a photo")
    (photos / "notes.txt").write_text("not a photo: ignored")
    Image.fromarray(_mask(0)).save(masks / "a.png")
    Image.fromarray(_mask(4)).save(masks / "b.bmp")
    Image.fromarray(_mask(8)).save(masks / "c.tif")
    Image.fromarray(_mask(0)).save(masks / "d.png")
    return {"root": tmp_path, "photos": photos, "masks": masks, "model": str(tiny_model_path),
            "icc": icc}


def _batch(shoot: dict, out: Path, *extra: str) -> int:
    return cli(["batch", str(shoot["photos"]), "--masks", str(shoot["masks"]), "-o", str(out),
                "--model", shoot["model"], "--strategy", "full", *extra])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_broken_photo_fails_alone_and_the_rest_is_written(shoot, capsys):
    out = shoot["root"] / "out"
    assert _batch(shoot, out) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.png", "c.webp", "report.json"]
    result = np.asarray(Image.open(out / "b.png"))  # lossless: exact outside the hole
    hole = _mask(4) > 0
    assert np.array_equal(result[~hole], make_photo(H, W, seed=2)[~hole])
    assert not np.array_equal(result[hole], make_photo(H, W, seed=2)[hole])
    with Image.open(out / "a.jpg") as im:  # the format and metadata are the photo's
        assert im.format == "JPEG" and im.size == (W, H)
        assert im.getexif()[0x010F] == "TestCam"
        assert im.info["icc_profile"] == shoot["icc"]
    with Image.open(out / "c.webp") as im:
        assert im.format == "WEBP"

    report = _report(out)
    assert report["model"] == "tiny"
    assert report["counts"] == {"ok": 3, "failed": 1, "skipped": 0}
    by_name = {Path(r["photo"]).name: r for r in report["photos"]}
    assert list(by_name) == ["a.jpg", "b.png", "c.webp", "d.jpg"]
    assert by_name["d.jpg"]["status"] == "failed"
    assert "d.jpg" in by_name["d.jpg"]["reason"] and "\n" not in by_name["d.jpg"]["reason"]
    ok = by_name["a.jpg"]
    assert ok["status"] == "ok" and ok["model"] == "tiny" and ok["mask"].endswith("a.png")
    assert ok["timings"]["total"] > 0 and ok["timings"]["network"] > 0
    lines = capsys.readouterr().out.splitlines()  # not a terminal: one plain line per photo
    assert lines[2].startswith("[3/4] ok c.webp (") and lines[3].startswith("[4/4] failed d.jpg: ")
    assert "3 ok, 1 failed, 0 skipped" in lines[-1]


def test_all_ok_exits_0_with_one_mask_for_every_photo(shoot):
    (shoot["photos"] / "d.jpg").unlink()
    out = shoot["root"] / "out"
    code = cli(["batch", str(shoot["photos"] / "a.jpg"), str(shoot["photos"] / "b.png"),
                "--masks", str(shoot["masks"] / "a.png"), "-o", str(out),
                "--model", shoot["model"]])
    assert code == 0
    report = _report(out)
    assert [r["status"] for r in report["photos"]] == ["ok", "ok"]
    assert all(r["mask"].endswith("a.png") for r in report["photos"])


def test_resume_skips_complete_results_and_rewrites_nothing(shoot):
    out = shoot["root"] / "out"
    assert _batch(shoot, out) == 1
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("[abc].*")}
    assert _batch(shoot, out, "--resume") == 1  # d.jpg is still broken
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("[abc].*")}
    assert after == before
    statuses = {Path(r["photo"]).name: r["status"] for r in _report(out)["photos"]}
    assert statuses == {"a.jpg": "skipped", "b.png": "skipped", "c.webp": "skipped",
                        "d.jpg": "failed"}

    # an incomplete result (cut short by something else) is done again; the others are not
    data = (out / "b.png").read_bytes()
    (out / "b.png").write_bytes(data[: len(data) // 2])
    assert _batch(shoot, out, "--resume") == 1
    statuses = {Path(r["photo"]).name: r["status"] for r in _report(out)["photos"]}
    assert statuses["b.png"] == "ok" and statuses["a.jpg"] == "skipped"
    assert (out / "b.png").read_bytes() != data[: len(data) // 2]
    assert (out / "a.jpg").stat().st_mtime_ns == before["a.jpg"][1]


def test_missing_or_ambiguous_mask_fails_that_photo_only(shoot):
    (shoot["photos"] / "d.jpg").unlink()
    (shoot["masks"] / "a.png").unlink()
    Image.fromarray(_mask(0)).save(shoot["masks"] / "b.png")  # now b.bmp and b.png
    out = shoot["root"] / "out"
    assert _batch(shoot, out) == 1
    by_name = {Path(r["photo"]).name: r for r in _report(out)["photos"]}
    assert by_name["a.jpg"]["status"] == "failed" and "no mask named a.*" in by_name["a.jpg"]["reason"]
    assert by_name["b.png"]["status"] == "failed" and "more than one mask" in by_name["b.png"]["reason"]
    assert by_name["c.webp"]["status"] == "ok"
    assert (out / "c.webp").exists() and not (out / "a.jpg").exists()


@pytest.mark.reliability
def test_bad_arguments_exit_2_with_one_line(shoot, capsys):
    root, photos, masks, model = shoot["root"], str(shoot["photos"]), str(shoot["masks"]), shoot["model"]
    (root / "empty").mkdir()
    cases = [
        (["batch", str(root / "nope"), "--masks", masks, "-o", str(root / "o")], "no such photo"),
        (["batch", photos, "--masks", str(root / "nope"), "-o", str(root / "o")], "no such mask"),
        (["batch", str(root / "empty"), "--masks", masks, "-o", str(root / "o")], "no photos"),
        (["batch", photos, "--masks", masks, "-o", photos], "holds the photos"),
        (["batch", photos, "--masks", masks, "-o", str(root / "o"), "--model", "no-such-model"],
         "unknown model"),
        (["batch", photos, "--masks", masks, "-o", str(root / "o"), "--model", model,
          "--workers", "0"], "--workers"),
        (["batch", photos, "-o", str(root / "o")], "--masks"),
    ]
    for args, expect in cases:
        assert cli(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expect in err and "Traceback" not in err, err
    assert not (root / "o" / "report.json").exists()


def test_results_equal_the_single_photo_cli_with_sketches(shoot):
    """Same model, options and threads: the batch result is the CLI's, byte for byte."""
    sketches = shoot["root"] / "sketches"
    sketches.mkdir()
    line = np.zeros((H, W), np.uint8)
    line[32, :] = 255
    Image.fromarray(line).save(sketches / "b.png")  # only b has a sketch
    out = shoot["root"] / "out"
    assert _batch(shoot, out, "--sketches", str(sketches), "--threads", "1") == 1
    assert _report(out)["photos"][1]["sketch"].endswith("b.png")
    for name, mask, sketch in (("a.jpg", "a.png", None), ("b.png", "b.bmp", "b.png")):
        single = shoot["root"] / f"single_{name}"
        args = ["inpaint", str(shoot["photos"] / name), "--mask", str(shoot["masks"] / mask),
                "-o", str(single), "--model", shoot["model"], "--strategy", "full",
                "--threads", "1"]
        if sketch:
            args += ["--sketch", str(sketches / sketch)]
        assert cli(args) == 0
        assert (out / name).read_bytes() == single.read_bytes(), name


@pytest.mark.slow
@pytest.mark.slow
def test_two_worker_processes_give_the_cli_results(shoot):
    out = shoot["root"] / "out"
    assert _batch(shoot, out, "--workers", "2", "--threads", "1") == 1
    report = _report(out)
    assert report["backend"] == "processes" and report["workers"] == 2
    assert report["counts"] == {"ok": 3, "failed": 1, "skipped": 0}
    assert len({r["worker"] for r in report["photos"] if r["status"] == "ok"}) >= 1
    single = shoot["root"] / "single.webp"
    assert cli(["inpaint", str(shoot["photos"] / "c.webp"), "--mask", str(shoot["masks"] / "c.tif"),
                "-o", str(single), "--model", shoot["model"], "--strategy", "full",
                "--threads", "1"]) == 0
    assert (out / "c.webp").read_bytes() == single.read_bytes()


def test_photos_in_formats_we_cannot_write_come_out_as_png(tmp_path, tiny_model_path):
    Image.fromarray(make_photo(H, W)).save(tmp_path / "scan.bmp")
    Image.fromarray(_mask()).save(tmp_path / "mask.png")
    out = tmp_path / "out"
    assert cli(["batch", str(tmp_path / "scan.bmp"), "--masks", str(tmp_path / "mask.png"),
                "-o", str(out), "--model", str(tiny_model_path)]) == 0
    assert Image.open(out / "scan.png").format == "PNG"


def test_progress_bar_on_a_terminal_plain_lines_otherwise(capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    record = {"photo": "/x/a.jpg", "status": "ok", "reason": None, "timings": {"total": 1.0}}
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = Progress(2)
    bar.update(record)
    bar.update({**record, "photo": "/x/b.jpg", "status": "failed", "reason": "broken"})
    bar.close()
    shown = terminal.getvalue()
    assert "2/2" in shown and "failed: b.jpg: broken" in shown  # tqdm's bar (with ETA)
    assert capsys.readouterr().out == ""

    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    lines = Progress(1)
    lines.update(record)
    assert capsys.readouterr().out == "[1/1] ok a.jpg (1.00 s)\n"


def test_inpaint_options_are_the_same_for_batch():
    """One definition of the fill options: every inpaint option is also a batch option."""
    from app.cli import build_parser

    parser = build_parser(extras=False)
    sub = next(a for a in parser._actions if a.dest == "command")
    inpaint, batch = sub.choices["inpaint"], sub.choices["batch"]
    single_only = {"image", "mask", "sketch", "output", "flow", "overwrite", "help"}
    inpaint_options = {a.dest for a in inpaint._actions} - single_only
    assert inpaint_options and inpaint_options <= {a.dest for a in batch._actions}


def test_report_lists_threads_and_backend(shoot):
    out = shoot["root"] / "out"
    _batch(shoot, out, "--threads", "1")
    report = _report(out)
    assert report["backend"] == "in-process" and report["threads_per_worker"] == 1
    assert os.path.basename(report["photos"][0]["output"]) == "a.jpg"


def test_interrupted_batch_still_writes_its_report(shoot, monkeypatch, capsys):
    import app.batch_runners as runners

    real = runners.fill_job
    calls = []

    def fill_then_stop(inpainter, job, settings):
        calls.append(job.photo.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(inpainter, job, settings)

    monkeypatch.setattr(runners, "fill_job", fill_then_stop)
    out = shoot["root"] / "out"
    assert _batch(shoot, out) == 130
    assert "interrupted" in capsys.readouterr().err
    statuses = [(r["status"], r["reason"]) for r in _report(out)["photos"]]
    assert statuses[0] == ("ok", None)
    assert statuses[1:] == [("skipped", "interrupted")] * 3
