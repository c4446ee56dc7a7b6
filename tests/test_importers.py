"""Importing models users already have: official TF checkpoints (v2 fixture, v1 synthetic),
LaMa files, and the `models` command that installs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app import cli, cli_models
from app.engine.checkpoints import deepfill_checkpoints, library, loaders, models, weights
from app.engine.networks.generator import Generator, GeneratorConfig
from app.engine.networks.lama import LaMaConfig, LaMaGenerator
from app.engine.types import InpaintOptions, InpaintRequest, ModelFileError

from .fixtures_path import FIXTURES, REFERENCE, needs_fixtures
from .test_tf_bundle import write_bundle

TF_CKPT = FIXTURES / "tf_checkpoint"
V1 = GeneratorConfig(
    cnum=32, coarse_gate="none", refine_gate="none", refine_mask_input=True, output="clip"
)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-test models folder and settings file; one CPU thread."""
    monkeypatch.setenv("DEEPFILL_STUDIO_MODELS", str(tmp_path / "user_models"))
    monkeypatch.setenv("DEEPFILL_STUDIO_CONFIG", str(tmp_path / "config" / "models.json"))
    monkeypatch.setattr(models, "bundled_models_dir", lambda: tmp_path / "bundled")
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def reference() -> dict:
    return torch.load(REFERENCE, map_location="cpu", weights_only=False)


def _cli(*argv: str, monkeypatch: pytest.MonkeyPatch) -> int:
    # only the models command: other subcommands live in other engineers' modules
    monkeypatch.setattr(cli, "_extra_commands", lambda: [cli_models.register])
    return cli.main(list(argv))


def _tf_variables(generator: Generator, scope: str = "inpaint_net/") -> dict[str, np.ndarray]:
    """A generator's weights under the official TF names, kernels in HWIO order."""
    out = {}
    for key, value in generator.state_dict().items():
        array = value.numpy()
        out[deepfill_checkpoints.tf_name_for(key, scope)] = (
            array.transpose(2, 3, 1, 0) if array.ndim == 4 else array
        )
    return out


# --------------------------------------------------------------------------- DeepFill v2 (fixture)


@needs_fixtures
@pytest.mark.parametrize("spelling", ["", "checkpoint", "snap-0.index"])
def test_fixture_checkpoint_converts_to_exactly_the_reference_generator(
    spelling: str, reference: dict
) -> None:
    model = loaders.load_model(TF_CKPT / spelling if spelling else TF_CKPT)
    state = model.generator.state_dict()
    assert list(state) == list(reference["G"])
    for key, value in reference["G"].items():
        assert torch.equal(state[key], value), key
    assert model.architecture == "deepfill_v2"
    assert model.config == GeneratorConfig()  # official: cnum 48, gated, TF SAME padding
    assert model.color_order == "BGR"
    assert "CC BY-NC 4.0" in model.license
    assert model.metadata["skipped_variables"] == {"optimizer": 3, "discriminator": 2, "counter": 1}
    assert "tensorflow" not in sys.modules


@needs_fixtures
def test_fixture_checkpoint_reproduces_the_reference_outputs(reference: dict) -> None:
    model = loaders.load_model(TF_CKPT / "snap-0.index")
    image, mask = reference["input"][:, :3], reference["mask"]
    with torch.inference_mode():
        out = model.generator(image, mask)
    assert (out.coarse - reference["stage1_fuse"]).abs().max() < 1e-4
    assert (out.refined - reference["stage2_fuse"]).abs().max() < 1e-4


def test_variable_classification() -> None:
    kinds = {
        "inpaint_net/conv1/kernel": "generator",
        "inpaint_net/conv13_upsample/conv13_upsample_conv/bias": "generator",
        "inpaint_net/conv1/kernel/Adam_1": "optimizer",
        "beta2_power": "optimizer",
        "discriminator/sn_patch_gan/conv1/kernel_sn/u": "discriminator",
        "global_step": "counter",
        "inpaint_net/conv13_upsample/other_conv/kernel": "other",
    }
    assert {name: deepfill_checkpoints.classify_tf_variable(name) for name in kinds} == kinds
    assert deepfill_checkpoints.tf_name_for("allconv15_upsample.conv.conv.weight") == (
        "inpaint_net/allconv15_upsample/allconv15_upsample_conv/kernel"
    )


# --------------------------------------------------------------------------- DeepFill v1 (synthetic)


def _v1_checkpoint(folder: Path, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    net = Generator(V1).eval()
    with torch.no_grad():  # keep activations in range so outputs are informative
        for p in net.parameters():
            p.mul_(0.7)
    variables = _tf_variables(net)
    # what a real training checkpoint also holds, which the importer must skip
    variables["inpaint_net/conv1/kernel/Adam"] = np.zeros((5, 5, 5, 32), np.float32)
    variables["discriminator/sn_patch_gan/conv1/kernel"] = np.ones((5, 5, 4, 64), np.float32)
    variables["global_step"] = np.array(42, np.int64)
    folder.mkdir(parents=True)
    write_bundle(folder / "snap-42", variables, per_block=16)
    (folder / "checkpoint").write_text('model_checkpoint_path: "snap-42"\n')
    return net


def test_deepfill_v1_imports_from_its_official_naming(tmp_path: Path) -> None:
    original = _v1_checkpoint(tmp_path / "release_places2_256")
    model = loaders.load_model(tmp_path / "release_places2_256")
    assert model.architecture == "deepfill_v1" and model.config == V1
    assert model.color_order == "BGR" and "CC BY-NC" in model.license
    assert model.name == "release_places2_256" and model.metadata["global_step"] == 42
    for key, value in original.state_dict().items():
        assert torch.equal(model.generator.state_dict()[key], value), key
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:40, 20:48] = 1
    with torch.inference_mode():
        got, want = model.generator(image, mask), original(image, mask)
    torch.testing.assert_close(got.refined, want.refined, rtol=0, atol=1e-6)
    assert got.refined.min() >= -1 and got.refined.max() <= 1  # v1 clips rather than tanh


def test_deepfill_v1_runs_through_the_pipeline_with_cra(tmp_path: Path) -> None:
    from app.engine.inference.pipeline import Inpainter

    _v1_checkpoint(tmp_path / "v1")
    inpainter = Inpainter(loaders.load_model(tmp_path / "v1"), device="cpu")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)
    mask = np.zeros((200, 240), bool)
    mask[60:130, 80:170] = True
    options = InpaintOptions(strategy="resize", working_size=96, cra=True)
    result = inpainter.run(InpaintRequest(image, mask, options=options))
    assert result.strategy == "resize"
    assert np.array_equal(result.image[~mask], image[~mask])
    assert not np.array_equal(result.image[mask], image[mask])
    assert "cra" in result.timings


def test_incomplete_or_foreign_tf_checkpoints_are_refused(tmp_path: Path) -> None:
    variables = _tf_variables(Generator(V1))
    del variables["inpaint_net/allconv17/bias"]
    (tmp_path / "a").mkdir()
    write_bundle(tmp_path / "a" / "m", variables, per_block=32)
    with pytest.raises(ModelFileError, match="lacks 1 generator variables"):
        loaders.load_model(tmp_path / "a")
    (tmp_path / "b").mkdir()
    write_bundle(tmp_path / "b" / "m", {"resnet/conv1/kernel": np.zeros((3, 3, 3, 8), np.float32)})
    with pytest.raises(ModelFileError, match="no DeepFill generator"):
        loaders.load_model(tmp_path / "b" / "m.index")
    variables = _tf_variables(Generator(V1))
    variables["inpaint_net/conv3/kernel"] = np.zeros((3, 3, 32, 7), np.float32)
    (tmp_path / "c").mkdir()
    write_bundle(tmp_path / "c" / "m", variables, per_block=32)
    with pytest.raises(ModelFileError, match="conv3"):
        loaders.load_model(tmp_path / "c")


# --------------------------------------------------------------------------- installing models


@needs_fixtures
def test_cli_imports_the_official_checkpoint_and_it_reproduces_the_reference(
    reference: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert _cli("models", "import", str(TF_CKPT), "--name", "places2", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "CC BY-NC 4.0" in out and "non-commercial" in out
    assert "skipped 6 variables" in out
    installed = models.user_models_dir() / "places2.pt"
    assert installed.is_file()
    model = loaders.load_model(models.resolve_model("places2"))  # our format, weights_only
    assert model.color_order == "BGR" and "CC BY-NC" in model.license
    assert model.architecture == "deepfill_v2" and model.config == GeneratorConfig()
    assert model.metadata["source"] == str(TF_CKPT.resolve())
    for key, value in reference["G"].items():
        assert torch.equal(model.generator.state_dict()[key], value), key
    # a second import under the same name is refused (exit 2, one line on stderr)
    assert _cli("models", "import", str(TF_CKPT), "--name", "places2", monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already installed" in err


def test_list_default_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _v1_checkpoint(tmp_path / "v1ckpt")
    torch.manual_seed(0)
    lama = {
        f"generator.{k}": v
        for k, v in LaMaGenerator(LaMaConfig(ngf=8, n_blocks=1)).state_dict().items()
    }
    torch.save({"state_dict": lama}, tmp_path / "best.ckpt")
    assert _cli("models", "import", str(tmp_path / "v1ckpt"), monkeypatch=monkeypatch) == 0
    assert (
        _cli(
            "models",
            "import",
            str(tmp_path / "best.ckpt"),
            "--name",
            "lama",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    capsys.readouterr()

    assert _cli("models", "list", "--json", monkeypatch=monkeypatch) == 0
    listing = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(listing) == {"v1ckpt", "lama"}
    assert listing["v1ckpt"]["architecture"] == "deepfill_v1"
    assert listing["v1ckpt"]["color_order"] == "BGR"
    assert listing["v1ckpt"]["parameters"] == sum(p.numel() for p in Generator(V1).parameters())
    assert listing["lama"]["architecture"] == "lama" and listing["lama"]["color_order"] == "RGB"
    assert listing["lama"]["size_bytes"] == (models.user_models_dir() / "lama.pt").stat().st_size
    assert not any(m["is_default"] for m in listing.values())

    assert _cli("models", "default", "lama", monkeypatch=monkeypatch) == 0
    assert json.loads(models.user_config_file().read_text())["default"] == "lama"
    assert models.default_model_path() == models.user_models_dir() / "lama.pt"
    loaded = loaders.load_model(models.resolve_model(None))
    assert loaded.architecture == "lama" and loaded.generator.config == LaMaConfig(
        ngf=8, n_blocks=1
    )
    assert _cli("models", "default", "nothing", monkeypatch=monkeypatch) == 2

    assert _cli("models", "remove", "lama", monkeypatch=monkeypatch) == 0
    assert not (models.user_models_dir() / "lama.pt").exists()
    assert "default" not in json.loads(models.user_config_file().read_text())
    assert [i.name for i in library.list_installed()] == ["v1ckpt"]
    capsys.readouterr()
    assert _cli("models", "remove", "lama", monkeypatch=monkeypatch) == 2
    assert "no installed model" in capsys.readouterr().err


def test_bundled_models_cannot_be_removed(tmp_path: Path) -> None:
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    weights.save_model(bundled / "tiny.pt", Generator(GeneratorConfig(cnum=8, padding="reflect")))
    infos = library.list_installed()
    assert [(i.name, i.location, i.architecture) for i in infos] == [
        ("tiny", "bundled", "deepfill_v2")
    ]
    with pytest.raises(ModelFileError, match="bundled"):
        library.remove_model("tiny")
    assert (bundled / "tiny.pt").exists()


def test_torchscript_import_keeps_the_export_with_its_metadata(tmp_path: Path) -> None:
    class Export(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.conv(torch.cat([image * (1 - mask), mask], dim=1)))

    torch.jit.save(torch.jit.script(Export()), str(tmp_path / "export.pt"))
    dest, model = library.import_model(tmp_path / "export.pt", "exported")
    assert dest == models.user_models_dir() / "exported.pt"
    assert model.architecture == "lama_torchscript" and model.name == "exported"
    (info,) = library.list_installed()
    assert info.architecture == "lama_torchscript"
    assert info.source == str((tmp_path / "export.pt").resolve())


def test_unreadable_files_are_listed_not_fatal(tmp_path: Path) -> None:
    folder = models.user_models_dir()
    folder.mkdir(parents=True)
    (folder / "broken.pt").write_bytes(b"\x00not a model")
    (info,) = library.list_installed()
    assert info.name == "broken" and info.error
    with pytest.raises(ModelFileError):
        library.import_model(folder / "broken.pt", "again")
    assert not (folder / "again.pt").exists()
