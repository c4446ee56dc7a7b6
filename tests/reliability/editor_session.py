"""An editor session for the crash-recovery test, run as its own process (offscreen).

    python -m tests.reliability.editor_session PHOTO AUTOSAVE_DIR WORK_DIR

Opens PHOTO, paints a mask, draws a sketch line, fills (with a stand-in engine), paints a
second mask, waits until that state is autosaved, writes what the document holds to
WORK_DIR/expected.npz, prints READY and keeps running until it is killed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(photo: str, autosave_dir: str, work: str) -> int:
    import numpy as np
    from PySide6.QtCore import QPointF, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.autosave import AutosaveStore
    from app.engine.worker import EngineWorker
    from app.main_window import MainWindow
    from app.settings import Settings
    from app.widgets.tools import Tool
    from tests.conftest import InstantRunner

    app = QApplication.instance() or QApplication([])
    work_dir = Path(work)
    runner = InstantRunner(colour=(12, 34, 56))
    win = MainWindow(
        settings=Settings.for_file(work_dir / "settings.ini"),
        worker=EngineWorker(runner_factory=lambda m, d: runner),
        autosave=AutosaveStore(autosave_dir),
    )
    win.autosaver.delay_ms = 200
    win.resize(1000, 700)
    win.show()

    def wait_for(predicate, timeout_ms: int = 30000) -> None:
        waited = 0
        while not predicate():
            QTest.qWait(20)
            waited += 20
            if waited > timeout_ms:
                raise TimeoutError("the editor session did not get there in time")

    def drag(points) -> None:
        view = win.canvas.viewport()
        pos = [win.canvas.map_from_image(QPointF(x, y)).toPoint() for x, y in points]
        QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos[0])
        for p in pos[1:]:
            QTest.mouseMove(view, p)
        QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos[-1])

    loaded: list[str] = []
    win.photo_loaded.connect(loaded.append)
    win.open_path(photo)
    wait_for(lambda: bool(loaded))
    win.canvas.fit()
    win.set_tool(Tool.BRUSH)
    drag([(40, 40), (70, 50), (90, 60)])
    win.set_tool(Tool.SKETCH)
    drag([(30, 55), (110, 55)])
    filled: list[object] = []
    win.fill_applied.connect(filled.append)
    win.fill()
    wait_for(lambda: bool(filled))
    win.set_tool(Tool.SKETCH)
    drag([(100, 20), (100, 110)])  # the fill used up the first line: draw another
    win.set_tool(Tool.BRUSH)
    drag([(120, 90), (140, 100)])
    saved: list[str] = []
    win.autosaver.saved.connect(saved.append)
    wait_for(lambda: bool(saved) and not win.autosaver.busy)
    doc = win.doc
    np.savez(
        work_dir / "expected.npz",
        image=doc.image,
        original=doc.original,
        mask=doc.mask,
        sketch=doc.sketch,
    )
    print("READY", win.autosaver.session, flush=True)
    QTimer.singleShot(120000, app.quit)  # never reached in the test: it is killed first
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
