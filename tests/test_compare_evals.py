"""tools/compare_evals.py pairs the cases of eval reports and refuses reports of other cases."""

from __future__ import annotations

import json

import pytest

from tests.tool_loader import load_tool


def report(path, model_psnr, holes=(0.1, 0.2, 0.3)):
    cases = [
        {"name": f"a.jpg#{k}", "hole_fraction": h, "telea": {"psnr_hole": 20.0},
         "model": {"psnr_hole": p}}
        for k, (h, p) in enumerate(zip(holes, model_psnr, strict=True))
    ]
    path.write_text(json.dumps({"model": "x", "by_long_side": {"512": {"cases": cases}}}))
    return path


def test_paired_difference_standard_error_and_counts(tmp_path):
    tool = load_tool("compare_evals")
    a = report(tmp_path / "a.json", [20.0, 21.0, 22.0])
    b = report(tmp_path / "b.json", [20.3, 21.1, 21.9])
    lines = tool.compare([a, b])
    model = lines[lines.index("model                    21.000") + 1]
    # differences +0.3, +0.1, -0.1: mean +0.1, sd 0.2, se 0.2 / sqrt(3)
    assert "21.100  +0.100 ± 0.115  (up 2, down 1)" in model
    assert any("telea" in line for line in lines)


def test_reports_of_other_masks_are_refused(tmp_path, capsys):
    tool = load_tool("compare_evals")
    a = report(tmp_path / "a.json", [20.0, 21.0, 22.0])
    b = report(tmp_path / "b.json", [20.0, 21.0, 22.0], holes=(0.1, 0.25, 0.3))  # another seed
    with pytest.raises(ValueError, match="not the same cases"):
        tool.compare([a, b])
    (tmp_path / "c.json").write_text("{}")
    assert tool.main([str(a), str(tmp_path / "c.json")]) == 2
    assert "not a report" in capsys.readouterr().err
