"""Evaluation: test-set predictions, accuracy, loss, per-class report and confusion matrix.

Metrics come from scikit-learn so the numbers are the ones users already compute by hand. Results
are saved in the run folder (``evaluation.npz`` with labels and probabilities for the gallery,
``metrics.json`` for reports), atomically.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic, runlock, runs, splits, writable
from core.config import config_from_run, load_config_dataset
from core.errors import RunError
from core.inference import compiled_call, load_model
from core.reporting import CancelToken, NullReporter, Reporter

EPSILON = 1e-7  # Keras' clip for cross-entropy, so our loss matches model.evaluate


@dataclass
class Evaluation:
    y_true: np.ndarray  # int (N,)
    probs: np.ndarray  # float32 (N, classes)
    class_names: list[str]
    indices: np.ndarray  # position of each row in the test split (files that failed to decode are absent)
    paths: list[str] | None = None  # folder datasets: the test image files, per row
    report: dict[str, Any] = field(default_factory=dict)
    confusion: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)  # what its last re-evaluation said (files gone, replaced)

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1) if len(self.probs) else np.zeros(0, int)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_pred == self.y_true)) if len(self.y_true) else float("nan")

    @property
    def loss(self) -> float:
        if not len(self.y_true):
            return float("nan")
        p = np.clip(self.probs[np.arange(len(self.y_true)), self.y_true], EPSILON, 1 - EPSILON)
        return float(np.mean(-np.log(p)))

    @property
    def losses(self) -> np.ndarray:
        """Per-image cross-entropy (for sorting the gallery by loss)."""
        p = np.clip(self.probs[np.arange(len(self.y_true)), self.y_true], EPSILON, 1 - EPSILON)
        return -np.log(p)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1)


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[dict, np.ndarray]:
    """Per-class precision/recall/F1/support with accuracy, macro and weighted averages; confusion matrix."""
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    report = classification_report(
        y_true, y_pred, labels=labels, target_names=class_names, output_dict=True, zero_division=0
    )
    if "accuracy" not in report:  # sklearn leaves it out when some labels never occur
        report["accuracy"] = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0
    return report, confusion_matrix(y_true, y_pred, labels=labels)


def _test_batches(split, image_shape, batch_size: int):
    """Batches of (float images, labels, row indices); undecodable files are dropped, not fatal."""
    import tensorflow as tf

    ds = split.tf_dataset(image_shape, with_index=True)
    as_float = tf.autograph.experimental.do_not_convert(lambda x, y, i: (tf.cast(x, tf.float32), y, i))
    return ds.batch(batch_size).map(as_float).prefetch(2)


def evaluate(
    model,
    dataset,
    *,
    batch_size: int = 128,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> Evaluation:
    """Predict the test split with ``model`` and compute every metric."""
    reporter = reporter or NullReporter()
    predict = compiled_call(model, dataset.image_shape)
    split = dataset.test
    total = len(split)
    probs, labels, rows = [], [], []
    done = 0
    for x, y, i in _test_batches(split, dataset.image_shape, batch_size):
        if cancel is not None and cancel.cancelled:
            break
        probs.append(np.asarray(predict(x), dtype=np.float32))
        labels.append(y.numpy())
        rows.append(i.numpy())
        done += len(y)
        reporter.on_progress(done, total, "Evaluating")
    n = dataset.num_classes
    ev = Evaluation(
        y_true=np.concatenate(labels).astype(np.int32) if labels else np.zeros(0, np.int32),
        probs=np.concatenate(probs) if probs else np.zeros((0, n), np.float32),
        class_names=list(dataset.class_names),
        indices=np.concatenate(rows) if rows else np.zeros(0, np.int64),
    )
    if not split.in_memory:
        ev.paths = [split.paths[int(k)] for k in ev.indices]
    ev.report, ev.confusion = compute_metrics(ev.y_true, ev.y_pred, ev.class_names)
    return ev


def save_evaluation(run_dir: Path, ev: Evaluation, dataset=None, *, notes: list[str] | None = None) -> None:
    arrays = {"y_true": ev.y_true, "probs": ev.probs, "indices": ev.indices}
    if ev.paths is not None:
        arrays["paths"] = np.asarray(ev.paths, dtype=str)
    writable.ensure_space(run_dir, sum(a.nbytes for a in arrays.values()) + len(ev.class_names) ** 2 * 16)
    atomic.write_with(run_dir / "evaluation.npz", lambda p: np.savez_compressed(p, **arrays))
    atomic.write_json(
        run_dir / "metrics.json",
        {
            "accuracy": ev.accuracy,
            "loss": ev.loss,
            "class_names": ev.class_names,
            "report": ev.report,
            "confusion": ev.confusion,
            "test_size": int(len(ev.y_true)),
            "dataset": None if dataset is None else dataset.name,
            "notes": list(notes or []),
        },
    )


def _damaged(run_dir: Path, name: str, why: str, exc: BaseException | None = None) -> RunError:
    """The one sentence for a damaged evaluation file: which file, and how to rebuild it."""
    return RunError(
        f"The file {name} of run {run_dir.name} is damaged ({why}), so its test-set results cannot be shown. "
        f"Re-evaluate the run to rebuild it: Evaluate now in the Gallery, or python main.py evaluate {run_dir.name}.",
        detail="" if exc is None else f"{type(exc).__name__}: {exc}",
    )


def load_evaluation(run_dir: Path) -> Evaluation:
    """The evaluation saved in ``run_dir``; RunError if it is missing, or damaged (saying which file)."""
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        with np.load(run_dir / "evaluation.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("y_true", "probs", "indices", "paths") if k in data.files}
    except FileNotFoundError as exc:
        raise RunError(f"Run {run_dir.name} has no test-set evaluation yet.", detail=str(exc)) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _damaged(run_dir, "metrics.json", "not JSON", exc) from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(run_dir, "evaluation.npz", "not a NumPy archive", exc) from exc
    names = meta.get("class_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names:
        raise _damaged(run_dir, "metrics.json", "it lists no class names")
    missing = [k for k in ("y_true", "probs", "indices") if k not in arrays]
    if missing:
        raise _damaged(run_dir, "evaluation.npz", f"it has no {', '.join(missing)}")
    y_true, probs, indices = arrays["y_true"], arrays["probs"], arrays["indices"]
    n = len(y_true) if y_true.ndim == 1 else -1
    if (
        not all(np.issubdtype(a.dtype, np.integer) for a in (y_true, indices))
        or not np.issubdtype(probs.dtype, np.number)
        or probs.shape != (n, len(names))
        or indices.shape != (n,)
        or (n and not 0 <= int(y_true.min()) <= int(y_true.max()) < len(names))
    ):
        why = f"its arrays do not fit together or the {len(names)} classes of metrics.json"
        raise _damaged(run_dir, "evaluation.npz", why)
    paths = arrays.get("paths")
    ev = Evaluation(
        y_true=y_true,
        probs=probs,
        class_names=[str(c) for c in names],
        indices=indices,
        paths=[str(p) for p in paths] if paths is not None and paths.shape == (n,) else None,
    )
    report, confusion = meta.get("report"), meta.get("confusion")
    ev.report = report if isinstance(report, dict) else {}
    try:
        ev.confusion = None if confusion is None else np.asarray(confusion, dtype=np.int64)
    except (TypeError, ValueError):
        ev.confusion = None  # the gallery computes it again from the labels
    saved_notes = meta.get("notes") if isinstance(meta, dict) else None
    ev.notes = [str(n) for n in saved_notes] if isinstance(saved_notes, list) else []
    return ev


def evaluate_run(run_dir: Path, *, reporter: Reporter | None = None, cancel: CancelToken | None = None) -> Evaluation:
    """Re-evaluate a saved run's best model on its test files and save the result, saying what changed.

    A folder run is scored on the test files it recorded (core/splits.py), not on a split
    recomputed from the folder as it is now; recorded files that are gone, or that no longer
    decode, are named. Replacing a saved evaluation is said, with the old and the new accuracy.
    Everything said is also kept in ``metrics.json`` (``notes``) for the Gallery.
    """
    reporter = reporter or NullReporter()
    run_dir = Path(run_dir)
    info = runs.read_run(run_dir)
    config = config_from_run(info.config, info.name)  # a sentence, not a traceback, for a damaged config
    with runlock.hold(info.path, "evaluating"):  # not while another process trains or evaluates it
        loaded = load_model(info.model_path)
        dataset = load_config_dataset(config, reporter)
        notes: list[str] = []
        recorded = splits.recorded_splits(run_dir, dataset)
        if recorded is not None:
            dataset = recorded.dataset
            gone = splits.gone_text(recorded, "test", "scored")
            if gone:
                notes.append(gone)
        elif not dataset.test.in_memory:
            notes.append(
                f"Run {info.name} has no record of its test files (it was trained before they were recorded), so "
                "its test split is recomputed from the folder as it is now; it differs from the run's if the folder "
                "changed."
            )
        ev = evaluate(loaded.model, dataset, batch_size=max(64, config.batch_size), reporter=reporter, cancel=cancel)
        undecodable = sorted(set(range(len(dataset.test))) - {int(i) for i in ev.indices})
        if undecodable and not dataset.test.in_memory and not (cancel is not None and cancel.cancelled):
            names = ", ".join(Path(dataset.test.paths[i]).name for i in undecodable[:10])
            notes.append(f"{len(undecodable)} test files could not be decoded and are not scored: {names}.")
        previous = _saved_accuracy(run_dir)
        if previous is not None:
            notes.append(
                f"The saved evaluation (test accuracy {previous[0]:.4f} on {previous[1]} images) is replaced by this "
                f"one (test accuracy {ev.accuracy:.4f} on {len(ev.y_true)} images)."
            )
        for note in notes:
            reporter.on_message(note)
        try:
            save_evaluation(run_dir, ev, dataset, notes=notes)
        except (OSError, writable.DiskFullError) as exc:
            if writable.is_disk_full(exc):
                raise writable.disk_full("evaluate the run again", getattr(exc, "detail", str(exc))) from exc
            raise writable.cannot_write(info.path, exc, f"Evaluating run {info.name}", runlock.COPY_RUN) from exc
    return ev


def _saved_accuracy(run_dir: Path) -> tuple[float, int] | None:
    """``(accuracy, images)`` of the evaluation saved in ``run_dir``, or None."""
    try:
        meta = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        return float(meta["accuracy"]), int(meta["test_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
