"""The results table of the Predict tab: one row per image, filled as batches finish.

A :class:`ResultsModel` (``QAbstractTableModel``) over :class:`core.ensemble.SourceResult` rows;
the tab shows it through a ``QSortFilterProxyModel`` sorting on :data:`SORT_ROLE` (numbers sort as
numbers, failed images last by confidence). Rows are appended in chunks (one
``beginInsertRows`` per chunk), never one widget per row, and thumbnails become ``QImage`` only
when their row is first painted. :func:`results_csv` writes the table,
with every class probability, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QImage

from core.ensemble import InMemoryImage, SourceResult
from gui.widgets.prediction_view import to_qimage

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
    """Rows of :class:`SourceResult`, appended as they arrive."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.results: list[SourceResult] = []
        self._thumbs: list[QImage | None] = []
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
        self.endResetModel()

    def add(self, results: Sequence[SourceResult]) -> None:
        if not results:
            return
        start = len(self.results)
        self.beginInsertRows(QModelIndex(), start, start + len(results) - 1)
        self.results.extend(results)
        self._thumbs.extend([None] * len(results))  # made when a row is first painted
        self.endInsertRows()

    def result(self, row: int) -> SourceResult:
        return self.results[row]

    @property
    def ok_count(self) -> int:
        return sum(1 for r in self.results if r.ok)

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
        r = self.results[index.row()]
        col = index.column()
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
            thumb = self._thumbs[index.row()]
            if thumb is None and r.thumbnail is not None:
                thumb = self._thumbs[index.row()] = to_qimage(r.thumbnail)
            return thumb
        if role == SORT_ROLE:
            if col == COL_THUMB:
                return index.row()
            if col == COL_FILE:
                return r.name.casefold()
            if col == COL_TOP1:
                return r.top[0][0].casefold() if r.top else "\uffff"
            if col == COL_CONF:
                return r.top[0][1] if r.top else -1.0
            if col == COL_TOP2:
                second = self._second(r)
                return second[1] if second else -1.0
            if col == COL_NOTE:
                return self._note(r).casefold()
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
