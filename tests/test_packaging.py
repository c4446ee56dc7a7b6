"""A wheel built from the source and installed in a fresh venv works from any folder: the
bundled model and sample are package data, not files of the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env=env)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_open_source_license_is_declared():
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_bundled_files_are_read_from_the_package():
    from app.engine.checkpoints.models import bundled_models_dir
    from app.resources import sample_path

    assert (bundled_models_dir() / "deepfill-studio-default.pt").is_file()
    assert bundled_models_dir().parent == Path(sys.modules["app"].__file__).parent / "resources"
    assert sample_path().is_file() and sample_path("picos_mask.png").is_file()


@pytest.mark.slow
@pytest.mark.slow
def test_wheel_in_a_fresh_venv_fills_the_sample_from_another_folder(tmp_path):
    # the source as a clean clone would have it (no build/ or egg-info of the checkout)
    src = tmp_path / "src"
    shutil.copytree(ROOT / "app", src / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
         "-q", "-w", wheels, cwd=src)
    wheel = next(wheels.glob("deepfill_studio-*.whl"))

    # dependencies (torch, ...) from this interpreter; the app itself only from the wheel
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(python, "-c", "import app; print(app.__file__)", cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout

    listed = _run(bin_dir / "deepfill-studio-cli", "models", cwd=elsewhere, env=env).stdout
    assert "deepfill-studio-default" in listed and "bundled" in listed
    sample = Path(_run(python, "-c", "from app.resources import sample_path; print(sample_path())",
                       cwd=elsewhere, env=env).stdout.strip())
    assert sample.is_relative_to(env_dir)
    _run(bin_dir / "deepfill-studio-cli", "inpaint", sample, "--mask",
         sample.with_name("picos_mask.png"), "-o", elsewhere / "filled.jpg", "--strategy", "crop",
         cwd=elsewhere, env=env)
    from PIL import Image

    with Image.open(elsewhere / "filled.jpg") as im:
        assert im.size == (1600, 1200)
    assert (bin_dir / "deepfill-studio").exists()  # the GUI script
    _run(python, "-c", "import app.__main__, app.gui", cwd=elsewhere, env=env)
