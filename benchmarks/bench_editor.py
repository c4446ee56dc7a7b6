"""Editor responsiveness on a 50 MP photo: printed numbers, not a timed test.

    python benchmarks/bench_editor.py [--megapixels 50]

Measures what the user feels: the first paint at fit-to-window, one brush segment (draw into
the numpy mask + pyramid update + repaint), a whole-mask operation with its undo, and the
memory one history step costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def window_start_seconds() -> float:
    """A fresh interpreter: imports, QApplication, main window shown (torch not imported)."""
    import subprocess
    import tempfile

    code = (
        "import time, sys; t = time.perf_counter()\n"
        "from app.gui import create_application; app = create_application()\n"
        "from app.main_window import MainWindow; from app.settings import Settings\n"
        f"w = MainWindow(settings=Settings.for_file({tempfile.mktemp(suffix='.ini')!r}), "
        "start_engine=False)\n"
        "w.show(); app.processEvents()\n"
        "assert 'torch' not in sys.modules\n"
        "print(time.perf_counter() - t)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--megapixels", type=float, default=50.0)
    args = p.parse_args()
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.commands import HistoryStack, layer_change_command
    from app.document import Document
    from app.widgets.canvas import CanvasView
    from app.widgets.tools import invert_mask

    app = QApplication.instance() or QApplication([])
    h = int((args.megapixels * 1e6 / 1.5) ** 0.5)
    w = int(h * 1.5)
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    rgb = np.ascontiguousarray(np.repeat(np.repeat(small, 16, 0), 16, 1)[:h, :w])
    doc, stack = Document(), HistoryStack()
    view = CanvasView(doc, stack)
    view.resize(1200, 800)
    view.show()
    app.processEvents()

    def timed(fn, repeat=1):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - t) / repeat * 1000

    print(f"window shown after start:        {window_start_seconds() * 1000:8.1f} ms")
    print(f"photo {w} x {h} ({w * h / 1e6:.1f} MP)")
    print(f"load into document + fit:        {timed(lambda: doc.load(rgb)):8.1f} ms")
    print(f"first paint at fit (pyramid):    {timed(lambda: view.viewport().grab()):8.1f} ms")
    print(f"repaint at fit:                  {timed(lambda: view.viewport().grab(), 5):8.1f} ms")
    view.set_brush_size(200)
    vp = view.viewport()
    pts = [view.map_from_image(QPointF(w * (0.3 + i * 0.01), h * 0.5)).toPoint() for i in range(30)]
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
    t = time.perf_counter()
    for pt in pts[1:]:
        QTest.mouseMove(vp, pt)
        app.processEvents()  # includes the repaint of the changed rectangle
    seg = (time.perf_counter() - t) / (len(pts) - 1) * 1000
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    print(f"brush segment at fit (200 px):   {seg:8.1f} ms")
    stroke = stack.command(0)
    print(f"history bytes for that stroke:   {stroke.nbytes / 1024:8.1f} KiB")
    view.set_zoom(1.0)
    view.centerOn(w * 0.5, h * 0.5)
    app.processEvents()
    pts = [view.map_from_image(QPointF(w * 0.5 + i * 20, h * 0.5)).toPoint() for i in range(20)]
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
    t = time.perf_counter()
    for pt in pts[1:]:
        QTest.mouseMove(vp, pt)
        app.processEvents()
    seg = (time.perf_counter() - t) / (len(pts) - 1) * 1000
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    print(f"brush segment at 100 %:          {seg:8.1f} ms")
    cmd = None

    def invert():
        nonlocal cmd
        cmd = layer_change_command(doc, "mask", invert_mask(doc.mask), "Invert")
        stack.push(cmd)

    print(f"invert mask (diff + push):       {timed(invert):8.1f} ms")
    print(f"history bytes for invert:        {cmd.nbytes / 1024 / 1024:8.1f} MiB")
    print(f"undo invert:                     {timed(stack.undo):8.1f} ms")
    # what FillController.fill does on the GUI thread: the photo is lent (the engine thread
    # copies it), the mask is taken as a bool plane
    request = timed(lambda: (doc.lend_image(), doc.mask > 0))
    print(f"fill request (lent photo + mask):{request:8.1f} ms")
    print(f"(the engine thread's photo copy: {timed(lambda: doc.image.copy()):8.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
