"""Ensembles: several models with the same classes vote by averaging their probabilities.

* :func:`check_compatible` makes sure the models can be combined (same class names, same order).
* :func:`ensemble_predict` averages the members' probabilities for images already prepared for
  each member: members may take different input sizes or colour modes, so each gets its own input,
  made from the original image (:func:`prepare_inputs`).
* :func:`predict_sources` classifies files (and in-memory images) in batches with one model or an
  ensemble, reading the next batch while the model works on the current one, and reports each
  batch as it finishes: what the Predict tab's table shows. An ensemble of one is a plain model.

Qt-free and TensorFlow-free at import; predictors are :class:`core.inference.Predictor` objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from core.errors import ImageError, ModelError
from core.images import open_image, to_display, to_model_input
from core.inference import DEFAULT_BATCH_SIZE, LoadedModel, Predictor, top_k

THUMBNAIL_SIZE = 48


class _Cancel(Protocol):
    @property
    def cancelled(self) -> bool: ...


def _label(model: LoadedModel) -> str:
    return f"{model.title} ({model.path.name})" if model.title != model.path.name else model.path.name


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


def prepare_inputs(image: Image.Image, shapes: Iterable[Sequence[int]]) -> list[np.ndarray]:
    """``image`` as each model takes it: one uint8 ``(H, W, C)`` array per shape (shared when equal)."""
    made: dict[tuple[int, ...], np.ndarray] = {}
    out = []
    for shape in shapes:
        key = tuple(int(v) for v in shape)
        if key not in made:
            made[key] = to_model_input(image, key)
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
    member's ``(M, classes)``; ``thumbnail`` a small uint8 RGB image for a table.
    """

    source: Path | InMemoryImage
    top: list[tuple[str, float]] | None = None
    probs: np.ndarray | None = field(default=None, repr=False)
    member_probs: np.ndarray | None = field(default=None, repr=False)
    thumbnail: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None

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


def _thumbnail(img: Image.Image, size: int) -> np.ndarray:
    rgb = to_display(img)
    rgb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def predict_sources(
    predictors: Sequence[Predictor],
    sources: Iterable[Source],
    *,
    k: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    thumbnail_size: int | None = THUMBNAIL_SIZE,
    on_result: Callable[[SourceResult], None] | None = None,
    cancel: _Cancel | None = None,
) -> list[SourceResult]:
    """Classify image files (and :class:`InMemoryImage` items) with one model or an ensemble.

    One :class:`SourceResult` per source, in order. A file that cannot be read gets a result with
    ``error`` (the reason from :func:`core.images.open_image`) and never stops the others. Files
    are decoded by a few threads, the next batch while the model predicts the current one (Pillow
    and TensorFlow both release the GIL). ``on_result`` is called for each result of a batch as
    soon as the batch is done; ``cancel.cancelled`` is checked before each batch, and once set the
    results so far are returned.
    """
    if not predictors:
        raise ModelError("Choose at least one model.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    names = list(predictors[0].class_names)
    shapes = [tuple(p.input_shape) for p in predictors]
    distinct = list(dict.fromkeys(shapes))
    member_slot = [distinct.index(s) for s in shapes]
    # JPEGs may decode at a reduced scale, never below twice the largest input (or the thumbnail).
    min_size = 2 * max([max(s[0], s[1]) for s in distinct] + [thumbnail_size or 0])
    items: list[Path | InMemoryImage] = [s if isinstance(s, InMemoryImage) else Path(s) for s in sources]
    results: list[SourceResult] = []

    def prepare(item: Path | InMemoryImage) -> tuple[list[np.ndarray], np.ndarray | None] | str:
        try:
            img = item.image if isinstance(item, InMemoryImage) else open_image(item, min_size=min_size)
            inputs = [to_model_input(img, s) for s in distinct]
            thumb = _thumbnail(img, thumbnail_size) if thumbnail_size else None
            return inputs, thumb
        except ImageError as exc:
            return str(exc)
        except MemoryError:
            return "not enough memory to read this image"

    def prepare_all(part: list[Path | InMemoryImage]) -> list:
        return [prepare(item) for item in part]

    chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    # Leave a core to the model: on small machines reading threads would only slow it (tiny images
    # are decoded under the GIL anyway; big JPEGs release it and gain from a second thread).
    workers = max(1, min(4, (os.cpu_count() or 2) - 1))

    def submit(pool: ThreadPoolExecutor, chunk: list) -> list[Future]:
        # One task per thread and batch, not per image: per-image tasks cost more in hand-overs
        # (and GIL contention with the model's thread) than decoding a small PNG does.
        step = -(-len(chunk) // workers)
        return [pool.submit(prepare_all, chunk[i : i + step]) for i in range(0, len(chunk), step)]

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read-image") as pool:
        pending: list[Future] = submit(pool, chunks[0]) if chunks else []
        for n, chunk in enumerate(chunks):
            if cancel is not None and cancel.cancelled:
                for f in pending:
                    f.cancel()
                break
            prepared = [p for f in pending for p in f.result()]
            # Start reading the next batch now: it decodes while the model works on this one.
            pending = submit(pool, chunks[n + 1]) if n + 1 < len(chunks) else []
            good = [i for i, p in enumerate(prepared) if not isinstance(p, str)]
            mean = members = None
            if good:
                stacks = [np.stack([prepared[i][0][slot] for i in good]) for slot in range(len(distinct))]
                mean, members = ensemble_predict(predictors, [stacks[member_slot[m]] for m in range(len(predictors))])
            row_of = {i: row for row, i in enumerate(good)}
            for i, (item, p) in enumerate(zip(chunk, prepared, strict=True)):
                if isinstance(p, str):
                    result = SourceResult(source=item, error=p)
                else:
                    row = row_of[i]
                    probs = mean[row]
                    result = SourceResult(
                        source=item,
                        top=top_k(probs, names, k),
                        probs=probs,
                        member_probs=members[:, row],
                        thumbnail=p[1],
                    )
                results.append(result)
                if on_result is not None:
                    on_result(result)
    return results
