"""The side docks' first-run layout, kept while the window settles, until the user arranges them.

A window manager may resize or maximise the editor after it is first shown, and Qt then shares
the new height between the two docks in proportion: the tools, which want more height than most
screens give, stayed squeezed while the history list took the rest. So the default split is
applied again after every resize of the window, as long as the user has not dragged a dock
separator, moved, floated or closed a dock (a saved layout is restored instead and never touched).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

HISTORY_MIN = 160  # the history list's height when the tools want all the room there is
TOOLS_MIN = 200


class DefaultDockLayout(QObject):
    """The right dock area: tools about 300 px wide and as tall as they need, history the rest."""

    def __init__(
        self, window: QMainWindow, tools: QDockWidget, history: QDockWidget, panel: QWidget
    ) -> None:
        super().__init__(window)
        self._window, self._tools, self._history, self._panel = window, tools, history, panel
        self.live = False
        self._timer = QTimer(self)  # coalesces a burst of resizes into one split
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.apply)
        for dock in (tools, history):
            dock.topLevelChanged.connect(self.stop)
            dock.dockLocationChanged.connect(self.stop)
            dock.toggleViewAction().triggered.connect(self.stop)

    def start(self) -> None:
        """Apply the default split once the window has been laid out, and keep it."""
        self.live = True
        self._window.installEventFilter(self)  # only while following: none with a saved layout
        self._timer.start()

    def stop(self) -> None:
        self.live = False
        self._window.removeEventFilter(self)

    def apply(self) -> None:
        if not self.live:
            return
        docks = (self._tools, self._history)
        if any(d.isFloating() or d.isHidden() for d in docks):
            return
        w = self._window
        width = max(300, self._panel.sizeHint().width() + 24)
        w.resizeDocks([self._tools], [width], Qt.Orientation.Horizontal)
        want = self._panel.sizeHint().height() + 40
        total = self._tools.height() + self._history.height()
        tools = min(want, max(TOOLS_MIN, total - HISTORY_MIN))
        w.resizeDocks(list(docks), [tools, total - tools], Qt.Orientation.Vertical)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self._window and self.live:
            t = event.type()
            if t == QEvent.Type.Resize:
                self._timer.start()
            elif t == QEvent.Type.MouseButtonPress:
                # Presses reach the window itself on its dock separators (clicks that children
                # leave unhandled come here too: then the split simply stops following).
                self.stop()
        return False
