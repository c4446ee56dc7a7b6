"""Which paths are models (files, TensorFlow checkpoint folders) and how the Models dialog words
their facts. Qt-free, torch-free."""

from __future__ import annotations

from pathlib import Path

from app.engine.checkpoints.tf_bundle import is_tf_checkpoint

MODEL_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".index")
MODEL_FILTER = (
    "Model files (*.pt *.pth *.ckpt *.index checkpoint);;"
    "TensorFlow checkpoint (*.index checkpoint);;All files (*)"
)

def model_source(path: str | Path) -> Path | None:
    """What to import when `path` is dropped or chosen, or None if it is not a model.

    Model files by suffix, TensorFlow checkpoints (folder, `checkpoint` file, `.index`, data
    shard) and a LaMa release folder (`models/best.ckpt` inside). Cheap: no file is read.
    """
    p = Path(path)
    try:
        if p.is_dir():
            if is_tf_checkpoint(p):
                return p
            best = p / "models" / "best.ckpt"
            return best if best.is_file() else None
        if not p.is_file():
            return None
    except OSError:
        return None
    if p.suffix.lower() in MODEL_FILE_SUFFIXES or is_tf_checkpoint(p):
        return p
    return None


def is_model_path(path: str | Path) -> bool:
    """True for files/folders the editor imports as models instead of opening as photos."""
    return model_source(path) is not None


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n else "–"


def parameters_text(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n else "–"


def short_license(text: str) -> str:
    """First clause of a licence note ('DeepFill v2 official weights: CC BY-NC 4.0 (...)')."""
    if not text:
        return ""
    head = text.split(" (")[0]
    return head if len(head) <= 60 else head[:57] + "…"


def unique_name(name: str, taken: set[str]) -> str:
    n = 2
    while True:
        candidate = f"{name[:74]}-{n}"
        if candidate not in taken:
            return candidate
        n += 1
