"""Using a trained model: load it safely, predict images fast, and classify files in bulk.

* :func:`load_model` opens a ``.keras`` file with Keras' ``safe_mode`` (a model file can otherwise
  carry Python code that runs on load), reads the model card beside it and checks that model and
  card agree. Every failure becomes a :class:`ModelError` a person can understand.
* :class:`Predictor` wraps the model in one compiled ``tf.function`` with a fixed input signature:
  it is traced once, and a single image then takes well under a millisecond, where
  ``model.predict`` spends ~40 ms setting up a data pipeline for every call.
* :func:`expand_paths` turns the files and folders a person chose into the image files to classify
  (classifying them is :func:`core.ensemble.predict_files`, beside the ensemble code it uses).

TensorFlow and Keras are imported inside the functions that need them: the GUI imports this module
at start-up and must not wait for TensorFlow to load.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import cards, model_archive
from core.datasets.base import IMAGE_EXTENSIONS
from core.errors import ModelError, WorkbenchError

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    import keras

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
DEFAULT_BATCH_SIZE = 64


@dataclass
class LoadedModel:
    """A model ready to predict, with what is known about it."""

    model: keras.Model
    path: Path
    card: dict[str, Any] | None
    class_names: list[str]
    input_shape: tuple[int, int, int]  # (height, width, channels) of raw 0-255 pixels
    card_error: str | None = None  # why a card beside the model was ignored (damaged), for a warning

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def color_mode(self) -> str:
        return "grayscale" if self.input_shape[2] == 1 else "rgb"

    @property
    def background(self) -> tuple[int, ...] | None:
        """The background of the training images (the card's), onto which transparency is filled."""
        return cards.background(self.card)

    @property
    def title(self) -> str:
        """ "``<architecture> on <dataset>`` from the card, or the file name."""
        if self.card:
            arch = _card_label(self.card.get("architecture"))
            data = _card_label(self.card.get("dataset"))
            if arch and data:
                return f"{arch} on {data}"
            if arch or data:
                return f"{arch or data} ({self.path.name})"
        return self.path.name


def _card_label(entry: Any) -> str:
    """A short name for the card's ``architecture`` or ``dataset`` entry (a dict or a string)."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        for key in ("title", "name", "model", "architecture"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


# --------------------------------------------------------------------------------------------------
# Loading


def load_model(path: str | Path) -> LoadedModel:
    """Load a Keras model file (``.keras``; legacy ``.h5`` too) and its card.

    Loading always uses ``safe_mode=True``: a model containing a Python ``lambda`` (a ``Lambda``
    layer) could run arbitrary code when opened, so such a file is refused with a ModelError.
    The model must take one image of fixed size with 1 or 3 channels and return one probability
    vector. A card that disagrees with the model (other class count or input shape) means the
    card belongs to another model and is refused too; a damaged card is ignored (``card_error``).
    """
    path = Path(path).expanduser()
    _check_model_file(path)

    card: dict[str, Any] | None = None
    card_error: str | None = None
    try:
        card = cards.read_card(path)
    except WorkbenchError as exc:
        card_error = str(exc)

    model = _keras_load(path)
    input_shape = _input_shape(model, path, card)
    num_classes = _num_classes(model, path)

    class_names = [f"class {i}" for i in range(num_classes)]
    if card is not None:
        names = [str(n) for n in card["class_names"]]
        if len(names) != num_classes:
            raise ModelError(
                f"The model card {cards.card_path(path).name} lists {len(names)} classes but the model "
                f"{path.name} predicts {num_classes}. The card probably belongs to another model; "
                "put the right card beside the model or remove it and name the classes yourself.",
                detail=f"card class_names={names}",
            )
        class_names = names
    return LoadedModel(
        model=model,
        path=path,
        card=card,
        class_names=class_names,
        input_shape=input_shape,
        card_error=card_error,
    )


def _check_model_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"The model file {path} was not found.")
    if path.is_dir():
        if (path / "config.json").is_file():
            return  # an unzipped .keras folder, which Keras reads too
        raise ModelError(f"{path} is a folder, not a Keras model file (.keras).")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(
            f"{path.name} is not a Keras model file: expected a .keras file (or a legacy .h5 file).",
        )
    if path.stat().st_size == 0:
        raise ModelError(f"{path.name} cannot be read as a Keras model (.keras). Details: the file is empty.")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        # Keras itself would claim "File not found" here, which misleads.
        raise ModelError(
            f"{path.name} cannot be read as a Keras model (.keras). Details: the file is not a zip "
            "archive, so it is damaged or not a model file.",
        )


_LAMBDA_RE = re.compile(r"\blambda\b", re.IGNORECASE)
_UNKNOWN_CODE_RE = re.compile(r"Could not locate (?:class|function) '([^']+)'")


def _keras_load(path: Path) -> keras.Model:
    import keras

    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError, ... alike
        log.warning("Keras cannot load %s", path, exc_info=True)
        raise _explain_load_error(path, exc) from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"{path.name} holds a {type(model).__name__}, not a Keras model.")
    return model


def _error_text(exc: BaseException) -> str:
    """The messages of ``exc`` and the exceptions it wraps (Keras nests the interesting one)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _explain_load_error(path: Path, exc: BaseException) -> ModelError:
    text = _error_text(exc)
    if "safe_mode" in text or "unsafe_deserialization" in text:
        if _LAMBDA_RE.search(text):
            return ModelError(
                f"{path.name} contains custom Python code (a Lambda layer) and was refused for your "
                "safety: opening it could run any program on this computer. Only open it if you "
                "trust its source, and then with Keras directly (safe_mode=False).",
                detail=text,
            )
        return ModelError(
            f"{path.name} asks to load code or files from outside the model and was refused for your "
            "safety. Only open it if you trust its source, and then with Keras directly "
            "(safe_mode=False).",
            detail=text,
        )
    unknown = _UNKNOWN_CODE_RE.search(text)
    if unknown:
        return ModelError(
            f"{path.name} uses custom code ('{unknown.group(1)}') that is not part of Keras, so it "
            "cannot be opened here. Models trained in this app use only built-in layers.",
            detail=text,
        )
    found = model_archive.archive_foreign_code(path) if path.is_file() else []
    if found:  # e.g. a layer named as os.system: Keras refuses it with a bare KeyError ("name")
        return ModelError(
            f"{path.name} asks to load {model_archive.foreign_code_text(found)}, which is not part of Keras, and "
            f"was refused for your safety: this app opens {model_archive.ACCEPTED}.",
            detail=text,
        )
    return ModelError(
        f"{path.name} cannot be read as a Keras model (.keras). Details: {_first_line(exc)}",
        detail=text,
    )


def _first_line(exc: BaseException) -> str:
    # str(KeyError("x")) is "'x'" with quotes; its argument reads better.
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _input_shape(model: keras.Model, path: Path, card: dict[str, Any] | None) -> tuple[int, int, int]:
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ModelError(
            f"{path.name} takes {len(inputs) or 'no fixed'} inputs; this app needs a model that takes one image.",
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4:
        raise ModelError(
            f"{path.name} takes input of shape {shape}; this app needs images (batch, height, width, channels).",
        )
    dims = [None if d is None else int(d) for d in shape[1:]]

    card_shape: list[int] | None = None
    if card is not None and card.get("input_shape") is not None:
        try:
            card_shape = [int(v) for v in card["input_shape"]]
        except (TypeError, ValueError):
            card_shape = None
        if card_shape is not None and len(card_shape) != 3:
            card_shape = None
    if card_shape is not None:
        for i, (m, c) in enumerate(zip(dims, card_shape, strict=True)):
            if m is None:
                dims[i] = c  # a model that accepts any size: the card says what it was trained on
            elif m != c:
                raise ModelError(
                    f"The model card {cards.card_path(path).name} says the model takes "
                    f"{_fmt_shape(card_shape)} images but {path.name} takes {_fmt_shape(dims)}. The card "
                    "probably belongs to another model; put the right card beside the model or remove it.",
                )
    if any(d is None for d in dims):
        raise ModelError(
            f"{path.name} accepts images of any size and has no model card saying which size it was "
            "trained on, so it cannot be used here.",
            detail=f"model input shape {shape}",
        )
    height, width, channels = (int(d) for d in dims)
    if channels not in (1, 3):
        raise ModelError(
            f"{path.name} takes images with {channels} channels; this app supports grayscale (1) and RGB (3) models.",
        )
    return height, width, channels


def _num_classes(model: keras.Model, path: Path) -> int:
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1:
        raise ModelError(
            f"{path.name} has {len(outputs) or 'no fixed'} outputs; this app needs a classifier with one "
            "output: a probability for each class.",
        )
    shape = tuple(outputs[0].shape)
    if len(shape) != 2 or shape[1] is None:
        raise ModelError(
            f"{path.name} is not an image classifier: its output has shape {shape}, not one probability "
            "per class (batch, classes).",
        )
    if int(shape[1]) < 2:
        raise ModelError(
            f"{path.name} outputs a single number (a yes/no model); this app needs one probability per "
            "class, with at least two classes.",
        )
    return int(shape[1])


def _fmt_shape(dims: Sequence[int | None]) -> str:
    h, w, c = ("?" if d is None else d for d in dims)
    return f"{h}x{w} {'grayscale' if c == 1 else 'RGB' if c == 3 else f'{c}-channel'}"


# --------------------------------------------------------------------------------------------------
# Predicting


def compiled_call(model: keras.Model, input_shape: Sequence[int]):
    """``model(x, training=False)`` as a ``tf.function`` traced once for any batch size.

    Its input signature fixes everything but the batch dimension, so a last, smaller batch does
    not trigger a retrace (``predict_on_batch`` would). Used by :class:`Predictor` and evaluation.
    """
    import tensorflow as tf

    spec = tf.TensorSpec(shape=(None, *input_shape), dtype=tf.float32)

    def call(x):
        return model(x, training=False)

    return tf.function(call, input_signature=[spec], reduce_retracing=True)


class Predictor:
    """Fast repeated prediction with one model.

    The model call is wrapped once in a ``tf.function`` whose input signature fixes everything but
    the batch size, so it is traced exactly once (on :meth:`warm_up` or the first call) whatever
    batch sizes follow. Safe to call from a worker thread.
    """

    def __init__(self, loaded: LoadedModel, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.loaded = loaded
        self.batch_size = int(batch_size)
        self._call = compiled_call(loaded.model, loaded.input_shape)
        self._warm = False

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.loaded.input_shape

    @property
    def class_names(self) -> list[str]:
        return self.loaded.class_names

    @property
    def background(self) -> tuple[int, ...] | None:
        return self.loaded.background

    def warm_up(self) -> None:
        """Trace and run the model once on a blank image, so the first real prediction is fast."""
        if not self._warm:
            self.predict(np.zeros((1, *self.input_shape), np.float32))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, classes)`` float32 for raw 0-255 images ``(N, H, W, C)`` (uint8 or float)."""
        x = np.asarray(images)
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        x = x.astype(np.float32, copy=False)
        n = len(x)
        if n == 0:
            return np.zeros((0, self.loaded.num_classes), np.float32)
        parts = []
        for start in range(0, n, self.batch_size):
            out = self._call(x[start : start + self.batch_size])
            parts.append(np.asarray(out, dtype=np.float32))
        self._warm = True
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict_one(self, image: np.ndarray) -> np.ndarray:
        """Probabilities ``(classes,)`` for one image ``(H, W, C)``."""
        return self.predict(np.asarray(image)[np.newaxis])[0]


def top_k(probs: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable classes as ``(name, probability)``, most probable first.

    Ties keep class order. ``k`` larger than the number of classes gives all of them.
    """
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if len(p) != len(class_names):
        raise ValueError(f"{len(p)} probabilities but {len(class_names)} class names")
    return top_k_rows(p[np.newaxis], class_names, k)[0]


def top_k_rows(probs: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
    """:func:`top_k` of every row of ``probs`` ``(N, classes)``, a batch sorted in one numpy call."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_names):
        raise ValueError(f"probabilities of shape {p.shape} for {len(class_names)} class names")
    order = np.argsort(-p, axis=1, kind="stable")[:, : max(0, int(k))]
    values = np.take_along_axis(p, order, axis=1).tolist()
    return [
        [(str(class_names[i]), v) for i, v in zip(row, vals, strict=True)]
        for row, vals in zip(order.tolist(), values, strict=True)
    ]


# --------------------------------------------------------------------------------------------------
# Files


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Image files to classify from files and folders a person chose (or dropped).

    Files are kept as given, whatever their extension (a bad one gets its error later). Folders are
    searched recursively for files with an image extension (case-insensitive), hidden files and
    folders (names starting with ".") skipped, symbolic links to folders not followed, each folder's
    files in sorted order. A file reached twice (given and inside a given folder) is listed once.
    """
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            out.append(p)

    for given in paths:
        p = Path(given).expanduser()
        if not p.is_dir():
            add(p)
            continue
        found: list[Path] = []
        for root, dirs, files in os.walk(p):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    found.append(Path(root) / name)
        found.sort(key=lambda f: [part.casefold() for part in f.relative_to(p).parts])
        for f in found:
            add(f)
    return out
