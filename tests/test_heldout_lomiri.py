"""tools/heldout_lomiri.py links exactly the 14 files of the lomiri set, under their own names."""

from __future__ import annotations

from app.engine.training.evaluate import list_images
from tests.tool_loader import load_tool


def test_the_set_is_linked_in_the_order_its_masks_were_drawn_for(tmp_path):
    tool = load_tool("heldout_lomiri")
    backgrounds = tmp_path / "backgrounds"
    backgrounds.mkdir()
    for name in (*tool.LOMIRI_SET, "warty-final-ubuntu.png", "Painting-Colors_by__herobrine7gamer.jpg"):
        (backgrounds / name).write_bytes(name.encode())
    made = tool.build(backgrounds, tmp_path / "out")
    assert len(made) == 14
    listed = list_images(tmp_path / "out")
    assert [p.name for p in listed] == list(tool.LOMIRI_SET)  # eval's order: the set's order
    assert listed[3].read_bytes() == b"Kleiber_by_Lukas_Baubkus.jpg"
    assert tool.main([str(tmp_path / "out"), "--backgrounds", str(backgrounds)]) == 0  # rerun


def test_a_missing_file_is_named_and_nothing_is_written(tmp_path, capsys):
    tool = load_tool("heldout_lomiri")
    backgrounds = tmp_path / "backgrounds"
    backgrounds.mkdir()
    for name in tool.LOMIRI_SET[1:]:
        (backgrounds / name).write_bytes(b"x")
    assert tool.main([str(tmp_path / "out"), "--backgrounds", str(backgrounds)]) == 2
    assert "Bridge_by_Sander_Klootwijk.jpg" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
