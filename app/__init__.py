"""DeepFill Studio: a desktop editor that removes objects from photos."""

__version__ = "0.1.0"
