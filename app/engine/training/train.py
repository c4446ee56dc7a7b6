"""Training of our own DeepFill models: on-the-fly crops, masks and sketches; hole-weighted L1 on
both stages, then an SN-PatchGAN hinge loss after an L1 warm-up; resumable atomic checkpoints.

Run folder layout (outside the repository):
    checkpoint.pt   everything needed to continue: G, D, optimisers, step, RNG states (atomic)
    best.pt         the generator with the best held-out hole PSNR so far (atomic)
    log.jsonl       one JSON line per log interval and per validation
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from ..atomic import atomic_write
from ..device import bf16_supported, select_device
from ..inference.prefill import prefill_telea
from ..networks.discriminator import PatchDiscriminator, d_hinge_loss, g_hinge_loss
from ..networks.generator import Generator, GeneratorConfig, with_refine_sketch
from ..networks.widen import widen_state
from .batches import batch_stream
from .evaluate import list_images, make_cases, read_rgb, resize_long_side, split_holdout
from .masks import training_mask
from .sketch import SKETCH_STYLES, edges_and_strength, thicken, training_sketch

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"


@dataclass
class TrainConfig:
    data: str = ""
    out: str = ""
    steps: int = 6000  # total optimiser steps (the learning-rate schedule spans these)
    batch: int = 16
    crop: int = 128
    long_sides: tuple[int, ...] = (512, 640, 768, 1024)  # images kept in RAM at these sizes
    mask_scale: tuple[float, float] = (0.75, 1.5)  # stroke size factor range (x crop/256)
    init_from: str = ""  # a run folder or checkpoint whose weights start this run (fine-tuning)
    cnum: int = 24
    coarse_gate: str = "single"
    refine_gate: str = "pixel"
    sketch: bool = True
    prefill: str = "telea"
    lr: float = 5e-4
    lr_final: float = 0.1  # cosine decay to lr * lr_final at `decay_steps`
    decay_steps: int = 0  # 0 = `steps`
    warmup: int = 100  # linear lr warm-up steps
    hole_weight: float = 6.0  # L1 weight of hole pixels relative to known ones
    coarse_weight: float = 1.0
    init_scale: float = 1.8  # gain of the feature convs at init (0 = the layers' own init)
    output_init: float = 0.0  # > 0: small random output layers (std = this / sqrt(fan_in))
    valid_weight: float = 1.0  # L1/MSE weight of known pixels (composited away at inference)
    mse_weight: float = 0.0  # extra hole-weighted squared error (PSNR is an MSE measure)
    ssim_weight: float = 0.0  # 1 - SSIM of the completed image over the hole (refined stage)
    edge_weight: float = 0.0  # extra reconstruction weight of hole pixels beside an edge of the truth
    # ... and beside the sketch's lines: where the user drew, following the line is what counts
    sketch_weight: float = 0.0
    # The pre-fill carries the photo's profile along the sketch's lines, as at inference
    # (prefill.prefill_telea with a sketch); off: plain Telea, as every run before round 24
    sketch_prefill: bool = False
    gan_weight: float = 0.01
    gan_start: int = 3000  # pure L1 before this step
    d_cnum: int = 32
    d_lr: float = 2e-4
    sketch_drop: float = 0.5  # fraction of samples trained without a sketch
    # canny: every Canny edge in the hole; user: a few 1-4 px strokes along the main edges,
    # partial and slightly off the line, as users draw (sketch.user_sketch); mix: either, 50/50
    sketch_style: str = "canny"
    refine_sketch: bool = False  # the refine stage takes the sketch as well (GeneratorConfig)
    holdout_every: int = 7
    seed: int = 0
    threads: int = 2
    bf16: str = "auto"  # auto | on | off
    # auto: on the CPU, where oneDNN runs channels-last convolutions ~1.4x faster per step
    # (256 px, batch 6, one thread; docs/training.md); the CUDA path stays as it was
    channels_last: str = "auto"  # auto | on | off
    checkpoint_minutes: float = 5.0
    validate_minutes: float = 20.0  # <= 0: no validation
    val_masks: int = 1
    log_every: int = 20
    max_images: int = 0  # 0 = all (smoke runs use a few)
    device: str = "auto"  # cpu | cuda | auto (CUDA when present)
    # > 0: crops made by this many processes (batches.py; a GPU outruns one), no exact replay
    workers: int = 0
    # > 0: stop after this many minutes of this run, and the cosine spans them instead of
    # `steps` (a burst on a lent machine of unknown speed ends its schedule when its time does)
    minutes: float = 0.0

    def __post_init__(self) -> None:
        if self.sketch_style not in SKETCH_STYLES:
            raise ValueError(f"sketch_style must be one of {SKETCH_STYLES}, not {self.sketch_style!r}")
        if self.refine_sketch and not self.sketch:
            raise ValueError("refine_sketch needs the sketch (sketch = True)")

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(
            cnum=self.cnum,
            in_channels=6 if self.sketch else 5,
            padding="reflect",
            coarse_gate=self.coarse_gate,
            refine_gate=self.refine_gate,
            prefill=self.prefill,
            refine_sketch=self.refine_sketch,
        )


def use_channels_last(setting: str, device: torch.device) -> bool:
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"channels_last must be auto, on or off, not {setting!r}")
    return setting == "on" or (setting == "auto" and device.type == "cpu")


def use_bf16(setting: str, device: torch.device | None = None) -> bool:
    if setting == "on":
        return True
    if setting == "off":
        return False
    return bf16_supported(device or torch.device("cpu"))


def atomic_save(obj: object, path: Path) -> None:
    atomic_write(path, lambda fh: torch.save(obj, fh))


# ------------------------------------------------------------------ data


_BAND_KERNEL = np.ones((3, 3), np.uint8)


class CropSampler:
    """Training photos held in RAM at several downscales; draws random crops with masks/sketches."""

    def __init__(self, paths: list[Path], cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.images: list[np.ndarray] = []
        for path in paths:
            full = read_rgb(path)
            for side in cfg.long_sides:
                small = resize_long_side(full, side)
                if min(small.shape[:2]) >= cfg.crop:
                    self.images.append(small)
        if not self.images:
            raise ValueError(f"no training image is at least {cfg.crop} px on its short side")

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, torch.Tensor]:
        c = self.cfg.crop
        truths, inputs, masks, sketches, bands, drawn = [], [], [], [], [], []
        for _ in range(batch):
            img = self.images[int(rng.integers(len(self.images)))]
            h, w = img.shape[:2]
            y, x = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
            crop = img[y : y + c, x : x + c]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            crop = np.ascontiguousarray(crop)
            mask = training_mask(c, c, rng, self.cfg.mask_scale)
            found = edges_and_strength(crop)
            edges = thicken(found[0], int(rng.integers(1, 3)))
            if self.cfg.sketch and rng.random() >= self.cfg.sketch_drop:
                sketch = training_sketch(crop, mask, rng, self.cfg.sketch_style, edges, found)
            else:
                sketch = np.zeros_like(mask)
            # The pixels either side of an edge, where structure is won or lost.
            bands.append(cv2.dilate(edges.astype(np.uint8), _BAND_KERNEL) > 0)
            drawn.append(cv2.dilate(sketch.astype(np.uint8), _BAND_KERNEL) > 0)
            if self.cfg.prefill == "telea":
                lines = sketch if self.cfg.sketch_prefill else None
                given = prefill_telea(crop, mask, lines)
            else:
                given = crop
            truths.append(crop)
            inputs.append(given)
            masks.append(mask)
            sketches.append(sketch)

        def to_tensor(arrays: list[np.ndarray]) -> torch.Tensor:
            t = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().contiguous()
            return t / 127.5 - 1.0

        return {
            "truth": to_tensor(truths),
            "input": to_tensor(inputs),
            "mask": torch.from_numpy(np.stack(masks))[:, None].float(),
            "sketch": torch.from_numpy(np.stack(sketches))[:, None].float(),
            "edges": torch.from_numpy(np.stack(bands))[:, None].float(),
            "drawn": torch.from_numpy(np.stack(drawn))[:, None].float(),
        }


# ------------------------------------------------------------------ the trainer


@dataclass
class StepLosses:
    l1_coarse: float
    l1_refined: float
    g_gan: float = 0.0
    d_loss: float = 0.0


def _weight(mask: torch.Tensor, hole: float, valid: float, emphasis=None) -> torch.Tensor:
    hole_weight = hole * mask if emphasis is None else hole * mask * (1.0 + emphasis)
    return valid * (1.0 - mask) + hole_weight


def weighted_l1(pred, truth, mask, hole: float, valid: float = 1.0, emphasis=None) -> torch.Tensor:
    """Mean L1 with hole pixels weighted `hole` (x (1 + emphasis) where given), known ones `valid`."""
    weight = _weight(mask, hole, valid, emphasis)
    return ((pred.float() - truth).abs() * weight).mean() / weight.mean()


def weighted_mse(pred, truth, mask, hole: float, valid: float = 1.0, emphasis=None) -> torch.Tensor:
    weight = _weight(mask, hole, valid, emphasis)
    return ((pred.float() - truth).square() * weight).mean() / weight.mean()


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def hole_ssim_loss(pred, truth, mask) -> torch.Tensor:
    """1 - mean SSIM over the hole of the completed image (the metric `evaluate.ssim` reports).

    Images in [-1, 1]; Gaussian window sigma 1.5 and Wang et al. constants, per channel. MSE alone
    favours flat fills whose low local contrast SSIM penalises; this term rewards keeping
    structure and contrast continuous with the surroundings.
    """
    complete = (pred.float() * mask + truth * (1 - mask) + 1) / 2
    target = (truth + 1) / 2
    channels = complete.shape[1]
    window = _gaussian_window().to(complete).repeat(channels, 1, 1, 1)
    pad = window.shape[-1] // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
        return torch.nn.functional.conv2d(x, window, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(complete), blur(target)
    var_a = blur(complete * complete) - mu_a**2
    var_b = blur(target * target) - mu_b**2
    cov = blur(complete * target) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    s = s.mean(dim=1, keepdim=True)
    return 1.0 - (s * mask).sum() / mask.sum().clamp(min=1.0)


def init_gated_layers(generator: Generator, scale: float) -> None:
    """Signal-preserving init for training from scratch.

    With the layers' default init every gated layer shrinks its input about 4x (the sigmoid gate
    halves it, the default gain shrinks it again), so after the 16 coarse layers the signal is
    ~1e-9 and no gradient reaches the encoder; Adam then random-walks those weights until the
    dilated stack explodes. He-normal features scaled by `scale` (compensating the ~0.5 gate)
    with 1/sqrt(fan_in) gates keep activations near unit scale through both stages
    (measured: scale 1.6 fades slowly, 2.4 grows ~40x over the coarse stage).
    Output layers (no activation) are left alone: zero for residual models.
    """
    from ..networks.layers import GatedConv

    with torch.no_grad():
        for module in generator.modules():
            if not isinstance(module, GatedConv) or module.activation is None:
                continue
            w = module.conv.weight
            std = scale * math.sqrt(2.0 / w[0].numel())
            module.conv.bias.zero_()
            if module.gate_kind == "full":
                features, gate = w.chunk(2, 0)
                features.normal_(0.0, std)
                gate.normal_(0.0, math.sqrt(1.0 / w[0].numel()))
                continue
            w.normal_(0.0, std)
            if module.gate_kind in ("single", "pixel"):
                gate_w = module.gate.weight
                gate_w.normal_(0.0, math.sqrt(1.0 / gate_w[0].numel()))
                module.gate.bias.zero_()


@dataclass
class Trainer:
    cfg: TrainConfig
    generator: Generator = field(init=False)
    discriminator: PatchDiscriminator = field(init=False)
    step: int = 0
    images_seen: int = 0
    train_seconds: float = 0.0
    run_seconds: float = 0.0  # this run's own time (train_seconds carries over from init_from)
    best: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        cfg = self.cfg
        self.device = select_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        random.seed(cfg.seed)
        self.generator = Generator(cfg.generator_config())
        if cfg.init_scale > 0:
            init_gated_layers(self.generator, cfg.init_scale)
        if cfg.output_init > 0:
            # A zero output layer passes no gradient upstream, and a residual model then settles
            # at its pre-fill by switching its features off; a small random one avoids that.
            with torch.no_grad():
                for layer in (self.generator.conv17, self.generator.allconv17):
                    w = layer.conv.weight
                    w.normal_(0.0, cfg.output_init / math.sqrt(w[0].numel()))
        self.discriminator = PatchDiscriminator(5 if cfg.sketch else 4, cfg.d_cnum)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        self.memory_format = torch.contiguous_format
        if use_channels_last(cfg.channels_last, self.device):
            self.memory_format = torch.channels_last
            # Module.to takes memory_format at run time; its type stubs do not list it
            self.generator.to(memory_format=self.memory_format)  # type: ignore[call-overload]
            self.discriminator.to(memory_format=self.memory_format)  # type: ignore[call-overload]
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed crop sizes: pick the fastest kernels once
        self.opt_g = torch.optim.Adam(self.generator.parameters(), cfg.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), cfg.d_lr, betas=(0.5, 0.999))
        self.bf16 = use_bf16(cfg.bf16, self.device)

    # -------------------------------------------------------------- schedule and one step

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        """Linear warm-up over `warmup` steps, then a cosine to lr * lr_final over the steps,
        or with a time budget (`minutes`) over that budget (`seconds`: this run's time)."""
        cfg = self.cfg
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        if cfg.minutes > 0:
            t = min(1.0, seconds / (cfg.minutes * 60))
        else:
            span = (cfg.decay_steps or cfg.steps) - cfg.warmup
            t = min(1.0, (step - cfg.warmup) / max(1, span))
        return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * t)))

    def train_step(self, batch: dict[str, torch.Tensor]) -> StepLosses:
        cfg = self.cfg
        g, d = self.generator, self.discriminator
        g.train()
        for group in self.opt_g.param_groups:
            group["lr"] = self.lr_at(self.step, self.run_seconds)
        batch = {
            k: v.to(self.device, non_blocking=True, memory_format=self.memory_format)
            if v.dim() == 4 else v.to(self.device, non_blocking=True)
            for k, v in batch.items()
        }
        truth, mask = batch["truth"], batch["mask"]
        sketch = batch["sketch"] if cfg.sketch else None
        use_gan = cfg.gan_weight > 0 and self.step >= cfg.gan_start
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = g(batch["input"], mask, sketch)
        # Edge emphasis gives the sketch a reason to be used: it says where those pixels change.
        emphasis = cfg.edge_weight * batch["edges"] if cfg.edge_weight > 0 and "edges" in batch else None
        if cfg.sketch_weight > 0 and sketch is not None and "drawn" in batch:
            drawn = cfg.sketch_weight * batch["drawn"]
            emphasis = drawn if emphasis is None else emphasis + drawn
        weights = (mask, cfg.hole_weight, cfg.valid_weight, emphasis)
        l1_c = weighted_l1(out.coarse, truth, *weights)
        l1_r = weighted_l1(out.refined, truth, *weights)
        loss = cfg.coarse_weight * l1_c + l1_r
        losses = StepLosses(l1_c.item(), l1_r.item())
        if cfg.mse_weight > 0:
            mse = cfg.coarse_weight * weighted_mse(out.coarse, truth, *weights)
            mse = mse + weighted_mse(out.refined, truth, *weights)
            loss = loss + cfg.mse_weight * mse
        if cfg.ssim_weight > 0:
            loss = loss + cfg.ssim_weight * hole_ssim_loss(out.refined, truth, mask)
        if use_gan:
            complete = out.refined.float() * mask + truth * (1 - mask)
            d_sketch = sketch * mask if sketch is not None else None
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                fake_scores = d(complete, mask, d_sketch)
            g_gan = g_hinge_loss(fake_scores.float())
            loss = loss + cfg.gan_weight * g_gan
            losses.g_gan = g_gan.item()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g.parameters(), 1.0)
        self.opt_g.step()
        if use_gan:
            d.train()
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                scores = d(torch.cat([truth, complete.detach()]), mask.repeat(2, 1, 1, 1),
                           d_sketch.repeat(2, 1, 1, 1) if d_sketch is not None else None)
            real, fake = scores.float().chunk(2)
            d_loss = d_hinge_loss(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            losses.d_loss = d_loss.item()
        self.step += 1
        self.images_seen += truth.shape[0]
        return losses

    # -------------------------------------------------------------- checkpoints

    def state(self) -> dict:
        return {
            "train_config": asdict(self.cfg),
            "generator_config": self.generator.config.to_dict(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "images_seen": self.images_seen,
            "train_seconds": self.train_seconds,
            "run_seconds": self.run_seconds,
            "best": self.best,
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": self.rng.bit_generator.state,
                "python": random.getstate(),
            },
        }

    def load_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = state["step"]
        self.images_seen = state["images_seen"]
        self.train_seconds = state.get("train_seconds", 0.0)
        self.run_seconds = state.get("run_seconds", 0.0)
        self.best = state.get("best", {})
        torch.set_rng_state(state["rng"]["torch"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        random.setstate(state["rng"]["python"])

    def start_from(self, source: Path) -> None:
        """Fine-tune: take G and D weights from another run (folder or checkpoint file).

        Steps, optimisers and the schedule start afresh; images seen and training time carry
        over so an exported model reports its whole history. A model without the refine
        stage's sketch input starts one with it (`refine_sketch`) at exactly its own output:
        the new input channel's weights are zero. A run with a larger `cnum` than the source's
        starts from it widened (networks/widen.py), at the same output within ~1e-4.
        """
        state = load_checkpoint(source / CHECKPOINT if source.is_dir() else source)
        if "generator" not in state and "state_dict" in state:
            # An exported model file (e.g. the bundled model): generator weights and history only.
            meta = state.get("metadata", {})
            state = {
                "generator": state["state_dict"],
                "generator_config": state.get("config"),
                "images_seen": meta.get("images_seen", 0),
                "train_seconds": float(meta.get("cpu_hours", 0.0)) * 3600.0,
            }
        weights = state["generator"]
        source_config = state.get("generator_config")
        old = GeneratorConfig.from_dict(source_config) if source_config else None
        if old is not None and old.cnum != self.cfg.cnum:
            # A wider run from a narrower model: its refine-stage sketch first, at its own width.
            old = replace(old, refine_sketch=self.generator.config.refine_sketch)
            weights = widen_state(with_refine_sketch(weights, Generator(old)), old, self.generator)
        self.generator.load_state_dict(with_refine_sketch(weights, self.generator))
        if "discriminator" in state:
            self.discriminator.load_state_dict(state["discriminator"])
        self.images_seen = int(state.get("images_seen", 0))
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def save_checkpoint(self, run_dir: Path) -> None:
        atomic_save(self.state(), run_dir / CHECKPOINT)

    def save_best(self, run_dir: Path, metrics: dict) -> None:
        atomic_save(
            {
                "generator_config": self.generator.config.to_dict(),
                "generator": self.generator.state_dict(),
                "step": self.step,
                "images_seen": self.images_seen,
                "train_seconds": self.train_seconds,
                "train_config": asdict(self.cfg),
                "metrics": metrics,
            },
            run_dir / BEST,
        )


def load_checkpoint(path: Path) -> dict:
    # Our own checkpoint (holds RNG states and optimiser objects), never a downloaded file.
    return torch.load(path, map_location="cpu", weights_only=False)


# ------------------------------------------------------------------ validation


def validate(generator: Generator, cases, bf16: bool) -> dict:
    """Held-out hole PSNR/SSIM of the model, without and with the sketch (real pipeline)."""
    from .evaluate import evaluate, model_fills

    threads = torch.get_num_threads()
    # The pipeline runs on the CPU and moves its model there: a copy, when training runs on a GPU.
    on_cpu = next(generator.parameters()).device.type == "cpu"
    model = generator if on_cpu else copy.deepcopy(generator).cpu()
    bf16 = bf16 and (on_cpu or bf16_supported(torch.device("cpu")))  # the GPU's bf16 is not the CPU's
    try:
        report = evaluate(cases, model_fills(model, bf16=bf16))
    finally:
        torch.set_num_threads(threads)  # the pipeline claims every core
        generator.train()
    return report["methods"]


def _log(run_dir: Path, record: dict) -> None:
    with open(run_dir / "log.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def run(cfg: TrainConfig, resume: bool = False, smoke: bool = False, echo=print) -> Trainer:
    """Train until `cfg.steps`; resumes from the run folder's checkpoint when asked."""
    torch.set_num_threads(cfg.threads)
    run_dir = Path(cfg.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    train_paths, val_paths = split_holdout(list_images(cfg.data), cfg.holdout_every)
    if cfg.max_images:
        train_paths, val_paths = train_paths[: cfg.max_images], val_paths[:1]
    trainer = Trainer(cfg)
    if resume and (run_dir / CHECKPOINT).exists():
        trainer.load_state(load_checkpoint(run_dir / CHECKPOINT))
        echo(f"resumed at step {trainer.step} ({trainer.images_seen} images seen)")
    elif cfg.init_from:
        trainer.start_from(Path(cfg.init_from))
        echo(f"weights from {cfg.init_from} ({trainer.images_seen} images seen before)")
    sampler = CropSampler(train_paths, cfg)
    (run_dir / "split.json").write_text(
        json.dumps({"train": [p.name for p in train_paths], "val": [p.name for p in val_paths]})
    )
    cases = None
    if not smoke and val_paths and cfg.validate_minutes > 0:
        cases = make_cases(val_paths, long_side=512, masks_per_image=cfg.val_masks, seed=1)
    echo(
        f"training on {len(train_paths)} photos ({len(sampler.images)} scaled copies), "
        f"{len(val_paths)} held out; device={trainer.device.type}, bf16={trainer.bf16}, "
        f"threads={cfg.threads}, workers={cfg.workers}"
    )
    batches = batch_stream(sampler, cfg.batch, trainer.rng, cfg.workers, cfg.seed, trainer.step,
                           pin_memory=trainer.device.type == "cuda")
    budget = cfg.minutes * 60 if cfg.minutes > 0 else math.inf
    last_ckpt = last_val = time.monotonic()
    window_t, window_n = time.monotonic(), 0
    while trainer.step < cfg.steps and trainer.run_seconds < budget:
        t0 = time.monotonic()
        losses = trainer.train_step(next(batches))
        spent = time.monotonic() - t0
        trainer.train_seconds += spent
        trainer.run_seconds += spent
        window_n += cfg.batch
        if trainer.step % cfg.log_every == 0 or trainer.step == cfg.steps:
            now = time.monotonic()
            record = {
                "step": trainer.step,
                "images_seen": trainer.images_seen,
                "lr": trainer.lr_at(trainer.step - 1, trainer.run_seconds),
                **asdict(losses),
                "images_per_s": window_n / max(now - window_t, 1e-9),
                "train_hours": trainer.train_seconds / 3600,
            }
            window_t, window_n = now, 0
            _log(run_dir, record)
            echo(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in record.items()))
        now = time.monotonic()
        if cases is not None and (now - last_val) / 60 >= cfg.validate_minutes:
            _validate_and_keep(trainer, cases, run_dir, echo)
            last_val = time.monotonic()
        if (now - last_ckpt) / 60 >= cfg.checkpoint_minutes:
            trainer.save_checkpoint(run_dir)
            last_ckpt = now
    batches.close()  # ends the worker processes, if any
    if trainer.step < cfg.steps:
        echo(f"time budget of {cfg.minutes:g} min reached at step {trainer.step}")
    trainer.save_checkpoint(run_dir)
    if cases is not None:
        _validate_and_keep(trainer, cases, run_dir, echo)
    return trainer


def _validate_and_keep(trainer: Trainer, cases, run_dir: Path, echo) -> None:
    t0 = time.monotonic()
    result = validate(trainer.generator, cases, trainer.bf16)
    score = result["model"]["psnr_hole"]
    record = {"step": trainer.step, "images_seen": trainer.images_seen, "validation": result,
              "seconds": time.monotonic() - t0}
    _log(run_dir, record)
    summary = ", ".join(f"{k}: hole PSNR {v['psnr_hole']:.3f} SSIM {v['ssim_hole']:.4f}"
                        for k, v in result.items())
    echo(f"validation at step {trainer.step}: {summary}")
    if score > trainer.best.get("psnr_hole", -math.inf):
        trainer.best = {"psnr_hole": score, "step": trainer.step, "validation": result}
        trainer.save_best(run_dir, result)
        echo(f"new best: hole PSNR {score:.3f} at step {trainer.step}")


# ------------------------------------------------------------------ export


LICENSE_TEXT = (
    "DeepFill Studio's own weights, shipped under the application's terms; trained from "
    "scratch on openly licensed photos from Debian packages: wallpapers and everyday photos "
    "(public domain, CC0, CC BY, CC BY-SA, GPL, LGPL and GFDL; credits in docs/training.md)"
)
# The Debian package behind each training photo's name prefix (docs/training.md, "Data"; the
# extra photos' prefixes are those of tools/extra_training_photos.py).
PHOTO_PACKAGES = {
    "plasma": "plasma-workspace-wallpapers", "mate": "mate-backgrounds", "ukui": "ukui-wallpapers",
    "gnome": "gnome-backgrounds", "gcompris": "gcompris-qt-data", "stellarium": "stellarium-data",
    "tuxtype": "tuxtype-data", "kphotoalbum": "kphotoalbum", "scribus": "scribus-template",
    "gimphelp": "gimp-help-en", "matplotlib": "python-matplotlib-data", "lxqt": "lxqt-themes",
}


def data_description(split: dict, holdout_every: int) -> str:
    """Where a run's training photos came from: counts per package, from the names' prefixes."""
    counts = Counter(PHOTO_PACKAGES.get(name.split("-")[0], "other") for name in split.get("train", []))
    sources = ", ".join(f"{package} {n}" for package, n in counts.most_common())
    return (
        f"{sum(counts.values())} photos ({sources or 'none'}; held out: sorted names, every "
        f"{holdout_every}th from the first, {len(split.get('val', []))} photos)"
    )


def logged_validation(run_dir: Path, step: int) -> dict:
    """The validation logged at `step` in the run's log.jsonl ({} if none was)."""
    log = run_dir / "log.jsonl"
    found: dict = {}
    if log.exists():
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if record.get("step") == step and "validation" in record:
                found = record["validation"]
    return found


def export_best(
    run_dir: Path, path: Path, data: str | None = None, name: str = "deepfill-studio-default",
    extra: dict | None = None, latest: bool = False,
) -> Path:
    """Write the run's best generator (else, or with `latest`, its latest checkpoint) as a model
    file in our format. The end of a cosine schedule can beat the best validation checkpoint on
    a larger evaluation: validation is 11 cases and noisy (+-0.1 dB)."""
    from ..checkpoints.weights import save_model

    use_best = (run_dir / BEST).exists() and not latest
    source = run_dir / BEST if use_best else run_dir / CHECKPOINT
    state = load_checkpoint(source)
    generator = Generator(GeneratorConfig.from_dict(state["generator_config"]))
    generator.load_state_dict(state["generator"])
    cfg = state["train_config"]
    split = json.loads((run_dir / "split.json").read_text()) if (run_dir / "split.json").exists() else {}
    metadata = {
        "name": name,
        "license": LICENSE_TEXT,
        "architecture": "deepfill_v2",
        "network": (
            f"DeepFill v2, cnum {cfg['cnum']}, light-weight gates {cfg['coarse_gate']}/"
            f"{cfg['refine_gate']}, reflect padding, sketch channel"
            f"{' (both stages)' if cfg.get('refine_sketch') else ''}, Telea pre-fill + residual"
        ),
        "steps": int(state["step"]),
        "images_seen": int(state["images_seen"]),
        "cpu_hours": round(float(state.get("train_seconds", 0.0)) / 3600, 3),
        "data": data_description(split, cfg["holdout_every"]),
        "recipe": {k: cfg.get(k) for k in (
            "crop", "batch", "lr", "lr_final", "hole_weight", "mse_weight", "gan_weight",
            "edge_weight", "sketch_weight", "sketch_prefill",
            "gan_start", "sketch_drop", "sketch_style", "refine_sketch", "long_sides",
            "mask_scale", "init_from", "bf16", "seed")},
        "validation": state.get("metrics") or logged_validation(run_dir, int(state["step"])),
        "validation_setting": "held-out photos at 512 px long side, one seeded free-form mask each",
    }
    if data:
        metadata["data_folder"] = Path(data).name
    metadata.update(extra or {})
    save_model(path, generator, color_order="RGB", metadata=metadata)
    return path
