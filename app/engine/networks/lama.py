"""LaMa (Suvorov et al., WACV 2022): the FFC-ResNet generator of the "big-lama" release.

Fast Fourier convolutions split every feature map into a local part (ordinary 3x3
convolutions) and a global part whose spectral transform mixes all positions at once through
a 1x1 convolution on the real FFT of the map, which is what lets LaMa fill large holes and run
at resolutions far above its training size. Module and attribute names reproduce the release's
state-dict keys (``model.<i>.conv1.ffc.convg2g.fu.conv_layer.weight`` ...) so its weights load
by name; the layout is checked against ``fixtures/lama_big_generator_layout.json`` in tests.

Network input: ``cat([image * (1 - mask), mask])`` with the image RGB in [0, 1] and the mask 1
in the hole; output: RGB in [0, 1] (sigmoid), before compositing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import islice

import torch
import torch.nn.functional as F
from torch import nn

from ..types import ModelCapabilities
from .generator import GeneratorOutput, config_from_dict

__all__ = [
    "LaMaConfig",
    "LaMaGenerator",
    "LaMaModel",
    "LaMaTorchScript",
    "config_from_state_dict",
    "generator_state_dict",
]


@dataclass(frozen=True)
class LaMaConfig:
    """Shape of an FFC-ResNet generator; the defaults are big-lama's."""

    in_channels: int = 4  # masked RGB + mask
    out_channels: int = 3
    ngf: int = 64  # width of the first layer; doubled by each down-sampling
    n_downsampling: int = 3
    n_blocks: int = 18  # FFC residual blocks at 1/8 resolution
    global_ratio: float = 0.75  # share of channels on the spectral (global) path in the blocks
    max_features: int = 1024
    # Duck-typed with GeneratorConfig for the pipeline: LaMa takes no sketch, no pre-fill.
    sketch: bool = False
    prefill: str = "none"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LaMaConfig:
        return config_from_dict(cls, data, "LaMa")

    @property
    def bottleneck(self) -> int:
        return min(self.max_features, self.ngf * 2**self.n_downsampling)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


class FourierUnit(nn.Module):
    """1x1 conv + BN + ReLU applied to the real 2-D FFT of the input (orthonormal scaling).

    The spectrum's real and imaginary parts are interleaved per channel (channel c becomes
    2c = real, 2c + 1 = imaginary), the order the released weights were trained with.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_layer = nn.Conv2d(2 * channels, 2 * channels, 1, bias=False)
        self.bn = _bn(2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        dtype = x.dtype
        # FFTs need float32 (no bfloat16/half kernels on CPU), also under autocast.
        with torch.autocast(x.device.type, enabled=False):
            spec = torch.fft.rfft2(x.float(), norm="ortho")  # [b, c, h, w//2+1] complex
            wf = spec.shape[-1]
            parts = torch.view_as_real(spec).permute(0, 1, 4, 2, 3).reshape(b, 2 * c, h, wf)
            parts = F.relu(self.bn(self.conv_layer(parts)))
            parts = parts.reshape(b, c, 2, h, wf).permute(0, 1, 3, 4, 2).contiguous()
            out = torch.fft.irfft2(torch.view_as_complex(parts), s=(h, w), norm="ortho")
        return out.to(dtype)


class SpectralTransform(nn.Module):
    """Global-to-global path: 1x1 reduce (+BN+ReLU), Fourier unit with a skip, 1x1 expand."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        half = cout // 2
        self.conv1 = nn.Sequential(nn.Conv2d(cin, half, 1, bias=False), _bn(half), nn.ReLU())
        self.fu = FourierUnit(half)
        self.conv2 = nn.Conv2d(half, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


class FFC(nn.Module):
    """Fast Fourier convolution over a (local, global) pair of maps.

    local_out = l2l(local) + g2l(global); global_out = l2g(local) + g2g(global), where the
    three spatial convolutions are k x k with reflect padding and g2g is the spectral transform.
    Paths whose input or output part is empty are absent (no weights), as in the release.
    """

    def __init__(
        self,
        cin: tuple[int, int],
        cout: tuple[int, int],
        kernel: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        (in_l, in_g), (out_l, out_g) = cin, cout
        if in_g and stride != 1:
            raise ValueError("the spectral path supports stride 1 only")

        def conv(ci: int, co: int) -> nn.Conv2d | None:
            if not ci or not co:
                return None
            return nn.Conv2d(ci, co, kernel, stride, padding, bias=False, padding_mode="reflect")

        self.convl2l = conv(in_l, out_l)
        self.convl2g = conv(in_l, out_g)
        self.convg2l = conv(in_g, out_l)
        self.convg2g = SpectralTransform(in_g, out_g) if in_g and out_g else None

    def forward(
        self, local: torch.Tensor, glob: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        out_l = out_g = None
        for conv, src, is_local_out in (
            (self.convl2l, local, True),
            (self.convg2l, glob, True),
            (self.convl2g, local, False),
            (self.convg2g, glob, False),
        ):
            if conv is None or src is None:
                continue
            y = conv(src)
            if is_local_out:
                out_l = y if out_l is None else out_l + y
            else:
                out_g = y if out_g is None else out_g + y
        return out_l, out_g


class FFCNormAct(nn.Module):
    """FFC followed by BatchNorm + ReLU on each non-empty part (release name: FFC_BN_ACT)."""

    def __init__(
        self,
        cin: tuple[int, int],
        cout: tuple[int, int],
        kernel: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.ffc = FFC(cin, cout, kernel, stride, padding)
        self.bn_l = _bn(cout[0]) if cout[0] else None
        self.bn_g = _bn(cout[1]) if cout[1] else None

    def forward(self, x: tuple[torch.Tensor, torch.Tensor | None]) -> tuple:
        local, glob = self.ffc(*x)
        if local is not None and self.bn_l is not None:
            local = F.relu(self.bn_l(local))
        if glob is not None and self.bn_g is not None:
            glob = F.relu(self.bn_g(glob))
        return local, glob


class FFCResBlock(nn.Module):
    def __init__(self, split: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = FFCNormAct(split, split, 3, padding=1)
        self.conv2 = FFCNormAct(split, split, 3, padding=1)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor | None]) -> tuple:
        local, glob = self.conv2(self.conv1(x))
        return x[0] + local, (x[1] + glob) if x[1] is not None else glob


class _Concat(nn.Module):
    """Merges the (local, global) pair back into one map, local channels first."""

    def forward(self, x: tuple) -> torch.Tensor:
        local, glob = x
        return local if glob is None else torch.cat([local, glob], dim=1)


class LaMaGenerator(nn.Module):
    """The FFC-ResNet generator; ``forward`` takes the 4-channel network input."""

    def __init__(self, config: LaMaConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or LaMaConfig()
        ngf, cap = cfg.ngf, cfg.max_features
        layers: list[nn.Module] = [nn.ReflectionPad2d(3)]
        layers.append(FFCNormAct((cfg.in_channels, 0), (ngf, 0), 7))
        for i in range(cfg.n_downsampling):
            cin = min(cap, ngf * 2**i)
            cout = min(cap, ngf * 2 ** (i + 1))
            last = i == cfg.n_downsampling - 1
            out_g = int(cout * cfg.global_ratio) if last else 0
            layers.append(FFCNormAct((cin, 0), (cout - out_g, out_g), 3, stride=2, padding=1))
        dim = cfg.bottleneck
        split = (dim - int(dim * cfg.global_ratio), int(dim * cfg.global_ratio))
        layers += [FFCResBlock(split) for _ in range(cfg.n_blocks)]
        layers.append(_Concat())
        for i in range(cfg.n_downsampling):
            cin = min(cap, ngf * 2 ** (cfg.n_downsampling - i))
            cout = min(cap, ngf * 2 ** (cfg.n_downsampling - i) // 2)
            layers += [
                nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                _bn(cout),
                nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cfg.out_channels, 7), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(
        self, x: torch.Tensor, checkpoint: Callable[[], None] | None = None
    ) -> torch.Tensor:
        """x: [B, 4, H, W] = masked RGB in [0, 1] and mask; H, W multiples of 8.

        `checkpoint` is called once half-way (after the middle residual block), so a caller
        can cancel a long run there by raising.
        """
        y = self.model[1]((self.model[0](x), None))  # FFC layers pass (local, global) pairs
        middle = 2 + self.config.n_downsampling + self.config.n_blocks // 2
        for i, layer in enumerate(islice(self.model, 2, None), start=2):
            if i == middle and checkpoint is not None:
                checkpoint()
            y = layer(y)
        return y

    def predict01(
        self,
        image01: torch.Tensor,
        mask: torch.Tensor,
        checkpoint: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        return self(torch.cat([image01 * (1.0 - mask), mask], dim=1), checkpoint)


# ---------------------------------------------------------------------------
# Adapter to the pipeline's generator interface
# ---------------------------------------------------------------------------


class LaMaModel(nn.Module):
    """LaMa behind the DeepFill generator's forward.

    ``forward(image, mask)`` takes the image in [-1, 1] (RGB) and the mask {0, 1} (1 = hole) and
    returns a GeneratorOutput whose ``coarse`` and ``refined`` are both LaMa's prediction in
    [-1, 1] before compositing. LaMa has no attention, so ``attention``/``offsets`` are None
    (no CRA); sketches are ignored. Any H, W that are multiples of 8 work (fully convolutional).
    """

    architecture = "lama"

    def __init__(
        self, net: LaMaGenerator | LaMaTorchScript, config: LaMaConfig | None = None
    ) -> None:
        super().__init__()
        self.net = net
        native = net.config if isinstance(net, LaMaGenerator) else None
        self.config = config or native or LaMaConfig()

    @property
    def capabilities(self) -> ModelCapabilities:
        """Declared for the pipeline: no sketch, no attention (so no CRA), no pre-fill."""
        return ModelCapabilities(sketch=False, attention=False, prefill="none")

    def predict01(
        self,
        image01: torch.Tensor,
        mask: torch.Tensor,
        checkpoint: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        """The network's own convention: RGB in [0, 1] in and out."""
        return self.net.predict01(image01, mask, checkpoint)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        sketch: torch.Tensor | None = None,
        return_attention: bool = False,
        between_stages: Callable[[], None] | None = None,
        near_hole_only: bool = False,
    ) -> GeneratorOutput:
        """Same call as Generator.forward; `between_stages` runs half-way through the net
        (`near_hole_only` changes nothing: LaMa has no attention to limit)."""
        if image.shape[-1] % 8 or image.shape[-2] % 8:
            raise ValueError("image height and width must be multiples of 8")
        mask = mask.to(image.dtype)
        out01 = self.predict01((image + 1.0) * 0.5, mask, between_stages)
        out = (out01.to(image.dtype) * 2.0 - 1.0).clamp(-1.0, 1.0)
        return GeneratorOutput(coarse=out, refined=out, attention=None, offsets=None)


class LaMaTorchScript(nn.Module):
    """A TorchScript export treated as an opaque ``module(image01, mask) -> image01``.

    This is the convention of the widely used ``big-lama.pt`` exports (image RGB [1, 3, H, W]
    in [0, 1], mask [1, 1, H, W] in {0, 1}); the module does its own masking. Only the
    prediction is used: the pipeline composites the known pixels back itself.
    """

    def __init__(self, module: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.module = module

    def predict01(
        self,
        image01: torch.Tensor,
        mask: torch.Tensor,
        checkpoint: Callable[[], None] | None = None,
    ) -> torch.Tensor:
        out = self.module(image01, mask)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.dim() == 3:
            out = out.unsqueeze(0)
        if out.shape[1] != 3 and out.shape[-1] == 3:  # NHWC exports
            out = out.permute(0, 3, 1, 2)
        out = out.float()
        if out.max() > 1.5:  # exports that return 0..255
            out = out / 255.0
        if checkpoint is not None:
            checkpoint()
        return out.clamp(0.0, 1.0)

    def forward(self, image01: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.predict01(image01, mask)


# ---------------------------------------------------------------------------
# State-dict layouts
# ---------------------------------------------------------------------------

_BLOCK_KEY = re.compile(r"^model\.(\d+)\.conv1\.ffc\.convl2l\.weight$")


_FIRST_KEY = "model.1.ffc.convl2l.weight"


def generator_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The generator's entries, with whatever prefix the file put before them removed.

    The release's Lightning checkpoint stores them as ``generator.model.*`` next to
    ``discriminator.*`` and the loss networks, a JIT export of the training module as
    ``model.generator.model.*``, a bare generator state dict as ``model.*``. Empty if absent.
    """
    prefixes = [k[: -len(_FIRST_KEY)] for k in state if k.endswith(_FIRST_KEY)]
    if not prefixes:
        return {}
    outer = min(prefixes, key=len)
    return {k[len(outer) :]: v for k, v in state.items() if k.startswith(outer + "model.")}


def config_from_state_dict(state: dict[str, torch.Tensor]) -> LaMaConfig:
    """Infer the generator's shape (width, depth, global ratio) from its state dict."""
    try:
        first = state["model.1.ffc.convl2l.weight"]
        ngf, cin = int(first.shape[0]), int(first.shape[1])
        n_down = 0
        while f"model.{2 + n_down}.ffc.convl2l.weight" in state and (
            f"model.{2 + n_down}.conv1.ffc.convl2l.weight" not in state
        ):
            n_down += 1
        blocks = sorted(int(m.group(1)) for k in state if (m := _BLOCK_KEY.match(k)))
        if not blocks or n_down == 0:
            raise KeyError("no FFC residual blocks")
        local = int(state[f"model.{blocks[0]}.conv1.ffc.convl2l.weight"].shape[0])
        glob = int(state[f"model.{blocks[0]}.conv1.ffc.convl2g.weight"].shape[0])
        out_key = max(
            (k for k in state if re.fullmatch(r"model\.\d+\.weight", k)),
            key=lambda k: int(k.split(".")[1]),
        )
        out_ch = int(state[out_key].shape[0])
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"not an FFC-ResNet (LaMa) generator state dict ({exc})") from None
    return LaMaConfig(
        in_channels=cin,
        out_channels=out_ch,
        ngf=ngf,
        n_downsampling=n_down,
        n_blocks=len(blocks),
        global_ratio=glob / (local + glob),
        max_features=max(local + glob, 1024),
    )


def is_lama_state_dict(state: dict) -> bool:
    """True if `state` holds an FFC-ResNet generator (under any prefix)."""
    return any(isinstance(k, str) and k.endswith(_FIRST_KEY) for k in state)
