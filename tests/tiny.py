"""Small random models for tests, initialised so activations keep unit scale (a default-initialised
20-layer gated network outputs a flat grey, which would hide bugs)."""

import math

import torch

from app.engine.checkpoints.weights import LoadedModel, save_model
from app.engine.networks.generator import Generator, GeneratorConfig

TINY = GeneratorConfig(cnum=8, in_channels=6, padding="reflect")


def tiny_generator(config: GeneratorConfig = TINY, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    generator = Generator(config).eval()
    with torch.no_grad():
        for param in generator.parameters():
            if param.dim() == 4:
                torch.nn.init.normal_(param, std=3.0 / math.sqrt(param[0].numel()))
    return generator


def tiny_model(color_order: str = "RGB", sketch: bool = True, seed: int = 0) -> LoadedModel:
    config = GeneratorConfig(cnum=8, in_channels=6 if sketch else 5, padding="reflect")
    return LoadedModel(tiny_generator(config, seed), config, color_order, name="tiny")


def save_tiny_model(path, seed: int = 0) -> None:
    save_model(path, tiny_generator(TINY, seed), metadata={"name": "tiny", "license": "test"})
