"""Status bar: progress with Cancel, zoom, image size, cursor, brush, device, last run time."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from app.widgets.icons import IconBinder


def _field(tip: str, min_chars: int) -> QLabel:
    label = QLabel()
    label.setToolTip(tip)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setMinimumWidth(label.fontMetrics().averageCharWidth() * min_chars)
    return label


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class StatusBar(QStatusBar):
    cancel_requested = Signal()

    def __init__(self, icons: IconBinder, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the fill in progress (Esc)")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.bind(self.cancel_button, "cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        for w in (self.progress_label, self.progress, self.cancel_button):
            self.addWidget(w)
        self.zoom = _field("Zoom (Ctrl+wheel, + and -, Ctrl+0 fits, Ctrl+1 is 100 %)", 6)
        self.size = _field("Image size in pixels", 11)
        self.cursor = _field("Cursor position in image pixels", 11)
        self.brush = _field("Brush diameter in photo pixels, and on screen at this zoom ([ and ])", 9)
        self.device = _field("Where the network runs", 6)
        self.last_run = _field("How long the last fill took", 10)
        fields = (self.zoom, self.size, self.cursor, self.brush, self.device, self.last_run)
        for i, label in enumerate(fields):
            if i:
                self.addPermanentWidget(_separator())
            self.addPermanentWidget(label)
        self.set_busy(False)
        self.set_zoom(None)
        self.set_image_size(None)
        self.set_cursor(None)
        self.set_device("–")
        self.set_last_run(None)

    def set_busy(self, busy: bool, label: str = "") -> None:
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.setVisible(busy)
        if busy:
            self.progress_label.setText(label)
            self.progress.setValue(0)

    def set_progress(self, fraction: float, label: str) -> None:
        self.progress.setValue(int(round(max(0.0, min(1.0, fraction)) * 1000)))
        if label:
            self.progress_label.setText(label.capitalize() + "…")

    def set_zoom(self, zoom: float | None) -> None:
        """None: no photo on screen, so no zoom to speak of."""
        if zoom is None:
            self.zoom.setText("–")
        else:
            self.zoom.setText(f"{zoom * 100:.0f} %" if zoom >= 0.1 else f"{zoom * 100:.1f} %")

    def set_image_size(self, size: tuple[int, int] | str | None) -> None:
        """(w, h), a word such as "opening…", or None for no photo."""
        if isinstance(size, str):
            self.size.setText(size)
        else:
            self.size.setText(f"{size[0]} × {size[1]}" if size else "no photo")

    def set_cursor(self, pos: tuple[int, int] | None) -> None:
        self.cursor.setText(f"{pos[0]}, {pos[1]}" if pos else "–")

    def set_brush(self, size: int, label: str = "Brush") -> None:
        self.brush.setText(f"{label} {size} px")

    def set_brush_text(self, text: str) -> None:
        self.brush.setText(text)

    def set_device(self, device: str) -> None:
        self.device.setText(device.upper() if device in ("cpu", "cuda") else device)

    def set_last_run(self, seconds: float | None, variant: int | None = None) -> None:
        """How long the last fill took; `variant`: the number of the variant it made."""
        if seconds is None:
            self.last_run.setText("no fill yet")
        elif variant is not None:
            self.last_run.setText(f"variant {variant} · {seconds:.2f} s")
        else:
            self.last_run.setText(f"last fill {seconds:.2f} s")
