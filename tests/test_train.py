"""Training: a few steps reduce the loss on a tiny set; checkpoint + resume continues identically;
the CLI smoke mode writes a resumable checkpoint."""

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app.engine.training.train import (
    BEST,
    CHECKPOINT,
    CropSampler,
    TrainConfig,
    Trainer,
    load_checkpoint,
    run,
    weighted_l1,
)


def _write_images(folder: Path, count: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:120, 0:160]
    for i in range(count):
        image = np.zeros((120, 160, 3), np.uint8)
        image[..., 0] = (xx * (1 + i)) % 256
        image[..., 1] = yy * 2
        image[..., 2] = 90 + 60 * ((xx // (16 + 8 * i) + yy // 20) % 2)
        cv2.imwrite(str(folder / f"img{i}.png"), image)


def _config(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(
        data=str(tmp_path / "data"), out=str(tmp_path / "run"), steps=4, batch=2, crop=96,
        long_sides=(160,), cnum=8, lr=2e-3, warmup=1, decay_steps=4, gan_start=2,
        gan_weight=0.05, d_cnum=8, threads=1, bf16="off", seed=5, log_every=1,
        checkpoint_minutes=1e9, holdout_every=100, validate_minutes=0, device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tmp_path):
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, gan_weight=0.0, lr=3e-3, sketch_drop=0.0)
    torch.set_num_threads(1)
    trainer = Trainer(cfg)
    sampler = CropSampler(sorted((tmp_path / "data").iterdir()), cfg)
    batch = sampler.sample(np.random.default_rng(0), 2)
    assert batch["sketch"].sum() > 0  # the sketch channel is fed
    assert not (batch["sketch"] * (1 - batch["mask"])).any()  # and only inside the hole

    def loss() -> float:
        with torch.no_grad():
            out = trainer.generator(batch["input"], batch["mask"], batch["sketch"])
            return float((out.refined - batch["truth"]).abs().mul(batch["mask"]).mean())

    before = loss()
    first = trainer.train_step(batch)
    for _ in range(5):
        last = trainer.train_step(batch)
    assert last.l1_refined < first.l1_refined
    assert loss() < before
    assert trainer.step == 6 and trainer.images_seen == 12


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    _write_images(tmp_path / "data")
    straight = run(_config(tmp_path, out=str(tmp_path / "a")), echo=lambda s: None)

    run(_config(tmp_path, out=str(tmp_path / "b"), steps=2), echo=lambda s: None)
    saved = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert saved["step"] == 2
    resumed = run(_config(tmp_path, out=str(tmp_path / "b")), resume=True, echo=lambda s: None)

    assert resumed.step == straight.step == 4
    for name, tensors in (("G", "generator"), ("D", "discriminator")):
        a = getattr(straight, tensors).state_dict()
        b = getattr(resumed, tensors).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name} {key} differs after resume"
    logs_a = (tmp_path / "a" / "log.jsonl").read_text().splitlines()
    logs_b = (tmp_path / "b" / "log.jsonl").read_text().splitlines()
    import json

    losses = lambda lines: [  # noqa: E731
        (r["step"], r["l1_refined"], r["d_loss"]) for r in map(json.loads, lines) if "l1_refined" in r
    ]
    assert losses(logs_a) == losses(logs_b)
    assert losses(logs_a)[-1][2] > 0  # the discriminator was trained in these steps


def test_held_out_files_are_never_trained_on(tmp_path):
    _write_images(tmp_path / "data", 8)
    cfg = _config(tmp_path, holdout_every=7, steps=0)
    run(cfg, smoke=True, echo=lambda s: None)
    import json

    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["val"] == ["img0.png", "img7.png"]
    assert not set(split["val"]) & set(split["train"])


def test_training_init_keeps_the_signal_alive_through_the_coarse_stage():
    from app.engine.networks.generator import Generator
    from app.engine.training.train import init_gated_layers

    torch.manual_seed(0)
    cfg = TrainConfig(cnum=16)
    x = torch.cat([torch.rand(1, 3, 96, 96) * 2 - 1, torch.zeros(1, 1, 96, 96),
                   torch.ones(1, 1, 96, 96), (torch.rand(1, 1, 96, 96) > 0.7).float()], 1)

    def last_activation(generator) -> float:
        y = x
        with torch.no_grad():
            for name in generator.coarse_layers:
                y = getattr(generator, name)(y)
        return float(y.abs().mean())

    generator = Generator(cfg.generator_config())
    assert last_activation(generator) < 1e-3  # the layers' default init fades out
    init_gated_layers(generator, cfg.init_scale)
    assert 0.03 < last_activation(generator) < 3.0
    assert not generator.conv17.conv.weight.any()  # residual output layers stay zero


def test_cli_smoke_run_resumes_and_exports_a_loadable_model(tmp_path):
    from app.cli_train import main
    from app.engine.checkpoints.loaders import load_model

    data = tmp_path / "data"
    data.mkdir()
    yy, xx = np.mgrid[0:160, 0:200]
    for i in range(3):
        image = np.stack([(xx + 40 * i) % 256, yy, 128 + 0 * xx], axis=2).astype(np.uint8)
        cv2.imwrite(str(data / f"p{i}.png"), image)
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(run_dir), "--smoke", "--threads", "1",
            "--bf16", "off", "--steps", "2"]
    assert main(args) == 0
    assert load_checkpoint(run_dir / CHECKPOINT)["step"] == 2
    assert main(args[:-1] + ["3", "--resume"]) == 0
    assert load_checkpoint(run_dir / CHECKPOINT)["step"] == 3
    out = tmp_path / "model.pt"
    assert main(["train", "--data", str(data), "--out", str(run_dir), "--export", str(out)]) == 0
    model = load_model(out)
    assert model.config.sketch and model.config.prefill == "telea"
    assert model.metadata["steps"] == 3 and model.metadata["images_seen"] == 6
    assert "openly licensed photos from Debian packages" in model.license
    assert model.metadata["data"].startswith("2 photos (other 2; held out: ")
    # --latest takes the last checkpoint even when a best one exists, with its logged validation
    best = load_checkpoint(run_dir / CHECKPOINT)
    best.update(step=1, metrics={"model": {"psnr_hole": 20.0}})
    torch.save(best, run_dir / BEST)
    with (run_dir / "log.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 3, "validation": {"model": {"psnr_hole": 21.5}}}) + "\n")
    assert main(["train", "--data", str(data), "--out", str(run_dir), "--export", str(out)]) == 0
    assert load_model(out).metadata["steps"] == 1
    assert load_model(out).metadata["validation"]["model"]["psnr_hole"] == 20.0
    assert main(["train", "--data", str(data), "--out", str(run_dir), "--export", str(out),
                 "--latest"]) == 0
    latest = load_model(out).metadata
    assert latest["steps"] == 3 and latest["validation"]["model"]["psnr_hole"] == 21.5


def test_hole_only_loss_ignores_known_pixels():
    from app.engine.training.train import weighted_l1

    truth = torch.zeros(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    pred = truth.clone()
    pred[..., 4:] = 1.0  # wrong only outside the hole
    assert float(weighted_l1(pred, truth, mask, 6.0, valid=0.0)) == 0.0
    assert float(weighted_l1(pred, truth, mask, 6.0, valid=1.0)) > 0.0
    pred[..., :4] = 0.5  # now wrong inside the hole too
    assert float(weighted_l1(pred, truth, mask, 6.0, valid=0.0)) == pytest.approx(0.5)


def test_hole_ssim_loss_matches_the_evaluation_metric():
    from app.engine.training.evaluate import ssim
    from app.engine.training.train import hole_ssim_loss

    rng = np.random.default_rng(3)
    truth = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8), (5, 5), 2)
    fill = truth.copy()
    mask = np.zeros((64, 64), bool)
    mask[16:48, 20:44] = True
    fill[mask] = 128  # a flat fill: low local contrast inside the hole

    def t(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1

    m = torch.from_numpy(mask)[None, None].float()
    loss = float(hole_ssim_loss(t(fill), t(truth), m))
    assert loss == pytest.approx(1 - ssim(fill, truth, mask), abs=2e-3)
    assert float(hole_ssim_loss(t(truth), t(truth), m)) == pytest.approx(0.0, abs=1e-5)
    # Known pixels are composited from the truth: errors there cost nothing.
    wrong_outside = truth.copy()
    wrong_outside[~mask] = 0
    assert float(hole_ssim_loss(t(wrong_outside), t(truth), m)) == pytest.approx(0.0, abs=1e-5)


def test_init_from_starts_a_new_run_with_another_runs_weights(tmp_path):
    _write_images(tmp_path / "data", 2)
    first = run(_config(tmp_path, steps=2, gan_weight=0.0), echo=lambda s: None)
    cfg = _config(tmp_path, out=str(tmp_path / "tuned"), steps=1, lr=1e-12, warmup=1,
                  gan_weight=0.0, init_from=str(tmp_path / "run"), crop=64, mask_scale=(1.0, 2.0))
    tuned = Trainer(cfg)
    tuned.start_from(Path(cfg.init_from))
    for name, value in first.generator.state_dict().items():
        assert torch.equal(tuned.generator.state_dict()[name], value), name
    assert tuned.step == 0 and tuned.images_seen == first.images_seen == 4
    second = run(cfg, echo=lambda s: None)
    assert second.step == 1 and second.images_seen == 6  # history carries over


def test_edge_emphasis_weights_hole_pixels_beside_edges():
    from app.engine.training.train import weighted_l1

    truth = torch.zeros(1, 3, 8, 8)
    mask = torch.ones(1, 1, 8, 8)
    edges = torch.zeros(1, 1, 8, 8)
    edges[..., :2] = 1
    wrong_on_edges = truth.clone()
    wrong_on_edges[..., :2] = 1.0
    wrong_elsewhere = truth.clone()
    wrong_elsewhere[..., 6:] = 1.0
    plain = weighted_l1(wrong_on_edges, truth, mask, 1.0, 0.0)
    assert float(plain) == pytest.approx(float(weighted_l1(wrong_elsewhere, truth, mask, 1.0, 0.0)))
    on = weighted_l1(wrong_on_edges, truth, mask, 1.0, 0.0, 2.0 * edges)
    off = weighted_l1(wrong_elsewhere, truth, mask, 1.0, 0.0, 2.0 * edges)
    assert float(on) > float(plain) > float(off)


def test_sampler_marks_the_edge_band_of_every_crop(tmp_path):
    (tmp_path / "data").mkdir()
    image = np.zeros((120, 160, 3), np.uint8)
    for i, x in enumerate(range(0, 160, 24)):  # steps of varied height: every crop holds edges
        image[: 30 + 13 * i, x : x + 12] = 255
    cv2.imwrite(str(tmp_path / "data" / "lines.png"), image)
    cfg = _config(tmp_path, sketch_drop=1.0)  # no sketch given, yet the band is still drawn
    batch = CropSampler(sorted((tmp_path / "data").iterdir()), cfg).sample(np.random.default_rng(1), 2)
    assert batch["sketch"].sum() == 0
    band = batch["edges"]
    assert band.shape == batch["mask"].shape and 0.0 < float(band.mean()) < 1.0


def test_user_sketch_style_feeds_strokes_inside_the_hole_and_is_recorded(tmp_path):
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, sketch_style="user", sketch_drop=0.0, steps=1, gan_weight=0.0)
    paths = sorted((tmp_path / "data").iterdir())
    canny = CropSampler(paths, _config(tmp_path, sketch_drop=0.0)).sample(np.random.default_rng(4), 4)
    user = CropSampler(paths, cfg).sample(np.random.default_rng(4), 4)
    assert user["sketch"].sum() > 0
    assert not (user["sketch"] * (1 - user["mask"])).any()
    assert user["sketch"].sum() < canny["sketch"].sum()  # a few strokes, not every edge
    run(cfg, echo=lambda s: None)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["train_config"]["sketch_style"] == "user"
    with pytest.raises(ValueError, match="sketch_style"):
        TrainConfig(sketch_style="hed")
    with pytest.raises(ValueError, match="refine_sketch"):
        TrainConfig(sketch=False, refine_sketch=True)


def _without_refine_sketch(source: Path, out: Path) -> Path:
    """A model file as the bundled one was before it fed the sketch to the refine stage: the
    sketch's input channel of `xconv1` / `pmconv1` cut off, the setting left out of the config."""
    data = torch.load(source, map_location="cpu", weights_only=True)
    config = {k: v for k, v in data["config"].items() if k != "refine_sketch"}
    state = {
        name: value[:, :3].contiguous()
        if name.startswith(("xconv1.", "pmconv1.")) and name.endswith("weight") else value
        for name, value in data["state_dict"].items()
    }
    torch.save(dict(data, config=config, state_dict=state), out)
    return out


def test_init_from_a_model_without_the_refine_sketch_adds_it_at_the_same_output(tmp_path):
    """Fine-tuning a model without the refine sketch (the bundled one until issue 16's third
    round) into one with it starts exactly at that model's output, whatever the sketch: the new
    input channels are zero."""
    from app.engine.checkpoints.loaders import load_model
    from app.engine.checkpoints.models import resolve_model

    bundled = _without_refine_sketch(Path(resolve_model(None)), tmp_path / "plain.pt")
    old = load_model(bundled)
    assert not old.config.refine_sketch
    # the plain layout: equal outputs, not equal up to the order of the sums
    cfg = TrainConfig(refine_sketch=True, output_init=0.1, bf16="off", threads=1, channels_last="off")
    trainer = Trainer(cfg)
    assert dataclasses.replace(old.config, refine_sketch=True) == trainer.generator.config
    trainer.start_from(Path(bundled))
    assert trainer.images_seen == old.metadata["images_seen"]
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:48, 8:40] = 1
    sketch = (torch.rand(2, 1, 64, 64, generator=g) > 0.85).float()
    with torch.no_grad():
        before = old.generator(image, mask, sketch)
        after = trainer.generator(image, mask, sketch)
    assert torch.equal(before.coarse, after.coarse)
    assert torch.allclose(before.refined, after.refined, atol=1e-6, rtol=0)
    # And the new channels are trainable: one step moves them.
    batch = {"truth": image, "input": image, "mask": mask, "sketch": sketch}
    trainer.train_step(batch)
    assert trainer.generator.xconv1.conv.weight[:, 3].abs().sum() > 0


def test_cli_trains_and_exports_with_user_sketches_and_the_refine_sketch(tmp_path):
    from app.cli_train import main
    from app.engine.checkpoints.loaders import load_model

    data = tmp_path / "data"
    data.mkdir()
    yy, xx = np.mgrid[0:160, 0:200]
    for i in range(3):  # smoke runs crop 128 px
        image = np.stack([(xx + 40 * i) % 256, yy, 128 + 60 * (xx > 90 + 9 * i)], axis=2)
        cv2.imwrite(str(data / f"p{i}.png"), image.astype(np.uint8))
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(run_dir), "--smoke",
            "--threads", "1", "--bf16", "off", "--sketch-style", "mix", "--refine-sketch"]
    assert main(args) == 0
    state = load_checkpoint(run_dir / CHECKPOINT)
    assert state["train_config"]["sketch_style"] == "mix"
    assert state["train_config"]["refine_sketch"] is True
    assert state["generator_config"]["refine_sketch"] is True
    out = tmp_path / "model.pt"
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(run_dir),
                 "--export", str(out)]) == 0
    model = load_model(out)
    assert model.config.refine_sketch and model.config.sketch
    assert model.metadata["recipe"]["sketch_style"] == "mix"
    assert "both stages" in model.metadata["network"]


def test_the_data_description_counts_photos_per_package():
    from app.engine.training.train import data_description

    split = {"train": ["plasma-Altai.jpg", "gcompris-erase_bee.jpg", "gcompris-erase_cat.jpg", "mine.png"],
             "val": ["mate-Blinds.jpg"]}
    assert data_description(split, 7) == (
        "4 photos (gcompris-qt-data 2, plasma-workspace-wallpapers 1, other 1; held out: sorted "
        "names, every 7th from the first, 1 photos)")


def test_sketch_weight_emphasises_the_drawn_lines_and_is_recorded(tmp_path):
    # The sampler marks the sketch's lines grown by a pixel; with sketch_weight the loss counts
    # an error there more than the same error elsewhere, and the recipe records the weight.
    _write_images(tmp_path / "data", 2)
    cfg = _config(tmp_path, sketch_drop=0.0, steps=1, gan_weight=0.0, sketch_weight=3.0)
    batch = CropSampler(sorted((tmp_path / "data").iterdir()), cfg).sample(np.random.default_rng(4), 4)
    drawn, sketch = batch["drawn"], batch["sketch"]
    assert sketch.sum() > 0 and (drawn >= sketch).all() and drawn.sum() > sketch.sum()
    assert float(drawn.mean()) < 0.5
    truth, mask = batch["truth"], torch.ones_like(batch["mask"])
    off_line = truth + 0.5 * (1 - drawn)
    on_line = truth + 0.5 * drawn
    weight = cfg.sketch_weight * drawn
    # per wrong pixel, an error on the line costs (1 + 3) x one off it
    on = float(weighted_l1(on_line, truth, mask, 1.0, 0.0, weight)) / float(drawn.sum())
    off = float(weighted_l1(off_line, truth, mask, 1.0, 0.0, weight)) / float((1 - drawn).sum())
    assert on == pytest.approx(4 * off, rel=1e-4)
    run(cfg, echo=lambda s: None)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["train_config"]["sketch_weight"] == 3.0


def test_sketch_prefill_gives_the_network_the_carried_lines_and_is_recorded(tmp_path):
    # Same seed, same crops, masks and sketches; with sketch_prefill the input's hole is the
    # pre-fill with the sketch's lines carried (as at inference), without it plain Telea.
    from app.engine.inference.prefill import prefill_telea

    _write_images(tmp_path / "data", 2)
    paths = sorted((tmp_path / "data").iterdir())
    cfg = _config(tmp_path, sketch_drop=0.0, steps=1, gan_weight=0.0, sketch_prefill=True)
    on = CropSampler(paths, cfg).sample(np.random.default_rng(4), 4)
    off = CropSampler(paths, _config(tmp_path, sketch_drop=0.0)).sample(np.random.default_rng(4), 4)
    for key in ("truth", "mask", "sketch"):
        assert torch.equal(on[key], off[key])

    def uint8(t: torch.Tensor) -> np.ndarray:
        return np.rint((t.permute(1, 2, 0).numpy() + 1.0) * 127.5).astype(np.uint8)

    differs = 0
    for i in range(4):
        crop, mask = uint8(on["truth"][i]), on["mask"][i, 0].numpy() > 0
        sketch = on["sketch"][i, 0].numpy() > 0
        assert np.array_equal(uint8(on["input"][i]), prefill_telea(crop, mask, sketch))
        assert np.array_equal(uint8(off["input"][i]), prefill_telea(crop, mask))
        differs += int(not torch.equal(on["input"][i], off["input"][i]))
    assert differs > 0
    run(cfg, echo=lambda s: None)
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)["train_config"]["sketch_prefill"] is True


def test_a_strided_pixel_gate_trains_in_channels_last():
    """oneDNN's channels-last backward of a stride-2 1 x 1 conv with few channels (the refine
    stage's pixel gates) corrupted the heap and killed the process; the layer now subsamples
    and runs a 1 x 1 conv instead. Run in a child process, since the failure is a crash."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from app.engine.networks.layers import GatedConv\n"
        "torch.set_num_threads(1)\n"
        "layer = GatedConv(12, 12, 3, 2, 1, 'pixel', 'reflect').to(memory_format=torch.channels_last)\n"
        "x = torch.randn(2, 12, 64, 64).contiguous(memory_format=torch.channels_last)\n"
        "for _ in range(5):\n"
        "    layer(x.requires_grad_()).square().mean().backward()\n"
        "print('trained')\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "trained" in done.stdout


@pytest.mark.parametrize("padding", ["same", "reflect"])
def test_a_strided_one_by_one_conv_is_still_a_strided_conv(padding):
    from app.engine.networks.layers import PaddedConv

    torch.manual_seed(0)
    conv = PaddedConv(5, 7, 1, stride=2, padding=padding)
    for size in ((32, 48), (31, 45)):
        x = torch.randn(2, 5, *size)
        want = torch.nn.functional.conv2d(x, conv.weight, conv.bias, stride=2)
        got = conv(x)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-6)


def test_channels_last_training_takes_the_same_steps(tmp_path):
    """The CPU trains in channels-last (faster there); the steps are those of the plain layout."""
    from app.engine.training.train import use_channels_last

    assert use_channels_last("auto", torch.device("cpu"))
    assert not use_channels_last("auto", torch.device("cuda"))
    assert not use_channels_last("off", torch.device("cpu"))
    with pytest.raises(ValueError, match="channels_last"):
        use_channels_last("yes", torch.device("cpu"))
    _write_images(tmp_path / "data", 2)
    torch.set_num_threads(1)
    trainers = {
        layout: Trainer(_config(tmp_path, channels_last=layout, gan_start=0, refine_sketch=True))
        for layout in ("on", "off")
    }
    weight = trainers["on"].generator.xconv2_downsample.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    start = {k: v.clone() for k, v in trainers["off"].generator.state_dict().items()}
    sampler = CropSampler(sorted((tmp_path / "data").iterdir()), trainers["on"].cfg)
    batch = sampler.sample(np.random.default_rng(0), 2)
    for _ in range(2):
        on, off = (trainers[k].train_step(batch) for k in ("on", "off"))
        assert on.l1_refined == pytest.approx(off.l1_refined, rel=1e-4)
        assert on.d_loss == pytest.approx(off.d_loss, rel=1e-4, abs=1e-6)
    # Adam scales every gradient to about the learning rate, so the order of the sums shows in
    # the weights whose gradients are near zero; the steps as a whole agree.
    a, b = (trainers[k].generator.state_dict() for k in ("on", "off"))
    moved_on = torch.cat([(a[k] - start[k]).flatten() for k in start])
    moved_off = torch.cat([(b[k] - start[k]).flatten() for k in start])
    assert moved_off.norm() > 0
    assert (moved_on - moved_off).norm() < 0.01 * moved_off.norm()
