"""Datasets: the bundled MNIST sample, the Keras built-ins and image folders, all as one :class:`Dataset`.

Public API::

    list_datasets() -> list[dict]            # the built-ins, for menus (no TensorFlow, no network)
    load_dataset(name_or_path, ...) -> Dataset
    scan_folder(path, reporter=None) -> FolderScan      # a folder preview (headers; picture data checked cheaply)
    folder_dataset(scan, ...) -> Dataset     # a Dataset from a scan already made (no second scan)
    BUILTIN_NAMES                            # ("mnist-sample", "mnist", "fashion-mnist", "cifar10", "cifar100")

Importing this package does not import TensorFlow (the GUI lists datasets at start-up); the Keras
built-ins import it when loaded, folders only when their images are decoded.
"""

from __future__ import annotations

from pathlib import Path

from core.datasets import sample
from core.datasets.base import IMAGE_EXTENSIONS, Dataset, SkippedFile, Split, as_path, stratified_split
from core.datasets.builtin import BUILTIN_NAMES, KERAS_SPECS, canonical_name, list_builtin, load_keras
from core.datasets.folder import FolderScan, folder_dataset, scan_folder
from core.errors import DatasetError
from core.reporting import Reporter

__all__ = [
    "BUILTIN_NAMES",
    "IMAGE_EXTENSIONS",
    "Dataset",
    "FolderScan",
    "SkippedFile",
    "Split",
    "folder_dataset",
    "list_datasets",
    "load_dataset",
    "scan_folder",
    "stratified_split",
]

COLOR_MODES = ("auto", "grayscale", "rgb")


def list_datasets() -> list[dict]:
    """One dict per built-in dataset, the bundled sample first.

    Keys: ``name``, ``title``, ``description`` (one line), ``classes`` (how many), ``image_shape``
    ``[h, w, c]``, ``train_size`` (images for training and validation together), ``test_size``,
    ``available_offline`` (bundled, or already in the Keras cache) and ``cache_path`` (where the
    file is, or where Keras would download it to).
    """
    return list_builtin()


def _check_settings(validation_split: float, test_split: float, color_mode: str, limit: int | None) -> None:
    problems = []
    if not 0 <= validation_split < 1:
        problems.append(f"the validation split must be at least 0 and below 1 (not {validation_split})")
    if not 0 <= test_split < 1:
        problems.append(f"the test split must be at least 0 and below 1 (not {test_split})")
    if color_mode not in COLOR_MODES:
        problems.append(f"the colour mode must be auto, grayscale or rgb (not {color_mode!r})")
    if limit is not None and limit < 1:
        problems.append(f"the image limit must be at least 1 (not {limit})")
    if problems:
        raise DatasetError("Check the dataset settings: " + "; ".join(problems) + ".")


def load_dataset(
    name_or_path: str | Path,
    *,
    image_size: int | tuple[int, int] | None = None,
    color_mode: str = "auto",
    validation_split: float = 0.1,
    test_split: float = 0.2,
    seed: int = 42,
    limit: int | None = None,
    reporter: Reporter | None = None,
) -> Dataset:
    """Load a built-in dataset by name or an image folder by path.

    * ``"mnist-sample"``: the bundled 5,000 digits; a fixed test set of 1,000 (100 per digit),
      ``validation_split`` of the other 4,000 for validation. Needs neither TensorFlow nor network.
    * ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"cifar100"``: through ``keras.datasets``
      (downloaded once; :class:`~core.errors.OfflineError` when that is impossible). Validation is
      ``validation_split`` of the official training set, the test split the official test set.
      Names are matched loosely ("fashion_mnist", "CIFAR-10").
    * an existing folder: see :mod:`core.datasets.folder` (``test_split`` applies when it has no
      ``test/`` folder; ``image_size`` int means square, None means the typical size of its images
      shrunk to fit 224; ``color_mode`` "auto" picks grayscale when every image is grey).

    ``image_size`` and ``color_mode`` apply to folders only: built-ins keep their native size and
    channels (the model's first layers adapt them). ``limit`` keeps at most that many training
    images, every class in proportion (validation and test are left whole). A built-in name wins
    over a folder of the same name in the working directory; write ``./mnist`` for the folder.
    ``reporter.on_progress(done, total, what)`` reports loading and scanning.
    """
    _check_settings(validation_split, test_split, color_mode, limit)
    text = str(name_or_path)
    name = canonical_name(text) if isinstance(name_or_path, str) else None
    if name == sample.NAME:
        return sample.load_sample(validation_split=validation_split, seed=seed, limit=limit, reporter=reporter)
    if name in KERAS_SPECS:
        return load_keras(name, validation_split=validation_split, seed=seed, limit=limit, reporter=reporter)

    path = as_path(name_or_path)
    if not text.strip():
        raise DatasetError("No dataset given: choose a built-in dataset or a folder of class folders.")
    if not path.exists() and not _looks_like_path(text):
        raise DatasetError(
            f"Unknown dataset '{text}': it is not a built-in ({', '.join(BUILTIN_NAMES)}) and there is no "
            "folder of that name."
        )
    scan = scan_folder(path, reporter=reporter)
    return folder_dataset(
        scan,
        image_size=image_size,
        color_mode=color_mode,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        limit=limit,
    )


def _looks_like_path(text: str) -> bool:
    return any(sep in text for sep in ("/", "\\")) or text.startswith(("~", ".")) or Path(text).is_absolute()
