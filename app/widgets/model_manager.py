"""The Models dialog: installed models (bundled + imported), import by file dialog or drag and
drop, the default model, removal, and switching the running editor's model.

The engine side lives in app/engine/checkpoints/library.py; it imports torch, so this module imports it
lazily and calls it on a pool thread (listing, importing), never on the GUI thread. Switching
goes through the EngineWorker like a device change: the document and history are untouched.

The editor's own choice is the setting ``run/model`` (empty = follow the default): "Use now"
sets it, "Set as default" sets the default of the CLI and the editor and clears that choice.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from app.signal_emit import emit
from app.widgets.background import run_in_background
from app.widgets.dialogs import confirm
from app.widgets.model_files import (  # noqa: F401 - is_model_path and model_source: the API
    MODEL_FILE_SUFFIXES,
    MODEL_FILTER,
    is_model_path,
    megabytes,
    model_source,
    parameters_text,
    short_license,
    unique_name,
)

if TYPE_CHECKING:
    from app.engine.checkpoints.library import ModelInfo
    from app.engine.types import ModelDescription
    from app.engine.worker import EngineWorker
    from app.settings import Settings

log = logging.getLogger(__name__)

COLUMNS = (
    "Name",
    "Architecture",
    "Colour order",
    "Size",
    "Parameters",
    "Source",
    "License",
    "Default",
    "Kind",
)
NAME_ROLE = Qt.ItemDataRole.UserRole


class ModelManager(QDialog):
    """List, import, choose and remove models. One instance per window (see open_model_manager)."""

    listed = Signal(object)  # list[ModelInfo], after the table was filled
    imported = Signal(str, str)  # installed name, file
    import_failed = Signal(str)  # the one-sentence reason
    busy_changed = Signal(bool)  # an import is running
    switching = Signal(str)  # "Use now" asked the worker for this model
    switch_ended = Signal(str)  # name of the model the editor runs afterwards

    def __init__(
        self,
        worker: EngineWorker,
        settings: Settings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.settings = settings
        self.infos: list[ModelInfo] = []
        self._queue: deque[tuple[Path, str | None]] = deque()
        self._importing: Path | None = None
        self._list_token = 0
        self._switch: tuple[str, str] | None = None  # (name asked for, previous run/model)
        self._pending_select: str | None = None
        self._ready = False  # the first listing arrived (name clashes can be checked)

        self.setWindowTitle("Models")
        self.setAcceptDrops(True)
        self.resize(980, 420)

        intro = QLabel(
            "Installed inpainting models. Import official DeepFill v2/v1 TensorFlow checkpoints "
            "(their folder or .index file), LaMa checkpoints or exports, or PyTorch model files "
            "— or drop them here."
        )
        intro.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("License"), QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: the import reports no fractions
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status_row = QHBoxLayout()
        status_row.addWidget(self.busy_bar)
        status_row.addWidget(self.status, 1)

        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Convert a model into your models folder")
        menu = QMenu(self.import_button)
        self.act_import_file = menu.addAction("Model file…", self.import_file_dialog)
        self.act_import_file.setToolTip(
            "A .pt/.pth/.ckpt model, or the .index or 'checkpoint' file of a TensorFlow checkpoint"
        )
        self.act_import_folder = menu.addAction(
            "TensorFlow checkpoint folder…", self.import_folder_dialog
        )
        self.import_button.setMenu(menu)
        self.default_button = QPushButton("Set as Default")
        self.default_button.setToolTip("The model the command line and the editor start with (★)")
        self.default_button.clicked.connect(self.set_default_selected)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Delete an imported model (bundled models stay)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button = QPushButton("Use Now")
        self.use_button.setToolTip("Switch the editor to this model; your photo and history stay")
        self.use_button.clicked.connect(self.use_selected)
        self.folder_button = QPushButton("Open Folder")
        self.folder_button.setToolTip("Show the folder imported models are kept in")
        self.folder_button.clicked.connect(self._open_folder)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.import_button, self.default_button, self.remove_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(status_row)
        layout.addLayout(buttons)

        worker.model_loaded.connect(self._on_model_loaded)
        worker.switch_failed.connect(self._on_switch_failed)
        worker.model_failed.connect(self._on_switch_failed)
        self._update_buttons()
        self.refresh()

    # ================================================================== listing
    @property
    def busy(self) -> bool:
        return self._importing is not None

    def refresh(self) -> None:
        """Re-read the installed models on a pool thread (the first call imports torch)."""
        self._list_token += 1
        token = self._list_token
        self.busy_bar.setVisible(True)

        def work() -> list[ModelInfo]:
            from app.engine.checkpoints import library

            return library.list_installed()

        run_in_background(
            work,
            lambda infos: self._listed(token, infos),
            lambda error: self._list_failed(token, error),
        )

    def _listed(self, token: int, infos: list[ModelInfo]) -> None:
        if not isValid(self) or token != self._list_token:
            return
        self.busy_bar.setVisible(self.busy)
        selected = self._pending_select or self.selected_name()
        self._pending_select = None
        self.infos = list(infos)
        self._ready = True
        self._fill_table(selected)
        if not self.busy and not self.status.text():
            self.status.setText(self._summary())
        emit(self.listed, list(self.infos))
        if self._queue and not self.busy:
            self._next_import()  # drops that came before the first listing

    def _list_failed(self, token: int, error: BaseException) -> None:
        if not isValid(self) or token != self._list_token:
            return
        self.busy_bar.setVisible(self.busy)
        self._ready = True  # imports can still go ahead; clashes are then refused by name
        log.error("listing models failed: %s", error)
        self.status.setText(f"The installed models could not be listed ({error}).")

    def _in_use_path(self) -> Path | None:
        info = self.worker.model_info
        if info is None or not info.source:
            return None
        try:
            return Path(info.source).resolve()
        except OSError:
            return None

    def _fill_table(self, select: str | None = None) -> None:
        in_use = self._in_use_path()
        self.table.setRowCount(len(self.infos))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, info in enumerate(self.infos):
            using = in_use is not None and info.path.resolve() == in_use
            arch = f"unreadable: {info.error}" if info.error else info.architecture or "?"
            source = Path(info.source).name if info.source else ""
            cells = (
                info.name,
                arch,
                info.color_order or "?",
                megabytes(info.size_bytes),
                parameters_text(info.parameters),
                source,
                short_license(info.license),
                "★" if info.is_default else "",
                "bundled" if info.location == "bundled" else "imported",
            )
            tips = (
                f"{info.path}" + ("\nIn use by the editor" if using else ""),
                info.error or info.architecture,
                "Colour order the network expects",
                f"{info.size_bytes:,} bytes",
                f"{info.parameters:,} parameters",
                info.source,
                info.license,
                "Default model" if info.is_default else "",
                "Shipped with DeepFill Studio"
                if info.location == "bundled"
                else "Imported into your models folder",
            )
            for c, (text, tip) in enumerate(zip(cells, tips, strict=True)):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                item.setData(NAME_ROLE, info.name)
                if c == COLUMNS.index("Default"):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if using:
                    item.setFont(bold)
                self.table.setItem(r, c, item)
        if select is not None:
            self.select(select)
        self._update_buttons()

    def _model_in_use(self) -> str | None:
        """The name of the model the editor's engine has loaded, if any."""
        info = self.worker.model_info
        return (info.name or None) if info is not None else None

    def _summary(self) -> str:
        from_editor = str(self.settings.get("run/model"))
        using = self._model_in_use()
        parts = [f"{len(self.infos)} model{'s' if len(self.infos) != 1 else ''} installed."]
        if using:
            parts.append(f"The editor is using {using} (bold).")
        if from_editor:
            parts.append(f"Chosen for the editor: {from_editor}.")
        if not self.infos:
            parts = ["No model is installed yet: import one (Import… or drop it here)."]
        return " ".join(parts)

    def row_of(self, name: str) -> int:
        for r, info in enumerate(self.infos):
            if info.name == name:
                return r
        return -1

    def select(self, name: str) -> bool:
        r = self.row_of(name)
        if r >= 0:
            self.table.selectRow(r)
        return r >= 0

    def selected_info(self) -> ModelInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        r = rows[0].row()
        return self.infos[r] if 0 <= r < len(self.infos) else None

    def selected_name(self) -> str | None:
        info = self.selected_info()
        return info.name if info else None

    def _info(self, name: str) -> ModelInfo | None:
        r = self.row_of(name)
        return self.infos[r] if r >= 0 else None

    def _update_buttons(self) -> None:
        info = self.selected_info()
        usable = info is not None and not info.error
        self.use_button.setEnabled(usable)
        self.default_button.setEnabled(info is not None and usable and not info.is_default)
        self.remove_button.setEnabled(info is not None and info.location != "bundled")
        if info is not None and info.location == "bundled":
            self.remove_button.setToolTip("Bundled models cannot be removed")
        else:
            self.remove_button.setToolTip("Delete an imported model (bundled models stay)")

    def _open_folder(self) -> None:
        from app.engine.checkpoints.models import user_models_dir  # no torch: paths only

        folder = user_models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # ================================================================== importing
    def import_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import model file", self._start_dir(), MODEL_FILTER
        )
        if path:
            self.import_path(path)

    def import_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Import TensorFlow checkpoint folder", self._start_dir()
        )
        if path:
            self.import_path(path)

    def _start_dir(self) -> str:
        last = str(self.settings.get("files/last_dir"))
        return last if last and Path(last).is_dir() else str(Path.home())

    def import_paths(self, paths: Iterable[str | Path]) -> int:
        """Queue every model among `paths` (others are ignored); returns how many."""
        n = 0
        for p in paths:
            source = model_source(p)
            if source is not None:
                self.import_path(source)
                n += 1
        return n

    def import_path(self, path: str | Path, name: str | None = None) -> None:
        """Import a model file or checkpoint folder in the background (queued if busy)."""
        self._queue.append((Path(path), name))
        if not self.busy and self._ready:
            self._next_import()

    def _next_import(self) -> None:
        while self._queue:
            path, name = self._queue.popleft()
            plan = self._plan_import(path, name)
            if plan is not None:
                self._start_import(path, *plan)
                return

    def _plan_import(self, path: Path, name: str | None) -> tuple[str, bool] | None:
        """(name, overwrite) to install `path` under, asking about a name already taken."""
        from app.engine.checkpoints.library import suggested_name, valid_model_name

        name = name or suggested_name(path)
        if not valid_model_name(name):
            name = "model"
        info = self._info(name)
        if info is None:
            return name, False
        taken = {i.name for i in self.infos}
        answer = self.ask_name_taken(name, can_replace=info.location != "bundled")
        if answer == "replace" and info.location != "bundled":
            return name, True
        if answer == "rename":
            return unique_name(name, taken), False
        return None

    def ask_name_taken(self, name: str, can_replace: bool) -> str:
        """'replace' | 'rename' | 'cancel' (tests override this)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Model name taken")
        box.setText(f"A model named {name} is already installed.")
        replace = None
        if can_replace:
            box.setInformativeText("Replace it, or install the new one under another name?")
            replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
        else:
            box.setInformativeText(
                "It is bundled with DeepFill Studio; the new one gets another name."
            )
        rename = box.addButton("Keep Both", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(rename)
        box.exec()
        clicked = box.clickedButton()
        if replace is not None and clicked is replace:
            return "replace"
        return "rename" if clicked is rename else "cancel"

    def _start_import(self, path: Path, name: str, overwrite: bool) -> None:
        self._importing = path
        self.busy_bar.setVisible(True)
        self.import_button.setEnabled(False)
        self.setCursor(Qt.CursorShape.BusyCursor)
        self.status.setText(f"Importing {path.name} as {name}…")
        emit(self.busy_changed, True)

        def work() -> tuple[Path, Any, bool]:
            from app.engine.checkpoints import library

            dest, model = library.import_model(path, name, overwrite=overwrite)
            return dest, model.describe(), library.is_official_deepfill(model)

        run_in_background(
            work,
            lambda result: self._import_done(path, *result),
            lambda error: self._import_failed(path, error),
        )

    def _end_import(self) -> None:
        self._importing = None
        self.busy_bar.setVisible(False)
        self.import_button.setEnabled(True)
        self.unsetCursor()
        emit(self.busy_changed, False)

    def _import_done(
        self, path: Path, dest: Path, info: ModelDescription, official: bool
    ) -> None:
        if not isValid(self):
            return
        from app.engine.checkpoints.library import NON_COMMERCIAL_NOTE

        self._end_import()
        name = Path(dest).stem
        self.status.setText(
            f"Imported {name}: {info.architecture or 'model'}, "
            f"{info.color_order} input, {parameters_text(info.parameters)} parameters."
        )
        self._after_change(select=name)
        emit(self.imported, name, str(dest))
        if official:
            QMessageBox.information(
                self,
                "Non-commercial licence",
                f"{name} was imported.\n\n{NON_COMMERCIAL_NOTE}\n\n"
                "Use it only where the CC BY-NC 4.0 licence allows.",
            )
        self._next_import()

    def _import_failed(self, path: Path, error: BaseException) -> None:
        if not isValid(self):
            return
        from app.engine.types import EngineError

        self._end_import()
        if isinstance(error, EngineError):
            reason = str(error).strip() or "The model could not be read."
            first = reason.split(" ", 1)[0]
            if first.isalpha() and first.islower():  # a sentence, not a file name
                reason = reason[0].upper() + reason[1:]
            if not reason.endswith((".", "!", "?", ")")):
                reason += "."
        elif isinstance(error, MemoryError):
            reason = f"{path.name} is too large to import with the memory available."
        else:
            log.error(
                "import failed:\n%s",
                "".join(traceback.format_exception(type(error), error, error.__traceback__)),
            )
            reason = f"{path.name} could not be imported ({type(error).__name__}: {error})."
        self.status.setText(f"Nothing was imported from {path.name}.")
        emit(self.import_failed, reason)
        QMessageBox.warning(self, "Could not import the model", reason)
        self._next_import()

    # ================================================================== default / remove
    def set_default_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.set_default(name)

    def set_default(self, name: str) -> bool:
        from app.engine.checkpoints import library
        from app.engine.types import EngineError

        try:
            library.set_default(name)
        except (EngineError, OSError) as error:
            QMessageBox.warning(self, "Could not set the default", str(error))
            return False
        # the editor follows the default from now on (its next start, a device change)
        self.settings.set("run/model", "")
        using = self._model_in_use()
        note = (
            f" The editor keeps using {using} until you press Use Now or restart."
            if using and using != name
            else ""
        )
        self.status.setText(f"{name} is now the default model.{note}")
        self._after_change(select=name)
        return True

    def remove_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.remove(name)

    def confirm_remove(self, name: str) -> bool:
        return confirm(
            self,
            "Remove model",
            f"Delete the model {name} from your models folder?\n\nThis cannot be undone; "
            "you can import it again from its original file.",
            warning=False,
        )

    def remove(self, name: str) -> bool:
        from app.engine.checkpoints import library
        from app.engine.types import EngineError

        info = self._info(name)
        if info is not None and info.location == "bundled":
            QMessageBox.warning(
                self,
                "Could not remove the model",
                f"{name} is bundled with DeepFill Studio and cannot be removed.",
            )
            return False
        if not self.confirm_remove(name):
            return False
        in_use = info is not None and self._in_use_path() == info.path.resolve()
        try:
            library.remove_model(name)
        except (EngineError, OSError) as error:
            QMessageBox.warning(self, "Could not remove the model", str(error))
            return False
        if str(self.settings.get("run/model")) == name:
            self.settings.set("run/model", "")  # the editor falls back to the default
        note = (
            " The editor keeps it in memory until you switch models or restart." if in_use else ""
        )
        self.status.setText(f"Removed {name}.{note}")
        self._after_change()
        return True

    def _after_change(self, select: str | None = None) -> None:
        self._pending_select = select
        self.refresh()

    # ================================================================== switching
    def use_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.use_model(name)

    def use_model(self, name: str) -> bool:
        """Ask the engine thread to load `name` (after a fill in progress); keeps the photo."""
        info = self._info(name)
        if info is None or info.error:
            QMessageBox.warning(
                self,
                "Could not switch",
                f"{name} is not an installed, readable model."
                + (f" ({info.error})" if info and info.error else ""),
            )
            return False
        self._switch = (name, str(self.settings.get("run/model")))
        self.settings.set("run/model", name)
        self.status.setText(f"Loading {name}…")
        emit(self.switching, name)
        # the file itself: a name could also match a file in the working folder
        self.worker.load_model(str(info.path), str(self.settings.get("run/device")))
        return True

    def _on_model_loaded(self, _info: dict[str, object]) -> None:
        if not isValid(self):
            return
        if self._switch is not None:
            name, _ = self._switch
            self._switch = None
            info = self.worker.model_info  # the typed form of the signal's dict
            device = (info.device if info is not None else "") or "cpu"
            self.status.setText(
                f"The editor now uses {self._model_in_use() or name} on {device.upper()}."
            )
        if self.infos:
            self._fill_table(self.selected_name())

    def _on_switch_failed(self, message: str) -> None:
        if not isValid(self) or self._switch is None:
            return
        name, previous = self._switch
        self._switch = None
        self.settings.set("run/model", previous)  # keep the choice that works
        self.status.setText(f"{name} could not be loaded: {message}")
        emit(self.switch_ended, self._model_in_use() or "none")

    # ================================================================== drag and drop
    @staticmethod
    def _local_paths(mime: Any) -> list[str]:
        if mime is None or not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if isinstance(u, QUrl) and u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(is_model_path(p) for p in self._local_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if any(is_model_path(p) for p in self._local_paths(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._local_paths(event.mimeData())
        if any(is_model_path(p) for p in paths):
            event.acceptProposedAction()
            self.import_paths(paths)


def open_model_manager(
    existing: ModelManager | None,
    worker: EngineWorker,
    settings: Settings,
    model_label: QLabel,
    window: QWidget,
) -> ModelManager:
    """Show a window's Models dialog: `existing` if it is still there, else a new one that
    keeps the window's model label in step while a model loads."""
    dialog = existing
    if dialog is None or not isValid(dialog):
        dialog = ModelManager(worker, settings, window)
        dialog.switching.connect(lambda name: model_label.setText(f"loading {name}…"))
        dialog.switch_ended.connect(model_label.setText)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
