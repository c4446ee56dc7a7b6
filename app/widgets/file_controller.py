"""The file side of the editor window: open (off the GUI thread), recent files, paste, save /
save as with metadata, mask import and export, and "save the changes first?".

`FileController` is given what it works on (document, history, settings, status bar, file
guard) and asks its questions through `FilePrompts`, which the window implements (tests answer
for it). It shows a photo through the window's `set_photo`, so the window decides what a new
photo means for its other parts (fills, brush, view).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PySide6.QtCore import QMimeData, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMenu, QWidget

from app.autosave_files import Recovered, recovered_edits
from app.commands import HistoryStack, layer_change_command
from app.document import Document, ImageMeta
from app.file_guard import FileGuard
from app.settings import Settings
from app.signal_emit import emit
from app.widgets.background import run_in_background
from app.widgets.status import StatusBar
from app.widgets.tools import binarize

if TYPE_CHECKING:
    from app.imageio import LoadedImage

OPEN_FILTER = (
    "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp *.gif *.heic *.heif);;All files (*)"
)
SAVE_FILTERS = {
    ".png": "PNG image (*.png)",
    ".jpg": "JPEG image (*.jpg *.jpeg)",
    ".webp": "WebP image (*.webp)",
    ".tif": "TIFF image (*.tif *.tiff)",
    ".heic": "HEIC image (*.heic *.heif)",
}
MASK_FILTER = "PNG mask (*.png);;Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp)"
SAVEABLE = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".heic", ".heif")
QUALITY_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP", ".heic": "HEIC", ".heif": "HEIC"}

def qimage_to_rgb(img: QImage) -> tuple[np.ndarray, np.ndarray | None]:
    """QImage (clipboard) -> RGB uint8 array and an alpha plane when it has one."""
    has_alpha = img.hasAlphaChannel()
    img = img.convertToFormat(
        QImage.Format.Format_RGBA8888 if has_alpha else QImage.Format.Format_RGB888
    )
    w, h, c = img.width(), img.height(), 4 if has_alpha else 3
    buf = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h)
    arr = buf.reshape(h, img.bytesPerLine())[:, : w * c].reshape(h, w, c)
    rgb = np.ascontiguousarray(arr[..., :3])
    alpha = np.ascontiguousarray(arr[..., 3]) if has_alpha else None
    if alpha is not None and alpha.min() == 255:
        alpha = None
    return rgb, alpha


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()


def dropped_file(mime: QMimeData | None) -> str | None:
    """The first local file of a drag, if any."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if isinstance(url, QUrl) and url.isLocalFile():
            return url.toLocalFile()
    return None


# ---------------------------------------------------------------------------- the dialogs


def ask_open_path(parent: QWidget, start_dir: str) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open photo", start_dir, OPEN_FILTER)
    return Path(path) if path else None


def ask_save_path(parent: QWidget, suggested: Path) -> Path | None:
    ext = suggested.suffix.lower()
    ext = {".jpeg": ".jpg", ".tiff": ".tif", ".heif": ".heic"}.get(ext, ext)
    filters = list(SAVE_FILTERS.values())
    selected = SAVE_FILTERS.get(ext, filters[0])
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save result", str(suggested), ";;".join(filters), selected
    )
    return Path(path) if path else None


def ask_quality(parent: QWidget, fmt: str, default: int) -> int | None:
    q, ok = QInputDialog.getInt(
        parent,
        f"{fmt} quality",
        f"{fmt} quality (1 = smallest file, 100 = best):",
        default,
        1,
        100,
    )
    return int(q) if ok else None


class FilePrompts(Protocol):
    """The questions the file side asks the user (the window asks them; tests answer them)."""

    def ask_open_path(self) -> Path | None: ...

    def ask_save_path(self, suggested: Path) -> Path | None: ...

    def ask_quality(self, fmt: str) -> int | None: ...

    def ask_unsaved(self) -> str:
        """'save' | 'discard' | 'cancel'."""
        ...

    def confirm_overwrite_original(self, path: Path) -> bool: ...

    def confirm_replace_changed(self, path: Path) -> bool: ...


class FileController(QObject):
    """Opens photos and masks into the document and writes results and masks out of it."""

    loaded = Signal(str)  # the path of a photo opened from disk
    saved = Signal(str)  # the path of a result once written

    def __init__(
        self,
        doc: Document,
        history: HistoryStack,
        settings: Settings,
        status: StatusBar,
        file_guard: FileGuard,
        prompts: FilePrompts,
        set_photo: Callable[[np.ndarray, ImageMeta], None],
        show_message: Callable[[str, str], object],
        update_title: Callable[[], None],
        window: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.doc, self.history, self.settings = doc, history, settings
        self.status, self.file_guard, self.prompts = status, file_guard, prompts
        self._set_photo, self._show_message = set_photo, show_message
        self._update_title = update_title
        self._window = window  # the parent of file dialogs
        self._save_path: Path | None = None
        self._save_quality: int | None = None
        self._load_token = 0
        self._saving = False

    def is_modified(self) -> bool:
        """Edits that saving would keep (the history moved since the last save or open)."""
        return not self.doc.is_empty and not self.history.isClean()

    def maybe_save(self, then: Callable[[], None]) -> None:
        """Run then() once unsaved changes are saved or discarded (not at all on Cancel)."""
        if not self.is_modified():
            then()
            return
        answer = self.prompts.ask_unsaved()
        if answer == "discard":
            then()
        elif answer == "save":
            self.save(then=then)

    def last_dir(self) -> str:
        """Where file dialogs start: the photo's folder, else the last one used, else home."""
        last = str(self.settings.get("files/last_dir"))
        if self.doc.meta.path is not None:
            return str(self.doc.meta.path.parent)
        return last if last and Path(last).is_dir() else str(Path.home())

    def forget_save_path(self) -> None:
        """A new photo: the next Save asks where (and, for JPEG and the like, how well)."""
        self._save_path = None
        self._save_quality = None

    # ================================================================== opening
    def open_dialog(self) -> None:
        path = self.prompts.ask_open_path()
        if path is not None:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Open a photo (asks about unsaved changes first); decoding runs off the GUI thread."""
        path = Path(path)
        self.maybe_save(lambda: self._start_load(path))

    def _start_load(self, path: Path) -> None:
        from app.imageio import load_image  # Pillow import stays off the start-up path

        self._load_token += 1
        token = self._load_token
        self.status.showMessage(f"Opening {path.name}…")
        self.status.set_image_size("opening…")
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        run_in_background(
            lambda: load_image(path),
            lambda loaded: self._loaded(token, loaded),
            lambda error: self._load_failed(token, path, error),
        )

    def _loaded(self, token: int, loaded: LoadedImage) -> None:
        QApplication.restoreOverrideCursor()
        if token != self._load_token:
            return  # a newer open replaced this one
        path = Path(loaded.path)
        meta = ImageMeta(
            path=path,
            format=loaded.format,
            exif=loaded.exif,
            icc=loaded.icc,
            dpi=loaded.dpi,
            alpha=loaded.alpha,
            notes=list(loaded.notes),
            display_name=path.name,
            quality=loaded.quality,
            xmp=loaded.xmp,
            iptc=loaded.iptc,
            text=dict(loaded.text),
        )
        self._set_photo(loaded.rgb, meta)
        self.file_guard.remember(path, (loaded.mtime, loaded.size_on_disk))
        self.settings.add_recent_file(path)
        self.settings.set("files/last_dir", str(path.parent))
        note = " ".join(loaded.notes)
        w, h = self.doc.size
        self.status.showMessage(f"Opened {meta.display_name} ({w} × {h}). {note}".strip(), 8000)
        emit(self.loaded, str(path))

    def load_recovered(self, rec: Recovered) -> None:
        """Show a recovered document: the photo as opened plus one undo step with the edits."""
        self._set_photo(rec.original, rec.meta)
        cmd = recovered_edits(self.doc, rec)
        if cmd is not None:
            self.history.push(cmd)
        stamp = rec.manifest.get("source_stamp")
        if rec.meta.path is not None and stamp:
            self.file_guard.remember(rec.meta.path, (float(stamp[0]), int(stamp[1])))
        when = time.strftime("%H:%M", time.localtime(float(rec.manifest.get("saved_at", 0))))
        self.status.showMessage(
            f"Recovered your unsaved work on {rec.meta.display_name} (autosaved at {when}).", 10000
        )

    def _load_failed(self, token: int, path: Path, error: BaseException) -> None:
        QApplication.restoreOverrideCursor()
        if token != self._load_token:
            return
        self.status.clearMessage()
        self.status.set_image_size(None if self.doc.is_empty else self.doc.size)
        if isinstance(error, MemoryError):
            text = f"{path.name} is too large to open with the memory available."
        else:
            text = str(error) or f"{path.name} could not be opened ({type(error).__name__})."
        if not path.exists():
            self.settings.remove_recent_file(str(path.resolve()))
        self._show_message("Could not open the photo", text)

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        files = self.settings.recent_files()
        for f in files:
            a = menu.addAction(Path(f).name)
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _c=False, p=f: self.open_path(p))
        if not files:
            a = menu.addAction("No recent photos")
            a.setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Menu", self.settings.clear_recent_files)

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if files:
            self.open_path(files[0])
            return
        if mime.hasImage():
            img = QGuiApplication.clipboard().image()
            if not img.isNull():
                rgb, alpha = qimage_to_rgb(img)
                meta = ImageMeta(path=None, format="PNG", alpha=alpha, display_name="Pasted image")
                self.maybe_save(lambda: self._set_photo(rgb, meta))
                return
        self.status.showMessage("The clipboard holds no image.", 4000)

    def copy_image(self) -> None:
        if not self.doc.is_empty:
            QGuiApplication.clipboard().setImage(rgb_to_qimage(self.doc.image))
            self.status.showMessage("Copied the image to the clipboard.", 3000)

    # ================================================================== saving
    def suggested_save_path(self) -> Path:
        from app.imageio import default_output_path

        if self.doc.meta.path is not None:
            return default_output_path(self.doc.meta.path)
        return Path(self.last_dir()) / "pasted_inpainted.png"

    def save(self, then: Callable[[], None] | None = None) -> None:
        if self.doc.is_empty:
            return
        if self._save_path is not None:
            self.save_to(self._save_path, then=then)
        else:
            self.save_as(then=then)

    def save_as(self, then: Callable[[], None] | None = None) -> None:
        if self.doc.is_empty:
            return
        path = self.prompts.ask_save_path(self.suggested_save_path())
        if path is not None:
            self.save_to(path, then=then)

    def save_to(
        self,
        path: str | Path,
        quality: int | None = None,
        then: Callable[[], None] | None = None,
    ) -> bool:
        """Write the full-resolution result with the photo's EXIF, XMP, IPTC, ICC and DPI (async)."""
        from app.imageio import save_image

        path = Path(path)
        if path.suffix.lower() not in SAVEABLE:
            path = (
                path.with_suffix(path.suffix + ".png") if path.suffix else path.with_suffix(".png")
            )
        original = self.doc.meta.path
        if (
            original is not None
            and path.resolve() == original.resolve()
            and not self.prompts.confirm_overwrite_original(path)
        ):
            self.status.showMessage("Not saved: the original photo was left as it is.", 5000)
            return False
        if self.file_guard.changed_on_disk(path) and not self.prompts.confirm_replace_changed(
            path
        ):
            self.status.showMessage("Not saved: the file on disk was left as it is.", 5000)
            return False
        fmt = QUALITY_FORMATS.get(path.suffix.lower())
        if fmt and quality is None and path == self._save_path:
            quality = self._save_quality  # plain Save again: same file, same quality
        if fmt and quality is None:
            quality = self.prompts.ask_quality(fmt)
            if quality is None:
                return False
            self.settings.set("save/jpeg_quality", quality)
        if self._saving:
            self.status.showMessage("Still saving the previous file…", 3000)
            return False
        meta = self.doc.meta
        rgb = self.doc.image.copy()  # the user may keep editing while the file is written
        index = self.history.index()
        self._saving = True
        self.status.showMessage(f"Saving {path.name}…")

        def write() -> None:
            save_image(
                path,
                rgb,
                alpha=meta.alpha,
                exif=meta.exif,
                icc=meta.icc,
                dpi=meta.dpi,
                xmp=meta.xmp,
                iptc=meta.iptc,
                text=meta.text,
                quality=quality or 95,
            )

        def done(_value: object) -> None:
            self._saving = False
            self._save_path = path
            self.file_guard.remember(path)
            self._save_quality = quality
            if self.history.index() == index:
                self.history.setClean()
            self.settings.set("files/last_dir", str(path.parent))
            self._update_title()
            self.status.showMessage(f"Saved {path.name}", 5000)
            emit(self.saved, str(path))
            if then is not None:
                then()

        def failed(error: BaseException) -> None:
            self._saving = False
            self.status.clearMessage()
            self._show_message(
                "Could not save",
                f"{error} Your edits are still here; try another folder or format.",
            )

        run_in_background(write, done, failed)
        return True

    # ================================================================== mask files
    def import_mask_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Import mask", self.last_dir(), MASK_FILTER
        )
        if path:
            self.import_mask(path)

    def import_mask(self, path: str | Path) -> bool:
        from app.imageio import load_mask

        try:
            mask = load_mask(path, self.doc.size)
        except Exception as error:  # noqa: BLE001 - any unreadable file is a message
            self._show_message("Could not import the mask", str(error))
            return False
        new = binarize(mask.astype(np.uint8))
        cmd = layer_change_command(self.doc, "mask", new, f"Import mask {Path(path).name}")
        if cmd is not None:
            self.history.push(cmd)
        return True

    def export_mask_dialog(self) -> None:
        base = self.doc.meta.path
        suggested = (
            base.with_name(base.stem + "_mask.png") if base else Path(self.last_dir()) / "mask.png"
        )
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Export mask", str(suggested), "PNG mask (*.png)"
        )
        if path:
            self.export_mask(path)

    def export_mask(self, path: str | Path) -> bool:
        from app.imageio import save_mask

        try:
            save_mask(path, self.doc.mask > 0)
        except Exception as error:  # noqa: BLE001
            self._show_message("Could not export the mask", str(error))
            return False
        self.status.showMessage(f"Mask saved to {Path(path).name}", 4000)
        return True
