"""The run store: one folder per training run in the workspace.

Layout of a run folder (every file written atomically, see core/atomic.py)::

    config.json       the TrainConfig the run was started with
    status.json       state (running / finished / stopped / failed / interrupted), epochs done, times, error
    dataset.json      the dataset's description (classes, shape, counts, skipped files)
    history.csv       one row per finished epoch: epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds
    model.keras/.json the best model (highest validation accuracy) and its card
    last.keras/.json  the model after the last trained epoch and its card
    backup/           Keras BackupAndRestore state, for resuming an interrupted run
    evaluation.npz    test-set labels and probabilities (for the gallery)
    metrics.json      test accuracy, loss, per-class report, confusion matrix
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic, paths
from core.backup import backup_epoch
from core.errors import RunError

log = logging.getLogger(__name__)

STATES = ("running", "finished", "stopped", "failed", "interrupted")
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    return text[:40] or "run"


def create_run(config: dict[str, Any], dataset_name: str, workspace: Path | None = None) -> Path:
    """Make a new, uniquely named run folder and write its config and initial status."""
    root = paths.runs_dir(workspace)
    root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(config.get('model', 'model'))}-{_slug(Path(dataset_name).name or dataset_name)}"
    for i in range(1000):
        run_dir = root / (base if i == 0 else f"{base}-{i}")
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a thousand runs in one second
        raise RunError(f"Could not create a run folder in {root}")
    atomic.write_json(run_dir / "config.json", config)
    write_status(run_dir, state="running", started=_now(), pid=os.getpid(), epochs_done=0)
    return run_dir


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def write_status(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into status.json (atomically) and return the new status."""
    status = read_status(run_dir) if (run_dir / "status.json").exists() else {}
    status.update(fields)
    status["updated"] = _now()
    atomic.write_json(run_dir / "status.json", status)
    return status


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        status = atomic.read_json(run_dir / "status.json")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"The status file of run {run_dir.name} cannot be read.", detail=str(exc)) from exc
    if not isinstance(status, dict):
        raise RunError(f"The status file of run {run_dir.name} cannot be read: it holds no status.")
    if status.get("state") == "running" and not _pid_alive(status.get("pid")):
        status["state"] = "interrupted"
    return status


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class HistoryWriter:
    """Keeps the per-epoch history and rewrites history.csv atomically after each epoch."""

    def __init__(self, run_dir: Path, rows: list[dict[str, float]] | None = None) -> None:
        self.path = run_dir / "history.csv"
        self.rows: list[dict[str, float]] = list(rows or [])

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))
        extra = sorted({k for r in self.rows for k in r} - set(HISTORY_FIELDS))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[*HISTORY_FIELDS, *extra], extrasaction="ignore")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
        atomic.write_text(self.path, buf.getvalue())


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """Rows of history.csv as floats; a damaged trailing line is ignored, not fatal."""
    path = run_dir / "history.csv"
    if not path.exists():
        return []
    rows: list[dict[str, float]] = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            try:
                rows.append({k: float(v) for k, v in raw.items() if k and v not in ("", None)})
            except (TypeError, ValueError):
                break
    return rows


@dataclass
class RunInfo:
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status.get("state", "unknown")

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"


def read_run(run_dir: str | Path) -> RunInfo:
    """Everything known about a run; damaged files are listed in ``problems``, never raised."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"There is no run folder at {run_dir}.")
    for name, attr in (("config.json", "config"), ("metrics.json", "metrics")):
        p = run_dir / name
        if not p.exists():
            if name == "config.json":
                info.problems.append("config.json is missing")
            continue
        try:
            value = atomic.read_json(p)
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            setattr(info, attr, value)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            info.problems.append(f"{name} cannot be read ({exc.__class__.__name__})")
        except ValueError as exc:
            info.problems.append(f"{name} is damaged ({exc})")
    try:
        info.status = read_status(run_dir)
    except RunError as exc:
        info.problems.append(str(exc))
    if info.state in ("finished", "stopped") and not info.model_path.exists():
        info.problems.append("model.keras is missing")
    return info


def list_runs(workspace: Path | None = None) -> list[RunInfo]:
    """All runs in the workspace, newest first."""
    root = paths.runs_dir(workspace)
    if not root.is_dir():
        return []
    runs = [read_run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.name, reverse=True)


def resolve_run(name_or_path: str, workspace: Path | None = None) -> Path:
    """A run given as a folder path or as a folder name inside the workspace."""
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return p
    candidate = paths.runs_dir(workspace) / name_or_path
    if candidate.is_dir():
        return candidate
    raise RunError(
        f"No run called '{name_or_path}'. Give a run folder, or one of the names that "
        f"'python main.py runs' lists (workspace: {paths.runs_dir(workspace)})."
    )


# --------------------------------------------------------------------------------------------
# Names, notes, deletion, comparison

META = "meta.json"  # the user's own words about a run: {"name": ..., "note": ...}


def read_meta(run_dir: Path) -> dict[str, str]:
    try:
        meta = atomic.read_json(Path(run_dir) / META)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def set_meta(run_dir: Path, *, name: str | None = None, note: str | None = None) -> dict[str, str]:
    """Rename a run (its label; the folder keeps its name) or set its note."""
    meta = read_meta(run_dir)
    if name is not None:
        meta["name"] = name.strip()
    if note is not None:
        meta["note"] = note
    atomic.write_json(Path(run_dir) / META, meta)
    return meta


def display_name(info: RunInfo) -> str:
    return read_meta(info.path).get("name") or info.config.get("name") or info.name


def trash_run(run_dir: Path, workspace: Path | None = None) -> Path:
    """Move a run into the workspace's trash folder (never deleted outright) and return where it went."""
    run_dir = Path(run_dir)
    status = read_status(run_dir) if (run_dir / "status.json").exists() else {}
    if status.get("state") == "running":
        raise RunError(f"Run {run_dir.name} is still training; stop it before deleting it.")
    trash = (workspace or paths.workspace_dir()) / "trash"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / run_dir.name
    i = 1
    while target.exists():
        target = trash / f"{run_dir.name}-{i}"
        i += 1
    os.replace(run_dir, target)
    return target


def restore_run(trashed: Path, workspace: Path | None = None) -> Path:
    """Move a run back from the trash into the workspace's runs."""
    target = paths.runs_dir(workspace) / Path(trashed).name
    if target.exists():
        raise RunError(f"A run called {target.name} already exists in the workspace.")
    os.replace(trashed, target)
    return target


def differing_settings(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose values are not the same in every one of ``configs`` (in config order)."""
    if len(configs) < 2:
        return []
    keys: list[str] = []
    for cfg in configs:
        keys.extend(k for k in cfg if k not in keys)
    missing = object()
    return [k for k in keys if len({json.dumps(c.get(k, missing), sort_keys=True, default=str) for c in configs}) > 1]


@dataclass
class PredictionDiff:
    """How two runs differ on the same test images (row indices into both evaluations)."""

    fixed: Any  # wrong in the first run, right in the second
    broken: Any  # right in the first run, wrong in the second
    both_wrong: Any
    total: int


def prediction_diff(first, second) -> PredictionDiff:
    """Compare two :class:`core.evaluation.Evaluation` of the same test set."""
    import numpy as np

    same = (
        len(first.y_true) == len(second.y_true)
        and np.array_equal(first.y_true, second.y_true)
        and np.array_equal(first.indices, second.indices)
        and list(first.class_names) == list(second.class_names)
    )
    if not same:
        raise RunError("These runs were not tested on the same images, so their predictions cannot be compared.")
    a = first.y_pred == first.y_true
    b = second.y_pred == second.y_true
    return PredictionDiff(
        fixed=np.flatnonzero(~a & b),
        broken=np.flatnonzero(a & ~b),
        both_wrong=np.flatnonzero(~a & ~b),
        total=len(a),
    )


# --------------------------------------------------------------------------------------------
# Runs cut short by a crash


@dataclass
class InterruptedRun:
    """A run whose status says "running" but whose process is gone (the app or the machine died)."""

    info: RunInfo
    epochs_done: int  # whole epochs in its backup: where a resume starts from
    epochs: int  # epochs it was asked for

    @property
    def path(self) -> Path:
        return self.info.path


def interrupted_runs(workspace: Path | None = None) -> list[InterruptedRun]:
    """Every interrupted run of the workspace, newest first, with its last complete epoch.

    A damaged run folder is skipped here (the runs table shows it with its problem), never raised.
    """
    root = paths.runs_dir(workspace)
    if not root.is_dir():
        return []
    found: list[InterruptedRun] = []
    for run_dir in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
        try:
            info = read_run(run_dir)
            if info.state != "interrupted":
                continue
            epochs = info.config.get("epochs") if isinstance(info.config, dict) else None
            found.append(InterruptedRun(info, backup_epoch(run_dir), int(epochs) if isinstance(epochs, int) else 0))
        except Exception:  # noqa: BLE001 - one odd folder must not hide the others
            log.warning("Run folder %s cannot be checked for an interrupted run", run_dir, exc_info=True)
            continue
    return found


def mark_stopped(run_dir: Path) -> dict[str, Any]:
    """Record that an interrupted run will not be resumed now: its state becomes "stopped".

    Nothing is deleted: its history, backup and best weights stay, so it can still be resumed
    (``core.training.resume_run`` goes on from a stopped run too).
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if status.get("state") == "running":
        raise RunError(f"Run {run_dir.name} is still training; stop it in the app that trains it.")
    return write_status(run_dir, state="stopped", finished=status.get("finished") or _now(), interrupted=True)
