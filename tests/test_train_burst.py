"""Training on other machines: a time budget that ends the run and its schedule, crops made by
worker processes, the CUDA path, and the burst kit and script that carry a run to a lent GPU."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.engine.training.batches import batch_stream
from app.engine.training.train import (
    CHECKPOINT,
    CropSampler,
    Trainer,
    load_checkpoint,
    run,
)
from app.engine.types import EngineError
from tests.test_train import _config, _one_thread, _write_images  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_with_a_time_budget_the_cosine_spans_the_budget_not_the_steps(tmp_path):
    cfg = _config(tmp_path, lr=1e-3, lr_final=0.1, warmup=2, steps=1000, decay_steps=0, minutes=10.0)
    trainer = Trainer(cfg)
    assert trainer.lr_at(0, 0.0) == pytest.approx(5e-4)  # the warm-up still counts steps
    assert trainer.lr_at(50, 0.0) == pytest.approx(1e-3)
    assert trainer.lr_at(50, 300.0) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half the time
    assert trainer.lr_at(3, 600.0) == pytest.approx(1e-4)  # the budget spent, whatever the step
    assert trainer.lr_at(999, 900.0) == pytest.approx(1e-4)
    steps_only = Trainer(_config(tmp_path, lr=1e-3, lr_final=0.1, warmup=2, steps=1002, decay_steps=0))
    assert steps_only.lr_at(502, 9999.0) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))


def test_a_spent_time_budget_ends_the_run_with_a_checkpoint_and_resumes_its_clock(tmp_path):
    _write_images(tmp_path / "data", 2)
    messages = []
    # A budget far below one step's time: the run stops after its first step, whatever the machine.
    cfg = _config(tmp_path, steps=50, minutes=1e-9, gan_weight=0.0)
    trainer = run(cfg, echo=messages.append)
    assert trainer.step == 1
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert state["step"] == 1 and state["run_seconds"] > 0
    assert any("time budget" in m and "step 1" in m for m in messages)
    # Resumed with the same budget, nothing is left: the clock carried over.
    assert run(cfg, resume=True, echo=messages.append).step == 1
    # A larger budget continues from there.
    resumed = run(dataclasses.replace(cfg, minutes=1e6, steps=3), resume=True, echo=messages.append)
    assert resumed.step == 3


def test_worker_processes_make_batches_of_their_own(tmp_path):
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, sketch_drop=0.0)
    sampler = CropSampler(sorted((tmp_path / "data").iterdir()), cfg)
    threads = cv2.getNumThreads()
    stream = batch_stream(sampler, 3, np.random.default_rng(0), workers=2, seed=4, start_step=7)
    batches = [next(stream) for _ in range(4)]
    stream.close()
    assert cv2.getNumThreads() == threads  # OpenCV's pool, set to one thread for the fork, is back
    for batch in batches:
        assert batch["truth"].shape == (3, 3, 96, 96) and batch["mask"].shape == (3, 1, 96, 96)
        assert batch["mask"].sum() > 0
    # Each worker draws its own crops: no two batches alike.
    flat = [b["truth"].flatten() for b in batches]
    assert all(not torch.equal(flat[i], flat[j]) for i in range(4) for j in range(i + 1, 4))
    # In this process (no workers) the trainer's own generator decides, as before.
    a = next(batch_stream(sampler, 2, np.random.default_rng(3)))
    b = sampler.sample(np.random.default_rng(3), 2)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(EngineError, match="no CUDA GPU"):
        Trainer(_config(tmp_path, device="cuda"))
    assert Trainer(_config(tmp_path, device="auto")).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_training_steps_on_cuda_write_a_checkpoint_the_cpu_reads(tmp_path):
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, device="cuda", steps=3, gan_start=1, workers=1, bf16="auto")
    trainer = run(cfg)
    assert next(trainer.generator.parameters()).device.type == "cuda"
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT)  # mapped to the CPU
    assert state["step"] == 3
    cpu = Trainer(_config(tmp_path, device="cpu"))
    cpu.load_state(state)
    assert all(p.device.type == "cpu" and torch.isfinite(p).all() for p in cpu.generator.parameters())


def test_burst_kit_packs_photos_without_changing_the_held_out_split(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    from burst_kit import pack_photos

    source = tmp_path / "photos"
    source.mkdir()
    for i in range(9):
        image = np.full((300 + 200 * (i % 2), 1500, 3), 20 * i, np.uint8)
        cv2.imwrite(str(source / f"p{i}.{'png' if i % 3 else 'jpg'}"), image)
    (source / "CREDITS.md").write_text("credits")
    written = pack_photos(source, tmp_path / "kit" / "data", long_side=600)
    assert sorted(p.name for p in written) == [f"p{i}.jpg" for i in range(9)]
    sizes = {cv2.imread(str(p)).shape[:2] for p in written}
    assert sizes == {(120, 600), (200, 600)}
    assert (tmp_path / "kit" / "data" / "CREDITS.md").read_text() == "credits"
    # A mistyped input is one line and exit code 2, and the kit already there stays.
    from burst_kit import main as kit_main

    assert kit_main([str(source), "--init", str(tmp_path / "missing.pt"), "--out",
                     str(tmp_path / "kit"), "--no-wheels"]) == 2
    assert (tmp_path / "kit" / "data" / "CREDITS.md").exists()
    # Two photos that would share a name are refused, not overwritten.
    cv2.imwrite(str(source / "p1.jpg"), np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(SystemExit, match="both be p1.jpg"):
        pack_photos(source, tmp_path / "kit2", long_side=600)


def test_the_burst_script_trains_for_its_minutes_and_exports_a_model(tmp_path):
    from app.cli_train import main as train_main
    from app.engine.checkpoints.loaders import load_model

    kit = tmp_path / "kit"
    (kit / "data").mkdir(parents=True)
    yy, xx = np.mgrid[0:160, 0:200]
    for i in range(3):
        image = np.stack([(xx + 40 * i) % 256, yy, 128 + 60 * ((xx // 24) % 2)], axis=2)
        cv2.imwrite(str(kit / "data" / f"p{i}.png"), image.astype(np.uint8))
    # The kit's model: a tiny exported one (the real kit carries the bundled model).
    seed_run = tmp_path / "seed"
    args = ["train", "--data", str(kit / "data"), "--out", str(seed_run), "--smoke", "--threads",
            "1", "--bf16", "off", "--steps", "1", "--refine-sketch", "--crop", "96"]
    assert train_main(args) == 0
    assert train_main(["train", "--data", str(kit / "data"), "--out", str(seed_run),
                       "--export", str(kit / "init.pt")]) == 0
    out = tmp_path / "out"
    env = dict(os.environ, BURST_KIT=str(kit), PYTHON=sys.executable, OMP_NUM_THREADS="1")
    done = subprocess.run(
        ["bash", "tools/train_burst.sh", str(out), "0.03", "--cnum", "8", "--crop", "96",
         "--batch", "2", "--long-sides", "200", "--workers", "1", "--log-every", "1",
         "--bf16", "off", "--threads", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "time budget of 0.03 min reached" in done.stdout
    state = load_checkpoint(out / "run" / CHECKPOINT)
    assert state["step"] >= 1 and state["train_config"]["workers"] == 1
    assert state["train_config"]["sketch_prefill"] and state["train_config"]["minutes"] == 0.03
    model = load_model(out / "model.pt")
    assert model.metadata["steps"] == state["step"] and model.config.refine_sketch


def test_a_wider_run_starts_from_a_narrower_model_at_its_output_and_grows_new_channels(tmp_path):
    from app.engine.checkpoints.loaders import load_model
    from app.engine.networks.widen import widen_state

    bundled = load_model(ROOT / "app/resources/models/deepfill-studio-default.pt").generator.eval()
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, cnum=32, refine_sketch=True, init_from=str(
        ROOT / "app/resources/models/deepfill-studio-default.pt"), output_init=0.1, gan_weight=0.0,
        sketch_drop=0.0, channels_last="off")  # the plain layout: equal, not equal up to sums' order
    trainer = Trainer(cfg)
    trainer.start_from(Path(cfg.init_from))
    wide = trainer.generator.eval()
    assert wide.config.cnum == 32 and bundled.config.cnum == 24
    torch.manual_seed(0)
    image = torch.rand(1, 3, 96, 128) * 2 - 1
    mask = torch.zeros(1, 1, 96, 128)
    mask[..., 20:70, 30:100] = 1
    sketch = torch.zeros_like(mask)
    sketch[..., 45, 30:100] = 1
    with torch.no_grad():
        a, b = bundled(image, mask, sketch), wide(image, mask, sketch)
    assert torch.equal(a.coarse, b.coarse)  # the coarse stage is exact
    assert (a.refined - b.refined).abs().max() < 1e-4  # the ReLU layer's small start
    # The new channels learn: their zeroed feature weights move with the first steps.
    sampler = CropSampler(sorted((tmp_path / "data").iterdir()), cfg)
    rng = np.random.default_rng(0)
    for _ in range(2):
        trainer.train_step(sampler.sample(rng, 2))
    new_rows = trainer.generator.conv5.conv.weight[48:]  # conv5: 48 channels at cnum 24, 64 now
    assert new_rows.abs().max() > 0
    # Anything but a wider cnum is refused.
    with pytest.raises(ValueError, match="can only widen"):
        narrow_cfg = dataclasses.replace(bundled.config, cnum=16)
        from app.engine.networks.generator import Generator

        widen_state(bundled.state_dict(), bundled.config, Generator(narrow_cfg))
