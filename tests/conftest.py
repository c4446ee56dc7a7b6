"""Shared fixtures. GUI tests run offscreen; no test touches the user's real settings."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: keep torch to one core

import tempfile  # noqa: E402

# editors started through app.gui autosave here, never in the user's real data folder
os.environ.setdefault("DEEPFILL_STUDIO_AUTOSAVE", tempfile.mkdtemp(prefix="deepfill-autosave-"))
# ... and imported models and the default choice never reach the user's real folders either
os.environ.setdefault("DEEPFILL_STUDIO_MODELS", tempfile.mkdtemp(prefix="deepfill-models-"))
os.environ.setdefault(
    "DEEPFILL_STUDIO_CONFIG", os.path.join(tempfile.mkdtemp(prefix="deepfill-config-"), "models.json")
)

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_runtest_setup(item):
    """Tests marked needs_fixtures: skip without ../shared/fixtures, but fail in CI."""
    if item.get_closest_marker("needs_fixtures") is None:
        return
    from tests.fixtures_path import MISSING, fixtures_present, in_ci

    if not fixtures_present():
        if in_ci():
            pytest.fail(f"{MISSING}; CI=true, so the conformance tests must run", pytrace=False)
        pytest.skip(MISSING)


@pytest.fixture(scope="session", autouse=True)
def _isolated_qsettings(tmp_path_factory):
    """Point QSettings' user scope at a temp folder so no test writes real settings."""
    try:
        from PySide6.QtCore import QCoreApplication, QSettings
    except ImportError:  # engine-only environments
        yield
        return
    folder = tmp_path_factory.mktemp("qsettings")
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(folder))
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    QCoreApplication.setOrganizationName("DeepFillStudioTests")
    QCoreApplication.setApplicationName("deepfill-studio-tests")
    yield


@pytest.fixture
def settings(tmp_path):
    from app.settings import Settings

    return Settings.for_file(tmp_path / "settings.ini")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A small random DeepFill v2 model file (sketch channel on), saved once per session."""
    from tests.tiny import save_tiny_model

    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_tiny_model(path)
    return path


def make_photo(h: int = 96, w: int = 128, seed: int = 3) -> np.ndarray:
    """A deterministic textured RGB test photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack(
        [(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)), ((xx + yy) * 2) % 256], axis=2
    ).astype(np.int32)
    img += rng.integers(-12, 13, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def photo() -> np.ndarray:
    return make_photo()


@pytest.fixture
def photo_file(tmp_path) -> Path:
    """A JPEG photo with EXIF (camera make, orientation 1), an sRGB ICC profile and 300 dpi."""
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[0x0112] = 1  # Orientation
    path = tmp_path / "holiday.jpg"
    Image.fromarray(make_photo(120, 160)).save(
        path, quality=95, exif=exif.tobytes(), icc_profile=icc, dpi=(300, 300)
    )
    return path


class InstantRunner:
    """Test stand-in for the Inpainter: fills the hole with a flat colour immediately."""

    device = "cpu"

    def __init__(self, colour=(10, 200, 30)) -> None:
        self.colour = colour
        self.requests = []

    def run(self, req, progress=None, cancel=None):
        from app.engine.types import InpaintResult

        self.requests.append(req)
        if progress:
            progress(0.5, "filling")
        out = req.image.copy()
        out[req.mask] = self.colour
        ys, xs = np.nonzero(req.mask)
        rect = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        flow = np.zeros_like(out)
        flow[req.mask] = (255, 0, 255)
        return InpaintResult(out, rect, flow=flow, timings={"total": 0.01}, strategy="full")


@pytest.fixture
def make_window(qtbot, settings, monkeypatch):
    """Factory for main windows with test settings, a chosen engine and no modal prompts."""
    from PySide6.QtWidgets import QApplication

    from app.engine.worker import EngineWorker
    from app.main_window import MainWindow
    from app.widgets.theme import apply_theme

    # Styled as the editor always styles itself at start (app.gui), and the same for every test:
    # a test that switches the theme would otherwise change the side panel's width, and so the
    # canvas's fit zoom, for the tests after it.
    apply_theme(QApplication.instance(), "light")

    made = []

    def factory(runner=None, model_path=None, answers=None, **kw):
        if model_path is not None:
            worker = EngineWorker(model=str(model_path), device="cpu")
        else:
            r = runner or InstantRunner()
            worker = EngineWorker(runner_factory=lambda m, d: r)
        win = MainWindow(settings=kw.pop("settings", settings), worker=worker, **kw)
        win.prompts = []
        answers = dict(answers or {})

        def answer(name, default):
            def f(*args):
                win.prompts.append(name)
                return answers.get(name, default)

            return f

        win.ask_unsaved = answer("unsaved", "discard")
        win.confirm_overwrite_original = answer("overwrite", False)
        win.ask_quality = answer("quality", 90)
        win.answers = answers
        qtbot.addWidget(win)
        made.append(win)
        return win

    yield factory
    for win in made:
        try:
            win._close_approved = True
            win.close()
            win.worker.shutdown()
        except RuntimeError:  # already deleted
            pass


def open_and_wait(qtbot, win, path, timeout=15000):
    with qtbot.waitSignal(win.photo_loaded, timeout=timeout):
        win.open_path(path)


@pytest.fixture
def shown(qtbot, make_window):
    """Factory for main windows that are shown (1200 x 800 unless `size` says) and exposed."""

    def factory(size=(1200, 800), **kw):
        win = make_window(**kw)
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        return win

    return factory
