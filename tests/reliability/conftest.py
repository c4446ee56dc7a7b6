"""Reliability group (issue 6): every hostile input tried is recorded with its outcome.

Tests call `report.add(group, input, outcome, ok)`. At the end of the session the rows are
written to `reliability-report.md` in pytest's cache folder (.pytest_cache/d/reliability/) and
printed in the terminal summary when the run selected `-m reliability` or ran this folder.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Row:
    group: str
    input: str
    outcome: str
    ok: bool


class ReliabilityReport:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._lock = threading.Lock()

    def add(self, group: str, input: str, outcome: str, ok: bool = True) -> None:
        outcome = re.sub(r"\s+", " ", outcome).strip()
        with self._lock:
            self.rows.append(Row(group, input, outcome, ok))

    def markdown(self) -> str:
        lines = ["# Reliability report (issue 6)", ""]
        bad = sum(not r.ok for r in self.rows)
        lines.append(f"{len(self.rows)} inputs tried, {bad} with an unexpected outcome.")
        groups: dict[str, list[Row]] = {}
        for row in self.rows:
            groups.setdefault(row.group, []).append(row)
        for group, rows in groups.items():
            lines += ["", f"## {group}", "", "| input | outcome | verdict |", "|---|---|---|"]
            for r in rows:
                outcome = r.outcome.replace("|", "\\|")
                lines.append(f"| `{r.input}` | {outcome} | {'ok' if r.ok else '**UNEXPECTED**'} |")
        return "\n".join(lines) + "\n"


REPORT = ReliabilityReport()


@pytest.fixture(scope="session")
def report() -> ReliabilityReport:
    return REPORT


def shorten(text: str, *folders: Path) -> str:
    """Drop temporary folder names from messages so the report shows just the file names."""
    for folder in folders:
        text = text.replace(str(folder) + "/", "").replace(str(folder), "")
    return text


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not REPORT.rows:
        return
    cache = getattr(config, "cache", None)
    folder = Path(cache.mkdir("reliability")) if cache is not None else Path(config.rootpath)
    path = folder / "reliability-report.md"
    text = REPORT.markdown()
    path.write_text(text, encoding="utf-8")
    selected = "reliability" in (config.getoption("markexpr", "") or "") or any(
        "reliability" in str(a) for a in config.args
    )
    if selected:
        terminalreporter.write_sep("=", "reliability report")
        for line in text.splitlines():
            terminalreporter.write_line(line)
    terminalreporter.write_line(f"reliability report ({len(REPORT.rows)} inputs): {path}")
