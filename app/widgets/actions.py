"""The editor's actions as data: text, shortcut, icon, tip and menu of each, in one table.

`create_actions` turns the table into QActions on a window: each becomes the window attribute
`act_<name>` and calls the method named in `slot` (with `args`): the window's own, or one of a
part it holds when dotted (`files.save` is the FileController's). The menu (`section`) is
also the group the shortcut sheet (F1) lists the action under. The tools are declared here too
(`TOOL_SPECS`); the window makes them, the themes, undo and redo itself (they carry the tool,
the theme name, or follow the undo stack).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from app.widgets.icons import IconBinder
from app.widgets.tools import Tool

SK = QKeySequence.StandardKey
Shortcuts = str | QKeySequence.StandardKey | list[str | QKeySequence.StandardKey] | None


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the window attribute is act_<name>
    text: str
    slot: str | None  # the window method it calls, dotted for a part's ("files.save"); None: none
    shortcuts: Shortcuts = None
    icon: str | None = None
    tip: str | None = None  # default: the text without & and trailing dots
    section: str = "General"  # the menu, and the shortcut sheet's group
    checkable: bool = False
    args: tuple[Any, ...] = ()
    fallback: str | None = None  # shortcut when the platform has no standard one
    short_text: str | None = None  # the text shown once made (e.g. in the Mask menu)


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("open", "&Open…", "files.open_dialog", SK.Open, "open", "Open a photo", "File"),
    ActionSpec("save", "&Save", "files.save", SK.Save, "save", "Save the result", "File"),
    ActionSpec(
        "save_as", "Save &As…", "files.save_as", SK.SaveAs, "save_as",
        "Save the result under a new name", "File", fallback="Ctrl+Shift+S",
    ),
    ActionSpec(
        "import_mask", "&Import Mask…", "files.import_mask_dialog", None, "import_mask",
        "Load a mask image (non-zero pixels are the hole)", "File", short_text="Import…",
    ),
    ActionSpec(
        "export_mask", "&Export Mask…", "files.export_mask_dialog", None, "export_mask",
        "Save the mask as a black and white PNG", "File", short_text="Export…",
    ),
    ActionSpec("quit", "&Quit", "close", SK.Quit, "quit", None, "File", fallback="Ctrl+Q"),
    # Edit
    ActionSpec(
        "copy", "&Copy Image", "files.copy_image", SK.Copy, "copy",
        "Copy the result to the clipboard", "Edit",
    ),
    ActionSpec(
        "paste", "&Paste Image", "files.paste", SK.Paste, "paste",
        "Open the image (or image file) on the clipboard", "Edit",
    ),
    # Tools
    ActionSpec(
        "smaller", "Smaller Brush", "canvas.change_brush_size", "[", section="Tools", args=(-1,)
    ),
    ActionSpec(
        "larger", "Larger Brush", "canvas.change_brush_size", "]", section="Tools", args=(1,)
    ),
    # Mask
    ActionSpec("clear", "Clear", "clear_mask", "Del", "clear", "Clear the mask", "Mask"),
    ActionSpec("invert", "Invert", "invert_mask", "Ctrl+I", "invert", "Invert the mask", "Mask"),
    ActionSpec(
        "grow", "Grow", "grow_mask", "Ctrl+]", "grow", "Grow the mask by N pixels", "Mask",
        args=(1,),
    ),
    ActionSpec(
        "shrink", "Shrink", "grow_mask", "Ctrl+[", "shrink", "Shrink the mask by N pixels",
        "Mask", args=(-1,),
    ),
    # Run
    ActionSpec(
        "fill", "&Fill", "fill", ["Ctrl+Return", "Ctrl+Enter"], "fill",
        "Remove the masked area", "Run",
    ),
    ActionSpec(
        "variant", "Another &Variant", "another_variant", ["Ctrl+Shift+Return", "Ctrl+Shift+Enter"],
        "variant", "Fill the last hole again with other texture from the photo (new seed)", "Run",
    ),
    ActionSpec(
        "cancel", "&Cancel Fill", "cancel_fill", "Esc", "cancel", "Stop the fill in progress",
        "Run",
    ),
    ActionSpec(
        "auto", "Fill automatically after each stroke", "auto_toggled", None, None,
        "Run the fill as soon as a stroke or shape is finished", "Run", checkable=True,
    ),
    ActionSpec(
        "models", "&Models…", "show_models", None, "models",
        "Import, choose and remove inpainting models", "Run",
    ),
    # View
    ActionSpec("zoom_in", "Zoom &In", "canvas.zoom_in", [SK.ZoomIn, "+", "="], "zoom_in", None, "View"),
    ActionSpec("zoom_out", "Zoom &Out", "canvas.zoom_out", [SK.ZoomOut, "-"], "zoom_out", None, "View"),
    ActionSpec("fit", "&Fit to Window", "canvas.fit", "Ctrl+0", "fit", None, "View"),
    ActionSpec("actual", "&Actual Pixels (100 %)", "canvas.actual_size", "Ctrl+1", "actual", None, "View"),
    ActionSpec(
        "split", "&Split Before/After", "split_toggled", "Y", "split",
        "Original left of a draggable divider, result right of it", "View", checkable=True,
    ),
    ActionSpec(
        "flow", "Show attention &flow", "flow_toggled", "Shift+F", "flow",
        "Colour the last fill by where each part was borrowed from", "View", checkable=True,
    ),
    ActionSpec(
        "show_mask", "Show &Mask", "overlay_toggled", "M", None,
        "Show the mask and sketch overlays", "View", checkable=True,
    ),
    # Help
    ActionSpec("shortcuts", "&Keyboard Shortcuts", "show_shortcuts", ["F1", "?"], "shortcuts", None, "Help"),
    ActionSpec("about", "&About DeepFill Studio", "show_about", None, "about", None, "Help"),
)


# the tools, made by the window from this table: (tool, shortcut, icon, tip); menu "Tools"
TOOL_SPECS = [
    (Tool.BRUSH, "B", "brush", "Paint the area to remove"),
    (Tool.ERASER, "E", "eraser", "Erase parts of the mask"),
    (
        Tool.SKETCH,
        "P",
        "sketch",
        "Draw guide lines: where edges should continue in the hole",
    ),
    (Tool.SKETCH_ERASER, "Shift+E", "sketch_eraser", "Erase sketch lines"),
    (Tool.RECT, "R", "rect", "Drag a rectangle to mask it (Alt: remove)"),
    (Tool.LASSO, "L", "lasso", "Draw around an area to mask it (Alt: remove)"),
    (
        Tool.SELECT,
        "O",
        "select",
        "Drag a loose box around an object to mask it; then Shift+drag over what is "
        "the object, Ctrl+drag over what is not (Alt: remove)",
    ),
    (
        Tool.WAND,
        "W",
        "wand",
        "Click an area of similar colour, e.g. the sky (Shift adds, Alt removes)",
    ),
]


def make_action(
    window: QWidget,
    icons: IconBinder,
    text: str,
    slot: Callable[..., Any] | None = None,
    shortcuts: Shortcuts = None,
    icon: str | None = None,
    tip: str | None = None,
    checkable: bool = False,
    section: str = "General",
) -> QAction:
    """One QAction on `window`: shortcut in its tooltip, section for the shortcut sheet."""
    a = QAction(text, window)
    if isinstance(shortcuts, list):
        a.setShortcuts([QKeySequence(s) for s in shortcuts])
    elif isinstance(shortcuts, QKeySequence.StandardKey):
        a.setShortcuts(shortcuts)
    elif isinstance(shortcuts, str):
        a.setShortcut(QKeySequence(shortcuts))
    if icon:
        icons.bind(a, icon)
    keys = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    tip = tip or text.replace("&", "").rstrip(".…")
    a.setToolTip(f"{tip} ({keys})" if keys else tip)
    a.setStatusTip(tip)
    a.setCheckable(checkable)
    a.setProperty("section", section)
    if slot is not None and checkable:
        a.toggled.connect(slot)
    elif slot is not None:
        # triggered(checked) must not reach the slot: save(then=False) called False()
        a.triggered.connect(lambda _checked=False, f=slot: f())
    window.addAction(a)  # shortcuts work even when menus/toolbars are hidden
    return a


def create_actions(
    window: QWidget, icons: IconBinder, before: dict[str, Callable[[], None]] | None = None
) -> dict[str, QAction]:
    """Every action of ACTIONS on `window`, also set as its `act_<name>` attributes.

    `before[name]()` runs just before the action `name` is made, so actions the window makes
    itself (undo and redo, the tools) keep their place in the shortcut sheet."""
    made: dict[str, QAction] = {}
    for spec in ACTIONS:
        if before and spec.name in before:
            before[spec.name]()
        slot = None
        if spec.slot is not None:
            method = attrgetter(spec.slot)(window)
            slot = (lambda *_a, m=method, args=spec.args: m(*args)) if spec.args else method
        a = make_action(
            window, icons, spec.text, slot, spec.shortcuts, spec.icon, spec.tip,
            spec.checkable, spec.section,
        )
        if spec.fallback and a.shortcut().isEmpty():
            a.setShortcut(QKeySequence(spec.fallback))
        if spec.short_text:
            a.setText(spec.short_text)
        setattr(window, f"act_{spec.name}", a)
        made[spec.name] = a
    return made
