"""DeepFill Studio entry point.

    python main.py                 open the editor
    python main.py PHOTO           open the editor with PHOTO
    python main.py inpaint IMAGE --mask MASK [...]   headless fill (see --help)
    python main.py batch PHOTOS --masks MASKS -o OUT_DIR [...]   fill a folder
    python main.py models | train | eval ...
"""

import os
import sys

from app.cli import COMMANDS


def main() -> int:
    argv = sys.argv[1:]
    if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
        from app.cli import main as cli_main

        return cli_main(argv)
    if argv and not os.path.exists(argv[0]):
        # a mistyped command must not open the editor (and, headless, fail in Qt)
        sys.stderr.write(
            f"deepfill-studio: error: unknown command or file: {argv[0]!r} "
            f"(commands: {', '.join(COMMANDS)}; see --help)\n"
        )
        return 2
    from app.gui import run_editor

    return run_editor(argv[0] if argv else None)


if __name__ == "__main__":
    sys.exit(main())
