"""Side panel: tools, brush settings, mask operations, fill options, model and device."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.types import STRATEGIES
from app.signal_emit import emit
from app.widgets.canvas import MAX_BRUSH, MIN_BRUSH

STRATEGY_TIPS = {
    "auto": "Pick per photo: full size for small photos, crop around the hole or resize + CRA for big ones",
    "crop": "Fill a window around each hole at full resolution (sharpest, fastest for small holes)",
    "resize": "Fill the whole photo at the working size, then add full-resolution detail (CRA)",
    "full": "Run the network on the whole photo at full size (slow and memory-hungry on big photos)",
}


def _tool_button(action: QAction) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    b.setAutoRaise(False)
    return b


class ToolPanel(QWidget):
    brush_size_changed = Signal(int)
    sketch_width_changed = Signal(int)
    mask_opacity_changed = Signal(int)
    strategy_changed = Signal(str)
    device_changed = Signal(str)

    def __init__(
        self,
        tool_actions: list[QAction],
        mask_actions: dict[str, QAction],
        fill_action: QAction,
        variant_action: QAction,
        auto_run_action: QAction,
        flow_action: QAction,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(10)

        # tools ------------------------------------------------------------------------
        tools = QGroupBox("Tools")
        grid = QGridLayout(tools)
        grid.setSpacing(4)
        for i, action in enumerate(tool_actions):
            grid.addWidget(_tool_button(action), i // 2, i % 2)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(MIN_BRUSH, 300)
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(MIN_BRUSH, MAX_BRUSH)
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setToolTip("Brush diameter in image pixels  ([ and ], or Alt+wheel)")
        row = QHBoxLayout()
        row.addWidget(self.brush_slider, 1)
        row.addWidget(self.brush_spin)
        form.addRow("Size", row)
        self.sketch_spin = QSpinBox()
        self.sketch_spin.setRange(1, 50)
        self.sketch_spin.setSuffix(" px")
        self.sketch_spin.setToolTip("Width of sketch guide lines in image pixels")
        form.addRow("Sketch width", self.sketch_spin)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(15, 100)
        self.opacity_slider.setToolTip("How opaque the red mask overlay is")
        form.addRow("Mask opacity", self.opacity_slider)
        grid.addLayout(form, (len(tool_actions) + 1) // 2, 0, 1, 2)
        root.addWidget(tools)

        # mask -------------------------------------------------------------------------
        mask = QGroupBox("Mask")
        mgrid = QGridLayout(mask)
        mgrid.setSpacing(4)
        mgrid.addWidget(_tool_button(mask_actions["clear"]), 0, 0)
        mgrid.addWidget(_tool_button(mask_actions["invert"]), 0, 1)
        mgrid.addWidget(_tool_button(mask_actions["grow"]), 1, 0)
        mgrid.addWidget(_tool_button(mask_actions["shrink"]), 1, 1)
        self.grow_spin = QSpinBox()
        self.grow_spin.setRange(1, 500)
        self.grow_spin.setSuffix(" px")
        self.grow_spin.setToolTip("How far Grow and Shrink move the mask edge")
        by = QHBoxLayout()
        by.addWidget(QLabel("Grow / shrink by"))
        by.addWidget(self.grow_spin, 1)
        mgrid.addLayout(by, 2, 0, 1, 2)
        mgrid.addWidget(_tool_button(mask_actions["import"]), 3, 0)
        mgrid.addWidget(_tool_button(mask_actions["export"]), 3, 1)
        root.addWidget(mask)

        # fill -------------------------------------------------------------------------
        fill = QGroupBox("Fill")
        fl = QVBoxLayout(fill)
        self.fill_button = QPushButton()
        self.fill_button.setObjectName("fillButton")
        self.fill_button.setMinimumHeight(36)
        self._fill_action = fill_action
        self.fill_button.clicked.connect(fill_action.trigger)
        fill_action.changed.connect(self._sync_fill_button)
        self._sync_fill_button()
        fl.addWidget(self.fill_button)
        self.variant_button = _tool_button(variant_action)
        fl.addWidget(self.variant_button)
        self.texture = QCheckBox("Texture")
        self.texture.setObjectName("textureCheck")
        self.texture.setToolTip(
            "Copy real texture from the photo into the fill (off: the network's fill with CRA "
            "detail only)"
        )
        fl.addWidget(self.texture)
        self.lines = QCheckBox("Continue lines")
        self.lines.setObjectName("linesCheck")
        self.lines.setToolTip(
            "Carry straight lines the hole cuts (a horizon, a shore, a rail) across it where you "
            "drew no sketch (with Texture)"
        )
        self.texture.toggled.connect(self.lines.setEnabled)
        fl.addWidget(self.lines)
        self.auto_run = QCheckBox()
        self._bind_check(self.auto_run, auto_run_action)
        fl.addWidget(self.auto_run)
        self.show_flow = QCheckBox()
        self._bind_check(self.show_flow, flow_action)
        fl.addWidget(self.show_flow)
        sform = QFormLayout()
        self.strategy = QComboBox()
        for i, name in enumerate(STRATEGIES):
            self.strategy.addItem(name.capitalize(), name)
            self.strategy.setItemData(i, STRATEGY_TIPS.get(name, ""), Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip("How big photos are handled")
        sform.addRow("Strategy", self.strategy)
        fl.addLayout(sform)
        root.addWidget(fill)

        # engine -----------------------------------------------------------------------
        engine = QGroupBox("Model")
        ef = QFormLayout(engine)
        self.model_label = QLabel("Loading…")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.models_button = QToolButton()  # the window gives it the Models action
        self.models_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        mrow = QHBoxLayout()
        mrow.addWidget(self.model_label, 1)
        mrow.addWidget(self.models_button)
        ef.addRow("Model", mrow)
        self.device = QComboBox()
        self.device.addItem("Auto", "auto")
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA GPU", "cuda")
        self.device.setToolTip("Where the network runs; Auto uses a CUDA GPU when there is one")
        self.device_label = QLabel("–")
        self.device_label.setToolTip("Where the model is running now")
        drow = QHBoxLayout()
        drow.addWidget(self.device, 1)
        drow.addWidget(self.device_label)
        ef.addRow("Device", drow)
        self.engine_note = QLabel()
        self.engine_note.setWordWrap(True)
        self.engine_note.setVisible(False)
        self.engine_note.setObjectName("engineNote")
        ef.addRow(self.engine_note)
        root.addWidget(engine)
        root.addStretch(1)

        self.brush_slider.valueChanged.connect(self._slider_moved)
        self.brush_spin.valueChanged.connect(self._spin_changed)
        self.sketch_spin.valueChanged.connect(self.sketch_width_changed)
        self.opacity_slider.valueChanged.connect(self.mask_opacity_changed)
        self.strategy.currentIndexChanged.connect(
            lambda _i: emit(self.strategy_changed, self.strategy.currentData())
        )
        self.device.currentIndexChanged.connect(
            lambda _i: emit(self.device_changed, self.device.currentData())
        )

    @staticmethod
    def _bind_check(box: QCheckBox, action: QAction) -> None:
        box.setText(action.text().replace("&", ""))
        box.setToolTip(action.toolTip())
        box.setChecked(action.isChecked())
        box.toggled.connect(action.setChecked)
        action.toggled.connect(box.setChecked)

    def _sync_fill_button(self) -> None:
        a = self._fill_action
        self.fill_button.setText(a.text().replace("&", ""))
        self.fill_button.setIcon(a.icon())
        self.fill_button.setEnabled(a.isEnabled())
        self.fill_button.setToolTip(a.toolTip())

    # brush size: slider covers 1..300, the spin box goes further ------------------------
    def _slider_moved(self, value: int) -> None:
        if self.brush_spin.value() != value and not (
            value == self.brush_slider.maximum() and self.brush_spin.value() > value
        ):
            self.brush_spin.setValue(value)

    def _spin_changed(self, value: int) -> None:
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(min(value, self.brush_slider.maximum()))
        self.brush_slider.blockSignals(False)
        emit(self.brush_size_changed, value)

    def set_brush_size(self, value: int) -> None:
        if self.brush_spin.value() != value:
            self.brush_spin.setValue(value)

    def set_strategy(self, name: str) -> None:
        i = self.strategy.findData(name)
        self.strategy.setCurrentIndex(max(0, i))

    def set_device_choice(self, name: str) -> None:
        i = self.device.findData(name)
        self.device.setCurrentIndex(max(0, i))

    def set_engine_note(self, text: str) -> None:
        self.engine_note.setText(text)
        self.engine_note.setVisible(bool(text))
