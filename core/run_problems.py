"""What is wrong with the files of a run folder: the checks :func:`core.runs.read_run` makes.

Each check reads as little as it can (a zip's table of contents, a small JSON file), never loads
TensorFlow and never raises: it returns the sentence for the run's ``problems`` (what is damaged
and what to do about it), or None. Listing 200 runs runs every check on every run.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import atomic, model_archive
from core.backup import BACKUP_DIR
from core.config import TrainConfig
from core.errors import WorkbenchError

EVALUATION_ARRAYS = ("y_true.npy", "probs.npy", "indices.npy")
REEVALUATE = "re-evaluate the run to rebuild it (Gallery > Evaluate now, or python main.py evaluate RUN)"
_PARSE_LIMIT = 256 * 1024  # a larger dataset.json (long file lists) is only checked at its ends
_cache: dict[tuple[str, str, int, int], Any] = {}  # (check, file, mtime, size) -> its answer


def _cached(check: str, path: Path, compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered while ``path`` is unchanged: listing runs again (the Runs tab's poll)
    checks only what changed."""
    try:
        st = os.stat(path)
    except OSError:
        return compute()
    key = (check, str(path), st.st_mtime_ns, st.st_size)
    if key not in _cache:
        if len(_cache) > 8192:
            _cache.clear()
        _cache[key] = compute()
    return _cache[key]


def config_problem(config: dict[str, Any], path: Path | None = None) -> str | None:
    """Settings in config.json that cannot be used (a count given as text, a list for a name);
    ``path``, the file they were read from, lets the answer be remembered while it is unchanged."""
    if path is not None:
        return _cached("config", path, lambda: config_problem(config))
    try:
        TrainConfig.from_dict(config).validate()
    except WorkbenchError as exc:
        return f"config.json holds settings that cannot be used ({exc}); Train again and Resume cannot use them"
    except TypeError as exc:  # pragma: no cover - from_dict takes known keys only
        return f"config.json cannot be used ({exc})"
    return None


def evaluation_problem(run_dir: Path) -> str | None:
    """evaluation.npz that is not a NumPy archive with the arrays the Gallery reads."""
    path = Path(run_dir) / "evaluation.npz"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return f"evaluation.npz is damaged (not a NumPy archive); the Gallery cannot show it: {REEVALUATE}"
    missing = [n[:-4] for n in EVALUATION_ARRAYS if n not in names]
    if missing:
        return f"evaluation.npz is damaged (it has no {', '.join(missing)}); the Gallery cannot show it: {REEVALUATE}"
    return None


def dataset_record_problem(run_dir: Path) -> str | None:
    """dataset.json (the dataset's description: classes, sizes, skipped files) that is not a JSON object."""
    path = Path(run_dir) / "dataset.json"
    damaged = "dataset.json (the record of the run's dataset) is damaged"
    try:
        size = path.stat().st_size
        if size > _PARSE_LIMIT:
            with open(path, "rb") as fh:
                head = fh.read(64).lstrip()
                fh.seek(max(0, size - 64))
                tail = fh.read().rstrip()
            return None if head.startswith(b"{") and tail.endswith(b"}") else f"{damaged} (not a JSON object)"
        value = atomic.read_json(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{damaged} ({type(exc).__name__})"
    return None if isinstance(value, dict) else f"{damaged} (not a JSON object)"


def backup_problem(run_dir: Path) -> str | None:
    """A backup whose epoch count (backup/training_metadata.json) cannot be read: resuming would start again."""
    folder = Path(run_dir) / BACKUP_DIR
    meta = folder / "training_metadata.json"
    what = "the backup's epoch count (backup/training_metadata.json)"
    try:
        value = atomic.read_json(meta)
    except FileNotFoundError:
        if (folder / "latest.weights.h5").exists():
            return f"{what} is missing, so Resume would start the run again from its first epoch"
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{what} is damaged ({type(exc).__name__}), so Resume would start the run again from its first epoch"
    epoch = value.get("epoch") if isinstance(value, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"{what} is damaged (no epoch number), so Resume would start the run again from its first epoch"
    return None


def model_code_problem(model: Path) -> str | None:
    """A model.keras whose config names code from outside Keras: refused when opened (core.inference)."""
    found = _cached("code", model, lambda: model_archive.archive_foreign_code(model))
    if not found:
        return None
    return (
        f"model.keras asks to load {model_archive.foreign_code_text(found)}, code from outside Keras: it is refused "
        "when opened, so Predict and Export cannot use it"
    )


def unsaved_model_problem(epochs_done: int, best_epoch: int | None) -> str:
    """A run whose epochs are all trained but whose model was never saved (cut short in its final save)."""
    best = f"epoch {best_epoch}" if best_epoch else "its best epoch"
    return (
        f"all {epochs_done} epochs are trained but model.keras was never saved (the run was cut short while "
        f"saving); Resume finishes it: it saves the model from {best} and evaluates it"
    )
