"""The Models dialog: listing, importing (file, TF folder, drop), the licence notice, default,
removal, switching the running editor's model, and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.widgets.model_manager import COLUMNS, ModelManager, is_model_path, model_source
from tests.conftest import InstantRunner, open_and_wait
from tests.tiny import save_tiny_model

TF_FIXTURE = Path("/work/shared/fixtures/tf_checkpoint")


@pytest.fixture
def model_dirs(tmp_path, monkeypatch, tiny_model_path):
    """Per-test user models folder and config; a bundled folder holding one tiny model."""
    import shutil

    from app.engine.checkpoints import models

    user = tmp_path / "user_models"
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    shutil.copy(tiny_model_path, bundled / "bundled-tiny.pt")
    config = tmp_path / "config" / "models.json"
    monkeypatch.setenv("DEEPFILL_STUDIO_MODELS", str(user))
    monkeypatch.setenv("DEEPFILL_STUDIO_CONFIG", str(config))
    monkeypatch.setattr(models, "bundled_models_dir", lambda: bundled)
    return {"user": user, "bundled": bundled, "config": config}


@pytest.fixture
def boxes(monkeypatch):
    """Capture message boxes instead of showing them; questions answer Yes."""
    shown: list[tuple[str, str, str]] = []

    def recorder(kind, answer=QMessageBox.StandardButton.Ok):
        def f(parent, title, text, *args, **kwargs):
            shown.append((kind, title, text))
            return answer

        return f

    monkeypatch.setattr(QMessageBox, "information", recorder("information"))
    monkeypatch.setattr(QMessageBox, "warning", recorder("warning"))
    monkeypatch.setattr(QMessageBox, "critical", recorder("critical"))
    monkeypatch.setattr(
        QMessageBox, "question", recorder("question", QMessageBox.StandardButton.Yes)
    )
    return shown


def listed_dialog(qtbot, win) -> ModelManager:
    with qtbot.waitSignal(win.show_models().listed, timeout=60000):
        pass
    return win._model_manager


def open_manager(qtbot, win) -> ModelManager:
    dlg = win.show_models()
    qtbot.waitUntil(lambda: dlg._ready and not dlg.busy_bar.isVisible(), timeout=60000)
    return dlg


def cell(dlg: ModelManager, name: str, column: str) -> str:
    row = dlg.row_of(name)
    assert row >= 0, f"{name} not listed"
    return dlg.table.item(row, COLUMNS.index(column)).text()


def import_and_wait(qtbot, dlg: ModelManager, path, name=None) -> tuple[str, str]:
    with qtbot.waitSignal(dlg.imported, timeout=60000) as sig:
        dlg.import_path(path, name)
    installed = sig.args[0]
    qtbot.waitUntil(lambda: dlg.row_of(installed) >= 0, timeout=30000)
    qtbot.waitUntil(lambda: not dlg.busy, timeout=30000)
    return sig.args[0], sig.args[1]


def test_model_paths_are_recognised_without_reading_them(tmp_path):
    pt = tmp_path / "a.pth"
    pt.write_bytes(b"x")
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    empty = tmp_path / "empty"
    empty.mkdir()
    lama = tmp_path / "big-lama"
    (lama / "models").mkdir(parents=True)
    (lama / "models" / "best.ckpt").write_bytes(b"x")
    assert is_model_path(pt) and not is_model_path(photo) and not is_model_path(empty)
    assert model_source(lama) == lama / "models" / "best.ckpt"
    assert not is_model_path(tmp_path / "missing.pt")
    if TF_FIXTURE.is_dir():
        assert model_source(TF_FIXTURE) == TF_FIXTURE
        assert is_model_path(TF_FIXTURE / "snap-0.index")
        assert is_model_path(TF_FIXTURE / "snap-0.data-00000-of-00001")


def test_menu_and_side_panel_open_the_dialog(qtbot, make_window, model_dirs):
    win = make_window()
    assert win.act_models in win.menuBar().actions()[-2].menu().actions()  # Run menu
    win.panel.models_button.click()
    dlg = win._model_manager
    assert isinstance(dlg, ModelManager) and dlg.isVisible()
    win.act_models.trigger()
    assert win._model_manager is dlg  # one dialog per window


def test_listing_shows_bundled_and_imported_with_their_columns(qtbot, make_window, model_dirs):
    from app.engine.checkpoints import library

    library.import_model(model_dirs["bundled"] / "bundled-tiny.pt", "mine")
    win = make_window()
    dlg = listed_dialog(qtbot, win)
    headers = [dlg.table.horizontalHeaderItem(c).text() for c in range(dlg.table.columnCount())]
    assert headers == list(COLUMNS)
    assert [i.name for i in dlg.infos] == ["mine", "bundled-tiny"]
    assert dlg.table.rowCount() == 2
    assert cell(dlg, "bundled-tiny", "Kind") == "bundled"
    assert cell(dlg, "mine", "Kind") == "imported"
    assert cell(dlg, "mine", "Architecture") == "deepfill_v2"
    assert cell(dlg, "mine", "Colour order") == "RGB"
    size = (model_dirs["user"] / "mine.pt").stat().st_size
    assert cell(dlg, "mine", "Size") == f"{size / 1e6:.1f} MB"
    assert cell(dlg, "mine", "Parameters").endswith(" M")
    assert cell(dlg, "mine", "Source") == "bundled-tiny.pt"
    assert cell(dlg, "mine", "License") == "test"
    # nothing chosen: the bundled default name is absent, so no star at all
    assert cell(dlg, "mine", "Default") == "" and cell(dlg, "bundled-tiny", "Default") == ""


def test_import_a_model_file_runs_in_the_background_and_adds_a_row(
    qtbot, make_window, model_dirs, tmp_path, boxes
):
    src = tmp_path / "downloads" / "my-weights.pth"
    src.parent.mkdir()
    save_tiny_model(src, seed=1)
    win = make_window()
    dlg = open_manager(qtbot, win)
    busy: list[bool] = []
    dlg.busy_changed.connect(busy.append)
    name, dest = import_and_wait(qtbot, dlg, src)
    assert busy == [True, False]
    assert name == "my-weights" and Path(dest) == model_dirs["user"] / "my-weights.pt"
    assert Path(dest).is_file()
    assert cell(dlg, name, "Kind") == "imported"
    assert dlg.selected_name() == name
    assert not [b for b in boxes if b[0] == "information"]  # not an official model: no notice
    assert "Imported my-weights" in dlg.status.text()


def test_tf_checkpoint_folder_imports_with_the_non_commercial_notice(
    qtbot, make_window, model_dirs, boxes
):
    if not TF_FIXTURE.is_dir():
        pytest.skip("TF checkpoint fixture absent")
    from app.engine.checkpoints.library import NON_COMMERCIAL_NOTE

    win = make_window()
    dlg = open_manager(qtbot, win)
    name, dest = import_and_wait(qtbot, dlg, TF_FIXTURE)
    assert name == "tf_checkpoint" and Path(dest).is_file()
    assert cell(dlg, name, "Architecture") == "deepfill_v2"
    assert cell(dlg, name, "Colour order") == "BGR"
    assert "CC BY-NC 4.0" in cell(dlg, name, "License")
    notices = [b for b in boxes if b[0] == "information"]
    assert len(notices) == 1 and NON_COMMERCIAL_NOTE in notices[0][2]
    assert "CC BY-NC 4.0" in notices[0][2]


def test_a_name_already_taken_can_be_kept_beside_or_replaced(
    qtbot, make_window, model_dirs, tmp_path, boxes
):
    src = tmp_path / "twin.pt"
    save_tiny_model(src, seed=2)
    win = make_window()
    dlg = open_manager(qtbot, win)
    import_and_wait(qtbot, dlg, src)
    dlg.ask_name_taken = lambda name, can_replace: "rename"
    assert import_and_wait(qtbot, dlg, src)[0] == "twin-2"
    first = (model_dirs["user"] / "twin.pt").stat().st_mtime_ns
    dlg.ask_name_taken = lambda name, can_replace: "replace"
    assert import_and_wait(qtbot, dlg, src)[0] == "twin"
    assert (model_dirs["user"] / "twin.pt").stat().st_mtime_ns >= first
    assert sorted(p.name for p in model_dirs["user"].iterdir()) == ["twin-2.pt", "twin.pt"]
    asked: list[bool] = []
    dlg.ask_name_taken = lambda name, can_replace: asked.append(can_replace) or "cancel"
    dlg.import_path(src, "bundled-tiny")  # a bundled name cannot be replaced
    assert asked == [False] and not dlg.busy


def test_set_default_persists_in_the_user_config(qtbot, make_window, model_dirs, settings):
    from app.engine.checkpoints import library, models

    library.import_model(model_dirs["bundled"] / "bundled-tiny.pt", "mine")
    settings.set("run/model", "bundled-tiny")  # an earlier "Use now"
    win = make_window()
    dlg = open_manager(qtbot, win)
    assert dlg.select("mine")
    assert dlg.default_button.isEnabled()
    with qtbot.waitSignal(dlg.listed, timeout=30000):
        dlg.default_button.click()
    assert json.loads(model_dirs["config"].read_text())["default"] == "mine"
    assert models.default_model_path() == model_dirs["user"] / "mine.pt"
    assert cell(dlg, "mine", "Default") == "★" and cell(dlg, "bundled-tiny", "Default") == ""
    assert str(settings.get("run/model")) == ""  # the editor follows the default again
    assert dlg.selected_name() == "mine" and not dlg.default_button.isEnabled()


def test_remove_deletes_an_imported_file_and_refuses_bundled(
    qtbot, make_window, model_dirs, boxes, settings
):
    from app.engine.checkpoints import library

    dest, _ = library.import_model(model_dirs["bundled"] / "bundled-tiny.pt", "mine")
    library.set_default("mine")
    settings.set("run/model", "mine")
    win = make_window()
    dlg = open_manager(qtbot, win)
    assert dlg.select("bundled-tiny")
    assert not dlg.remove_button.isEnabled()
    assert not dlg.remove("bundled-tiny")
    assert boxes[-1][0] == "warning" and "bundled" in boxes[-1][2]
    assert (model_dirs["bundled"] / "bundled-tiny.pt").is_file()

    dlg.confirm_remove = lambda name: False  # the user says no: nothing happens
    assert dlg.select("mine") and dlg.remove_button.isEnabled()
    dlg.remove_selected()
    assert dest.is_file()

    del dlg.confirm_remove  # back to the real question (patched QMessageBox answers Yes)
    with qtbot.waitSignal(dlg.listed, timeout=30000):
        dlg.remove_selected()
    assert boxes[-1][0] == "question" and "mine" in boxes[-1][2]
    assert not dest.exists()
    assert dlg.row_of("mine") == -1 and dlg.row_of("bundled-tiny") == 0
    assert "default" not in json.loads(model_dirs["config"].read_text())
    assert str(settings.get("run/model")) == ""


def test_use_now_switches_the_running_model_and_keeps_the_photo(
    qtbot, make_window, model_dirs, tmp_path, photo_file, settings
):
    from tests.test_gui_window import paint

    other = tmp_path / "sharp.pt"
    save_tiny_model(other, seed=5)
    win = make_window(model_path=model_dirs["bundled"] / "bundled-tiny.pt")
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.panel.model_label.text() == "tiny", timeout=60000)
    open_and_wait(qtbot, win, photo_file)
    win.canvas.set_brush_size(10)
    paint(qtbot, win, [(40, 40), (70, 50)])
    image, mask = win.doc.image.copy(), win.doc.mask.copy()
    assert win.history.count() == 1

    dlg = open_manager(qtbot, win)
    import_and_wait(qtbot, dlg, other)
    assert dlg.select("sharp")
    with qtbot.waitSignal(win.worker.model_loaded, timeout=60000) as loaded:
        dlg.use_button.click()
        assert win.panel.model_label.text() == "loading sharp…"
    assert loaded.args[0]["name"] == "sharp"
    assert Path(loaded.args[0]["source"]) == model_dirs["user"] / "sharp.pt"
    qtbot.waitUntil(lambda: win.panel.model_label.text() == "sharp", timeout=10000)
    assert str(settings.get("run/model")) == "sharp"
    assert dlg.table.item(dlg.row_of("sharp"), 0).font().bold()
    assert not dlg.table.item(dlg.row_of("bundled-tiny"), 0).font().bold()
    # the document and its history are untouched, and the new model fills
    assert (win.doc.image == image).all() and (win.doc.mask == mask).all()
    assert win.history.count() == 1
    win.panel.set_strategy("full")
    with qtbot.waitSignal(win.fill_applied, timeout=60000):
        win.fill()
    assert win.history.count() == 2


def test_use_now_that_fails_keeps_the_working_model(qtbot, make_window, model_dirs, settings):
    from app.engine.types import ModelFileError

    runner = InstantRunner()

    def factory(model, device):
        if model and model.endswith("mine.pt"):
            raise ModelFileError("mine.pt is damaged.")
        return runner

    from app.engine.checkpoints import library

    library.import_model(model_dirs["bundled"] / "bundled-tiny.pt", "mine")
    win = make_window(runner=runner)
    win.show()
    win.worker._factory = factory
    qtbot.waitUntil(lambda: win.worker.model_info is not None, timeout=30000)
    dlg = open_manager(qtbot, win)
    with qtbot.waitSignal(win.message_shown, timeout=30000) as msg:
        dlg.use_model("mine")
    assert "mine.pt is damaged" in msg.args[1]
    qtbot.waitUntil(lambda: "could not be loaded" in dlg.status.text(), timeout=10000)
    assert win.worker.model_info is not None and win.worker.model_error is None
    assert str(settings.get("run/model")) == ""
    assert "loading" not in win.panel.model_label.text()


def test_a_broken_file_shows_the_reason_and_changes_nothing(
    qtbot, make_window, model_dirs, tmp_path, boxes
):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"this is not a model")
    win = make_window()
    dlg = open_manager(qtbot, win)
    before = [i.name for i in dlg.infos]
    with qtbot.waitSignal(dlg.import_failed, timeout=30000) as failed:
        dlg.import_path(broken)
    reason = failed.args[0]
    assert "broken.pt" in reason and "\n" not in reason
    assert boxes[-1] == ("warning", "Could not import the model", reason)
    assert not model_dirs["user"].exists() or not any(model_dirs["user"].iterdir())
    assert [i.name for i in dlg.infos] == before and dlg.table.rowCount() == len(before)
    assert not dlg.busy and dlg.import_button.isEnabled() and dlg.isVisible()
    # the dialog still works afterwards
    good = tmp_path / "good.pt"
    save_tiny_model(good)
    assert import_and_wait(qtbot, dlg, good)[0] == "good"


_MIMES: list[QMimeData] = []  # a QDropEvent does not own its data: keep it alive


def drop_event(paths) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    _MIMES.append(mime)
    return QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )


def test_dropping_a_model_on_the_main_window_imports_it(
    qtbot, make_window, model_dirs, tmp_path, boxes
):
    src = tmp_path / "dropped.ckpt"
    save_tiny_model(src, seed=3)
    win = make_window()
    ev = drop_event([src])
    # offscreen Qt delivers no drop without a real drag in progress, so call the handlers
    win.dragEnterEvent(ev)
    assert ev.isAccepted()
    loaded: list[str] = []
    win.photo_loaded.connect(loaded.append)
    win.dropEvent(ev)
    qtbot.waitUntil(lambda: getattr(win, "_model_manager", None) is not None, timeout=10000)
    dlg = win._model_manager
    qtbot.waitUntil(lambda: dlg.row_of("dropped") >= 0, timeout=60000)
    assert (model_dirs["user"] / "dropped.pt").is_file()
    assert dlg.isVisible() and win.doc.is_empty and not loaded


def test_dropping_on_the_dialog_imports_models_and_ignores_photos(
    qtbot, make_window, model_dirs, tmp_path, photo_file, boxes
):
    a, b = tmp_path / "first.pt", tmp_path / "second.pth"
    save_tiny_model(a, seed=1)
    save_tiny_model(b, seed=2)
    win = make_window()
    dlg = open_manager(qtbot, win)
    photo_only = drop_event([photo_file])
    dlg.dragEnterEvent(photo_only)
    assert not photo_only.isAccepted()
    ev = drop_event([a, photo_file, b])
    dlg.dragEnterEvent(ev)
    assert ev.isAccepted()
    dlg.dropEvent(ev)
    qtbot.waitUntil(lambda: dlg.row_of("first") >= 0 and dlg.row_of("second") >= 0, timeout=60000)
    assert sorted(p.name for p in model_dirs["user"].iterdir()) == ["first.pt", "second.pt"]
