"""The gallery's data: a test-set evaluation paired with its images, and the views onto it.

A :class:`GalleryData` holds an :class:`~core.evaluation.Evaluation` (labels, probabilities, report,
confusion matrix) and an :class:`ImageSource` that yields test image ``row`` as a uint8
``H x W x C`` array: straight from the in-memory test split of a built-in dataset, decoded lazily
from its file for folder datasets, or not at all when the dataset is not on this computer (the
report and the confusion matrix still work, and :attr:`ImageSource.reason` says why there are no
pictures).

It is built from a run folder (:func:`load_run`: the saved evaluation, and the test split reloaded
from ``config.json``, which is deterministic) or by evaluating a model file on its dataset
(:func:`evaluate_model_file`, used for the model shipped in ``weights/``).

Filters and sorting work on index arrays with numpy (:func:`select_rows`, :func:`sort_rows`,
:meth:`GalleryData.view`): a few milliseconds for 50,000 images, where a per-row Python predicate
called from a Qt proxy model would take a large fraction of a second. "Row" everywhere means a row of
the evaluation; ``evaluation.indices[row]`` is the image's position in the test split, which is what
people see as its index.

Nothing here imports Qt; the Gallery tab (gui/gallery/) is a face on this module.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core import atomic, cards, evaluation, labels, paths, run_problems, runs
from core.config import config_from_run, load_config_dataset
from core.datasets import load_dataset
from core.errors import DatasetError, ImageError, RunError, WorkbenchError
from core.evaluation import Evaluation, compute_metrics, evaluate, load_evaluation
from core.inference import load_model
from core.reporting import CancelToken, NullReporter, Reporter, raise_if_cancelled

log = logging.getLogger(__name__)

OUTCOMES = ("all", "correct", "wrong")
SORT_KEYS = ("index", "confidence", "loss")


# --------------------------------------------------------------------------------------------------
# Images


class ImageSource(Protocol):
    """Test image ``row`` (a row of the evaluation) as uint8 ``H x W x C`` with C 1 or 3."""

    #: Why there are no images (None when there are).
    reason: str | None

    def image(self, row: int, max_side: int | None = None) -> np.ndarray:
        """The image, shrunk (never enlarged) to fit ``max_side`` if given. Raises ImageError."""

    def model_input(self, row: int, input_shape: tuple[int, int, int]) -> np.ndarray:
        """The image as a model of ``input_shape`` receives it (uint8). Raises ImageError."""

    def describe(self, row: int) -> str:
        """Where the image comes from, for a tooltip or a CSV ("test image 17", a file path)."""


def _shrink(arr: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = arr.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return arr
    from PIL import Image

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    out = np.asarray(img.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0))
    return out[..., np.newaxis] if out.ndim == 2 else out


class ArrayImages:
    """Images of an in-memory test split (built-in datasets): ``images[indices[row]]``."""

    reason: str | None = None

    def __init__(self, images: np.ndarray, indices: np.ndarray) -> None:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., np.newaxis]
        self.images = images
        self.indices = np.asarray(indices, dtype=np.int64)

    def image(self, row: int, max_side: int | None = None) -> np.ndarray:
        return _shrink(self.images[self.indices[row]], max_side)

    def model_input(self, row: int, input_shape: tuple[int, int, int]) -> np.ndarray:
        from core.images import array_to_model_input

        return array_to_model_input(self.images[self.indices[row]], input_shape)

    def describe(self, row: int) -> str:
        return f"test image {int(self.indices[row])}"


class FileImages:
    """Images of a folder dataset, decoded from their files when asked (never all at once)."""

    reason: str | None = None

    def __init__(self, files: list[str]) -> None:
        self.files = list(files)

    def _open(self, row: int, min_size: int | None = None):
        from core.images import open_image

        return open_image(self.files[row], min_size=min_size)

    def image(self, row: int, max_side: int | None = None) -> np.ndarray:
        from PIL import Image

        from core.images import to_display

        img = to_display(self._open(row, max_side))
        if max_side and max(img.size) > max_side:
            img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(img)

    def model_input(self, row: int, input_shape: tuple[int, int, int]) -> np.ndarray:
        from core.images import file_to_model_input

        return file_to_model_input(self.files[row], input_shape)

    def describe(self, row: int) -> str:
        return self.files[row]


class NoImages:
    """No pictures (the dataset is not on this computer, or it changed): says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def image(self, row: int, max_side: int | None = None) -> np.ndarray:
        raise ImageError("image not available", detail=self.reason)

    def model_input(self, row: int, input_shape: tuple[int, int, int]) -> np.ndarray:
        raise ImageError("image not available", detail=self.reason)

    def describe(self, row: int) -> str:
        return f"test image (not available: {self.reason})"


# --------------------------------------------------------------------------------------------------
# Filters and sorting


@dataclass(frozen=True)
class GalleryFilter:
    """What the grid shows: which images (outcome, true and predicted class) in which order."""

    outcome: str = "all"  # "all", "correct" or "wrong"
    true_class: int | None = None
    pred_class: int | None = None
    sort: str = "index"  # "index" (test-set order), "confidence" or "loss"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {SORT_KEYS}, not {self.sort!r}")

    @classmethod
    def cell(cls, true_class: int, pred_class: int, **kwargs: Any) -> GalleryFilter:
        """Exactly the images of one confusion-matrix cell."""
        return cls(outcome="all", true_class=int(true_class), pred_class=int(pred_class), **kwargs)


def select_rows(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    outcome: str = "all",
    true_class: int | None = None,
    pred_class: int | None = None,
) -> np.ndarray:
    """Rows (ascending) whose outcome and classes match; ``None`` means any class."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mask = np.ones(len(y_true), bool)
    if outcome == "correct":
        mask &= y_true == y_pred
    elif outcome == "wrong":
        mask &= y_true != y_pred
    if true_class is not None:
        mask &= y_true == int(true_class)
    if pred_class is not None:
        mask &= y_pred == int(pred_class)
    return np.flatnonzero(mask)


def confusion_rows(y_true: np.ndarray, y_pred: np.ndarray, true_class: int, pred_class: int) -> np.ndarray:
    """The rows behind confusion-matrix cell (``true_class``, ``pred_class``)."""
    return select_rows(y_true, y_pred, "all", true_class, pred_class)


def sort_rows(
    rows: np.ndarray,
    key: str,
    *,
    test_index: np.ndarray,
    confidence: np.ndarray | None = None,
    losses: np.ndarray | None = None,
    descending: bool = False,
) -> np.ndarray:
    """``rows`` ordered by ``key`` ("index", "confidence", "loss"); ties in test-set order."""
    rows = np.asarray(rows, dtype=np.int64)
    if key not in SORT_KEYS:
        raise ValueError(f"sort key must be one of {SORT_KEYS}, not {key!r}")
    tie = np.asarray(test_index)[rows]
    if key == "index":
        order = np.argsort(-tie if descending else tie, kind="stable")
        return rows[order]
    values = confidence if key == "confidence" else losses
    if values is None:
        raise ValueError(f"sorting by {key} needs the {key} array")
    v = np.asarray(values, dtype=np.float64)[rows]
    order = np.lexsort((tie, -v if descending else v))
    return rows[order]


# --------------------------------------------------------------------------------------------------
# The data


@dataclass
class GalleryData:
    """An evaluation with its images and where it came from."""

    evaluation: Evaluation
    images: ImageSource
    title: str  # for people: "Simple CNN (2 conv) on mnist-sample (run 2026...)"
    dataset: str = ""  # the dataset's name or folder
    run_dir: Path | None = None
    model_path: Path | None = None
    loaded_model: Any = None  # a core.inference.LoadedModel when the evaluation just made one
    notes: list[str] = field(default_factory=list)  # things a person should know (missing files, ...)

    def __post_init__(self) -> None:
        ev = self.evaluation
        n = len(ev.y_true)
        if ev.probs.shape[0] != n or len(ev.indices) != n:
            raise RunError(
                "The evaluation is inconsistent: "
                f"{n} labels, {ev.probs.shape[0]} probability rows and {len(ev.indices)} indices."
            )
        if ev.probs.ndim != 2 or ev.probs.shape[1] != len(ev.class_names):
            raise RunError(
                f"The evaluation has {ev.probs.shape[1] if ev.probs.ndim == 2 else '?'} probabilities per "
                f"image but names {len(ev.class_names)} classes."
            )
        self.y_true = np.asarray(ev.y_true, dtype=np.int64)
        self.y_pred = np.asarray(ev.y_pred, dtype=np.int64)
        self.correct = self.y_true == self.y_pred
        self.confidence = ev.confidence.astype(np.float64) if n else np.zeros(0)
        self.losses = ev.losses.astype(np.float64) if n else np.zeros(0)
        self.test_index = np.asarray(ev.indices, dtype=np.int64)
        if not ev.report or ev.confusion is None or np.shape(ev.confusion) != (self.num_classes,) * 2:
            ev.report, ev.confusion = compute_metrics(self.y_true, self.y_pred, ev.class_names)
        ev.confusion = np.asarray(ev.confusion, dtype=np.int64)

    # -- facts ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.y_true)

    @property
    def class_names(self) -> list[str]:
        return self.evaluation.class_names

    @property
    def num_classes(self) -> int:
        return len(self.evaluation.class_names)

    @property
    def report(self) -> dict[str, Any]:
        return self.evaluation.report

    @property
    def confusion(self) -> np.ndarray:
        return self.evaluation.confusion

    @property
    def accuracy(self) -> float:
        return self.evaluation.accuracy

    @property
    def wrong_count(self) -> int:
        return int(np.count_nonzero(~self.correct))

    @property
    def has_images(self) -> bool:
        return self.images.reason is None

    def caption(self, row: int) -> str:
        """What the grid writes under image ``row``: predicted class and confidence ("bird 48%")."""
        return f"{self.class_names[self.y_pred[row]]} {short_percent(self.confidence[row])}"

    def describe_row(self, row: int) -> str:
        """A line about image ``row`` for a tooltip."""
        t, p = self.class_names[self.y_true[row]], self.class_names[self.y_pred[row]]
        verdict = "correct" if self.correct[row] else "wrong"
        return (
            f"Test image {self.test_index[row]}: predicted {p} ({format_percent(self.confidence[row])}), "
            f"true class {t} - {verdict}. Loss {self.losses[row]:.3f}."
        )

    # -- views ------------------------------------------------------------------------------
    def select(self, outcome: str = "all", true_class: int | None = None, pred_class: int | None = None) -> np.ndarray:
        return select_rows(self.y_true, self.y_pred, outcome, true_class, pred_class)

    def order(self, rows: np.ndarray, key: str = "index", descending: bool = False) -> np.ndarray:
        return sort_rows(
            rows,
            key,
            test_index=self.test_index,
            confidence=self.confidence,
            losses=self.losses,
            descending=descending,
        )

    def view(self, flt: GalleryFilter) -> np.ndarray:
        """The rows the grid shows for ``flt``, in order."""
        return self.order(self.select(flt.outcome, flt.true_class, flt.pred_class), flt.sort, flt.descending)

    def count_text(self, shown: int, flt: GalleryFilter) -> str:
        """ "312 wrong of 10,000", "57 of 1,000 · true 3, predicted 5" and the like."""
        total = len(self)
        word = {"all": "", "correct": " correct", "wrong": " wrong"}[flt.outcome]
        if flt.outcome == "all" and flt.true_class is None and flt.pred_class is None:
            text = f"All {total:,} test images"
        else:
            text = f"{shown:,}{word} of {total:,}"
        parts = []
        if flt.true_class is not None:
            parts.append(f"true {self.class_names[flt.true_class]}")
        if flt.pred_class is not None:
            parts.append(f"predicted {self.class_names[flt.pred_class]}")
        return text + (" · " + ", ".join(parts) if parts else "")

    # -- export -----------------------------------------------------------------------------
    def csv_text(self, rows: np.ndarray) -> str:
        """The shown rows as CSV: one line per image in the order shown, with every probability."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        files = isinstance(self.images, FileImages)
        header = ["position", "test_index"]
        if files:
            header.append("file")
        header += ["true_class", "predicted_class", "correct", "confidence", "true_class_probability", "loss"]
        header += [f"p({name})" for name in self.class_names]
        writer.writerow(header)
        probs = self.evaluation.probs
        for pos, row in enumerate(np.asarray(rows, dtype=np.int64), start=1):
            line: list[Any] = [pos, int(self.test_index[row])]
            if files:
                line.append(self.images.files[row])
            line += [
                self.class_names[self.y_true[row]],
                self.class_names[self.y_pred[row]],
                "yes" if self.correct[row] else "no",
                f"{self.confidence[row]:.6g}",
                f"{float(probs[row, self.y_true[row]]):.6g}",
                f"{self.losses[row]:.6g}",
            ]
            line += [f"{float(p):.6g}" for p in probs[row]]
            writer.writerow(line)
        return buf.getvalue()

    def export_csv(self, path: str | os.PathLike, rows: np.ndarray) -> Path:
        """Write :meth:`csv_text` to ``path`` atomically (the old file survives a failed write)."""
        path = Path(path)
        try:
            atomic.write_text(path, self.csv_text(rows))
        except OSError as exc:
            raise WorkbenchError(
                f"Could not save {path.name}: {exc.strerror or exc}. Choose another folder or free some space.",
                detail=f"{path}: {exc!r}",
            ) from exc
        return path


def short_percent(p: float) -> str:
    """0.4771 -> "48%", 0.9991 -> ">99%": compact, for captions under small thumbnails."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if p >= 1.0:
        return "100%"
    if p >= 0.995:
        return ">99%"
    return f"{round(100 * float(p))}%"


def format_percent(p: float) -> str:
    """0.9812 -> "98.1 %", and never "100.0 %" for a probability below one."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    value = 100.0 * float(p)
    if value >= 99.95 and p < 1.0:
        return ">99.9 %"
    return f"{value:.1f} %"


# --------------------------------------------------------------------------------------------------
# Sources: runs and model files


def _dataset_label(config: dict[str, Any]) -> str:
    name = str(config.get("dataset") or "")
    return Path(name).name if ("/" in name or "\\" in name) else name


def _run_title(info: runs.RunInfo) -> str:
    config = info.config or {}
    model = config.get("model") or "model"
    data = _dataset_label(config) or "?"
    return f"{model} on {data} (run {info.name})"


def _match_split(ev: Evaluation, test, dataset_name: str) -> ImageSource:
    """ArrayImages for an in-memory test split, after checking it is the one that was evaluated."""
    if len(ev.indices) and int(np.max(ev.indices)) >= len(test):
        return NoImages(
            f"the test split of {dataset_name} now has {len(test):,} images but the evaluation refers to image "
            f"{int(np.max(ev.indices)):,}; the dataset has changed since this run"
        )
    if len(ev.indices) and not np.array_equal(np.asarray(test.labels)[ev.indices], ev.y_true):
        return NoImages(
            f"the labels of {dataset_name}'s test split no longer match this run's evaluation; the dataset has "
            "changed since this run (or its split settings did)"
        )
    if test.images is not None:
        return ArrayImages(test.images, ev.indices)
    return FileImages([test.paths[int(i)] for i in ev.indices])


def load_run(
    run_dir: str | Path,
    *,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
    workspace: Path | None = None,
) -> GalleryData:
    """A run's saved evaluation with its test images.

    Folder datasets: the image files recorded in the evaluation (missing files are counted in
    ``notes`` and show as unavailable). Built-ins and the sample: the test split reloaded from the
    run's ``config.json``. If that dataset cannot be loaded (not downloaded, offline) the data still
    opens, without pictures, and ``images.reason`` says why. Raises RunError when the run has no
    evaluation (the message says what to do).
    """
    reporter = reporter or NullReporter()
    run_dir = runs.resolve_run(str(run_dir), workspace)
    info = runs.read_run(run_dir)
    ev = load_evaluation(run_dir)
    raise_if_cancelled(cancel)
    config = info.config or {}
    dataset_name = str(config.get("dataset") or "")
    notes: list[str] = list(ev.notes)  # what its last re-evaluation said (core.evaluation.evaluate_run)
    if ev.paths is not None:
        reporter.on_progress(0, 1, "Checking the test image files")
        missing = sum(1 for p in ev.paths if not os.path.exists(p))
        images: ImageSource = FileImages(ev.paths)
        if missing == len(ev.paths) and missing:
            images = NoImages(
                f"none of the {missing:,} test image files is where it was when the run was evaluated "
                f"(first: {ev.paths[0]}); the dataset folder was moved or deleted"
            )
        elif missing:
            notes.append(
                f"{missing:,} of {len(ev.paths):,} test image files are no longer where they were; they show as "
                "unavailable."
            )
        reporter.on_progress(1, 1, "Checking the test image files")
    elif not config:
        images = NoImages("the run has no readable config.json, so its dataset is unknown")
    else:
        try:
            # The test split the run was evaluated on, reloaded from its config (deterministic).
            dataset = load_config_dataset(config_from_run(config, run_dir.name), reporter)
        except WorkbenchError as exc:
            images = NoImages(f"the dataset {dataset_name} cannot be loaded: {exc}")
        else:
            images = _match_split(ev, dataset.test, dataset_name)
    raise_if_cancelled(cancel)
    if images.reason:
        notes.insert(0, f"No pictures: {images.reason}.")
    return GalleryData(
        evaluation=ev,
        images=images,
        title=_run_title(info),
        dataset=dataset_name,
        run_dir=run_dir,
        model_path=info.model_path if info.model_path.exists() else None,
        notes=notes,
    )


def evaluate_run(
    run_dir: str | Path,
    *,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
    workspace: Path | None = None,
) -> GalleryData:
    """Evaluate a run's best model on its test split now (saving the result in the run), then load it."""
    run_dir = runs.resolve_run(str(run_dir), workspace)
    if not (run_dir / "model.keras").exists():
        raise RunError(f"Run {run_dir.name} has no saved model (model.keras), so it cannot be evaluated.")
    evaluation.evaluate_run(run_dir, reporter=reporter, cancel=cancel)
    raise_if_cancelled(cancel)
    return load_run(run_dir, reporter=reporter, cancel=cancel)


def evaluate_model_file(
    model_path: str | Path,
    *,
    dataset: str | None = None,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> GalleryData:
    """Evaluate a model file (with its card) on the test split of its dataset, in memory.

    The dataset and its split settings come from the card unless ``dataset`` is given. Used for the
    shipped model, whose dataset is the bundled mnist-sample (its test set is fixed: 1,000 images).
    """
    reporter = reporter or NullReporter()
    model_path = Path(model_path)
    reporter.on_progress(0, 0, f"Loading {model_path.name}")
    loaded = load_model(model_path)
    raise_if_cancelled(cancel)
    card = loaded.card or {}
    hp = card.get("hyperparameters") or {}
    card_data = card.get("dataset")
    name = dataset or (card_data.get("name") if isinstance(card_data, dict) else card_data) or hp.get("dataset")
    if not name:
        raise DatasetError(
            f"{model_path.name} has no model card naming its dataset, so there is no test set to show. "
            "Train a model in the app (its runs carry their dataset) or put its card beside it."
        )
    reporter.on_message(f"Loading the test images of {name} ...")
    ds = load_dataset(
        str(name),
        image_size=hp.get("image_size") or (loaded.input_shape[0], loaded.input_shape[1]),
        color_mode=loaded.color_mode,
        validation_split=float(hp.get("validation_split", 0.1)),
        test_split=float(hp.get("test_split", 0.2)),
        seed=int(hp.get("seed", 42)),
        reporter=reporter,
    )
    raise_if_cancelled(cancel)
    if ds.num_classes != loaded.num_classes:
        raise DatasetError(
            f"{model_path.name} predicts {loaded.num_classes} classes but {ds.title} has {ds.num_classes}; "
            "it was not trained on this dataset."
        )
    ev = evaluate(loaded.model, ds, reporter=reporter, cancel=cancel)
    raise_if_cancelled(cancel)
    if loaded.card is not None:
        ev.class_names = list(loaded.class_names)
    images: ImageSource = ArrayImages(ds.test.images, ev.indices) if ds.test.in_memory else FileImages(ev.paths or [])
    return GalleryData(
        evaluation=ev,
        images=images,
        title=f"{loaded.title} (shipped model {model_path.name})"
        if model_path.parent == paths.WEIGHTS_DIR
        else loaded.title,
        dataset=ds.name,
        model_path=model_path,
        loaded_model=loaded,
    )


@dataclass(frozen=True)
class ShippedModel:
    path: Path
    title: str  # "Simple CNN (2 conv) on MNIST sample"
    dataset: str


def shipped_models() -> list[ShippedModel]:
    """The models in ``weights/`` whose card names a dataset (no TensorFlow needed)."""
    out = []
    for path in sorted(paths.WEIGHTS_DIR.glob("*.keras")):
        try:
            card = cards.read_card(path)
        except WorkbenchError:
            continue
        if not card:
            continue
        data = card.get("dataset") or {}
        arch = card.get("architecture") or {}
        name = data.get("name") if isinstance(data, dict) else str(data)
        if not name:
            continue
        title_data = data.get("title") if isinstance(data, dict) else None
        title_arch = arch.get("title") if isinstance(arch, dict) else None
        out.append(ShippedModel(path, f"{title_arch or path.stem} on {title_data or name}", str(name)))
    return out


@dataclass(frozen=True)
class RunEntry:
    """A run as the gallery lists it: can it be shown, and if not, why and what would help."""

    path: Path
    name: str
    label: str  # core.labels.run_label: "seed=2 · simple-cnn-2 on mnist-sample · 2026-11-23 13:11 · test 96.20 %"
    viewable: bool
    reason: str | None = None
    can_evaluate: bool = False  # it has a model but no evaluation: "Evaluate now" would help


def run_entry(info: runs.RunInfo, label: str | None = None) -> RunEntry:
    """What the gallery says about ``info`` (never raises); ``label``: its :func:`core.labels.run_label`."""
    has_eval = (info.path / "evaluation.npz").exists() and (info.path / "metrics.json").exists()
    has_model = info.model_path.exists()
    name = label or labels.run_label(info)
    if has_eval:
        problems = [p for p in info.problems if "metrics.json" in p or "evaluation.npz" in p]
        if problems:
            reason = problems[0] if "re-evaluate" in problems[0] else f"{problems[0]}; {run_problems.REEVALUATE}"
            return RunEntry(info.path, info.name, f"{name} · damaged", False, reason, has_model)
        return RunEntry(info.path, info.name, name, True)
    state = info.state
    if state == "running":
        short, reason = "still training", "still training; it can be shown once it has finished and been evaluated"
    elif state == "failed":
        error = str(info.status.get("error") or "").strip().splitlines()
        short, reason = "failed", "failed before its test-set evaluation" + (f": {error[0]}" if error else "")
    elif not has_model:
        short, reason = "no model", f"{state}, with no saved model and no test-set evaluation"
    else:
        short, reason = "not evaluated", f"{state}, but not evaluated on its test set yet"
    can_evaluate = has_model and state != "running"
    return RunEntry(info.path, info.name, f"{name} · {short}", False, reason, can_evaluate)


def run_entries(workspace: Path | None = None) -> list[RunEntry]:
    """Every run in the workspace, newest first, each saying whether the gallery can show it."""
    out = []
    infos = runs.list_runs(workspace)
    for info, label in zip(infos, labels.run_labels(infos), strict=True):
        try:
            out.append(run_entry(info, label))
        except Exception as exc:  # noqa: BLE001 - a strange run folder must not hide the others
            log.warning("Run folder %s cannot be read for the gallery", info.path, exc_info=True)
            out.append(RunEntry(info.path, info.name, f"{info.name} · unreadable", False, repr(exc)))
    return out
