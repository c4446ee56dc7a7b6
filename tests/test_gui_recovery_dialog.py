"""The start-up recovery list: entries, selection, and what each way of closing it does."""

from __future__ import annotations

import time

from PySide6.QtCore import QLockFile, Qt

from app.autosave import Orphan
from app.widgets.recovery_dialog import RecoveryDialog


def _orphans(tmp_path, n: int) -> list[Orphan]:
    now = time.time()
    return [
        Orphan(tmp_path / f"s{i}", {"display_name": f"p{i}.jpg", "saved_at": now - i * 60,
                                    "size": [40, 30], "source": f"/photos/p{i}.jpg" if i else None,
                                    "image_rect": [0, 0, 4, 4] if i % 2 else None},
               QLockFile(str(tmp_path / f"s{i}.lock")))
        for i in range(n)
    ]


def _dialog(qtbot, orphans, calls):
    dlg = RecoveryDialog(
        orphans,
        recover=lambda o: calls.append(("recover", o.name)),
        discard=lambda o: calls.append(("discard", o.name)),
        keep=lambda o: calls.append(("keep", o.name)),
    )
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_entries_say_what_each_autosave_holds(qtbot, tmp_path):
    dlg = _dialog(qtbot, _orphans(tmp_path, 3), [])
    texts = [dlg.list.item(i).text() for i in range(3)]
    assert texts[0].startswith("p0.jpg\nautosaved ") and "40 × 30" in texts[0]
    assert "mask or sketch only" in texts[0] and "edited pixels" in texts[1]
    assert dlg.list.item(1).toolTip() == "/photos/p1.jpg"
    assert "Not saved to a file yet" in dlg.list.item(0).toolTip()
    assert "These 3 photos" in dlg.label.text() and not dlg.isModal()


def test_double_click_recovers_and_escape_keeps_the_rest(qtbot, tmp_path):
    calls = []
    orphans = _orphans(tmp_path, 3)
    dlg = _dialog(qtbot, orphans, calls)
    item = dlg.list.item(1)
    dlg.list.itemDoubleClicked.emit(item)
    assert calls == [("recover", "p1.jpg")]
    assert [o.name for o in dlg.orphans()] == ["p0.jpg", "p2.jpg"]
    assert dlg.recover_button.isEnabled()  # something is selected again
    dlg.list.clearSelection()
    assert not dlg.recover_button.isEnabled() and not dlg.discard_button.isEnabled()
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert calls[1:] == [("keep", "p0.jpg"), ("keep", "p2.jpg")]
    assert not dlg.isVisible()


def test_acting_on_several_goes_newest_first_and_an_empty_list_closes(qtbot, tmp_path):
    calls = []
    orphans = _orphans(tmp_path, 4)
    dlg = _dialog(qtbot, orphans, calls)
    dlg.select(orphans[3], orphans[1])
    qtbot.mouseClick(dlg.recover_button, Qt.MouseButton.LeftButton)
    assert calls == [("recover", "p1.jpg"), ("recover", "p3.jpg")]
    dlg.list.selectAll()
    qtbot.mouseClick(dlg.discard_button, Qt.MouseButton.LeftButton)
    assert calls[2:] == [("discard", "p0.jpg"), ("discard", "p2.jpg")]
    assert not dlg.isVisible()  # nothing left: closed, and nothing is "kept"
    assert all(kind != "keep" for kind, _ in calls)
