"""Crash-recovery autosave of a large photo: what the GUI thread pays, printed (not a timed test).

    python benchmarks/bench_autosave.py [--megapixels 24]

The writes run on a pool thread (tests/reliability/test_autosave.py proves it without a clock).
Here, for the first write (which carries the photo as opened) and for a later mask stroke: how
long the write takes in the background, the GUI thread's copy for the snapshot, and the longest
gap between 10 ms timer ticks on the GUI thread while the write is in flight (what the user
would feel as a stall). The copy is set against this machine's time for one plain copy of the
photo, so numbers from a loaded machine can be read.
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

import numpy as np  # noqa: E402


def one_copy_ms(shape: tuple[int, ...]) -> float:
    """This machine's time, now, to copy an array into a buffer already in memory (best of 3)."""
    src, dst = np.ones(shape, np.uint8), np.zeros(shape, np.uint8)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--megapixels", type=float, default=24.0)
    args = p.parse_args()
    from PySide6.QtWidgets import QApplication

    from app.autosave import AutosaveStore
    from app.document import ImageMeta
    from app.main_window import MainWindow
    from app.settings import Settings
    from benchmarks.gui_ticks import GuiTicks

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="bench-autosave-"))
    win = MainWindow(
        settings=Settings.for_file(folder / "settings.ini"),
        start_engine=False,
        autosave=AutosaveStore(folder / "autosave"),
    )
    saver = win.autosaver
    saver.delay_ms = 50
    h = int((args.megapixels * 1e6 / 1.5) ** 0.5)
    w = int(h * 1.5)
    rng = np.random.default_rng(1)
    photo = np.empty((h, w, 3), np.uint8)
    photo[:] = rng.integers(0, 256, (h, 1, 3), dtype=np.uint8)
    photo[::7] = rng.integers(0, 256, (1, w, 3), dtype=np.uint8)
    win.set_photo(photo, ImageMeta(display_name="big.tif"))
    del photo
    deadline = time.monotonic() + 30
    while "original" not in saver._buffers and time.monotonic() < deadline:
        app.processEvents()  # the copy buffers are faulted in on a pool thread meanwhile
    print(f"photo {w} x {h} ({w * h / 1e6:.1f} MP); one plain copy: "
          f"{one_copy_ms((h, w, 3)):.0f} ms")

    ticks = GuiTicks()
    for name, (x, y, rw, rh) in (
        ("first write (photo as opened)", (w // 6, h // 4, w // 8, h // 8)),
        ("a later mask stroke", (w // 2, h // 2, w // 10, h // 5)),
    ):
        saved: list[str] = []
        saver.saved.connect(saved.append)
        win.doc.mask[y : y + rh, x : x + rw] = 255
        win.doc.notify("mask", (x, y, rw, rh))  # starts the autosave's delay
        ticks.start()
        started = time.perf_counter()
        while not saved or saver.busy:
            app.processEvents()
            time.sleep(0.001)
        seconds = time.perf_counter() - started
        ticks.stop()
        saver.saved.disconnect(saved.append)
        gaps = ticks.gaps()
        print(f"{name}: written in {seconds:.2f} s; GUI copy {saver.last_snapshot_ms:.0f} ms; "
              f"longest gap between 10 ms ticks {gaps.max(initial=0)} ms")
    saver.close_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
