"""Library chatter stays off stderr; what must reach it goes to the stderr of the moment."""

from __future__ import annotations

import io
import logging
import sys

from app.quiet import quiet_library_warnings


def test_library_errors_reach_the_current_stderr_and_warnings_do_not(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a plain CLI process (pytest adds its own)
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    quiet_library_warnings("prog")
    assert len(root.handlers) == 1
    first.close()  # the stream the handler was made under is gone (a capture, a redirect)
    monkeypatch.setattr(sys, "stderr", later)
    logging.getLogger("somelib").warning("chatter")
    logging.getLogger("somelib").error("broken")
    assert later.getvalue() == "prog: ERROR: broken\n"
    quiet_library_warnings("prog")  # a second call adds no second handler
    assert len(root.handlers) == 1
