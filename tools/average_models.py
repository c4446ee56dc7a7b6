"""Average the weights of model files fine-tuned from one parent (a "model soup").

    python tools/average_models.py OUT.pt A.pt B.pt [...]

Every file must hold the same network (same config); the result keeps the first file's
description, lists each part's recipe under `recipe.weight_average_of`, and drops the parts'
single-set validation figures (judge the average with `python main.py eval`). The bundled model
of issue 16's third round is the average of runs U and V (docs/training.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def average(parts: list[dict]) -> dict:
    """The uniform average of exported model files (as loaded by `torch.load`)."""
    if len(parts) < 2:
        raise ValueError("give at least two model files to average")
    first = parts[0]
    for part in parts[1:]:
        if part.get("config") != first.get("config") or part["state_dict"].keys() != first["state_dict"].keys():
            raise ValueError("the model files hold different networks; only fine-tunes of one model average")
    state = {
        name: sum(part["state_dict"][name].float() for part in parts) / len(parts)
        for name in first["state_dict"]
    }
    metas = [part.get("metadata", {}) for part in parts]
    meta = dict(metas[0])
    meta.pop("validation", None)
    meta["steps"] = " + ".join(str(m.get("steps", "?")) for m in metas)
    meta["recipe"] = {"weight_average_of": [dict(m.get("recipe", {}), steps=m.get("steps")) for m in metas]}
    return dict(first, metadata=meta, state_dict=state)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("parts", type=Path, nargs="+")
    args = p.parse_args(argv)
    parts = [torch.load(path, map_location="cpu", weights_only=True) for path in args.parts]
    torch.save(average(parts), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
