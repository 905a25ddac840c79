"""The classification report: precision, recall, F1 and support per class, accuracy, macro and
weighted averages, from scikit-learn's ``classification_report(output_dict=True)``.

Every number leads to the images behind it: a class's name, recall, F1 or support shows the images
of that true class; its precision shows the images predicted as that class; accuracy shows the
correct ones, and the averages all of them. The raw values (not the rounded text) are in
:data:`VALUE_ROLE`, so a test can compare them with scikit-learn's.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QVBoxLayout, QWidget

VALUE_ROLE = Qt.ItemDataRole.UserRole + 1  # float (int for support), or None for an empty cell
COLUMNS = ("precision", "recall", "f1-score", "support")
COLUMN_TITLES = ("Precision", "Recall", "F1", "Support")
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")
COLUMN_TIPS = (
    "Precision: of the images predicted as this class, the share that really are. Click to show the images "
    "predicted as this class.",
    "Recall: of the images of this class, the share predicted correctly. Click to show the images of this class.",
    "F1: the harmonic mean of precision and recall.",
    "Support: how many test images have this true class.",
)


class ReportModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.class_names: list[str] = []
        self.report: dict[str, Any] = {}
        self._rows: list[str] = []  # report keys: class names, then the summary rows present

    def set_report(self, report: dict[str, Any], class_names: list[str]) -> None:
        self.beginResetModel()
        self.report = dict(report or {})
        self.class_names = [str(n) for n in class_names]
        self._rows = [*self.class_names, *(k for k in SUMMARY_ROWS if k in self.report)]
        self.endResetModel()

    def key(self, row: int) -> str:
        return self._rows[row]

    def class_index(self, row: int) -> int | None:
        """The class of a table row, None for accuracy and the averages."""
        return row if 0 <= row < len(self.class_names) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def value(self, row: int, column: int):
        """The report's own number for a cell (None where sklearn's text report is blank too)."""
        key, col = self._rows[row], COLUMNS[column]
        entry = self.report.get(key)
        if key == "accuracy":
            # sklearn stores accuracy as one number; its text report puts it under f1-score with the total support.
            if col == "f1-score":
                return float(entry)
            if col == "support":
                macro = self.report.get("macro avg") or {}
                return int(macro["support"]) if "support" in macro else None
            return None
        if not isinstance(entry, dict) or col not in entry:
            return None
        return int(entry[col]) if col == "support" else float(entry[col])

    def text(self, row: int, column: int) -> str:
        v = self.value(row, column)
        if v is None:
            return ""
        if COLUMNS[column] == "support":
            return f"{v:,}"
        return "n/a" if math.isnan(v) else f"{v:.4f}"

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows) and 0 <= index.column() < len(COLUMNS)):
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(r, c)
        if role == VALUE_ROLE:
            return self.value(r, c)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and self.class_index(r) is None:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(r, c)
        return None

    def _tooltip(self, r: int, c: int) -> str:
        key, col = self._rows[r], COLUMNS[c]
        cls = self.class_index(r)
        if cls is not None:
            target = f"the images predicted as {key}" if col == "precision" else f"the images whose true class is {key}"
            return f"{COLUMN_TIPS[c]}\nClick to show {target} in the gallery."
        if key == "accuracy":
            return "Accuracy: the share of all test images predicted correctly. Click to show the correct ones."
        what = "unweighted mean over classes" if key == "macro avg" else "mean over classes weighted by support"
        return f"{key.capitalize()}: the {what}. Click to show all test images."

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(COLUMNS):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMN_TITLES[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMN_TIPS[section]
            return None
        if not 0 <= section < len(self._rows):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            if self.class_index(section) is not None:
                return f"Click to show the test images of class {self._rows[section]}."
            return self._tooltip(section, 0)
        return None


class ReportTable(QWidget):
    """The report in a table; clicks ask the gallery for the images behind a number."""

    true_class_requested = Signal(int)
    predicted_class_requested = Signal(int)
    correct_requested = Signal()
    all_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ReportModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionsClickable(True)
        self.table.verticalHeader().sectionClicked.connect(lambda row: self._request(row, 1))
        self.table.clicked.connect(lambda index: self._request(index.row(), index.column()))
        self.table.activated.connect(lambda index: self._request(index.row(), index.column()))
        self.table.setToolTip(
            "Per-class precision, recall, F1 and support, as scikit-learn's classification report. Click a "
            "number to show the images behind it. Ctrl+C copies the report."
        )
        copy = QShortcut(QKeySequence.StandardKey.Copy, self.table, context=Qt.ShortcutContext.WidgetShortcut)
        copy.activated.connect(self.copy_to_clipboard)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)

    def set_report(self, report: dict[str, Any], class_names: list[str]) -> None:
        self.model.set_report(report, class_names)

    def _request(self, row: int, column: int) -> None:
        if not 0 <= row < self.model.rowCount():
            return
        cls = self.model.class_index(row)
        key = self.model.key(row)
        if cls is not None:
            if COLUMNS[column] == "precision":
                self.predicted_class_requested.emit(cls)
            else:
                self.true_class_requested.emit(cls)
        elif key == "accuracy":
            self.correct_requested.emit()
        else:
            self.all_requested.emit()

    def as_text(self) -> str:
        """Tab-separated report, for pasting into a spreadsheet or a slide."""
        lines = ["\t" + "\t".join(COLUMN_TITLES)]
        for r in range(self.model.rowCount()):
            lines.append(self.model.key(r) + "\t" + "\t".join(self.model.text(r, c) for c in range(len(COLUMNS))))
        return "\n".join(lines) + "\n"

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
