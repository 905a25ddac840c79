"""What a training run will need in memory, checked before anything is built.

A batch size larger than the training set is capped at the training set's size
(:func:`cap_batch_size`): batching a repeated pipeline of a few images into batches of 10^9 grew
memory without limit. Then :func:`check_training_memory` estimates what the model needs for one
batch and refuses, with a suggestion, what cannot fit in the memory that is free: a small CNN at
2048x2048 once took more than 6 GB in 9 s before anything said why.

The estimate is rough on purpose (it is a guard, not a forecast), from the model's layer output
shapes and parameter count. The model is built symbolically for it: inside a Keras
``StatelessScope`` that leaves every variable uninitialised, so no weight is allocated (tens of
milliseconds, even for a model whose weights would take gigabytes).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from core.errors import OutOfMemoryError

log = logging.getLogger(__name__)

BYTES_PER_VALUE = 4  # float32
#: Copies of every parameter while training: the weights, their gradients and Adam's two moments.
PARAMETER_COPIES = 4
#: Copies of every layer output while training: the forward value kept for backpropagation (the
#: gradients come and go layer by layer). Counting a gradient for each as well refused runs that fit.
ACTIVATION_COPIES = 1
#: Share of the free memory a run may plan to use (TensorFlow, the pipeline and the app need the rest).
USABLE_SHARE = 0.9


@dataclass(frozen=True)
class MemoryEstimate:
    params: int
    activations_per_image: int  # values in every layer's output for one image

    def parameter_bytes(self) -> int:
        return self.params * BYTES_PER_VALUE * PARAMETER_COPIES

    def bytes_per_image(self) -> int:
        return self.activations_per_image * BYTES_PER_VALUE * ACTIVATION_COPIES

    def total_bytes(self, batch_size: int) -> int:
        return self.parameter_bytes() + batch_size * self.bytes_per_image()


def available_bytes() -> int | None:
    """Memory free for a new job (MemAvailable on Linux; psutil elsewhere when installed), or None."""
    try:
        import psutil  # optional: not a dependency

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def size_text(n: float) -> str:
    """Bytes as a person reads them: 512 MB, 6.3 GB."""
    gb = n / 1024**3
    return f"{gb:.1f} GB" if gb >= 1 else f"{max(1, round(n / 1024**2))} MB"


# A folder's decoded images stay in memory after the first epoch when they take at most this share
# of the free memory and this many bytes (counted twice for training: the cache and its shuffle
# buffer); larger folders stream from disk every epoch (core.datasets.base.Split.tf_dataset).
CACHE_SHARE = 0.25
CACHE_MAX_BYTES = 2 * 1024**3


def cache_plan(dataset, *, available: int | None = None) -> tuple[bool, str | None]:
    """``(cache, notice)``: whether a folder's decoded training and validation images are kept in
    memory (decoded once instead of every epoch), and the sentence that says so. In-memory datasets
    (the sample, the built-ins) are always cached and get no notice."""
    train, val = dataset.train, dataset.val
    if train.in_memory:
        return False, None
    values = int(np.prod(dataset.image_shape))
    need = (2 * len(train) + len(val)) * values
    free = available_bytes() if available is None else available
    if free is None or need > min(CACHE_MAX_BYTES, CACHE_SHARE * free):
        return False, None
    images = len(train) + len(val)
    return True, f"Keeping the {images:,} decoded images in memory ({size_text(need)}) after the first epoch."


def cap_batch_size(config, dataset):
    """``(config, notice)``: a batch size above the number of training images becomes that number."""
    n = len(dataset.train)
    if n <= 0 or config.batch_size <= n:
        return config, None
    notice = (
        f"The batch size {config.batch_size:,} is larger than the {n:,} training images; "
        f"this run uses batches of {n:,} (the whole training set)."
    )
    return dataclasses.replace(config, batch_size=n), notice


def estimate_model(name: str, image_shape, num_classes: int, options=None) -> MemoryEstimate:
    """Parameters and per-image activations of zoo model ``name``, built without allocating a weight."""
    import keras

    from core import models

    try:  # Keras keeps uninitialised variables in a global list; leave it as it was
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - a Keras without it
        global_state = None
    pending = list(global_state.get_global_attribute("uninitialized_variables", []) or []) if global_state else []
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = models.build_model(name, tuple(image_shape), num_classes, options=options)
        params = sum(math.prod(v.shape) for v in model.weights)
        activations = _activations(model)
    finally:
        if global_state is not None:
            global_state.set_global_attribute("uninitialized_variables", pending)
    return MemoryEstimate(params=int(params), activations_per_image=int(activations))


def _activations(model) -> int:
    """Values in every layer's output for one image, inside nested models (a Keras Applications backbone) too."""
    total = 0
    for layer in model.layers:
        if getattr(layer, "layers", None):  # a nested model: count its own layers, not just its output
            total += _activations(layer)
            continue
        for out in layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]:
            total += math.prod(int(d or 1) for d in out.shape[1:])
    return total


def check_training_memory(config, dataset, *, available: int | None = None, estimate: MemoryEstimate | None = None):
    """Refuse (:class:`OutOfMemoryError`) a run whose model and batch cannot fit in free memory.

    Returns the estimate, or None when it could not be made (the run then goes ahead unchecked).
    ``available`` and ``estimate`` are for tests; by default they are measured.
    """
    if estimate is None:
        try:
            estimate = estimate_model(config.model, dataset.image_shape, dataset.num_classes, config.model_options)
        except Exception:  # noqa: BLE001 - a guard must never stop a run that would work
            log.warning("Could not estimate the memory %s needs", config.model, exc_info=True)
            return None
    available = available_bytes() if available is None else available
    if available is None:
        return estimate
    usable = available * USABLE_SHARE
    need = estimate.total_bytes(config.batch_size)
    if need <= usable:
        return estimate
    h, w, c = dataset.image_shape
    tips = []
    fits = int((usable - estimate.parameter_bytes()) // max(1, estimate.bytes_per_image()))
    if fits >= 1:
        tips.append(f"a batch size of at most {fits:,}")
    # Activations (and the weights after a Flatten) grow with the pixels: shrink both sides alike.
    scale = math.sqrt(usable / need)
    side = max(8, int(max(h, w) * scale) // 8 * 8)
    if config.dataset not in _builtin_names() and side < max(h, w):
        tips.append(f"a smaller image size (about {side} pixels)")
    tips.append("a smaller model")
    raise OutOfMemoryError(
        f"Training {config.model} on {h}x{w}x{c} images in batches of {config.batch_size:,} needs about "
        f"{size_text(need)} of memory ({size_text(estimate.parameter_bytes())} for "
        f"{estimate.params:,} parameters, {size_text(estimate.bytes_per_image() * config.batch_size)} per batch), "
        f"but only {size_text(available)} is free. Try {', or '.join(tips)}.",
        detail=f"estimate {estimate}, available {available} bytes, usable share {USABLE_SHARE}",
    )


def _builtin_names():
    from core import datasets

    return datasets.BUILTIN_NAMES
