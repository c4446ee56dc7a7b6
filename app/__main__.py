"""`python -m app [PHOTO]` and the `deepfill-studio` GUI script: open the editor."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from app.gui import run_editor

    return run_editor(args[0] if args else None)


if __name__ == "__main__":
    sys.exit(main())
