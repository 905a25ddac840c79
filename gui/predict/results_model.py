"""The results table of the Predict tab: one row per image, filled as batches finish.

A :class:`ResultsModel` (``QAbstractTableModel``) over :class:`core.ensemble.SourceResult` rows.
It sorts itself on :data:`SORT_ROLE` (numbers sort as numbers, failed images last by confidence)
rather than through a ``QSortFilterProxyModel``, and gives all the roles of a cell in one call
(``multiData``): while a batch runs, every call the view makes into Python waits for the worker
thread to let go of the GIL, a proxy turns each of them into three (the source's ``rowCount``,
``columnCount`` and ``data``), and a cell is painted with 7 roles. Measured on 2 cores with a
thread reading files, a repaint of the table took 14-16 ms through a proxy, 9-16 ms without one,
6 ms with ``multiData``.

Rows are appended in chunks (one ``beginInsertRows`` per chunk), never one widget per row, and
thumbnails become ``QImage`` only when their row is first painted. :func:`results_csv` writes the
table, with every class probability, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QImage

from core.ensemble import InMemoryImage, SourceResult
from gui.widgets.image_canvas import to_qimage

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2
COLUMNS = ("", "File", "Prediction", "Confidence", "Second", "Note")
COL_THUMB, COL_FILE, COL_TOP1, COL_CONF, COL_TOP2, COL_NOTE = range(6)
ERROR_COLOR = QColor(176, 0, 32)
TOOLTIPS = {
    COL_THUMB: "A small copy of the image.",
    COL_FILE: "The image file (hover for its full path).",
    COL_TOP1: "The predicted class: the most probable one.",
    COL_CONF: "The probability of the predicted class.",
    COL_TOP2: "The second most probable class and its probability.",
    COL_NOTE: "Why an image could not be predicted; for an ensemble, how many members agree.",
}

Index = QModelIndex | QPersistentModelIndex


def _pct(p: float) -> str:
    pct = 100.0 * float(p)
    if pct >= 99.95 and p < 1.0:
        return "99.9+ %"
    if 0 < pct < 0.05:
        return "<0.1 %"
    return f"{pct:.1f} %"


def source_text(result: SourceResult) -> str:
    return result.source.name if isinstance(result.source, InMemoryImage) else str(result.source)


class ResultsModel(QAbstractTableModel):
    """Rows of :class:`SourceResult`, appended as they arrive; sorted by :meth:`sort` (a column title).

    ``results`` stays in arrival order (what the CSV export writes); the view's rows follow the
    sort order, kept as a list of indices into ``results`` while a column is sorted.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.results: list[SourceResult] = []
        self._thumbs: list[QImage | None] = []
        self._ok = 0
        self._order: list[int] | None = None  # view row -> index into results; None: arrival order
        self._keys: list[Any] = []  # the sort key of every result (for the sorted column)
        self._sort_column = -1
        self._descending = False
        self.class_names: list[str] = []
        self.members = 1

    def set_models(self, class_names: Sequence[str], members: int) -> None:
        self.class_names = list(class_names)
        self.members = int(members)

    # -- contents --------------------------------------------------------------------------------

    def clear(self) -> None:
        self.beginResetModel()
        self.results = []
        self._thumbs = []
        self._ok = 0
        self._keys = []
        if self._order is not None:
            self._order = []
        self.endResetModel()

    def add(self, results: Sequence[SourceResult]) -> None:
        """Append a chunk of rows: one insert for the chunk, then (while sorted) one re-sort."""
        if not results:
            return
        start = len(self.results)
        self.beginInsertRows(QModelIndex(), start, start + len(results) - 1)
        self.results.extend(results)
        self._thumbs.extend([None] * len(results))  # made when a row is first painted
        self._ok += sum(1 for r in results if r.ok)
        if self._order is not None:
            self._keys.extend(self._sort_key(r, start + i, self._sort_column) for i, r in enumerate(results))
            self._order.extend(range(start, start + len(results)))
        self.endInsertRows()
        if self._order is not None:
            self._reorder()

    def result(self, row: int) -> SourceResult:
        """The result shown in view row ``row``."""
        return self.results[self._at(row)]

    @property
    def ok_count(self) -> int:
        return self._ok

    def _at(self, row: int) -> int:
        return row if self._order is None else self._order[row]

    # -- sorting ---------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (-1: back to arrival order); stable, failed images last."""
        if not 0 <= column < len(COLUMNS):
            if self._order is not None:
                self._set_order(None)
            return
        self._sort_column, self._descending = column, order == Qt.SortOrder.DescendingOrder
        self._keys = [self._sort_key(r, i, column) for i, r in enumerate(self.results)]
        self._reorder(self._order if self._order is not None else list(range(len(self.results))))

    def _reorder(self, order: list[int] | None = None) -> None:
        keys = self._keys
        self._set_order(sorted(self._order if order is None else order, key=keys.__getitem__, reverse=self._descending))

    def _set_order(self, order: list[int] | None) -> None:
        """Show the rows in ``order``; selection and current row follow their results."""
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        held = [(self._at(i.row()), i.column()) for i in before]
        self._order = order
        after = [self.index(i if order is None else order.index(i), column) for i, column in held]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _sort_key(self, r: SourceResult, arrival: int, column: int) -> Any:
        if column == COL_THUMB:
            return arrival
        if column == COL_FILE:
            return r.name.casefold()
        if column == COL_TOP1:
            return r.top[0][0].casefold() if r.top else "\uffff"
        if column == COL_CONF:
            return r.top[0][1] if r.top else -1.0
        if column == COL_TOP2:
            second = self._second(r)
            return second[1] if second else -1.0
        return self._note(r).casefold()

    # -- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt signature
        return 0 if parent.isValid() else len(self.results)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TOOLTIPS.get(section)
        return None

    def _second(self, r: SourceResult) -> tuple[str, float] | None:
        if r.probs is None or len(r.probs) < 2:
            return None
        order = np.argsort(-np.asarray(r.probs), kind="stable")
        i = int(order[1])
        return (self.class_names[i] if i < len(self.class_names) else str(i)), float(r.probs[i])

    def _note(self, r: SourceResult) -> str:
        if r.error:
            return r.error
        if self.members > 1 and r.member_probs is not None:
            top = r.predicted
            agree = int(np.sum(np.argmax(r.member_probs, axis=1) == top))
            return f"{agree} of {len(r.member_probs)} models agree"
        return ""

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        at = self._at(index.row())
        return self._value(self.results[at], at, index.column(), role)

    def multiData(self, index: Index, roleDataSpan) -> None:  # noqa: N802, N803 - Qt signature
        """Every role the delegate asks for to paint a cell, in one call into Python (see the module)."""
        if not index.isValid():
            return
        at = self._at(index.row())
        r, col = self.results[at], index.column()
        for i in range(len(roleDataSpan)):
            role_data = roleDataSpan[i]
            role_data.setData(self._value(r, at, col, role_data.role()))  # None too: the span is reused

    def _value(self, r: SourceResult, at: int, col: int, role: int):
        """What ``data`` gives for result ``r`` (``results[at]``) in column ``col``."""
        if role == RESULT_ROLE:
            return r
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_FILE:
                return r.name
            if col == COL_TOP1:
                return r.top[0][0] if r.top else "—"
            if col == COL_CONF:
                return _pct(r.top[0][1]) if r.top else ""
            if col == COL_TOP2:
                second = self._second(r)
                return f"{second[0]}  ({_pct(second[1])})" if second else ""
            if col == COL_NOTE:
                return self._note(r)
            return None
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            thumb = self._thumbs[at]
            if thumb is None and r.thumbnail is not None:
                thumb = self._thumbs[at] = to_qimage(r.thumbnail)
            return thumb
        if role == SORT_ROLE:
            return self._sort_key(r, at, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col in (COL_FILE, COL_THUMB):
                return source_text(r) + (f"\n{r.error}" if r.error else "")
            if col == COL_NOTE and r.error:
                return f"This image could not be predicted: {r.error}."
            if col == COL_TOP1 and r.top:
                return "\n".join(f"{name}: {_pct(p)}" for name, p in r.top)
        if role == Qt.ItemDataRole.ForegroundRole and r.error and col in (COL_FILE, COL_NOTE):
            return ERROR_COLOR
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_CONF:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def results_csv(results: Sequence[SourceResult], class_names: Sequence[str], member_titles: Sequence[str] = ()) -> str:
    """The results as CSV text: file, prediction, confidence, second, error, each member's vote
    (for an ensemble) and the probability of every class."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    members = list(member_titles) if len(member_titles) > 1 else []
    writer.writerow(
        ["file", "prediction", "confidence", "second", "second_confidence", "error"]
        + [f"vote: {t}" for t in members]
        + [f"p({name})" for name in class_names]
    )
    for r in results:
        if r.probs is None:
            writer.writerow([source_text(r), "", "", "", "", r.error or ""] + [""] * (len(members) + len(class_names)))
            continue
        p = np.asarray(r.probs, dtype=np.float64)
        order = np.argsort(-p, kind="stable")
        first, second = int(order[0]), int(order[1]) if len(order) > 1 else None
        votes = []
        if members and r.member_probs is not None:
            votes = [class_names[int(np.argmax(mp))] for mp in r.member_probs]
        writer.writerow(
            [
                source_text(r),
                class_names[first],
                f"{p[first]:.6f}",
                "" if second is None else class_names[second],
                "" if second is None else f"{p[second]:.6f}",
                "",
            ]
            + votes
            + [f"{v:.6f}" for v in p]
        )
    return buf.getvalue()
