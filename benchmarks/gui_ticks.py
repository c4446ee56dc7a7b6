"""A 10 ms timer on the GUI thread for the benchmarks: the gaps between its ticks are what the
user would feel as stalls. Import after QT_QPA_PLATFORM is set."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer


class GuiTicks:
    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.times: list[int] = []  # ms since start() of every tick
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.times.append(self.clock.elapsed()))

    def start(self) -> None:
        self.times.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def elapsed(self) -> int:
        return self.clock.elapsed()

    def gaps(self) -> np.ndarray:
        """The gap (ms) ending at each tick, the first counted from start()."""
        return np.diff([0, *self.times]).astype(int)
