"""The exact files of a folder run's splits, recorded in its run folder (``splits.json``).

A folder's split is recomputed from whatever the folder holds now, so once a file is added,
removed or damaged, the same settings give other test images (damaging one training image once
changed 10 of 12 test images, some of them former training images). Training records the files of
each split here; re-evaluating a run (:func:`core.evaluation.evaluate_run`) scores exactly the
recorded test files and says which of them are gone. Runs from before this record keep working:
their split is recomputed, and evaluation says so.

Paths inside the dataset folder are kept relative to it, so a moved folder can still be matched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core import atomic
from core.datasets.base import Split

log = logging.getLogger(__name__)

SPLITS_FILE = "splits.json"
SPLIT_NAMES = ("train", "val", "test")


def record_splits(run_dir: Path, dataset) -> bool:
    """Write the file lists of ``dataset``'s splits to the run folder; False for in-memory datasets."""
    if dataset.test.in_memory:
        return False
    root = Path(dataset.name)
    record = {
        "version": 1,
        "root": str(root),
        "class_names": list(dataset.class_names),
        "image_shape": [int(v) for v in dataset.image_shape],
    }
    for name in SPLIT_NAMES:
        split = getattr(dataset, name)
        record[name] = {"files": [_relative(p, root) for p in split.paths], "labels": split.labels.tolist()}
    atomic.write_json(Path(run_dir) / SPLITS_FILE, record)
    return True


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


@dataclass
class RecordedSplits:
    """A run's recorded splits as they can be used now."""

    dataset: object  # the dataset with its splits (and image shape, classes) as recorded
    gone: dict[str, list[str]]  # per split: recorded files that no longer exist
    recorded: dict[str, int]  # per split: how many files the run recorded


def read_record(run_dir: Path) -> dict | None:
    """The run's ``splits.json``, or None when it has none (older runs) or it is unreadable."""
    path = Path(run_dir) / SPLITS_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        test = record["test"]
        if not (isinstance(test["files"], list) and len(test["files"]) == len(test["labels"])):
            raise ValueError("test files and labels differ in length")
        return record
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("The split record %s is damaged; the split is recomputed", path, exc_info=True)
        return None


def recorded_splits(run_dir: Path, dataset) -> RecordedSplits | None:
    """``dataset`` with the splits the run recorded (their existing files), or None without a record.

    Evaluation scores the recorded test files; resuming trains on the recorded training files, so
    no test image of the run can move into its training set.
    """
    record = read_record(run_dir)
    if record is None:
        return None
    root = Path(dataset.name)
    splits, gone, counts = {}, {}, {}
    for name in SPLIT_NAMES:
        entry = record.get(name)
        if not isinstance(entry, dict) or len(entry.get("files") or []) != len(entry.get("labels") or []):
            splits[name], gone[name], counts[name] = getattr(dataset, name), [], len(getattr(dataset, name))
            continue
        files = [str(p if Path(p).is_absolute() else root / p) for p in entry["files"]]
        labels = np.asarray(entry["labels"], np.int32)
        keep = np.array([Path(p).is_file() for p in files], bool)
        gone[name] = [p for p, ok in zip(files, keep, strict=True) if not ok]
        splits[name] = Split(labels[keep], paths=[p for p, ok in zip(files, keep, strict=True) if ok])
        counts[name] = len(files)
    shape = record.get("image_shape")
    image_shape = tuple(int(v) for v in shape) if isinstance(shape, list) and len(shape) == 3 else dataset.image_shape
    names = record.get("class_names")
    class_names = [str(n) for n in names] if isinstance(names, list) else dataset.class_names
    as_recorded = replace(dataset, image_shape=image_shape, class_names=class_names, **splits)
    return RecordedSplits(as_recorded, gone, counts)


def gone_text(recorded: RecordedSplits, split: str, what: str) -> str | None:
    """ "3 of the run's 24 test files are gone and are not scored: a.png, ..." or None when none is."""
    gone = recorded.gone.get(split) or []
    if not gone:
        return None
    shown = ", ".join(Path(p).name for p in gone[:10]) + (", ..." if len(gone) > 10 else "")
    kind = {"train": "training", "val": "validation"}.get(split, split)
    return f"{len(gone)} of the run's {recorded.recorded[split]} {kind} files are gone and are not {what}: {shown}."


def for_resume(run_dir: Path, dataset, on_message) -> object:
    """``dataset`` with the run's recorded splits for going on training, saying which files are gone."""
    recorded = recorded_splits(run_dir, dataset)
    if recorded is None:
        return dataset
    for split, what in (("train", "trained on"), ("val", "used for validation")):
        text = gone_text(recorded, split, what)
        if text:
            on_message(text)
    return recorded.dataset
