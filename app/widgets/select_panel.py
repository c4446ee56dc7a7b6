"""Side-panel group for Select object and Magic wand: box / object / not-object strokes,
the margin, fill right after selecting, and the wand's tolerance and contiguity."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from app.engine.selection import DEFAULT_GROW
from app.signal_emit import emit
from app.widgets.icons import IconBinder
from app.widgets.select_pointer import SelectMode

MODES = [
    (SelectMode.BOX, "Box", "select", "Drag a loose box around the object (Alt: remove it)"),
    (SelectMode.OBJECT, "Object", "hint_object",
     "Stroke over parts that are the object (or Shift+drag)"),
    (SelectMode.NOT_OBJECT, "Not object", "hint_not_object",
     "Stroke over parts that are not the object (or Ctrl+drag)"),
]


class SelectPanel(QGroupBox):
    mode_changed = Signal(str)

    def __init__(self, icons: IconBinder, parent: QWidget | None = None) -> None:
        super().__init__("Select", parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.mode_group = QActionGroup(self)
        self.mode_actions: dict[SelectMode, QAction] = {}
        row = QHBoxLayout()
        row.setSpacing(2)
        for mode, text, icon_key, tip in MODES:
            a = QAction(text, self)
            a.setCheckable(True)
            a.setToolTip(tip)
            a.setData(mode.value)
            icons.bind(a, icon_key)
            a.triggered.connect(lambda _c=False, m=mode: emit(self.mode_changed, m.value))
            self.mode_group.addAction(a)
            self.mode_actions[mode] = a
            b = QToolButton()
            b.setDefaultAction(a)
            b.setObjectName(f"selectMode_{mode.value}")
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            row.addWidget(b)
        self.mode_actions[SelectMode.BOX].setChecked(True)
        form.addRow(row)
        self.grow_spin = QSpinBox()
        self.grow_spin.setRange(0, 200)
        self.grow_spin.setValue(DEFAULT_GROW)
        self.grow_spin.setSuffix(" px")
        self.grow_spin.setToolTip("Margin added around a selected object: soft edges and halos go too")
        form.addRow("Margin", self.grow_spin)
        self.fill_after = QCheckBox("Fill right after selecting")
        self.fill_after.setToolTip("Run the fill as soon as the object is selected")
        form.addRow(self.fill_after)
        self.tolerance = QSlider(Qt.Orientation.Horizontal)
        self.tolerance.setRange(0, 255)
        self.tolerance_spin = QSpinBox()
        self.tolerance_spin.setRange(0, 255)
        self.tolerance.setToolTip("Magic wand: how different a colour may be and still be picked")
        self.tolerance_spin.setToolTip(self.tolerance.toolTip())
        self.tolerance.valueChanged.connect(self.tolerance_spin.setValue)
        self.tolerance_spin.valueChanged.connect(self.tolerance.setValue)
        self.tolerance.setValue(32)
        trow = QHBoxLayout()
        trow.addWidget(self.tolerance, 1)
        trow.addWidget(self.tolerance_spin)
        form.addRow("Tolerance", trow)
        self.contiguous = QCheckBox("Contiguous")
        self.contiguous.setChecked(True)
        self.contiguous.setToolTip(
            "Magic wand: only the connected area you click (off: that colour everywhere)"
        )
        form.addRow(self.contiguous)

    def mode(self) -> SelectMode:
        a = self.mode_group.checkedAction()
        return SelectMode(a.data()) if a is not None else SelectMode.BOX

    def set_mode(self, mode: SelectMode) -> None:
        self.mode_actions[SelectMode(mode)].setChecked(True)
        emit(self.mode_changed, SelectMode(mode).value)

    def options(self) -> dict:
        return {
            "grow": self.grow_spin.value(),
            "tolerance": self.tolerance.value(),
            "contiguous": self.contiguous.isChecked(),
        }
