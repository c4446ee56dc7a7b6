"""Compare models on the same held-out cases: per-case paired differences with standard errors.

    python main.py eval --data DIR --model A.pt --texture off --sketch-style user --json A.json
    python main.py eval --data DIR --model B.pt --texture off --sketch-style user --json B.json
    python tools/compare_evals.py A.json B.json [C.json ...]

The first file is the base. For every method the files share (telea, model, model+sketch, ...)
it prints the mean of `--metric` (hole PSNR by default) and, for each later file, the mean
per-case difference to the base, its standard error, and in how many cases it is up or down by
more than `--tie`. The cases must be the same (same photos, masks, seed and sketch style): the
files' case names and hole sizes are checked. Set means of equal models move by a few hundredths
of a dB from case to case luck; the paired difference and its standard error are what a ship
decision should read (docs/training.md, "A larger, fresh evaluation").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def load_cases(path: Path) -> list[dict]:
    """The per-case rows of a `main.py eval --json` report (its first long side)."""
    report = json.loads(Path(path).read_text())
    sides = report.get("by_long_side")
    if not isinstance(sides, dict) or not sides:
        raise ValueError(f"{path}: not a report of `main.py eval --json`")
    return next(iter(sides.values()))["cases"]


def paired(base: list[float], other: list[float], tie: float) -> dict[str, float]:
    """Mean difference other - base, its standard error, and the counts up / down beyond `tie`."""
    diffs = [b - a for a, b in zip(base, other, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    spread = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else float("nan")
    return {
        "mean": mean,
        "se": spread / math.sqrt(n),
        "up": sum(d > tie for d in diffs),
        "down": sum(d < -tie for d in diffs),
    }


def _identity(cases: list[dict]) -> list[tuple[str, float]]:
    """What makes two reports' cases the same: photo names and hole sizes (another seed, other
    masks)."""
    return [(c["name"], round(float(c["hole_fraction"]), 9)) for c in cases]


def compare(paths: list[Path], metric: str = "psnr_hole", tie: float = 0.01) -> list[str]:
    """The report's lines: per method, the base's mean and each other file's paired difference."""
    runs = [load_cases(p) for p in paths]
    base_cases = _identity(runs[0])
    for path, cases in zip(paths[1:], runs[1:], strict=True):
        if _identity(cases) != base_cases:
            raise ValueError(f"{path}: not the same cases as {paths[0]}")
    methods = [m for m in runs[0][0] if isinstance(runs[0][0][m], dict)]
    lines = [f"{len(base_cases)} cases, {metric}; base {paths[0].name}"]
    for method in methods:
        if not all(method in cases[0] for cases in runs):
            continue
        base = [float(c[method][metric]) for c in runs[0]]
        lines.append(f"{method:<22}{sum(base) / len(base):9.3f}")
        for path, cases in zip(paths[1:], runs[1:], strict=True):
            values = [float(c[method][metric]) for c in cases]
            d = paired(base, values, tie)
            lines.append(
                f"  {path.name:<20}{sum(values) / len(values):9.3f}  {d['mean']:+.3f} ± "
                f"{d['se']:.3f}  (up {d['up']}, down {d['down']})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="eval --json files; the first is the base")
    parser.add_argument("--metric", default="psnr_hole",
                        help="psnr_hole (default), ssim_hole, l1_hole, psnr, ssim, l1")
    parser.add_argument("--tie", type=float, default=0.01, help="a case within this counts as level")
    args = parser.parse_args(argv)
    try:
        lines = compare(args.reports, args.metric, args.tie)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
