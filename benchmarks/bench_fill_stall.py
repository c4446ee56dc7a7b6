"""How long the editor's GUI thread stalls during a fill: printed numbers, not a timed test.

    python benchmarks/bench_fill_stall.py [--photo P --mask M] [--scale 1.0] [--repeats 3]

The bundled sample photo and its mask by default (--scale resizes both, e.g. 2.5 for a 12 MP
photo), the installed default model and the editor's default fill options. The fill runs on
the engine thread (tests/reliability/test_engine_load.py proves that without a clock); here a
10 ms timer on the GUI thread measures what the user would feel: the longest gap between its
ticks while the fill computes, and while its result is applied to the photo and repainted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

SAMPLE = ROOT / "app" / "resources" / "sample"


def load(photo: Path, mask: Path, scale: float) -> tuple[np.ndarray, np.ndarray]:
    rgb, hole = Image.open(photo).convert("RGB"), Image.open(mask).convert("L")
    if scale != 1.0:
        size = (round(rgb.width * scale), round(rgb.height * scale))
        rgb, hole = rgb.resize(size, Image.LANCZOS), hole.resize(size, Image.NEAREST)
    return np.asarray(rgb).copy(), np.where(np.asarray(hole) > 127, 255, 0).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--photo", type=Path, default=SAMPLE / "picos.jpg")
    p.add_argument("--mask", type=Path, default=SAMPLE / "picos_mask.png")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    from PySide6.QtCore import QThreadPool, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from app.autosave import AutosaveStore
    from app.document import ImageMeta
    from app.main_window import MainWindow
    from app.settings import Settings
    from benchmarks.gui_ticks import GuiTicks

    # the offscreen platform warns at every layout pass that it cannot size windows
    qInstallMessageHandler(lambda _mode, _context, text: None if "propagateSizeHints" in text
                           else print(text, file=sys.stderr))
    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="bench-fill-stall-"))
    win = MainWindow(settings=Settings.for_file(folder / "settings.ini"),
                     autosave=AutosaveStore(folder / "autosave"))
    win.resize(1400, 900)
    loaded: list[object] = []
    win.worker.model_loaded.connect(loaded.append)
    win.worker.model_failed.connect(lambda why: sys.exit(f"no model: {why}"))
    win.show()
    while not loaded:
        app.processEvents()
        time.sleep(0.005)
    photo, mask = load(args.photo, args.mask, args.scale)
    h, w = mask.shape
    print(f"{args.photo.name} {w} x {h} ({w * h / 1e6:.1f} MP), hole {np.mean(mask > 0):.1%}; "
          f"model {loaded[0]['name']} on {loaded[0]['device']}")

    ticks = GuiTicks()
    applied: list[int] = []
    engine: list[float] = []  # the runner's own time (Inpainter.run), without the thread's copy
    win.fill_applied.connect(lambda r: (applied.append(ticks.elapsed()),
                                        engine.append(r.timings.get("total", 0.0))))
    for _ in range(args.repeats):
        win.set_photo(photo.copy(), ImageMeta(display_name=args.photo.name))
        win.doc.mask[:] = mask
        win.doc.notify("mask", (0, 0, w, h))
        applied.clear()
        for _ in range(20):
            app.processEvents()  # the new photo and mask painted before the clock starts
        ticks.start()
        win.fill()
        submitted = ticks.elapsed()  # the request (the lent photo, the mask's plane) made
        while not applied:
            app.processEvents()
            time.sleep(0.001)
        done = applied[0]
        while ticks.elapsed() < done + 300:  # the repaint after the result, and a margin
            app.processEvents()
            time.sleep(0.001)
        ticks.stop()
        at = np.array(ticks.times)
        gaps = ticks.gaps()
        computing = gaps[at <= done]
        applying = gaps[at > done]
        worst = int(at[np.argmax(computing)]) if len(computing) else 0
        print(f"fill {done / 1000:.2f} s (engine {engine[-1]:.2f} s, sent in {submitted} ms): "
              f"longest GUI stall "
              f"{computing.max(initial=0)} ms while it computed ({len(computing)} ticks; the "
              f"longest ended at {worst} ms), {applying.max(initial=0)} ms while its result was "
              f"applied and repainted")
    win.worker.shutdown()
    win.autosaver.close_session()  # waits for an autosave in flight, then removes its files
    QThreadPool.globalInstance().waitForDone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
