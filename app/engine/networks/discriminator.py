"""SN-PatchGAN discriminator (DeepFill v2 §4) and its hinge losses.

Six 5x5 stride-2 spectrally normalised convolutions with LeakyReLU(0.2) after each (the last
included); every output element scores one patch. The input is the completed image plus the
mask and, for sketch models, the sketch channel, so the critic knows where the hole is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 5, cnum: int = 32) -> None:
        super().__init__()
        widths = [cnum, 2 * cnum, 4 * cnum, 4 * cnum, 4 * cnum, 4 * cnum]  # official cnum = 64
        layers: list[nn.Module] = []
        cin = in_channels
        for width in widths:
            layers += [spectral_norm(nn.Conv2d(cin, width, 5, 2, 2)), nn.LeakyReLU(0.2)]
            cin = width
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, sketch: torch.Tensor | None = None):
        parts = [image, mask]
        if sketch is not None:
            parts.append(sketch)
        return self.net(torch.cat(parts, dim=1)).flatten(1)


def d_hinge_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return 0.5 * F.relu(1.0 - real_scores).mean() + 0.5 * F.relu(1.0 + fake_scores).mean()


def g_hinge_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()
