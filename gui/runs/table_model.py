"""The runs table as a Qt model: one row per run, one column per setting that differs.

:class:`RunsTableModel` shows :class:`core.runs.RunInfo` records (read by core, never here): fixed
columns (name, the results: accuracies, time, state, epochs; then date, dataset, model, parameters;
the note last) and, before the note, one column per setting that differs between the runs.
:class:`RunsFilterProxy` asks the tab's :class:`~gui.runs.state.RunsState` which rows the filter
lets through and which setting columns differ among them, and sorts by the raw values
(:func:`gui.runs.format.sort_key`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from core import runs
from core.errors import WorkbenchError
from core.runs import RunInfo
from gui.runs.format import (
    STATE_TIPS,
    format_duration,
    format_params,
    format_percent,
    format_setting,
    setting_label,
    sort_key,
)
from gui.runs.state import RunsState, differing_keys

STATE_COLORS = {
    "finished": QColor(46, 125, 50),
    "stopped": QColor(178, 106, 0),
    "interrupted": QColor(123, 31, 162),
    "failed": QColor(198, 40, 40),
    "running": QColor(21, 101, 192),
    "unknown": QColor(117, 117, 117),
}

SortRole = Qt.ItemDataRole.UserRole + 1  # the raw value (see sort_key)
RowRole = Qt.ItemDataRole.UserRole + 2  # the RunInfo
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
# The results come right after the name, so they stay in view on a narrow window (at 1280 and 1440
# px they were off to the right, behind the columns of the settings that differ).
LEADING = (NAME, BEST_VAL, TEST, TIME, STATE, EPOCHS, DATE, DATASET, MODEL, PARAMS)
TRAILING = (NOTE,)
HEADERS = {
    NAME: ("Run", "The run's name (F2 renames it; the folder keeps its name)."),
    DATE: ("Date", "When the run started."),
    DATASET: ("Dataset", "The images it was trained on."),
    MODEL: ("Model", "The network from the model zoo."),
    PARAMS: ("Parameters", "Number of weights in the model."),
    EPOCHS: ("Epochs", "Complete epochs trained / epochs asked for."),
    BEST_VAL: ("Best val. acc.", "The best validation accuracy of any epoch (the epoch whose model is kept)."),
    TEST: ("Test acc.", "Accuracy of the kept model on the test set, which training never saw."),
    TIME: ("Time", "Training time, hours:minutes:seconds: paused time left out, resumed sessions added."),
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
        self._rows: list[RunInfo] = []
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
    def rows(self) -> list[RunInfo]:
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

    def set_rows(self, rows: list[RunInfo], keys: list[str] | None = None) -> None:
        """Show ``rows`` with a column for each of ``keys`` (the settings that differ; by default
        worked out from ``rows``). Same runs and columns: the cells are updated in place
        (selection, scroll position and an open editor stay); otherwise the model is reset."""
        keys = differing_keys(rows) if keys is None else list(keys)
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

    def row_at(self, row: int) -> RunInfo:
        return self._rows[row]

    def row_of(self, path: Path) -> int:
        for i, r in enumerate(self._rows):
            if r.path == path:
                return i
        return -1

    def update_row(self, row: RunInfo) -> None:
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
        self._forget(index.row())
        self.dataChanged.emit(index, index)
        self.meta_changed.emit(row.path)
        return True

    # -- cell contents ---------------------------------------------------------------------------
    def _display(self, row: RunInfo, cid: str) -> str:
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

    def _raw(self, row: RunInfo, cid: str) -> Any:
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

    def _tooltip(self, row: RunInfo, cid: str) -> str | None:
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
        if cid == BEST_VAL and row.best is not None:
            if row.best.metric != "val_accuracy":
                return f"Best epoch: {row.best.epoch} (training accuracy: the run has no validation set)"
            return f"Best epoch: {row.best.epoch}"
        if cid == NOTE and row.note:
            return row.note
        if cid == TIME and row.seconds is not None:
            wall = row.wall_seconds if row.wall_seconds is not None else row.seconds
            return f"Training time {format_duration(row.seconds)}; wall time {format_duration(wall)} (pauses counted)"
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
    """Shows the rows :class:`RunsState` accepts and the setting columns that differ among them."""

    visible_keys_changed = Signal(list)

    def __init__(self, parent=None, state: RunsState | None = None) -> None:
        super().__init__(parent)
        self.state = state if state is not None else RunsState()
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
        return self.state.text

    def set_text(self, text: str) -> None:
        self.set_filter(text, None)

    def set_state(self, state: str) -> None:
        self.set_filter(None, state)

    def set_filter(self, text: str | None, state: str | None) -> None:
        self.beginFilterChange()
        changed = self.state.set_filter(text, state)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        if changed:
            self._update_visible_keys()

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

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802 - Qt API
        return self.state.accepts(self.sourceModel().row_at(source_row))

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

    def shown_rows(self) -> list[RunInfo]:
        model = self.sourceModel()
        return [r for r in model.rows if self.state.accepts(r)] if model is not None else []

    def _source_changed(self, *args) -> None:
        self._update_visible_keys()

    def _update_visible_keys(self, force: bool = False) -> None:
        model = self.sourceModel()
        if model is None:
            return
        # The same rows through the same filter differ in the same settings: skip the work.
        key = (model.generation, tuple(self.state.words), self.state.state_filter)
        if key == self._keys_for and not force:
            return
        self._keys_for = key
        if not self.state.words and self.state.state_filter == "all":
            keys = set(model.diff_keys)  # every row shown: the model knows already
        else:
            keys = set(differing_keys(self.shown_rows()))
        if keys != self._visible_keys or force:
            self._visible_keys = keys
            self.beginFilterChange()
            self.endFilterChange(QSortFilterProxyModel.Direction.Columns)
            self.visible_keys_changed.emit(self.visible_keys)
