"""The one interface every dataset source yields.

A :class:`Dataset` holds three :class:`Split` objects (train, validation, test), the class names and
the image shape the model will receive. A split holds either an in-memory uint8 array (the bundled
sample and the Keras built-ins) or a list of image files (folders, streamed from disk and never
loaded whole). ``Split.tf_dataset()`` turns either into an unbatched ``tf.data`` pipeline of
``(image uint8 HxWxC, label int32)`` so training and evaluation treat them alike.

Pixels stay raw (0-255): the model's own first layers rescale them, so a saved model maps raw
pixels to probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datasets.decode import decode_image_file

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class Split:
    """Labels plus either ``images`` (uint8, N x H x W x C) or ``paths`` (image files)."""

    labels: np.ndarray
    images: np.ndarray | None = None
    paths: list[str] | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int32)
        if (self.images is None) == (self.paths is None):
            raise ValueError("a Split holds either images or paths")
        n = len(self.images) if self.images is not None else len(self.paths)
        if n != len(self.labels):
            raise ValueError(f"{n} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).astype(int).tolist()

    def subset(self, indices: np.ndarray) -> Split:
        indices = np.asarray(indices)
        if self.images is not None:
            return Split(self.labels[indices], images=self.images[indices])
        return Split(self.labels[indices], paths=[self.paths[i] for i in indices])

    def tf_dataset(
        self,
        image_shape: tuple[int, int, int],
        *,
        with_index: bool = False,
        shuffle_seed: int | None = None,
        cache: bool = False,
    ):
        """Unbatched ``tf.data.Dataset`` of ``(uint8 image of image_shape, int32 label)``.

        With ``with_index`` each element also carries its row in this split, so results stay
        matched to files when a file that passed the scan fails to decode and is dropped.

        With ``shuffle_seed`` the elements come shuffled (again each pass) and repeated forever,
        for training. A folder's file NAMES are shuffled and only then decoded, so memory holds a
        few decoded images per decoding thread, however large the folder (a shuffle buffer of
        decoded images once held up to 20,000 of them before the first step). In-memory images
        are cached and shuffled as they are. With ``cache`` (a folder whose decoded images fit in
        memory: core.memory.fits_in_memory decides) a folder is decoded once, in file order, kept
        in memory, and shuffled from there in later passes.
        """
        import tensorflow as tf

        index = np.arange(len(self), dtype=np.int64)
        if self.images is not None:
            ds = tf.data.Dataset.from_tensor_slices((self.images, self.labels, index))
            if shuffle_seed is not None:
                ds = ds.cache().shuffle(min(len(self), 20_000), seed=shuffle_seed, reshuffle_each_iteration=True)
                ds = ds.repeat()
        else:
            ds = tf.data.Dataset.from_tensor_slices((list(self.paths), self.labels, index))
            if shuffle_seed is not None and not cache:  # names only: a whole-split buffer costs bytes per file
                ds = ds.shuffle(max(len(self), 1), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
            ds = ds.map(
                tf.autograph.experimental.do_not_convert(lambda p, y, i: (decode_image_file(p, image_shape), y, i)),
                num_parallel_calls=tf.data.AUTOTUNE,  # one call per core (autotuning is off)
                deterministic=True,
            )
            # A file that passed the scan but fails to decode (truncated mid-way) is dropped, not fatal.
            ds = ds.ignore_errors()
            if cache:  # decoded once; later passes (epochs) read memory, not files
                ds = ds.cache()
                if shuffle_seed is not None:
                    ds = ds.shuffle(max(len(self), 1), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
        ds = ds.with_options(pipeline_options())
        return ds if with_index else ds.map(tf.autograph.experimental.do_not_convert(lambda x, y, i: (x, y)))

    def load_images(self, image_shape: tuple[int, int, int]) -> np.ndarray:
        """All images as one uint8 array (in-memory splits at once; folders decoded now)."""
        if self.images is not None:
            return self.images
        ds = self.tf_dataset(image_shape).batch(256)
        return np.concatenate([x.numpy() for x, _ in ds]) if len(self) else np.zeros((0, *image_shape), np.uint8)


def pipeline_options():
    """``tf.data`` options for every pipeline built on a split: autotuning's model thread off.

    With it on, destroying an iterator (the end of ``fit``, of each validation pass, of an
    evaluation) waits for that thread to finish its current sleep, which doubles up to 60 s:
    measured here, 1.2-5.2 s of doing nothing after the last epoch in 4 runs out of 10. ``AUTOTUNE``
    parallelism then means one call per core, and prefetch buffers still grow on demand.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


@dataclass
class Dataset:
    name: str  # the name used on the command line: "mnist-sample", "cifar10" or a folder path
    title: str  # for people: "MNIST sample (5,000 digits, bundled)"
    class_names: list[str]
    image_shape: tuple[int, int, int]  # (height, width, channels) the model receives
    train: Split
    val: Split
    test: Split
    source: str = ""  # where it came from and its licence
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def color_mode(self) -> str:
        return "grayscale" if self.image_shape[2] == 1 else "rgb"

    def counts(self) -> dict[str, list[int]]:
        """Images per class in each split."""
        n = self.num_classes
        return {"train": self.train.counts(n), "val": self.val.counts(n), "test": self.test.counts(n)}

    def describe(self) -> dict:
        h, w, c = self.image_shape
        return {
            "name": self.name,
            "title": self.title,
            "classes": self.class_names,
            "image_shape": [h, w, c],
            "color_mode": self.color_mode,
            "counts": self.counts(),
            "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "source": self.source,
        }


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(rest, held_out)`` with ``fraction`` of every class held out, reproducibly."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        k = int(round(len(idx) * fraction))
        if fraction > 0 and len(idx) > 1:
            k = min(max(k, 1), len(idx) - 1)
        held.append(idx[:k])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, int)
    mask = np.ones(len(labels), bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of exactly ``min(n, len(labels))`` rows, every class in proportion, reproducibly.

    Classes get their share of ``n`` rounded by largest remainder, so the total is exact (unlike
    rounding each class on its own); when ``n`` allows, every class keeps at least one row.
    """
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    if n <= 0:
        return np.zeros(0, int)
    classes, sizes = np.unique(labels, return_counts=True)
    quota = sizes * (n / len(labels))
    take = np.floor(quota).astype(int)
    if n >= len(classes):
        take = np.maximum(take, 1)
    # Hand out what rounding down left over (or take back what the minimum of one added),
    # largest remainders first, never more than a class has.
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    while take.sum() < n:
        for k in order:
            if take.sum() < n and take[k] < sizes[k]:
                take[k] += 1
    while take.sum() > n:
        for k in order[::-1]:
            if take.sum() > n and take[k] > 1:
                take[k] -= 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == cls))[:k] for cls, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def as_path(p: str | Path) -> Path:
    return Path(p).expanduser()
