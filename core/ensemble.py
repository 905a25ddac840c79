"""Ensembles: several models with the same classes vote by averaging their probabilities.

* :func:`member_labels` names the members, distinct even when their files look alike.
* :func:`check_compatible` makes sure the models can be combined (same class names, same order).
* :func:`ensemble_predict` averages the members' probabilities for images already prepared for
  each member: members may take different input sizes or colour modes, so each gets its own input,
  made from the original image (:func:`prepare_inputs`).
* :func:`predict_sources` classifies files (and in-memory images) in batches with one model or an
  ensemble (reading the next batch while the model works on the current one where there are cores
  to spare), and reports each batch as it finishes: what the Predict tab's table shows. An ensemble
  of one is a plain model.
* :func:`predict_files` classifies files with one model (the command line's ``predict``): the
  same pipeline, without thumbnails, one :class:`FileResult` per file.

Qt-free and TensorFlow-free at import; predictors are :class:`core.inference.Predictor` objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from core import labels
from core.errors import ImageError, ModelError
from core.images import open_image, reading_notes, to_8bit, to_model_input
from core.inference import DEFAULT_BATCH_SIZE, LoadedModel, Predictor, top_k_rows
from core.reporting import CancelToken

THUMBNAIL_SIZE = 48


def _label(model: LoadedModel) -> str:
    return f"{model.title} ({model.path.name})" if model.title != model.path.name else model.path.name


def member_labels(models: Sequence[LoadedModel]) -> list[str]:
    """How an ensemble names its members (members list, votes table, CSV headers): distinct labels.

    A run's model by :func:`core.labels.model_labels` (its name, or what sets it apart from the other
    members, its date and test accuracy); any other file by its card's title. Reads only JSON files.
    """
    return labels.model_labels([m.path for m in models], [m.title for m in models])


def check_compatible(models: Sequence[LoadedModel]) -> list[str]:
    """The class names every model shares; :class:`ModelError` when they cannot be combined.

    Members must predict the same classes under the same names, in the same order (models trained
    on the same dataset do); their input sizes and colour modes may differ.
    """
    if not models:
        raise ModelError("Choose at least one model.")
    first = models[0]
    names = list(first.class_names)
    for other in models[1:]:
        theirs = list(other.class_names)
        if len(theirs) != len(names):
            raise ModelError(
                f"These models cannot be combined: {_label(first)} predicts {len(names)} classes but "
                f"{_label(other)} predicts {len(theirs)}. An ensemble needs models trained on the same classes.",
                detail=f"{first.path}: {names}\n{other.path}: {theirs}",
            )
        if theirs != names:
            if sorted(theirs) == sorted(names):
                reason = "they name the same classes in a different order"
            else:
                missing = [n for n in names if n not in theirs][:3]
                extra = [n for n in theirs if n not in names][:3]
                reason = (
                    f"{_label(first)} has {', '.join(map(repr, missing))} where {_label(other)} has "
                    f"{', '.join(map(repr, extra))}"
                )
            raise ModelError(
                f"These models cannot be combined: {reason}. An ensemble needs models trained on the same "
                "classes (the same dataset).",
                detail=f"{first.path}: {names}\n{other.path}: {theirs}",
            )
    return names


def prepare_inputs(
    image: Image.Image, shapes: Iterable[Sequence[int]], backgrounds: Sequence | None = None
) -> list[np.ndarray]:
    """``image`` as each model takes it: one uint8 ``(H, W, C)`` array per shape (shared when equal).

    ``backgrounds``: each model's training background (``LoadedModel.background``), onto which
    transparency is filled; None: white for all.
    """
    shapes = [tuple(int(v) for v in shape) for shape in shapes]
    backgrounds = list(backgrounds) if backgrounds is not None else [None] * len(shapes)
    made: dict[tuple, np.ndarray] = {}
    out = []
    for shape, background in zip(shapes, backgrounds, strict=True):
        key = (shape, background)
        if key not in made:
            made[key] = to_model_input(image, shape, background)
        out.append(made[key])
    return out


def ensemble_predict(
    predictors: Sequence[Predictor], images_per_model: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, members)``: the ensemble's probabilities ``(N, classes)`` and each member's ``(M, N, classes)``.

    ``images_per_model[m]`` holds the ``N`` images prepared for ``predictors[m]`` (its input shape),
    raw 0-255 pixels ``(N, H, W, C)``; a single image ``(H, W, C)`` counts as ``N = 1``. The mean
    is the plain average of the members' probabilities (each member counts the same).
    """
    if not predictors:
        raise ModelError("Choose at least one model.")
    if len(images_per_model) != len(predictors):
        raise ValueError(f"{len(predictors)} models but {len(images_per_model)} image batches")
    batches = []
    for images in images_per_model:
        x = np.asarray(images)
        batches.append(x[np.newaxis] if x.ndim == 3 else x)
    counts = {len(x) for x in batches}
    if len(counts) != 1:
        raise ValueError(f"every member needs the same number of images, got {sorted(counts)}")
    members = np.stack([p.predict(x) for p, x in zip(predictors, batches, strict=True)]).astype(np.float32)
    return members.mean(axis=0), members


# --------------------------------------------------------------------------------------------------
# Many images


@dataclass(frozen=True)
class InMemoryImage:
    """An image that is not a file (pasted from the clipboard), with a name to show for it."""

    name: str
    image: Image.Image = field(repr=False, compare=False)


Source = str | Path | InMemoryImage


@dataclass(eq=False)
class SourceResult:
    """The outcome for one image: probabilities when predicted, ``error`` (a reason) when not.

    ``probs`` is the ensemble's mean (the model's own for one model), ``member_probs`` each
    member's ``(M, classes)``; ``thumbnail`` a small uint8 image for a table, ``(H, W, 1)`` for a
    grey image and ``(H, W, 3)`` RGB for a colour one.
    """

    source: Path | InMemoryImage
    top: list[tuple[str, float]] | None = None
    probs: np.ndarray | None = field(default=None, repr=False)
    member_probs: np.ndarray | None = field(default=None, repr=False)
    thumbnail: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # how it was read (core.images.reading_notes)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        return self.source.name if isinstance(self.source, InMemoryImage | Path) else str(self.source)

    @property
    def path(self) -> Path | None:
        return self.source if isinstance(self.source, Path) else None

    @property
    def predicted(self) -> int | None:
        return None if self.probs is None else int(np.argmax(self.probs))


_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


def _thumbnail(img: Image.Image, size: int, inputs: dict[tuple[int, ...], np.ndarray]) -> np.ndarray:
    """``img`` made to fit ``size`` x ``size`` (aspect kept), uint8 ``(H, W, 1)`` grey or ``(H, W, 3)`` RGB.

    A grey image stays grey. An image that already fits is not resized, and when a model input of
    its own size and channels was made (``inputs``, by shape), that very array is the thumbnail:
    converting it again would give the same pixels.
    """
    channels = 1 if img.mode in _GREY_MODES else 3
    width, height = img.size
    if max(width, height) <= size:
        same = inputs.get((height, width, channels))
        if same is not None:
            return same
    small = to_8bit(img, channels)
    if max(width, height) > size:
        scale = size / max(width, height)
        shape = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = small.resize(shape, Image.Resampling.BILINEAR, reducing_gap=2.0)
    arr = np.asarray(small, dtype=np.uint8)
    return np.ascontiguousarray(arr[:, :, np.newaxis] if channels == 1 else arr)


def read_source(
    item: Path | InMemoryImage,
    shapes: Sequence[tuple[int, int, int]],
    *,
    backgrounds: Sequence | None = None,
    thumbnail_size: int | None = THUMBNAIL_SIZE,
    min_size: int | None = None,
) -> tuple[list[np.ndarray], np.ndarray | None, list[str]]:
    """One image as each of ``shapes`` takes it (uint8 arrays, in order), its thumbnail (or None) and
    the notes on how it was read (:func:`core.images.reading_notes`, for the first model).

    What :func:`predict_sources` does for each source; raises :class:`ImageError` for a file that
    cannot be read. ``backgrounds`` as for :func:`prepare_inputs`; ``min_size`` as for
    :func:`core.images.open_image`.
    """
    img = item.image if isinstance(item, InMemoryImage) else open_image(item, min_size=min_size)
    backgrounds = list(backgrounds) if backgrounds is not None else [None] * len(shapes)
    arrays = prepare_inputs(img, shapes, backgrounds)
    thumb = None
    if thumbnail_size:
        plain = {tuple(a.shape): a for a, b in zip(arrays, backgrounds, strict=True) if b is None}
        thumb = _thumbnail(img, thumbnail_size, plain)
    return arrays, thumb, reading_notes(img, backgrounds[0] if backgrounds else None)


#: Reading the next batch while the model predicts the current one needs cores to spare. On 2
#: cores the reading thread takes them from TensorFlow's threads: measured there (1,000 28x28 PNG
#: files, the shipped MNIST CNN, bench/bench_predict.py and the same pipeline forced to overlap),
#: the model then ran at 0.6-0.7 of its speed instead of 0.9-1.0, for an end to end 5-15 % shorter
#: in core (0.20 s against 0.23 s) and about the same in the Predict tab (0.30 s against 0.31 s).
OVERLAP_MIN_CORES = 4
#: A batch whose files average at least this many bytes is read by several threads: decoding a big
#: image releases the GIL (2 threads read 2048x1536 JPEG files 1.7x faster on 2 cores). Small files
#: cost mostly Python under the GIL, where a second thread only slows the first (28x28 PNG files:
#: 1.5x slower with 2 threads).
PARALLEL_READ_BYTES = 64 * 1024
MAX_READERS = 4


def _mean_file_size(items: Sequence[Path | InMemoryImage], sample: int = 8) -> float:
    """The mean size of the first ``sample`` files (in-memory images count as 0 bytes)."""
    items = items[:sample]
    total = 0
    for item in items:
        if isinstance(item, Path):
            try:
                total += item.stat().st_size
            except OSError:
                pass  # reading it fails later, with the reason
    return total / max(1, len(items))


def predict_sources(
    predictors: Sequence[Predictor],
    sources: Iterable[Source],
    *,
    k: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    thumbnail_size: int | None = THUMBNAIL_SIZE,
    on_result: Callable[[SourceResult], None] | None = None,
    on_batch: Callable[[list[SourceResult]], None] | None = None,
    cancel: CancelToken | None = None,
    overlap: bool | None = None,
) -> list[SourceResult]:
    """Classify image files (and :class:`InMemoryImage` items) with one model or an ensemble.

    One :class:`SourceResult` per source, in order. A file that cannot be read gets a result with
    ``error`` (the reason from :func:`core.images.open_image`) and never stops the others.
    As soon as a batch is done, ``on_result`` is called for each of its results, then
    ``on_batch`` once with all of them (one call a batch, for a consumer that hands them on).

    Batches are read, then predicted. With ``overlap`` (default: on machines with at least
    :data:`OVERLAP_MIN_CORES` cores) a thread reads the next batch while the model predicts the
    current one. A batch of big files (:data:`PARALLEL_READ_BYTES`) is decoded by several threads.

    ``cancel.cancelled`` is checked before each batch and between the images being read; once set,
    the results of the batches finished so far are returned.
    """
    if not predictors:
        raise ModelError("Choose at least one model.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    names = list(predictors[0].class_names)
    keys = [(tuple(p.input_shape), getattr(p, "background", None)) for p in predictors]
    distinct = list(dict.fromkeys(keys))
    member_slot = [distinct.index(k) for k in keys]
    # JPEGs may decode at a reduced scale, never below twice the largest input (or the thumbnail).
    min_size = 2 * max([max(s[0], s[1]) for s, _b in distinct] + [thumbnail_size or 0])
    items: list[Path | InMemoryImage] = [s if isinstance(s, InMemoryImage | Path) else Path(s) for s in sources]
    chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    cores = os.cpu_count() or 1
    if overlap is None:
        overlap = cores >= OVERLAP_MIN_CORES
    readers = min(MAX_READERS, cores)
    results: list[SourceResult] = []

    def cancelled() -> bool:
        return cancel is not None and cancel.cancelled

    def prepare(item: Path | InMemoryImage) -> tuple[list[np.ndarray], np.ndarray | None] | str:
        try:
            return read_source(
                item,
                [shape for shape, _b in distinct],
                backgrounds=[b for _s, b in distinct],
                thumbnail_size=thumbnail_size,
                min_size=min_size,
            )
        except ImageError as exc:
            return str(exc)
        except MemoryError:
            return "not enough memory to read this image"

    def prepare_all(part: list[Path | InMemoryImage]) -> list | None:
        out = []
        for item in part:
            if cancelled():
                return None
            out.append(prepare(item))
        return out

    with (
        ThreadPoolExecutor(max_workers=readers, thread_name_prefix="read-image") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as ahead,
    ):

        def read(chunk: list[Path | InMemoryImage]) -> list | None:
            """The chunk prepared, in order (None once cancelled); big files by several threads."""
            if readers > 1 and len(chunk) > 1 and _mean_file_size(chunk) >= PARALLEL_READ_BYTES:
                step = -(-len(chunk) // readers)
                futures = [pool.submit(prepare_all, chunk[i : i + step]) for i in range(0, len(chunk), step)]
                parts = [f.result() for f in futures]
                return None if any(part is None for part in parts) else [p for part in parts for p in part]
            return prepare_all(chunk)

        next_read: Future | None = ahead.submit(read, chunks[0]) if overlap and chunks else None
        for n, chunk in enumerate(chunks):
            if cancelled():
                break
            if next_read is not None:
                prepared = next_read.result()
                next_read = ahead.submit(read, chunks[n + 1]) if n + 1 < len(chunks) else None
            else:
                prepared = read(chunk)
            if prepared is None:
                break  # cancelled while reading this batch
            good = [i for i, p in enumerate(prepared) if not isinstance(p, str)]
            mean = members = tops = None
            if good:
                # Stacked straight into float32, what the model takes: one copy, not two.
                stacks = [
                    np.stack([prepared[i][0][slot] for i in good], dtype=np.float32) for slot in range(len(distinct))
                ]
                mean, members = ensemble_predict(predictors, [stacks[member_slot[m]] for m in range(len(predictors))])
                tops = top_k_rows(mean, names, k)
            row_of = {i: row for row, i in enumerate(good)}
            done = len(results)
            for i, (item, p) in enumerate(zip(chunk, prepared, strict=True)):
                if isinstance(p, str):
                    result = SourceResult(source=item, error=p)
                else:
                    row = row_of[i]
                    probs = mean[row]
                    result = SourceResult(
                        source=item,
                        top=tops[row],
                        probs=probs,
                        member_probs=members[:, row],
                        thumbnail=p[1],
                        notes=p[2],
                    )
                results.append(result)
                if on_result is not None:
                    on_result(result)
            if on_batch is not None:
                on_batch(results[done:])
    return results


# --------------------------------------------------------------------------------------------------
# Files with one model


@dataclass(eq=False)
class FileResult:
    """The outcome for one file: ``top`` and ``probs`` when predicted, ``error`` (a reason) when not."""

    path: Path
    top: list[tuple[str, float]] | None = None
    probs: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # how it was read (first frame, transparency filled)

    @property
    def ok(self) -> bool:
        return self.error is None


def predict_files(
    loaded_or_predictor: LoadedModel | Predictor,
    paths: Iterable[str | Path],
    *,
    k: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_result: Callable[[FileResult], None] | None = None,
    cancel: CancelToken | None = None,
) -> list[FileResult]:
    """Classify image files, ``batch_size`` at a time, one :class:`FileResult` per path in order.

    A file that cannot be read gets a result with ``error`` (the reason from
    :func:`core.images.open_image`) and never stops the others. ``on_result`` is called for every
    result of a batch as soon as the batch is done. ``cancel.cancelled`` is checked before each
    batch: once set, the results so far are returned (a shorter list, still in input order). The
    files are read as :func:`predict_sources` reads them: this is that pipeline with one model and
    no thumbnails.
    """
    predictor = loaded_or_predictor if isinstance(loaded_or_predictor, Predictor) else Predictor(loaded_or_predictor)
    results: list[FileResult] = []

    def keep(result) -> None:
        file_result = FileResult(
            path=result.source, top=result.top, probs=result.probs, error=result.error, notes=result.notes
        )
        results.append(file_result)
        if on_result is not None:
            on_result(file_result)

    predict_sources(
        [predictor],
        [p if isinstance(p, Path) else Path(p) for p in paths],
        k=k,
        batch_size=batch_size,
        thumbnail_size=None,
        on_result=keep,
        cancel=cancel,
    )
    return results
