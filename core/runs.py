"""The run store: one folder per training run in the workspace.

Layout of a run folder (every file written atomically, see core/atomic.py)::

    config.json       the TrainConfig the run was started with
    status.json       state (running / finished / stopped / failed / interrupted), epochs done, error, times:
                      ``seconds`` active training time, ``wall_seconds`` with pauses (core/run_time.py)
    dataset.json      the dataset's description (classes, shape, counts, skipped files)
    history.csv       one row per finished epoch: epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds
    model.keras/.json the best model (highest validation accuracy) and its card
    last.keras/.json  the model after the last trained epoch and its card
    backup/           Keras BackupAndRestore state, for resuming an interrupted run
    evaluation.npz    test-set labels and probabilities (for the gallery)
    metrics.json      test accuracy, loss, per-class report, confusion matrix
    writer.lock       while a process trains, resumes or evaluates the run: who it is (core/runlock.py)

A ``kill -9`` during an atomic write leaves a hidden temporary file (``.history.csv.k2x9_a0q.csv``,
see core/atomic.py). Such files are never one of the run's files (:attr:`RunInfo.files`), and
:func:`read_run` (so opening or resuming a run) removes them once the run's own process is gone.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import math
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic, paths, run_problems, writable
from core.backup import BACKUP_DIR, backup_epoch
from core.errors import RunError

log = logging.getLogger(__name__)

STATES = ("running", "finished", "stopped", "failed", "interrupted")
LOCK_NAME = "writer.lock"  # held by the process writing the run (core/runlock.py); not one of its files
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    return text[:40] or "run"


def create_run(config: dict[str, Any], dataset_name: str, workspace: Path | None = None) -> Path:
    """Make a new, uniquely named run folder and write its config and initial status.

    A workspace that cannot be written (read-only, a file, a full disk) is a sentence
    (:func:`core.writable.check_workspace`), and a folder whose first files cannot be written is
    removed again: no empty run folder is left behind.
    """
    root = writable.check_workspace(workspace)
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
    try:
        atomic.write_json(run_dir / "config.json", config)
        write_status(run_dir, state="running", started=_now(), pid=os.getpid(), epochs_done=0)
    except OSError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise writable.cannot_write(run_dir, exc, workspace=workspace) from exc
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
    if status.get("state") == "running" and not pid_alive(status.get("pid")):
        status["state"] = "interrupted"
    return status


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` runs on this machine (run folders and study workers record their pid)."""
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
            writer.writerow({k: _history_cell(k, v) for k, v in r.items()})
        text = buf.getvalue()
        writable.ensure_space(self.path.parent, len(text))  # a full disk: a sentence, not a crash mid-write
        atomic.write_text(self.path, text)


def _history_cell(key: str, value: Any) -> Any:
    """A history.csv cell: the epoch always as an integer (rows read back from the file, as a
    resumed run keeps them, hold it as a float, which was written ``1.0``), others as they are."""
    if value is None:
        return ""
    if key == "epoch":
        return int(value)
    return value


def parse_history(text: str) -> tuple[list[dict[str, float]], bool]:
    """Rows of a history.csv text as floats, and whether a line was damaged.

    A damaged line (a crash while the file was written by an older version, or a hand edit) ends
    the history: the rows before it are kept. One pass over the text: ``csv.DictReader`` was most
    of the time of listing 200 runs, and :class:`HistoryWriter` never quotes a field.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], False
    header = [h.strip() for h in lines[0].split(",")]
    rows: list[dict[str, float]] = []
    for line in lines[1:]:
        parts = line.split(",")
        if len(parts) != len(header):
            return rows, True
        try:
            rows.append({k: float(v) for k, v in zip(header, parts, strict=True) if k and v.strip() != ""})
        except ValueError:
            return rows, True
    return rows, False


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """Rows of history.csv as floats; a damaged line ends the history, it is not fatal."""
    try:
        text = (Path(run_dir) / "history.csv").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return parse_history(text)[0]


@dataclass(frozen=True)
class BestEpoch:
    """The epoch whose model is kept as model.keras, and its score."""

    epoch: int  # 1-based
    value: float
    metric: str  # "val_accuracy", or "accuracy" for a run that never had a validation set


def best_epoch(history: list[dict[str, float]]) -> BestEpoch | None:
    """THE best-epoch rule, for training, resuming, the Runs table, the command line and model lists.

    The best epoch is the one with the highest validation accuracy (of equal ones, the one with the
    lower validation loss, then the earliest: a small validation set often scores 1.0 in several
    epochs, and the later, settled ones have the lower loss), among the epochs that have one: an
    epoch without validation never competes with one that has it (training accuracy is not
    comparable). Only when no epoch has a validation accuracy (no
    validation set) does the training accuracy decide, as training does. None: no scored epoch.
    """
    metric = "val_accuracy" if any("val_accuracy" in r for r in history) else "accuracy"
    loss_key = "val_loss" if metric == "val_accuracy" else "loss"
    scored = []
    for i, row in enumerate(history):
        value = row.get(metric)
        if value is not None and math.isfinite(value):
            loss = row.get(loss_key)
            neg_loss = -float(loss) if loss is not None and math.isfinite(loss) else -math.inf
            scored.append((float(value), neg_loss, -int(row.get("epoch", i + 1))))
    if not scored:
        return None
    value, _, neg_epoch = max(scored)
    return BestEpoch(-neg_epoch, value, metric)


@dataclass
class RunInfo:
    """Everything known about one run folder, read by :func:`read_run` (never raising for damage).

    ``problems`` says what is damaged; :meth:`still_works` what can still be done with the run.
    The command line, the Runs table, the model lists and the gallery all read runs through this.
    """

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    label: str = ""  # the user's name for it (meta.json), else the config's, else the folder's
    note: str = ""
    started: _dt.datetime | None = None
    dataset: str = ""  # the dataset's name (a folder dataset: its folder's name)
    model: str = ""
    params: int | None = None
    epochs_done: int | None = None
    epochs: int | None = None  # epochs asked for
    best: BestEpoch | None = None
    test_accuracy: float | None = None
    seconds: float | None = None  # active training time, pauses left out, all resumes (core/run_time.py)
    wall_seconds: float | None = None  # the same with pauses counted
    history_rows: int = 0
    backup_epoch: int = 0
    has_model: bool = False  # model.keras is there and is a Keras archive
    has_evaluation: bool = False  # evaluation.npz and a readable metrics.json
    config_problem: str | None = None  # why config.json's settings cannot be used (TrainConfig.validate)
    files: list[str] = field(default_factory=list)  # the folder's entries, temporary files of atomic writes left out

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        state = self.status.get("state") if isinstance(self.status, dict) else None
        return state if state in STATES else "unknown"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def best_epoch(self) -> int | None:
        return None if self.best is None else self.best.epoch

    @property
    def best_val(self) -> float | None:
        """The best epoch's validation accuracy (training accuracy for a run without validation)."""
        return None if self.best is None else self.best.value

    @property
    def error(self) -> str:
        text = self.status.get("error") if isinstance(self.status, dict) else None
        return str(text).strip() if text else ""

    @property
    def config_ok(self) -> bool:
        """config.json holds settings a run can use (Train again, Resume)."""
        return bool(self.config) and self.config_problem is None

    @property
    def can_resume(self) -> bool:
        """Resume goes on to the epochs asked for, or finishes a run whose epochs are all trained but
        whose model was never saved (:attr:`can_finish`)."""
        if not self.config_ok or self.state not in ("interrupted", "stopped", "failed"):
            return False
        return self.epochs is None or self.backup_epoch < self.epochs or self.can_finish

    @property
    def can_finish(self) -> bool:
        """All epochs asked for are trained and backed up, but model.keras was never saved (a kill or a
        full disk in the final save): resuming saves the model from the best weights and evaluates it."""
        return (
            bool(self.config)
            and self.state in ("interrupted", "stopped", "failed")
            and not (self.path / "model.keras").exists()
            and self.epochs is not None
            and 0 < self.epochs <= self.backup_epoch
        )

    def finish_text(self) -> str:
        """What resuming a run that :attr:`can_finish` does, in the words of the resume prompt, the
        command line and the Runs tab."""
        best = f"epoch {self.best_epoch}" if self.best_epoch else "its best epoch"
        return f"Finish this run: save its model from {best} and evaluate it."

    @property
    def can_continue(self) -> bool:
        return bool(self.config) and self.state in ("finished", "stopped") and self.backup_epoch > 0

    def still_works(self) -> list[str]:
        """What a person can still do with this run (said next to its problems)."""
        works = []
        if self.history_rows:
            works.append(f"its curves ({self.history_rows} epoch{'s' if self.history_rows != 1 else ''})")
        if self.has_model:
            works.append("Predict and Export with its model")
        if self.has_evaluation:
            works.append("the Gallery and prediction diffs")
        if self.config_ok:
            works.append("Train again with its settings")
        if self.can_resume and self.can_finish:
            works.append("Resume to save its model and evaluate it")
        elif self.can_resume and self.backup_epoch:
            works.append(f"Resume from epoch {self.backup_epoch}")
        return works

    def problem_text(self) -> str:
        if not self.problems:
            return ""
        lines = ["What is wrong:"] + [f"• {p}" for p in self.problems]
        works = self.still_works()
        lines.append("What still works: " + (", ".join(works) if works else "nothing; the folder can be deleted") + ".")
        return "\n".join(lines)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    v = _number(value)
    return None if v is None else int(v)


def _started(run_dir: Path, status: dict[str, Any]) -> _dt.datetime | None:
    text = status.get("started")
    if isinstance(text, str):
        try:
            return _dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    try:  # run folders are named "YYYYmmdd-HHMMSS-model-dataset"
        return _dt.datetime.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S").astimezone()
    except ValueError:
        pass
    try:
        return _dt.datetime.fromtimestamp(run_dir.stat().st_mtime).astimezone()
    except OSError:
        return None


def _read_object(info: RunInfo, name: str) -> dict[str, Any] | None:
    try:
        value = atomic.read_json(info.path / name)
    except FileNotFoundError:
        if name == "config.json":
            info.problems.append("config.json is missing")
        return None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        info.problems.append(f"{name} cannot be read ({exc.__class__.__name__})")
        return None
    if not isinstance(value, dict):
        info.problems.append(f"{name} is damaged (not a JSON object)")
        return None
    return value


def _read_history_into(info: RunInfo) -> list[dict[str, float]]:
    try:
        text = (info.path / "history.csv").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        info.problems.append(f"history.csv cannot be read ({type(exc).__name__}); there are no curves")
        return []
    rows, damaged = parse_history(text)
    if damaged:
        after = f"after epoch {int(rows[-1].get('epoch', len(rows)))}" if rows else "in its first line"
        info.problems.append(f"history.csv is damaged {after} (a crash while it was written); the curves stop there")
    return rows


def _card_params(info: RunInfo, names: set[str]) -> int | None:
    for name in ("model.json", "last.json"):
        card = info.path / name
        if name not in names:
            continue
        try:
            data = json.loads(card.read_text(encoding="utf-8"))
            arch = data.get("architecture") if isinstance(data, dict) else None
            return _int(arch.get("params")) if isinstance(arch, dict) else None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            info.problems.append(f"{name} (the model card) cannot be read ({type(exc).__name__})")
    return None


def _dataset_name(value: Any) -> str:
    if not value:
        return ""
    text = str(value)
    return Path(text).name if ("/" in text or "\\" in text) else text


def read_run(run_dir: str | Path) -> RunInfo:
    """Everything known about a run; damaged files are listed in ``problems``, never raised.

    Raises :class:`RunError` only when there is no such folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"There is no run folder at {run_dir}.")
    info = RunInfo(run_dir)
    try:  # one listing of the folder instead of a look for each file (a third of reading 200 runs)
        names = set(os.listdir(run_dir))
    except OSError as exc:
        raise RunError(f"The run folder {run_dir} cannot be read.", detail=str(exc)) from exc
    temporary = {n for n in names if atomic.is_temp_name(n)}
    names -= temporary | {LOCK_NAME}
    info.files = sorted(names)
    info.config = _read_object(info, "config.json") or {}
    if "metrics.json" in names:
        info.metrics = _read_object(info, "metrics.json") or {}
    try:
        info.status = read_status(run_dir)
    except RunError as exc:
        info.problems.append(str(exc))
    else:
        if (temporary or BACKUP_DIR in names) and not pid_alive(info.status.get("pid")):
            _remove_orphans(run_dir, top=bool(temporary), backup=BACKUP_DIR in names)
    config, status, metrics = info.config, info.status, info.metrics

    meta = read_meta(run_dir) if META in names else {}
    info.label = str(meta.get("name") or config.get("name") or info.name)
    info.note = str(meta.get("note") or "")
    info.started = _started(run_dir, status)
    info.dataset = _dataset_name(config.get("dataset"))
    info.model = str(config.get("model") or "")
    info.epochs = _int(config.get("epochs"))
    history = _read_history_into(info) if "history.csv" in names else []
    info.history_rows = len(history)
    info.epochs_done = _int(status.get("epochs_done"))
    if info.epochs_done is None and history:
        info.epochs_done = len(history)
    info.best = best_epoch(history)
    if info.best is None:  # no history (an old run, or a deleted file): what training wrote
        value, epoch = _number(status.get("best_val_accuracy")), _int(status.get("best_epoch"))
        if value is not None and epoch is not None:
            info.best = BestEpoch(epoch, value, "val_accuracy")
    info.test_accuracy = _number(status.get("test_accuracy"))
    if info.test_accuracy is None:
        info.test_accuracy = _number(metrics.get("accuracy"))
    info.seconds = _number(status.get("seconds"))
    if info.seconds is None and history:
        info.seconds = sum(r.get("seconds", 0.0) for r in history) or None
    info.wall_seconds = _number(status.get("wall_seconds"))
    if info.wall_seconds is None:  # a run from before wall time was kept
        info.wall_seconds = info.seconds
    info.params = _card_params(info, names)

    model = info.model_path
    info.backup_epoch = backup_epoch(run_dir) if BACKUP_DIR in names else 0
    if "model.keras" in names:
        try:
            ok = model.stat().st_size > 0 and zipfile.is_zipfile(model)
        except OSError:
            ok = False
        code = run_problems.model_code_problem(model) if ok else None
        if code:
            info.problems.append(code)
        elif ok:
            info.has_model = True
        else:
            info.problems.append("model.keras is damaged (not a Keras archive); Predict and Export cannot use it")
    elif info.can_finish:
        info.problems.append(run_problems.unsaved_model_problem(info.backup_epoch, info.best_epoch))
    elif info.state in ("finished", "stopped"):
        info.problems.append("model.keras is missing")
    _check_files(info, names)
    if info.state == "failed" and info.error:
        info.problems.append(f"training failed: {info.error.splitlines()[0]}")
    return info


def _check_files(info: RunInfo, names: set[str]) -> None:
    """The checks of core/run_problems.py on the files that are there (each adds a problem or nothing)."""
    found = []
    if info.config:
        info.config_problem = run_problems.config_problem(info.config, info.path / "config.json")
        found.append(info.config_problem)
    evaluation_ok = "evaluation.npz" in names and "metrics.json" in names
    if "evaluation.npz" in names:
        found.append(run_problems.evaluation_problem(info.path))
        evaluation_ok = evaluation_ok and found[-1] is None
    info.has_evaluation = evaluation_ok and not any("metrics.json" in p for p in info.problems)
    if "dataset.json" in names:
        found.append(run_problems.dataset_record_problem(info.path))
    if BACKUP_DIR in names:
        found.append(run_problems.backup_problem(info.path))
    info.problems.extend(p for p in found if p)


def _remove_orphans(run_dir: Path, *, top: bool, backup: bool) -> list[Path]:
    """Remove what atomic writes killed mid-way left in ``run_dir`` (``top``) and its ``backup/``.

    Only temporary files of core/atomic.py older than :data:`core.atomic.STALE_TEMP_S`; the caller
    (:func:`read_run`) has made sure that the process named in status.json is gone, and leaves a run
    whose status cannot be read alone: a process still writing must never lose its temporary file.
    """
    removed = atomic.remove_stale_temp_files(run_dir) if top else []
    if backup:
        removed += atomic.remove_stale_temp_files(run_dir / BACKUP_DIR)
    if removed:
        log.info("Removed %d half-written temporary file(s) from run %s", len(removed), run_dir.name)
    return removed


def run_folders(workspace: Path | None = None) -> list[Path]:
    """THE run listing: every run folder of the workspace, newest first (names start with the date)."""
    root = paths.runs_dir(workspace)
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(folders, key=lambda p: p.name, reverse=True)


def list_runs(workspace: Path | None = None) -> list[RunInfo]:
    """All runs in the workspace, newest first. A damaged folder is a run with problems, never an error."""
    out = []
    for folder in run_folders(workspace):
        try:
            out.append(read_run(folder))
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one folder never hides the rest
            log.warning("Run folder %s cannot be read", folder, exc_info=True)
            out.append(RunInfo(folder, label=folder.name, problems=[f"cannot be read: {type(exc).__name__}: {exc}"]))
    return out


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
    return info.label or read_meta(info.path).get("name") or info.config.get("name") or info.name


def trash_run(run_dir: Path, workspace: Path | None = None) -> Path:
    """Move a run aside into the workspace's trash folder and return where it went.

    From there :func:`restore_run` brings it back (the app's Undo), and :func:`send_to_system_trash`
    sends it on to the system trash when it can no longer be undone: a run is never erased outright.
    """
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


def send_to_system_trash(trashed: Path) -> None:
    """Send a run moved aside by :func:`trash_run` on to the system's trash (send2trash), once the
    app's Undo can no longer bring it back. Raises OSError when the system has no trash for it
    (the run then stays in the workspace's trash folder)."""
    import send2trash

    send2trash.send2trash(str(trashed))


def restore_run(trashed: Path, workspace: Path | None = None) -> Path:
    """Move a run back from the trash into the workspace's runs."""
    target = paths.runs_dir(workspace) / Path(trashed).name
    if target.exists():
        raise RunError(f"A run called {target.name} already exists in the workspace.")
    os.replace(trashed, target)
    return target


def _canonical(value: Any) -> Any:
    """A hashable stand-in, equal exactly when the values' JSON texts are (1 and 1.0 and True differ)."""
    if value is None or isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", repr(value))
    return ("json", json.dumps(value, sort_keys=True, default=str))


_MISSING = ("missing",)


def differing_settings(configs: list[dict[str, Any]]) -> list[str]:
    """THE "settings that differ" rule: config keys whose values are not the same in every one of
    ``configs`` (in config order). A key missing from some configs differs.

    Computed without serialising simple values: the Runs table asks on every filter change.
    """
    if len(configs) < 2:
        return []
    keys: list[str] = []
    seen: set[str] = set()
    for cfg in configs:
        for k in cfg:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    out = []
    for k in keys:
        first = _canonical(configs[0][k]) if k in configs[0] else _MISSING
        for cfg in configs[1:]:
            if (_canonical(cfg[k]) if k in cfg else _MISSING) != first:
                out.append(k)
                break
    return out


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
    found: list[InterruptedRun] = []
    for info in list_runs(workspace):
        if info.state != "interrupted":
            continue
        epochs = info.config.get("epochs")
        found.append(InterruptedRun(info, info.backup_epoch, int(epochs) if isinstance(epochs, int) else 0))
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
