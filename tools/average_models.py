"""Average the weights of model files fine-tuned from one parent (a "model soup").

    python tools/average_models.py OUT.pt A.pt B.pt [...]

Every file must hold the same network (same config), except that parts may differ in width
(cnum): the narrower ones are then widened to the widest (`app/engine/networks/widen.py`), with
the widest part's own values in everything they lack, so a model continued at a larger cnum
(run Z7, widened from Z2) averages with its narrower relatives. Give a file twice to weigh it
double. The result keeps the first widest file's description, lists each part's recipe under
`recipe.weight_average_of`, and drops the parts' single-set validation figures (judge the
average with `python main.py eval`). The bundled model of issue 16's third round is the average
of runs U and V (docs/training.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.engine.networks.generator import Generator, GeneratorConfig  # noqa: E402
from app.engine.networks.widen import widen_state  # noqa: E402

DIFFERENT = "the model files hold different networks; only fine-tunes of one model average"


def average(parts: list[dict]) -> dict:
    """The uniform average of exported model files (as loaded by `torch.load`)."""
    if len(parts) < 2:
        raise ValueError("give at least two model files to average")
    parts = list(parts)
    configs = [part.get("config") or {} for part in parts]
    widest = max(range(len(parts)), key=lambda i: configs[i].get("cnum", 0))  # the first widest
    first, target = parts[widest], None
    for i, config in enumerate(configs):
        if config == configs[widest]:
            continue
        if dict(config, cnum=0) != dict(configs[widest], cnum=0):
            raise ValueError(DIFFERENT)
        if target is None:  # the widest network, whose values fill what narrower parts lack
            target = Generator(GeneratorConfig(**configs[widest]))
            target.load_state_dict({k: v.float() for k, v in first["state_dict"].items()})
        narrow = {k: v.float() for k, v in parts[i]["state_dict"].items()}
        state = widen_state(narrow, GeneratorConfig(**config), target)
        parts[i] = dict(parts[i], config=configs[widest], state_dict=state)
    if any(part["state_dict"].keys() != first["state_dict"].keys() for part in parts):
        raise ValueError(DIFFERENT)
    state = {
        name: sum(part["state_dict"][name].float() for part in parts) / len(parts)
        for name in first["state_dict"]
    }
    metas = [part.get("metadata", {}) for part in parts]
    meta = dict(first.get("metadata", {}))
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
