"""The runs table: every run of the workspace as one row, sortable and filterable.

:func:`scan_runs` reads the run folders (in a worker thread: no Qt in it) into :class:`RunRow`
objects, each with what is wrong with the folder and what still works; a damaged folder becomes a
row with its problems, never an exception. :class:`RunsTableModel` shows them: fixed columns (date,
dataset, model, parameters, epochs, accuracies, time, state, note) and, between them, one column
per setting that differs between the runs. :class:`RunsFilterProxy` filters by words (``mnist``,
``optimizer=sgd``) and state, sorts by the raw values, and hides the setting columns that do not
differ between the rows it lets through, so the table always shows what sets the listed runs apart.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from core import atomic, paths, runs
from core.errors import WorkbenchError

# -- states ---------------------------------------------------------------------------------------

STATE_COLORS = {
    "finished": QColor(46, 125, 50),
    "stopped": QColor(178, 106, 0),
    "interrupted": QColor(123, 31, 162),
    "failed": QColor(198, 40, 40),
    "running": QColor(21, 101, 192),
    "unknown": QColor(117, 117, 117),
}
STATE_TIPS = {
    "finished": "Trained all its epochs; the best epoch's model was evaluated on the test set.",
    "stopped": "Stopped before its last epoch; the best model so far was kept. It can be resumed.",
    "interrupted": "The app or the computer stopped during training. Resume goes on from the last complete epoch.",
    "failed": "Training failed; the error is in the run's details.",
    "running": "Training now (in this app or another process).",
    "unknown": "The run's status cannot be read.",
}
STATE_FILTERS = (
    ("all", "All states"),
    ("finished", "Finished"),
    ("stopped", "Stopped"),
    ("interrupted", "Interrupted"),
    ("failed", "Failed"),
    ("running", "Running"),
    ("problems", "With problems"),
)

# -- settings (config keys) -----------------------------------------------------------------------

SETTING_LABELS = {
    "dataset": "Dataset",
    "model": "Model",
    "model_options": "Model options",
    "pretrained": "Pre-trained",
    "image_size": "Image size",
    "color_mode": "Colour",
    "optimizer": "Optimizer",
    "learning_rate": "Learning rate",
    "momentum": "Momentum",
    "schedule": "LR schedule",
    "step_epochs": "Step every",
    "step_factor": "Step factor",
    "plateau_patience": "Plateau patience",
    "batch_size": "Batch",
    "epochs": "Epochs asked",
    "validation_split": "Val. split",
    "test_split": "Test split",
    "augment_flip": "Flip",
    "augment_rotation": "Rotation",
    "augment_zoom": "Zoom",
    "augment_translation": "Shift",
    "early_stopping": "Early stop",
    "patience": "Patience",
    "seed": "Seed",
    "limit": "Image limit",
    "tensorboard": "TensorBoard",
    "name": "Label",
}
NONE_TEXT = {"image_size": "auto", "limit": "all"}
# Shown in their own columns (or not a setting at all), so never as a "differs" column.
NOT_DIFF_COLUMNS = frozenset({"dataset", "model", "name"})


def setting_label(key: str) -> str:
    return SETTING_LABELS.get(key) or key.replace("_", " ").capitalize()


def format_setting(key: str, value: Any) -> str:
    """A config value as people read it: on/off, 0.001, dropout=0.3, "auto" for an automatic size."""
    if value is None:
        return NONE_TEXT.get(key, "—")
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_setting(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_setting(key, v) for v in value) or "—"
    if key == "dataset" and isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return str(value)


def sort_key(value: Any) -> tuple:
    """Numbers before words before nothing; comparable across every type a column can hold."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0.0, "")
    if isinstance(value, (bool, int, float)):
        return (0, float(value), "")
    if isinstance(value, _dt.datetime):
        return (0, value.timestamp(), "")
    if isinstance(value, (dict, list)):
        return (1, 0.0, json.dumps(value, sort_keys=True, default=str).lower())
    return (1, 0.0, str(value).lower())


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_params(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f} M"
    if n >= 10_000:
        return f"{n / 1000:.0f} k"
    return f"{n:,}"


def format_percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{100 * value:.2f} %"


# -- reading run folders (no Qt) ------------------------------------------------------------------


@dataclass
class RunRow:
    """One run as the table shows it; built by :func:`read_row`, never raising."""

    path: Path
    label: str = ""
    note: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    state: str = "unknown"
    started: _dt.datetime | None = None
    dataset: str = ""
    model: str = ""
    params: int | None = None
    epochs_done: int | None = None
    epochs: int | None = None
    best_val: float | None = None
    best_epoch: int | None = None
    test_accuracy: float | None = None
    seconds: float | None = None
    history_rows: int = 0
    backup_epoch: int = 0
    has_model: bool = False
    has_evaluation: bool = False
    problems: list[str] = field(default_factory=list)
    search_text: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def error(self) -> str:
        text = self.status.get("error") if isinstance(self.status, dict) else None
        return str(text).strip() if text else ""

    @property
    def can_resume(self) -> bool:
        """Resume goes on to the epochs asked for: not for a run whose backup already holds them all."""
        if not self.config or self.state not in ("interrupted", "stopped", "failed"):
            return False
        return self.epochs is None or self.backup_epoch < self.epochs

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
        if self.config:
            works.append("Train again with its settings")
        if self.can_resume and self.backup_epoch:
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


def parse_history(text: str) -> tuple[list[dict[str, float]], bool]:
    """Rows of a history.csv text as :func:`core.runs.read_history` reads them, and whether a line was damaged.

    The same rule as the run store (a damaged line ends the history), in one pass over the text:
    ``csv.DictReader`` was most of the time of listing 200 runs.
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


def _history(run_dir: Path, row: RunRow) -> list[dict[str, float]]:
    path = run_dir / "history.csv"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        row.problems.append(f"history.csv cannot be read ({type(exc).__name__}); there are no curves")
        return []
    rows, damaged = parse_history(text)
    if damaged:
        after = f"after epoch {int(rows[-1].get('epoch', len(rows)))}" if rows else "in its first line"
        row.problems.append(f"history.csv is damaged {after} (a crash while it was written); the curves stop there")
    return rows


def _card_params(run_dir: Path, row: RunRow) -> int | None:
    for name in ("model.json", "last.json"):
        card = run_dir / name
        if not card.exists():
            continue
        try:
            data = json.loads(card.read_text(encoding="utf-8"))
            arch = data.get("architecture") if isinstance(data, dict) else None
            return _int(arch.get("params")) if isinstance(arch, dict) else None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            row.problems.append(f"{name} (the model card) cannot be read ({type(exc).__name__})")
    return None


def read_row(run_dir: Path) -> RunRow:
    """Everything the table shows about one run folder; damage is listed in ``problems``."""
    from core.training import backup_epoch  # no TensorFlow: core.training imports it lazily

    row = RunRow(Path(run_dir))
    try:
        info = runs.read_run(run_dir)
    except WorkbenchError as exc:
        row.problems.append(str(exc))
        info = None
    except Exception as exc:  # noqa: BLE001 - e.g. a status.json that holds a list: the row says so
        row.problems.append(f"status.json or another file cannot be read ({type(exc).__name__}: {exc})")
        info = None
        for attr in ("config", "metrics"):  # what can still be read is still shown
            try:
                value = atomic.read_json(row.path / f"{attr}.json")
            except (OSError, ValueError):
                continue
            if isinstance(value, dict):
                setattr(row, attr, value)
    if info is not None:
        row.problems.extend(info.problems)
        for attr in ("config", "status", "metrics"):
            value = getattr(info, attr)
            if isinstance(value, dict):
                setattr(row, attr, value)
            else:
                row.problems.append(f"{attr}.json does not hold settings (it holds a {type(value).__name__})")
        row.state = info.state if isinstance(info.status, dict) and info.status.get("state") else "unknown"
    if row.state not in STATE_COLORS:
        row.state = "unknown"

    meta = runs.read_meta(run_dir)
    config, status, metrics = row.config, row.status, row.metrics
    row.label = str(meta.get("name") or config.get("name") or row.name)
    row.note = str(meta.get("note") or "")
    row.started = _started(row.path, status)
    row.dataset = format_setting("dataset", config.get("dataset")) if config.get("dataset") else ""
    row.model = str(config.get("model") or "")
    row.epochs = _int(config.get("epochs"))
    history = _history(row.path, row)
    row.history_rows = len(history)
    row.epochs_done = _int(status.get("epochs_done"))
    if row.epochs_done is None and history:
        row.epochs_done = len(history)
    row.best_val = _number(status.get("best_val_accuracy"))
    row.best_epoch = _int(status.get("best_epoch"))
    if row.best_val is None and history:
        scored = [(r["val_accuracy"], int(r.get("epoch", i + 1))) for i, r in enumerate(history) if "val_accuracy" in r]
        if scored:
            row.best_val, row.best_epoch = max(scored, key=lambda t: (t[0], -t[1]))
    row.test_accuracy = _number(status.get("test_accuracy"))
    if row.test_accuracy is None:
        row.test_accuracy = _number(metrics.get("accuracy"))
    row.seconds = _number(status.get("seconds"))
    if row.seconds is None and history:
        row.seconds = sum(r.get("seconds", 0.0) for r in history) or None
    row.params = _card_params(row.path, row)

    model = row.model_path
    if model.exists():
        try:
            ok = model.stat().st_size > 0 and zipfile.is_zipfile(model)
        except OSError:
            ok = False
        if ok:
            row.has_model = True
        else:
            row.problems.append("model.keras is damaged (not a Keras archive); Predict and Export cannot use it")
    evaluation = row.path / "evaluation.npz"
    if evaluation.exists() and (row.path / "metrics.json").exists():
        row.has_evaluation = not any("metrics.json" in p for p in row.problems)
    row.backup_epoch = backup_epoch(row.path)
    if row.state == "failed" and row.error:
        row.problems.append(f"training failed: {row.error.splitlines()[0]}")

    row.search_text = search_text(row)
    return row


def search_text(row: RunRow) -> str:
    """What the filter box matches: names, dataset, model, note, state and ``setting=value`` words."""
    config = row.config
    words = [row.label, row.name, row.dataset, str(config.get("dataset") or ""), row.model, row.note, row.state]
    words += [f"{k}={format_setting(k, v)}" for k, v in config.items()]
    if row.problems:
        words.append("problem")
    return " ".join(words).lower()


def scan_runs(workspace: Path | None = None) -> list[RunRow]:
    """Every run folder of the workspace as a row, newest first. A damaged folder is a row with problems."""
    root = paths.runs_dir(workspace)
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except FileNotFoundError:
        return []
    rows = []
    for folder in sorted(folders, key=lambda p: p.name, reverse=True):
        try:
            rows.append(read_row(folder))
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one folder never hides the rest
            rows.append(RunRow(folder, label=folder.name, problems=[f"cannot be read: {type(exc).__name__}: {exc}"]))
    return rows


def _canonical(value: Any) -> Any:
    """A hashable stand-in equal exactly when the JSON texts are (what core.runs.differing_settings compares)."""
    if value is None or isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", repr(value))
    return ("json", json.dumps(value, sort_keys=True, default=str))


_MISSING = ("missing",)


def differing_keys(rows: list[RunRow]) -> list[str]:
    """Settings that differ between ``rows`` (in config order), without those with their own column.

    The rule of :func:`core.runs.differing_settings` (a key missing from some configs differs),
    computed without serialising every value: this runs on every filter change.
    """
    configs = [r.config for r in rows if r.config]
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
        if k in NOT_DIFF_COLUMNS:
            continue
        first = _canonical(configs[0][k]) if k in configs[0] else _MISSING
        for cfg in configs[1:]:
            if (_canonical(cfg[k]) if k in cfg else _MISSING) != first:
                out.append(k)
                break
    return out


# -- the Qt model ---------------------------------------------------------------------------------

SortRole = Qt.ItemDataRole.UserRole + 1  # the raw value (see sort_key)
RowRole = Qt.ItemDataRole.UserRole + 2  # the RunRow
PathRole = Qt.ItemDataRole.UserRole + 3  # the run folder (Path)

NAME, DATE, DATASET, MODEL, PARAMS, EPOCHS, BEST_VAL, TEST, TIME, STATE, NOTE = (
    "name",
    "date",
    "dataset",
    "model",
    "params",
    "epochs",
    "best_val",
    "test",
    "time",
    "state",
    "note",
)
LEADING = (NAME, DATE, DATASET, MODEL, PARAMS)
TRAILING = (EPOCHS, BEST_VAL, TEST, TIME, STATE, NOTE)
HEADERS = {
    NAME: ("Run", "The run's name (F2 renames it; the folder keeps its name)."),
    DATE: ("Date", "When the run started."),
    DATASET: ("Dataset", "The images it was trained on."),
    MODEL: ("Model", "The network from the model zoo."),
    PARAMS: ("Parameters", "Number of weights in the model."),
    EPOCHS: ("Epochs", "Complete epochs trained / epochs asked for."),
    BEST_VAL: ("Best val. acc.", "The best validation accuracy of any epoch (the epoch whose model is kept)."),
    TEST: ("Test acc.", "Accuracy of the kept model on the test set, which training never saw."),
    TIME: ("Time", "Training time, hours:minutes:seconds."),
    STATE: ("State", "Finished, stopped, interrupted, failed or running."),
    NOTE: ("Note", "Your note about the run (double-click or Ctrl+Shift+N to edit)."),
}
EDITABLE = (NAME, NOTE)


def _dot(color: QColor, size: int = 10) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(color)
    p.setPen(color.darker(130))
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pix)


class RunsTableModel(QAbstractTableModel):
    """The rows of :func:`scan_runs` with one column per differing setting.

    Name and note are editable; edits are saved with :func:`core.runs.set_meta` at once.
    ``write_failed(message, detail)`` reports an edit that could not be saved.
    """

    write_failed = Signal(str, str)
    meta_changed = Signal(object)  # run folder whose name or note changed

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[RunRow] = []
        self._diff_keys: list[str] = []
        self._columns: list[str] = [*LEADING, *TRAILING]
        self._icons: dict[str, QIcon] = {}
        self._warning: QIcon | None = None
        # Per row, per column: the text shown and the sort key (the view and the sort ask many times).
        self._text_cache: dict[int, list[str]] = {}
        self._sort_cache: dict[int, list[tuple]] = {}
        self.generation = 0  # counts changes of the rows' contents (the proxy caches per generation)

    # -- content -----------------------------------------------------------------------------
    @property
    def rows(self) -> list[RunRow]:
        return self._rows

    @property
    def diff_keys(self) -> list[str]:
        return list(self._diff_keys)

    @property
    def columns(self) -> list[str]:
        """Column ids: the fixed ones, and ``"setting:<key>"`` for each differing setting."""
        return list(self._columns)

    def column_of(self, column_id: str) -> int:
        return self._columns.index(column_id)

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show ``rows``. Same runs in the same order: the cells are updated in place (selection,
        scroll position and an open editor stay); otherwise the model is reset."""
        keys = differing_keys(rows)
        same = keys == self._diff_keys and [r.path for r in rows] == [r.path for r in self._rows]
        self._text_cache.clear()
        self._sort_cache.clear()
        self.generation += 1
        if same and rows:
            self._rows = list(rows)
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(self._columns) - 1))
            return
        self.beginResetModel()
        self._rows = list(rows)
        self._diff_keys = keys
        self._columns = [*LEADING, *(f"setting:{k}" for k in keys), *TRAILING]
        self.endResetModel()

    def row_at(self, row: int) -> RunRow:
        return self._rows[row]

    def row_of(self, path: Path) -> int:
        for i, r in enumerate(self._rows):
            if r.path == path:
                return i
        return -1

    def update_row(self, row: RunRow) -> None:
        i = self.row_of(row.path)
        if i >= 0:
            self._rows[i] = row
            self._forget(i)
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(self._columns) - 1))

    def setting_key(self, column: int) -> str | None:
        cid = self._columns[column]
        return cid.split(":", 1)[1] if cid.startswith("setting:") else None

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 - Qt API
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        cid = self._columns[section]
        key = self.setting_key(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return setting_label(key) if key else HEADERS[cid][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            if key:
                return f"'{key}': a setting that differs between the listed runs."
            return HEADERS[cid][1]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if self._columns[index.column()] in EDITABLE:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows) or index.column() >= len(self._columns):
            return None
        row = self._rows[index.row()]
        cid = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            texts = self._text_cache.get(index.row())
            if texts is None:
                texts = self._text_cache[index.row()] = [self._display(row, c) for c in self._columns]
            return texts[index.column()]
        if role == Qt.ItemDataRole.EditRole:
            if cid == NAME:
                return row.label
            if cid == NOTE:
                return row.note
            return self._display(row, cid)
        if role == SortRole:
            return self._raw(row, cid)
        if role == RowRole:
            return row
        if role == PathRole:
            return row.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, cid)
        if role == Qt.ItemDataRole.DecorationRole:
            if cid == NAME and row.problems:
                return self._warning_icon()
            if cid == STATE:
                return self._state_icon(row.state)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and cid == STATE:
            return QBrush(STATE_COLORS.get(row.state, STATE_COLORS["unknown"]))
        if role == Qt.ItemDataRole.TextAlignmentRole and cid in (PARAMS, EPOCHS, BEST_VAL, TEST, TIME):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802 - Qt API
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        cid = self._columns[index.column()]
        if cid not in EDITABLE:
            return False
        row = self._rows[index.row()]
        text = str(value if value is not None else "")
        try:
            if cid == NAME:
                text = text.strip()
                runs.set_meta(row.path, name=text)
                row.label = text or str(row.config.get("name") or row.name)
            else:
                runs.set_meta(row.path, note=text)
                row.note = text
        except (OSError, WorkbenchError) as exc:
            what = "name" if cid == NAME else "note"
            self.write_failed.emit(
                f"The {what} of run {row.name} could not be saved: {getattr(exc, 'strerror', None) or exc}. "
                "Check that the workspace folder is writable.",
                repr(exc),
            )
            return False
        row.search_text = search_text(row)
        self._forget(index.row())
        self.dataChanged.emit(index, index)
        self.meta_changed.emit(row.path)
        return True

    # -- cell contents ---------------------------------------------------------------------------
    def _display(self, row: RunRow, cid: str) -> str:
        if cid == NAME:
            return row.label
        if cid == DATE:
            return row.started.strftime("%Y-%m-%d %H:%M") if row.started else ""
        if cid == DATASET:
            return row.dataset
        if cid == MODEL:
            return row.model
        if cid == PARAMS:
            return format_params(row.params)
        if cid == EPOCHS:
            if row.epochs_done is None and row.epochs is None:
                return ""
            done = "?" if row.epochs_done is None else str(row.epochs_done)
            return f"{done} / {row.epochs}" if row.epochs is not None else done
        if cid == BEST_VAL:
            return format_percent(row.best_val)
        if cid == TEST:
            return format_percent(row.test_accuracy)
        if cid == TIME:
            return format_duration(row.seconds)
        if cid == STATE:
            return row.state + (" ⚠" if row.problems else "")
        if cid == NOTE:
            return row.note.replace("\n", " ⏎ ")
        key = cid.split(":", 1)[1]
        return format_setting(key, row.config.get(key)) if key in row.config else ""

    def _raw(self, row: RunRow, cid: str) -> Any:
        return {
            NAME: row.label,
            DATE: row.started,
            DATASET: row.dataset,
            MODEL: row.model,
            PARAMS: row.params,
            EPOCHS: row.epochs_done,
            BEST_VAL: row.best_val,
            TEST: row.test_accuracy,
            TIME: row.seconds,
            STATE: row.state,
            NOTE: row.note or None,
        }.get(cid, row.config.get(cid.split(":", 1)[-1]))

    def sort_value(self, source_row: int, column: int) -> tuple:
        keys = self._sort_cache.get(source_row)
        if keys is None:
            row = self._rows[source_row]
            keys = self._sort_cache[source_row] = [sort_key(self._raw(row, c)) for c in self._columns]
        return keys[column]

    def _forget(self, row: int) -> None:
        self._text_cache.pop(row, None)
        self._sort_cache.pop(row, None)
        self.generation += 1

    def column_texts(self, column: int, limit: int = 500) -> list[str]:
        """The texts of ``column`` in the first ``limit`` rows (to size the column without asking the view)."""
        out = []
        for i in range(min(limit, len(self._rows))):
            texts = self._text_cache.get(i)
            if texts is None:
                texts = self._text_cache[i] = [self._display(self._rows[i], c) for c in self._columns]
            out.append(texts[column])
        return out

    def _tooltip(self, row: RunRow, cid: str) -> str | None:
        if cid == NAME:
            lines = [f"{row.label}", f"Folder: {row.path}"]
            if row.note:
                lines.append(f"Note: {row.note}")
            if row.problems:
                lines += ["", row.problem_text()]
            return "\n".join(lines)
        if cid == STATE:
            tip = STATE_TIPS.get(row.state, "")
            if row.state in ("interrupted", "stopped") and row.backup_epoch:
                tip += f" Last complete epoch: {row.backup_epoch}."
            if row.error:
                tip += f"\nError: {row.error}"
            if row.problems:
                tip += "\n\n" + row.problem_text()
            return tip
        if cid == DATASET:
            return str(row.config.get("dataset") or "") or None
        if cid == PARAMS and row.params is not None:
            return f"{row.params:,} parameters"
        if cid == BEST_VAL and row.best_epoch:
            return f"Best epoch: {row.best_epoch}"
        if cid == NOTE and row.note:
            return row.note
        if cid.startswith("setting:"):
            key = cid.split(":", 1)[1]
            return f"{key} = {json.dumps(row.config.get(key), default=str)}"
        return None

    def _state_icon(self, state: str) -> QIcon:
        if state not in self._icons:
            self._icons[state] = _dot(STATE_COLORS.get(state, STATE_COLORS["unknown"]))
        return self._icons[state]

    def _warning_icon(self) -> QIcon:
        if self._warning is None:
            self._warning = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self._warning


class RunsFilterProxy(QSortFilterProxyModel):
    """Filters rows by words and state; shows only the setting columns that differ among the rows shown."""

    visible_keys_changed = Signal(list)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._state = "all"
        self._visible_keys: set[str] = set()
        self._keys_for: tuple | None = None
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(False)  # re-sorting while a cell is edited would move it away

    def setSourceModel(self, model) -> None:  # noqa: N802 - Qt API
        old = self.sourceModel()
        if old is not None:
            for signal in (old.modelReset, old.dataChanged):
                try:
                    signal.disconnect(self._source_changed)
                except (RuntimeError, TypeError):
                    pass
        super().setSourceModel(model)
        model.modelReset.connect(self._source_changed)
        model.dataChanged.connect(self._source_changed)
        self._update_visible_keys(force=True)

    # -- filters ------------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return " ".join(self._words)

    @property
    def state(self) -> str:
        return self._state

    def set_text(self, text: str) -> None:
        words = [w for w in text.lower().split() if w]
        if words != self._words:
            self._filter_change(lambda: setattr(self, "_words", words))

    def set_state(self, state: str) -> None:
        if state != self._state:
            self._filter_change(lambda: setattr(self, "_state", state))

    def refilter(self, sort: bool = True) -> None:
        """Apply the filter (and unless told not to, the sort) again after the rows were updated in place."""
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self._update_visible_keys()
        if sort and self.sortColumn() >= 0:
            self.sort(self.sortColumn(), self.sortOrder())

    def source_columns(self) -> list[int]:
        """The source columns shown, in order (valid with no rows, unlike ``mapToSource``)."""
        model = self.sourceModel()
        if model is None:
            return []
        return [c for c in range(model.columnCount()) if self._column_shown(model, c)]

    def _column_shown(self, model, column: int) -> bool:
        key = model.setting_key(column)
        return key is None or key in self._visible_keys

    def _filter_change(self, apply) -> None:
        self.beginFilterChange()
        apply()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self._update_visible_keys()

    def accepts(self, row: RunRow) -> bool:
        if self._state == "problems":
            if not row.problems:
                return False
        elif self._state != "all" and row.state != self._state:
            return False
        return all(w in row.search_text for w in self._words)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 - Qt API
        model = self.sourceModel()
        return self.accepts(model.row_at(source_row))

    def filterAcceptsColumn(self, source_column: int, source_parent) -> bool:  # noqa: N802 - Qt API
        return self._column_shown(self.sourceModel(), source_column)

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt API
        model = self.sourceModel()
        a = model.sort_value(left.row(), left.column())
        b = model.sort_value(right.row(), right.column())
        if a[0] == 2 or b[0] == 2:
            # Empty cells go last whichever way the column is sorted.
            descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
            return (a[0] != 2) != descending if a[0] != b[0] else False
        return a < b

    # -- the setting columns ------------------------------------------------------------------------
    @property
    def visible_keys(self) -> list[str]:
        model = self.sourceModel()
        return [k for k in model.diff_keys if k in self._visible_keys] if model is not None else []

    def shown_rows(self) -> list[RunRow]:
        model = self.sourceModel()
        return [r for r in model.rows if self.accepts(r)] if model is not None else []

    def _source_changed(self, *args) -> None:
        self._update_visible_keys()

    def _update_visible_keys(self, force: bool = False) -> None:
        model = self.sourceModel()
        if model is None:
            return
        # The same rows through the same filter differ in the same settings: skip the work.
        state = (model.generation, tuple(self._words), self._state)
        if state == self._keys_for and not force:
            return
        self._keys_for = state
        if not self._words and self._state == "all":
            keys = set(model.diff_keys)  # every row shown: the model knows already
        else:
            keys = set(differing_keys(self.shown_rows()))
        if keys != self._visible_keys or force:
            self._visible_keys = keys
            self.beginFilterChange()
            self.endFilterChange(QSortFilterProxyModel.Direction.Columns)
            self.visible_keys_changed.emit(self.visible_keys)


def workspace_label(workspace: Path | None) -> str:
    root = paths.runs_dir(workspace)
    home = Path.home()
    try:
        return "~" + os.sep + str(root.relative_to(home))
    except ValueError:
        return str(root)
