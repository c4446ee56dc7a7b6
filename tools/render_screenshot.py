"""Render the editor window with a photo, mask, sketch and a fill result to a PNG.

    python tools/render_screenshot.py [-o docs/screenshot.png] [--theme dark|light]
                                      [--photo PHOTO] [--model NAME_OR_PATH] [--size 1440x900]

Runs Qt offscreen, drives the real window (mouse strokes on the canvas, the engine thread
filling one object), then leaves a second object masked with a sketch guide line, so the
picture shows every layer. Without --photo a synthetic landscape is drawn (no third-party
image ends up in the README).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def synthetic_landscape(w: int = 1600, h: int = 1040, seed: int = 7) -> np.ndarray:
    """A lake scene with two things to remove: a post on the left, a red buoy on the right."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(h * 0.52)
    img = np.zeros((h, w, 3), np.float32)
    # sky: deep blue to warm haze, a soft sun
    t = (yy / horizon)[..., None]
    img[:] = (1 - t) * np.array([52, 104, 178]) + t * np.array([236, 196, 160])
    sun = np.exp(-(((xx - w * 0.68) ** 2 + (yy - h * 0.3) ** 2) / (2 * (h * 0.05) ** 2)))
    img += sun[..., None] * np.array([40, 30, 10])
    # two mountain ridges from smoothed random walks
    for depth, (base, amp, colour) in enumerate(
        [(0.40, 0.10, (104, 112, 140)), (0.47, 0.07, (62, 78, 84))]
    ):
        walk = np.cumsum(rng.normal(0, 1, w + 200))
        walk = cv2.GaussianBlur(walk.reshape(1, -1), (0, 0), 25 - depth * 10).ravel()[100:-100]
        walk = (walk - walk.min()) / max(1e-6, np.ptp(walk))
        ridge = (h * (base - amp * walk)).astype(np.float32)
        below = (yy >= ridge[None, :]) & (yy < horizon)
        shade = 1 - 0.25 * ((yy - ridge[None, :]) / (horizon - ridge[None, :] + 1)).clip(0, 1)
        img[below] = (np.array(colour) * shade[below][:, None]).astype(np.float32)
    # water: mirrored sky/mountains, darker, with ripples
    rows = horizon - (np.arange(h - horizon) * 0.9).astype(int) - 1
    ripple = (np.sin(np.arange(h - horizon)[:, None] * 0.9 + xx[horizon:] * 0.05) * 3).astype(int)
    src_cols = np.clip(np.arange(w)[None, :] + ripple, 0, w - 1)
    img[horizon:] = img[rows.clip(0, horizon - 1)[:, None], src_cols] * 0.72 + np.array([6, 14, 22])
    # shore with grass texture at the bottom
    shore = int(h * 0.86)
    grass = rng.normal(0, 1, (h - shore, w)).astype(np.float32)
    grass = cv2.GaussianBlur(grass, (0, 0), 1.2) * 18
    img[shore:] = np.array([72, 96, 48]) + grass[..., None] * np.array([0.8, 1.0, 0.5])
    img += rng.normal(0, 2.5, img.shape).astype(np.float32)  # sensor noise
    out = np.clip(img, 0, 255).astype(np.uint8)
    # the things to remove
    px = int(w * 0.24)
    cv2.rectangle(out, (px, int(h * 0.50)), (px + 14, shore + 30), (58, 44, 36), -1)
    cv2.rectangle(out, (px - 2, int(h * 0.50)), (px + 16, int(h * 0.50) + 8), (40, 30, 25), -1)
    bx, by = int(w * 0.72), int(h * 0.66)
    cv2.circle(out, (bx, by), 26, (210, 40, 36), -1, cv2.LINE_AA)
    cv2.circle(out, (bx - 8, by - 9), 7, (250, 140, 120), -1, cv2.LINE_AA)
    return out


def _spin(app, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait(app, predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.01)
    return False


def render(
    out: Path,
    theme: str = "dark",
    photo: Path | None = None,
    model: str | None = None,
    size: tuple[int, int] = (1440, 900),
    scene_size: tuple[int, int] = (1600, 1040),
    timeout: float = 600.0,
) -> Path:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from app.document import ImageMeta
    from app.engine.worker import EngineWorker
    from app.gui import create_application
    from app.main_window import MainWindow
    from app.settings import Settings
    from app.widgets.theme import apply_theme
    from app.widgets.tools import Tool

    app = create_application()
    apply_theme(app, theme)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.for_file(Path(tmp) / "screenshot.ini")
        win = MainWindow(settings=settings, worker=EngineWorker(model=model, device="auto"))
        win.refresh_icons()
        win.resize(*size)
        win.show()
        _spin(app, 0.2)
        if not _wait(app, lambda: win.worker.model_info or win.worker.model_error, timeout):
            raise SystemExit("the model did not load in time")
        if win.worker.model_error:
            raise SystemExit(f"no model to fill with: {win.worker.model_error}")

        if photo is not None:
            from app.imageio import load_image

            loaded = load_image(photo)
            rgb, name = loaded.rgb, Path(photo).name
        else:
            rgb, name = synthetic_landscape(*scene_size), "lake.jpg"
        win.set_photo(rgb, ImageMeta(path=None, format="JPEG", display_name=name))
        win.canvas.fit()
        _spin(app, 0.1)
        h, w = rgb.shape[:2]
        view = win.canvas.viewport()

        def stroke(points, modifier=Qt.KeyboardModifier.NoModifier) -> None:
            pos = [win.canvas.map_from_image(QPointF(x * w, y * h)).toPoint() for x, y in points]
            QTest.mousePress(view, Qt.MouseButton.LeftButton, modifier, pos[0])
            for p in pos[1:]:
                QTest.mouseMove(view, p)
            QTest.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, pos[-1])
            app.processEvents()

        # 1) mask the post on the left and fill it with the engine thread
        win.canvas.set_brush_size(max(8, int(w * 0.024)))
        stroke([(0.245, 0.495 + i * 0.025) for i in range(17)])
        applied = []
        win.fill_applied.connect(applied.append)
        win.fill()
        if not _wait(app, lambda: applied or not win.worker.busy, timeout):
            raise SystemExit("the fill did not finish in time")
        if not applied:
            raise SystemExit("the fill failed; see the messages above")
        # 2) mask the buoy and draw a sketch line along where the ripples continue
        win.canvas.set_brush_size(max(8, int(w * 0.045)))
        stroke([(0.705, 0.655), (0.735, 0.665), (0.72, 0.68), (0.71, 0.66)])
        win.set_tool(Tool.SKETCH)
        win.canvas.set_sketch_width(max(2, w // 400))
        stroke([(0.68, 0.672), (0.70, 0.670), (0.74, 0.668), (0.76, 0.667)])
        win.set_tool(Tool.BRUSH)
        win.act_flow.setChecked(False)
        # a cursor position for the status bar, the brush outline over the canvas
        cursor = win.canvas.map_from_image(QPointF(w * 0.55, h * 0.62)).toPoint()
        QTest.mouseMove(view, cursor)
        win.canvas.brush_item.setPos(QPointF(w * 0.55, h * 0.62))
        win.canvas.brush_item.setVisible(True)
        win.status.set_cursor((int(w * 0.55), int(h * 0.62)))
        win.status.clearMessage()
        _spin(app, 0.3)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not win.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
        win._close_approved = True
        win.close()
        win.worker.shutdown()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default="docs/screenshot.png", help="PNG to write")
    p.add_argument("--theme", choices=("dark", "light"), default="dark")
    p.add_argument("--photo", help="photo to show instead of the synthetic landscape")
    p.add_argument("--model", help="model name or file (default: the installed default)")
    p.add_argument("--size", default="1440x900", help="window size WxH")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    out = render(
        Path(args.output),
        theme=args.theme,
        photo=Path(args.photo) if args.photo else None,
        model=args.model,
        size=(w, h),
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
