"""File side of the main window: open (off the GUI thread), recent files, paste, drag and
drop, save / save as with metadata, mask import and export. Mixed into MainWindow."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from app.autosave_files import Recovered, recovered_edits
from app.commands import layer_change_command
from app.document import ImageMeta
from app.signal_emit import emit
from app.widgets.background import run_in_background
from app.widgets.compare import ViewMode
from app.widgets.tools import binarize

MASK_FILTER = "PNG mask (*.png);;Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp)"
SAVEABLE = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".heic", ".heif")


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


class FileActionsMixin:
    """Needs from the window: doc, history, settings, status, canvas, recent_menu, the
    ask_* prompts, show_message, maybe_save, and the photo_loaded / saved signals."""

    # ================================================================== opening
    def open_dialog(self) -> None:
        path = self.ask_open_path()
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

    def _loaded(self, token: int, loaded) -> None:
        QApplication.restoreOverrideCursor()
        if token != self._load_token:
            return  # a newer open replaced this one
        meta = ImageMeta(
            path=Path(loaded.path),
            format=loaded.format,
            exif=loaded.exif,
            icc=loaded.icc,
            dpi=loaded.dpi,
            alpha=loaded.alpha,
            notes=list(loaded.notes),
            display_name=Path(loaded.path).name,
            quality=getattr(loaded, "quality", None),
            xmp=loaded.xmp,
            iptc=loaded.iptc,
            text=dict(loaded.text),
        )
        self.set_photo(loaded.rgb, meta)
        self.file_guard.remember(meta.path, (loaded.mtime, loaded.size_on_disk))
        self.settings.add_recent_file(meta.path)
        self.settings.set("files/last_dir", str(meta.path.parent))
        note = " ".join(loaded.notes)
        w, h = self.doc.size
        self.status.showMessage(f"Opened {meta.display_name} ({w} × {h}). {note}".strip(), 8000)
        emit(self.photo_loaded, str(meta.path))

    def set_photo(self, rgb: np.ndarray, meta: ImageMeta) -> None:
        """Show a new photo: empty mask and sketch, fresh history, nothing to save."""
        self.cancel_fill()
        self.fills.forget_pending()
        self.doc.load(rgb, meta)
        self.history.reset()
        self.history.setClean()
        self._save_path = None
        self._save_quality = None
        self.status.set_image_size(self.doc.size)
        self.status.set_zoom(self.canvas.zoom)
        self._fit_brush_to_photo()
        if self.act_split.isChecked():
            self.canvas.set_view_mode(ViewMode.SPLIT)
        self._update_title()
        self._update_actions()

    def load_recovered(self, rec: Recovered) -> None:
        """Show a recovered document: the photo as opened plus one undo step with the edits."""
        self.set_photo(rec.original, rec.meta)
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
        self.show_message("Could not open the photo", text)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for f in files:
            a = self.recent_menu.addAction(Path(f).name)
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _c=False, p=f: self.open_path(p))
        if not files:
            a = self.recent_menu.addAction("No recent photos")
            a.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu", self.settings.clear_recent_files)

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
                self.maybe_save(lambda: self.set_photo(rgb, meta))
                return
        self.status.showMessage("The clipboard holds no image.", 4000)

    def copy_image(self) -> None:
        if not self.doc.is_empty:
            QGuiApplication.clipboard().setImage(rgb_to_qimage(self.doc.image))
            self.status.showMessage("Copied the image to the clipboard.", 3000)

    # drag and drop ------------------------------------------------------------------------
    @staticmethod
    def _dropped_file(mime) -> str | None:
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if isinstance(url, QUrl) and url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_file(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event.mimeData())
        if path:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    # ================================================================== saving
    def suggested_save_path(self) -> Path:
        from app.imageio import default_output_path

        if self.doc.meta.path is not None:
            return default_output_path(self.doc.meta.path)
        return Path(self._last_dir()) / "pasted_inpainted.png"

    def save(self, then=None) -> None:
        if self.doc.is_empty:
            return
        if self._save_path is not None:
            self.save_to(self._save_path, then=then)
        else:
            self.save_as(then=then)

    def save_as(self, then=None) -> None:
        if self.doc.is_empty:
            return
        path = self.ask_save_path(self.suggested_save_path())
        if path is not None:
            self.save_to(path, then=then)

    def save_to(self, path: str | Path, quality: int | None = None, then=None) -> bool:
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
            and not self.confirm_overwrite_original(path)
        ):
            self.status.showMessage("Not saved: the original photo was left as it is.", 5000)
            return False
        if self.file_guard.changed_on_disk(path) and not self.confirm_replace_changed(path):
            self.status.showMessage("Not saved: the file on disk was left as it is.", 5000)
            return False
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP", ".heic": "HEIC", ".heif": "HEIC"}.get(
            path.suffix.lower()
        )
        if fmt and quality is None and path == self._save_path:
            quality = self._save_quality  # plain Save again: same file, same quality
        if fmt and quality is None:
            quality = self.ask_quality(fmt)
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

        def done(_value) -> None:
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
            self.show_message(
                "Could not save",
                f"{error} Your edits are still here; try another folder or format.",
            )

        run_in_background(write, done, failed)
        return True

    # mask files ---------------------------------------------------------------------------
    def import_mask_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import mask", self._last_dir(), MASK_FILTER)
        if path:
            self.import_mask(path)

    def import_mask(self, path: str | Path) -> bool:
        from app.imageio import load_mask

        try:
            mask = load_mask(path, self.doc.size)
        except Exception as error:  # noqa: BLE001 - any unreadable file is a message
            self.show_message("Could not import the mask", str(error))
            return False
        new = binarize(mask.astype(np.uint8))
        cmd = layer_change_command(self.doc, "mask", new, f"Import mask {Path(path).name}")
        if cmd is not None:
            self.history.push(cmd)
        return True

    def export_mask_dialog(self) -> None:
        base = self.doc.meta.path
        suggested = (
            base.with_name(base.stem + "_mask.png") if base else Path(self._last_dir()) / "mask.png"
        )
        path, _ = QFileDialog.getSaveFileName(
            self, "Export mask", str(suggested), "PNG mask (*.png)"
        )
        if path:
            self.export_mask(path)

    def export_mask(self, path: str | Path) -> bool:
        from app.imageio import save_mask

        try:
            save_mask(path, self.doc.mask > 0)
        except Exception as error:  # noqa: BLE001
            self.show_message("Could not export the mask", str(error))
            return False
        self.status.showMessage(f"Mask saved to {Path(path).name}", 4000)
        return True
