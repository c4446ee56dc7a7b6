"""The headless CLI: `python main.py inpaint ...` per the contract in docs/design.md."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli import main as cli

from .fixtures_path import REFERENCE, needs_fixtures
from .tiny import save_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (75, 101, 3), dtype=np.uint8)
    mask = np.zeros((75, 101), np.uint8)
    mask[20:50, 30:70] = 255
    Image.fromarray(image).save(tmp_path / "photo.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    save_tiny_model(tmp_path / "tiny.pt")
    return tmp_path, image, mask > 0


def test_inpaint_writes_result_next_to_the_photo(case, capsys):
    folder, image, mask = case
    code = cli(["inpaint", str(folder / "photo.png"), "--mask", str(folder / "mask.png"),
                "--model", str(folder / "tiny.pt"), "--strategy", "full"])
    assert code == 0
    out = np.asarray(Image.open(folder / "photo_inpainted.png"))
    assert np.array_equal(out[~mask], image[~mask])
    assert not np.array_equal(out[mask], image[mask])
    assert "photo_inpainted.png" in capsys.readouterr().out


def test_sketch_and_explicit_output_and_flow(case):
    folder, image, mask = case
    sketch = np.zeros(mask.shape, np.uint8)
    sketch[35, :] = 255
    Image.fromarray(sketch).save(folder / "sketch.png")
    code = cli(["inpaint", str(folder / "photo.png"), "--mask", str(folder / "mask.png"),
                "--sketch", str(folder / "sketch.png"), "-o", str(folder / "out.jpg"),
                "--flow", str(folder / "flow.png"), "--model", str(folder / "tiny.pt")])
    assert code == 0
    assert Image.open(folder / "out.jpg").size == (101, 75)
    assert Image.open(folder / "flow.png").size == (101, 75)


def _refused(capsys, args, expect: str, folder: Path):
    before = set(folder.iterdir())
    assert cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert expect in err
    assert "Traceback" not in err
    assert set(folder.iterdir()) == before  # no output, no temporary left behind


@pytest.mark.reliability
def test_bad_inputs_exit_2_with_one_line(case, capsys):
    folder, _, _ = case
    photo, mask, model = str(folder / "photo.png"), str(folder / "mask.png"), str(folder / "tiny.pt")
    (folder / "notes.png").write_text("not an image")
    Image.new("L", (10, 10)).save(folder / "small_mask.png")
    Image.new("L", (101, 75)).save(folder / "empty_mask.png")
    (folder / "broken.pt").write_bytes(b"\x80\x02garbage")

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(folder / "evil.pt", "wb") as fh:
        pickle.dump({"G": Exploit()}, fh)
    cases = [
        (["inpaint", str(folder / "missing.png"), "--mask", mask, "--model", model], "missing.png"),
        (["inpaint", str(folder / "notes.png"), "--mask", mask, "--model", model], "notes.png"),
        (["inpaint", photo, "--mask", str(folder / "small_mask.png"), "--model", model], "10x10"),
        (["inpaint", photo, "--mask", str(folder / "empty_mask.png"), "--model", model], "empty"),
        (["inpaint", photo, "--mask", mask, "--model", str(folder / "broken.pt")], "broken.pt"),
        (["inpaint", photo, "--mask", mask, "--model", str(folder / "evil.pt")], "refused"),
        (["inpaint", photo, "--mask", mask, "--model", "no-such-model"], "unknown model"),
        (["inpaint", photo, "--mask", mask, "--model", model, "-o", photo], "overwrite"),
        (["inpaint", photo], "--mask"),
    ]
    for args, expect in cases:
        _refused(capsys, args, expect, folder)
    assert "pwned" not in capsys.readouterr().out


@needs_fixtures
@pytest.mark.slow
def test_port_layout_file_reproduces_the_official_architecture(tmp_path):
    """Done-when of the engine issue: states_tf_*.pth through the CLI, sides not multiples of 8."""
    reference = torch.load(REFERENCE, weights_only=False)
    torch.save({"G": reference["G"]}, tmp_path / "states_tf_test.pth")
    bgr = ((reference["input"][0, :3].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    h, w = 237, 251
    rgb = np.ascontiguousarray(bgr[:h, :w, ::-1])
    mask = reference["mask"][0, 0, :h, :w].numpy() > 0.5
    Image.fromarray(rgb).save(tmp_path / "src.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "mask.png")
    code = cli(["inpaint", str(tmp_path / "src.png"), "--mask", str(tmp_path / "mask.png"),
                "--model", str(tmp_path / "states_tf_test.pth"), "--strategy", "full",
                "--texture", "off", "-o", str(tmp_path / "out.png")])
    assert code == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[~mask], rgb[~mask])
    # The official architecture on the same (padded) input, BGR in and out.
    padded = np.pad(rgb[..., ::-1], ((0, 3), (0, 5), (0, 0)), mode="reflect")
    pmask = np.pad(mask, ((0, 3), (0, 5)), mode="reflect")
    from app.engine.networks.generator import Generator, GeneratorConfig

    official = Generator(GeneratorConfig()).eval()
    official.load_state_dict(reference["G"])
    x = torch.from_numpy(padded.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        y = official(x, torch.from_numpy(pmask)[None, None].float()).refined
    expected = ((y[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    expected = expected[:h, :w, ::-1]
    assert np.abs(out[mask].astype(int) - expected[mask].astype(int)).max() <= 1


def test_real_entry_point_reports_bad_input_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "inpaint", str(tmp_path / "nope.png"),
         "--mask", str(tmp_path / "nope_mask.png")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
