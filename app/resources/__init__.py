"""Files shipped with the application (the bundled model, the sample photo and mask).

Read them through `importlib.resources` (see `app.engine.checkpoints.models.bundled_models_dir` and
`sample_path` below), never relative to the checkout: in an installed wheel they live inside
the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_dir(name: str) -> Path:
    """A folder of shipped files (`models`, `sample`) as a real path on disk."""
    # A regular (not zipped) install: the traversable is a plain path.
    return Path(str(resources.files(__name__).joinpath(name)))


def sample_path(name: str = "picos.jpg") -> Path:
    """A file of the bundled sample (`picos.jpg`, `picos_mask.png`)."""
    return resource_dir("sample") / name
