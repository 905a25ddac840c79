"""The trials table: trial, each factor, state, a small curve of validation accuracy per epoch,
best validation accuracy, test accuracy and time; sortable by any column (by the raw value).

The columns fit the table's width (:meth:`TrialsView.fit_columns`): the trial, state, curve and
result columns keep their contents' width, the factors share what is left, the widest narrowed
first; a value that does not fit is elided in the middle and whole in its tooltip. Only when even
the narrowed factors do not fit does the table scroll sideways. A column the user drags keeps its
width until the columns change."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QPointF, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyledItemDelegate, QTableView

from core.studies.table import TrialRow
from gui.experiments.state import value_text
from gui.widgets.palette import STATE_COLORS
from gui.widgets.run_format import format_duration, format_percent, setting_label, sort_key

SortRole = Qt.ItemDataRole.UserRole + 1
CurveRole = Qt.ItemDataRole.UserRole + 2
NumberRole = Qt.ItemDataRole.UserRole + 3  # the trial number
CURVE = "curve"
CURVE_WIDTH = 64  # the sparkline's column, in pixels
MIN_FACTOR_WIDTH = 64  # a factor column narrowed to fit is not made narrower than this (unless its contents are)
CELL_PADDING = 14  # a cell's margins and grid line
SORT_ARROW = 22  # room for the header's sort indicator
#: A trial's state as the Runs tab colours a run's (complete = finished, pruned = stopped ...).
STATE_AS_RUN = {"complete": "finished", "pruned": "stopped", "failed": "failed", "running": "running"}
STATE_TIPS = {
    "complete": "Trained all its epochs.",
    "pruned": "Stopped early by the pruner: its validation metric was behind the other trials' at that epoch.",
    "failed": "The trial failed; its message is in the tooltip. The study went on.",
    "running": "Training now in one of the study's worker processes.",
    "waiting": "Queued: a worker takes it when one is free.",
}


class TrialsModel(QAbstractTableModel):
    """One row per trial of the shown study (state.visible_rows())."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[TrialRow] = []
        self.factors: list[str] = []
        self.columns: list[str] = []

    def set_rows(self, rows: list[TrialRow], factors: list[str]) -> None:
        columns = ["trial", *factors, "state", CURVE, "best val", "test acc", "time"]
        if columns != self.columns:
            self.beginResetModel()
            self.rows, self.factors, self.columns = list(rows), list(factors), columns
            self.endResetModel()
            return
        if [r.number for r in rows] != [r.number for r in self.rows]:
            self.beginResetModel()
            self.rows = list(rows)
            self.endResetModel()
            return
        self.rows = list(rows)
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(columns) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return setting_label(column) if column in self.factors else column
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in self.factors:
                return f"The factor {column}: this trial's value ('-' where a conditional factor does not apply)."
            return {
                CURVE: "Validation accuracy after each epoch, from 0 to 1 (grows while the trial runs).",
                "best val": "The best epoch's validation accuracy.",
                "test acc": "Accuracy on the test set of the trial's kept model (its best epoch).",
                "time": "How long the trial trained.",
            }.get(column)
        return None

    def _value(self, r: TrialRow, column: str) -> Any:
        if column == "trial":
            return r.number
        if column in self.factors:
            return r.params.get(column)
        if column == "state":
            return r.state
        if column == CURVE:
            return max((v for v in r.curve if v is not None), default=None)
        if column == "best val":
            return r.val_accuracy
        if column == "test acc":
            return r.test_accuracy
        return r.seconds

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = self._value(r, column)
            if column in self.factors:
                return "-" if column not in r.params else value_text(value)
            if column == "state":
                after = f" (epoch {r.epochs})" if r.state == "pruned" and r.epochs else ""
                return r.state + after
            if column in ("best val", "test acc"):
                return format_percent(value)
            if column == "time":
                return format_duration(value)
            if column == CURVE:
                return ""
            return str(value)
        if role == SortRole:
            return sort_key(self._value(r, column))
        if role == CurveRole and column == CURVE:
            return [v for v in r.curve if v is not None and math.isfinite(v)]
        if role == NumberRole:
            return r.number
        if role == Qt.ItemDataRole.ForegroundRole and column == "state":
            return STATE_COLORS.get(STATE_AS_RUN.get(r.state, "unknown"), STATE_COLORS["unknown"])
        if role == Qt.ItemDataRole.ToolTipRole:
            failed = f"Trial {r.number} failed: {r.error}" if r.error else ""
            if column in self.factors and column in r.params:  # whole, where the cell elides it
                return "\n".join(t for t in (f"{column} = {value_text(r.params[column])}", failed) if t)
            if failed:
                return failed
            if column == "state":
                return STATE_TIPS.get(r.state, r.state)
            if r.run_dir:
                return f"Run folder: {r.run_dir}\nDouble-click to open the run in the Gallery."
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("trial", "best val", "test acc", "time"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class SparklineDelegate(QStyledItemDelegate):
    """Draws a cell's curve (CurveRole) as a small line from 0 to 1 accuracy, the last point marked."""

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        values = index.data(CurveRole) or []
        if not values:
            return
        rect = option.rect.adjusted(4, 3, -4, -3)
        n = len(values)
        lo = min(0.0, min(values))
        span = max(1e-9, max(1.0, max(values)) - lo)

        def point(i: int, v: float) -> QPointF:
            x = rect.left() + (rect.width() * (i / (n - 1)) if n > 1 else rect.width() / 2)
            return QPointF(x, rect.bottom() - rect.height() * (v - lo) / span)

        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # blue on the selection's blue: white
        color = option.palette.color(QPalette.ColorRole.HighlightedText) if selected else QColor("#1f77b4")
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 1.5))
        painter.drawPolyline(QPolygonF([point(i, v) for i, v in enumerate(values)]))
        painter.setBrush(color)
        painter.drawEllipse(point(n - 1, values[-1]), 2.0, 2.0)
        painter.restore()


class _SortProxy(QSortFilterProxyModel):
    """Sorts by :func:`sort_key` (numbers, then words, then nothing); a study has few enough rows."""

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt override
        return left.data(SortRole) < right.data(SortRole)


class TrialsView(QTableView):
    """The trials table; selecting trials and double-clicking one are forwarded as trial numbers."""

    selection_changed = Signal(list)  # trial numbers
    open_trial = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_ = TrialsModel(self)
        self.proxy = _SortProxy(self)
        self.proxy.setSourceModel(self.model_)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        # A long value keeps its start and its end ("32x5,32x5…128x3,128x3"); its tooltip has it whole.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        header.setMinimumSectionSize(24)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)  # a narrowed factor's title: "Center loss…"
        header.sectionResized.connect(self._section_resized)
        self.sparklines = SparklineDelegate(self)
        self._states: set[str] = set()
        self._fitting = False  # the view itself is setting widths
        self._user_sized = False  # the user dragged a column: keep the widths until the columns change
        self._fitted_width = -1
        self.setToolTip(
            "The study's trials. Click a column to sort; select trials (Ctrl/Shift+click) to overlay their curves "
            "below; double-click one to open its run in the Gallery."
        )
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit(self.selected()))
        self.doubleClicked.connect(lambda index: self.open_trial.emit(int(index.data(NumberRole))))

    def show_rows(self, rows: list[TrialRow], factors: list[str]) -> None:
        selected = self.selected()
        reset = self.model_.columns != ["trial", *factors, "state", CURVE, "best val", "test acc", "time"]
        self.model_.set_rows(rows, factors)
        if reset:
            for c, column in enumerate(self.model_.columns):
                self.setItemDelegateForColumn(c, self.sparklines if column == CURVE else None)
            self._user_sized = False
        if reset or self._states != {r.state for r in rows}:
            self._states = {r.state for r in rows}
            self.fit_columns(force=reset)
        if selected and selected != self.selected():
            self.select(selected)

    # -- column widths --------------------------------------------------------------------------------
    def natural_widths(self) -> list[int]:
        """Each column's width for its header and its widest text (the curve's is fixed)."""
        model, cells, heads = self.model_, self.fontMetrics(), self.horizontalHeader().fontMetrics()
        out = []
        for c, column in enumerate(model.columns):
            title = str(model.headerData(c, Qt.Orientation.Horizontal) or "")
            head = heads.horizontalAdvance(title) + SORT_ARROW
            if column == CURVE:
                out.append(max(CURVE_WIDTH, head))
                continue
            texts = (model.data(model.index(r, c)) or "" for r in range(model.rowCount()))
            out.append(max(head, max((cells.horizontalAdvance(t) for t in texts), default=0) + CELL_PADDING))
        return out

    def fit_columns(self, force: bool = False) -> None:
        """Size the columns to the table's width (the module's docstring says how); a column the user
        dragged keeps its width unless ``force``."""
        columns = self.model_.columns
        if not columns or (self._user_sized and not force):
            return
        widths = self.natural_widths()
        factors = [c for c, column in enumerate(columns) if column in self.model_.factors]
        room = self.viewport().width() - sum(w for c, w in enumerate(widths) if c not in factors)
        for c, w in zip(factors, fit_widths([widths[c] for c in factors], room, MIN_FACTOR_WIDTH), strict=True):
            widths[c] = w
        self._fitting = True
        try:
            for c, w in enumerate(widths):
                self.setColumnWidth(c, w)
        finally:
            self._fitting = False
        self._fitted_width = self.viewport().width()

    def _section_resized(self, *_args) -> None:
        if not self._fitting:
            self._user_sized = True

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize and self.viewport().width() != self._fitted_width:
            self.fit_columns()
        return super().viewportEvent(event)

    def selected(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [int(self.proxy.index(r, 0).data(NumberRole)) for r in rows]

    def select(self, numbers: list[int]) -> None:
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection()
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if int(index.data(NumberRole)) in numbers:
                selection.select(index, self.proxy.index(r, self.proxy.columnCount() - 1))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def fit_widths(natural: list[int], room: int, least: int) -> list[int]:
    """Widths for columns whose contents want ``natural`` pixels in ``room`` pixels: all of them
    where they fit, else the widest cut to one common width (never below ``least``, nor below a
    column's own natural width when that is smaller)."""
    if sum(natural) <= room:
        return list(natural)
    cap, left = least, room
    for i, w in enumerate(sorted(natural)):
        share = left // (len(natural) - i)
        if w > share:
            cap = max(least, share)
            break
        left -= w
    return [min(w, cap) for w in natural]
