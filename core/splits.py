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
class RecordedTest:
    """The run's recorded test split as it can be used now."""

    dataset: object  # the dataset with its test split (and image shape) as recorded
    gone: list[str]  # recorded test files that no longer exist
    recorded: int  # how many test files the run recorded


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


def recorded_test(run_dir: Path, dataset) -> RecordedTest | None:
    """``dataset`` with the test split the run recorded (its existing files), or None without a record."""
    record = read_record(run_dir)
    if record is None:
        return None
    root = Path(dataset.name)
    files = [str(p if Path(p).is_absolute() else root / p) for p in record["test"]["files"]]
    labels = np.asarray(record["test"]["labels"], np.int32)
    keep = np.array([Path(p).is_file() for p in files], bool)
    gone = [p for p, ok in zip(files, keep, strict=True) if not ok]
    test = Split(labels[keep], paths=[p for p, ok in zip(files, keep, strict=True) if ok])
    shape = record.get("image_shape")
    image_shape = tuple(int(v) for v in shape) if isinstance(shape, list) and len(shape) == 3 else dataset.image_shape
    names = record.get("class_names")
    class_names = [str(n) for n in names] if isinstance(names, list) else dataset.class_names
    as_recorded = replace(dataset, test=test, image_shape=image_shape, class_names=class_names)
    return RecordedTest(as_recorded, gone, len(files))
