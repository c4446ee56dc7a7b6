"""Keep library chatter off stderr, where our contract is one line per error.

`c_library_warnings_silenced` hides what C decoders print straight to descriptor 2;
`quiet_library_warnings` stops Python logging's last-resort handler from printing library
warnings. Pillow's own warnings (DecompressionBombWarning) are handled where photos are opened
(`app.imageio`), which refuses truly hostile sizes itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def c_library_warnings_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while decoding: libtiff and libpng print their
    warnings there directly (e.g. "Using code not yet in table." for a damaged TIFF), which
    would break the one-line error contract. What matters reaches the user as our error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes, not to the stream it was made
    with: a handler that kept the first one would write to a closed file once that stream is
    replaced (a test's capture, an embedding application's redirect)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def quiet_library_warnings(prog: str) -> None:
    """Without a handler, logging's last resort prints library warnings to stderr, which would
    break the one-line error contract; the user gets notes and errors from us instead."""
    root = logging.getLogger()
    if not root.handlers:
        handler = _CurrentStderrHandler()
        handler.setLevel(logging.ERROR)
        handler.setFormatter(logging.Formatter(f"{prog}: %(levelname)s: %(message)s"))
        root.addHandler(handler)
