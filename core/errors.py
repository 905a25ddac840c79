"""Errors a person can act on.

Every error raised on purpose by core/ derives from :class:`WorkbenchError`. Its message is written
for the person using the app (what went wrong and what to do), so the GUI and the command line can
show ``str(error)`` as it is; ``detail`` holds technical detail for a "Show details" box.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: ``str(err)`` is a sentence for the user, ``err.detail`` optional technical text."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class DatasetError(WorkbenchError):
    """A dataset cannot be used (wrong folder layout, too few classes, empty class, ...)."""


class OfflineError(DatasetError):
    """Something must be downloaded but the machine is offline (or the download failed)."""


class ModelError(WorkbenchError):
    """A model cannot be built for the requested input, or a model file cannot be loaded."""


class ImageError(WorkbenchError):
    """An image file cannot be read (corrupt, not an image, too large, ...)."""


class RunError(WorkbenchError):
    """A run folder is missing or damaged."""


class OutOfMemoryError(WorkbenchError):
    """A job needed more memory than the machine (or the GPU) has: the batch, the images or the model
    is too large. The Train tab offers to halve the batch size on this class."""
