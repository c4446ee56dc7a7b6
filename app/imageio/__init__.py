"""Reading and writing photos, masks and sketches (shared by the CLI, the GUI and the tests).

Pixels come out as numpy arrays: RGB uint8 H x W x 3 (upright: the EXIF orientation is
applied), an optional separate alpha plane, and bool masks. Every failure the user can cause
(missing, empty, damaged or oversized file; unwritable folder; full disk) is raised as
ImageLoadError / ImageSaveError whose text is one sentence naming the file. Saves are atomic:
the target is either the old file or the complete new one, never something in between.

No Qt here: the GUI converts to and from QImage itself. The package's parts:

    formats   what we open and save, the errors, LoadedImage, the size limit (max_pixels)
    load      sniffing, opening and decoding photos with their metadata
    convert   16-bit, float, CMYK/ICC, palette and alpha pixels to RGB uint8
    masks     masks and sketches
    save      atomic saving with metadata, masks, default output names
    png       our PNG writer (text, EXIF, ICC and DPI chunks)
"""

from .formats import (
    DEFAULT_MAX_PIXELS,
    HEIF_AVAILABLE,
    ImageLoadError,
    ImageSaveError,
    LoadedImage,
)
from .load import can_save, file_changed_since, image_size, load_image
from .masks import load_mask, load_sketch
from .save import default_output_path, save_image, save_mask

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HEIF_AVAILABLE",
    "ImageLoadError",
    "ImageSaveError",
    "LoadedImage",
    "can_save",
    "default_output_path",
    "file_changed_since",
    "image_size",
    "load_image",
    "load_mask",
    "load_sketch",
    "save_image",
    "save_mask",
]
