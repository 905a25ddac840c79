"""The confusion matrix as a heat map with counts, class names on both axes, clickable cells.

A ``QTableView`` over :class:`ConfusionMatrixModel` rather than a plot: every cell is an item that
takes a click, the keyboard (arrows, Enter) and a tooltip, headers carry the class names, and it
stays readable from 2 to 100 classes (cells shrink, the view scrolls). Diagonal cells (correct) are
shaded blue and the others red, like the gallery's captions; the shade is the share of the true
class (the row), so a class with few images does not look better than it is. "Row percentages" shows those
shares as numbers instead of counts.

Signals: ``cell_clicked(true, predicted)``, ``true_class_clicked(true)`` (row header),
``predicted_class_clicked(predicted)`` (column header).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStyleOptionHeader,
    QTableView,
    QWidget,
)

COUNT_ROLE = Qt.ItemDataRole.UserRole + 1  # int: images in the cell
FRACTION_ROLE = Qt.ItemDataRole.UserRole + 2  # float: share of the true class (row)

_BLUE = (31, 95, 191)  # the gallery's "correct"
_RED = (198, 40, 40)  # the gallery's "wrong"


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows without images stay 0)."""
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def _shade(rgb: tuple[int, int, int], strength: float) -> QColor:
    """White blended towards ``rgb`` by ``strength`` (0..1); a little colour even for small shares."""
    s = 0.0 if strength <= 0 else 0.12 + 0.88 * min(1.0, float(strength))
    return QColor(*(round(255 + (c - 255) * s) for c in rgb))


class ConfusionMatrixModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), np.int64)
        self.fractions = np.zeros((0, 0))
        self.class_names: list[str] = []
        self.percent = False

    def set_matrix(self, matrix: np.ndarray, class_names: list[str]) -> None:
        matrix = np.asarray(matrix, dtype=np.int64)
        if matrix.shape != (len(class_names), len(class_names)):
            raise ValueError(f"a {matrix.shape} matrix for {len(class_names)} classes")
        self.beginResetModel()
        self.matrix = matrix
        self.fractions = row_normalised(matrix)
        self.class_names = [str(n) for n in class_names]
        self.endResetModel()

    def set_percent(self, on: bool) -> None:
        if bool(on) != self.percent:
            self.percent = bool(on)
            if self.rowCount():
                self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.class_names)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.class_names)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def text(self, r: int, c: int) -> str:
        if self.percent:
            f = 100.0 * self.fractions[r, c]
            if f == 0:
                return "0"
            return f"{f:.0f}%" if f >= 9.95 else f"{f:.1f}%"
        return str(int(self.matrix[r, c]))

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < self.rowCount() and 0 <= c < self.columnCount()):
            return None
        count, frac = int(self.matrix[r, c]), float(self.fractions[r, c])
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(r, c)
        if role == COUNT_ROLE:
            return count
        if role == FRACTION_ROLE:
            return frac
        if role == Qt.ItemDataRole.BackgroundRole:
            return _shade(_BLUE if r == c else _RED, frac)
        if role == Qt.ItemDataRole.ForegroundRole:
            bg = _shade(_BLUE if r == c else _RED, frac)
            return QColor("white") if bg.lightness() < 140 else QColor("#202020")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            t, p = self.class_names[r], self.class_names[c]
            row_total = int(self.matrix[r].sum())
            what = "correct" if r == c else "mistaken"
            return (
                f"True {t}, predicted {p}: {count:,} image{'s' if count != 1 else ''} ({what}), "
                f"{100 * frac:.1f} % of the {row_total:,} images of {t}.\nClick (or Enter) to show them in the gallery."
            )
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if not 0 <= section < len(self.class_names):
            return None
        name = self.class_names[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            if orientation == Qt.Orientation.Vertical:
                n = int(self.matrix[section].sum())
                return f"True class {name}: {n:,} test images. Click to show them all."
            n = int(self.matrix[:, section].sum())
            return f"Predicted {name}: {n:,} test images. Click to show them all."
        return None


class _RotatedHeader(QHeaderView):
    """A horizontal header that writes long class names upwards, so narrow columns keep them whole."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.rotated = False

    def _longest(self) -> int:
        model = self.model()
        if model is None:
            return 0
        fm = QFontMetrics(self.font())
        return max(
            (fm.horizontalAdvance(str(model.headerData(i, self.orientation()))) for i in range(self.count())),
            default=0,
        )

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        if self.rotated:
            hint.setHeight(min(160, self._longest() + 12))
        return hint

    def paintSection(self, painter: QPainter, rect: QRect, index: int) -> None:  # noqa: N802 - Qt override
        if not self.rotated:
            super().paintSection(painter, rect, index)
            return
        opt = QStyleOptionHeader()
        self.initStyleOption(opt)
        opt.rect = rect
        opt.section = index
        opt.text = ""
        self.style().drawControl(self.style().ControlElement.CE_Header, opt, painter, self)
        text = str(self.model().headerData(index, self.orientation()))
        painter.save()
        painter.translate(rect.center().x() + QFontMetrics(self.font()).ascent() / 2 - 1, rect.bottom() - 6)
        painter.rotate(-90)
        painter.setPen(self.palette().color(self.palette().ColorRole.ButtonText))
        avail = rect.height() - 10
        painter.drawText(0, 0, QFontMetrics(self.font()).elidedText(text, Qt.TextElideMode.ElideRight, avail))
        painter.restore()


class ConfusionMatrixView(QWidget):
    """The heat map with its axis titles and the "Row percentages" switch."""

    cell_clicked = Signal(int, int)  # true class, predicted class
    true_class_clicked = Signal(int)
    predicted_class_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ConfusionMatrixModel(self)
        self.table = QTableView()
        self.header = _RotatedHeader(self.table)
        self.header.setSectionsClickable(True)
        self.table.setHorizontalHeader(self.header)
        self.table.setModel(self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        self.table.setShowGrid(True)
        self.table.setToolTip("")
        self.table.verticalHeader().setSectionsClickable(True)
        self.table.clicked.connect(self._on_clicked)
        self.table.activated.connect(self._on_clicked)
        self.table.verticalHeader().sectionClicked.connect(self.true_class_clicked)
        self.header.sectionClicked.connect(self.predicted_class_clicked)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        self.percent_box = QCheckBox("Row &percentages")
        self.percent_box.setToolTip(
            "Show each cell as a percentage of its row (the images of that true class) instead of a count. "
            "The diagonal then reads as recall per class. (Alt+P)"
        )
        self.percent_box.toggled.connect(self.set_percent)
        self.summary = QLabel("")
        self.summary.setToolTip("Accuracy: the diagonal (correct) over all test images.")
        copy = QShortcut(QKeySequence.StandardKey.Copy, self.table, context=Qt.ShortcutContext.WidgetShortcut)
        copy.activated.connect(self.copy_to_clipboard)

        pred_title = QLabel("Predicted class →")
        pred_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pred_title.setToolTip("Columns: the class the model predicted. Click a column header to show those images.")
        true_title = QLabel("True class ↓")
        true_title.setToolTip("Rows: the true class of the images. Click a row header to show those images.")
        top = QHBoxLayout()
        top.addWidget(true_title)
        top.addStretch(1)
        top.addWidget(pred_title)
        top.addStretch(1)
        top.addWidget(self.percent_box)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top, 0, 0)
        layout.addWidget(self.table, 1, 0)
        layout.addWidget(self.summary, 2, 0)
        self.table.setToolTip(
            "Rows are true classes, columns predicted classes; the diagonal holds the correct predictions. "
            "Click a cell to show exactly those images in the gallery. Ctrl+C copies the matrix."
        )

    def set_matrix(self, matrix: np.ndarray, class_names: list[str]) -> None:
        self.model.set_matrix(matrix, class_names)
        n = len(class_names)
        fm = QFontMetrics(self.table.font())
        widest_name = max((fm.horizontalAdvance(str(c)) for c in class_names), default=0)
        widest_count = fm.horizontalAdvance(f"{int(np.max(matrix)) if np.size(matrix) else 0:,}") + 12
        cell = max(widest_count, fm.horizontalAdvance("100%") + 10, 22 if n > 30 else 34)
        self.header.rotated = widest_name + 12 > max(cell, 48)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setMinimumSectionSize(min(cell, 22))
            header.setDefaultSectionSize(cell)
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch if n <= 20 else QHeaderView.ResizeMode.Fixed)
        self.header.updateGeometry()
        self.header.resize(self.header.sizeHint())
        self.table.updateGeometries()
        total = int(np.sum(matrix))
        correct = int(np.trace(matrix)) if n else 0
        acc = f"{100 * correct / total:.2f} %" if total else "n/a"
        self.summary.setText(f"{correct:,} of {total:,} correct (accuracy {acc}), {total - correct:,} mistakes.")

    def set_percent(self, on: bool) -> None:
        if self.percent_box.isChecked() != bool(on):
            self.percent_box.setChecked(bool(on))  # comes back here through toggled
            return
        self.model.set_percent(bool(on))

    def select_cell(self, true_class: int | None, pred_class: int | None) -> None:
        """Mark the cell the gallery shows (or clear the mark)."""
        if true_class is None or pred_class is None:
            self.table.clearSelection()
            return
        self.table.setCurrentIndex(self.model.index(int(true_class), int(pred_class)))

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.cell_clicked.emit(index.row(), index.column())

    def as_text(self) -> str:
        """Tab-separated matrix with class names, for pasting into a spreadsheet."""
        names = self.model.class_names
        lines = ["true \\ predicted\t" + "\t".join(names)]
        for r, name in enumerate(names):
            lines.append(name + "\t" + "\t".join(self.model.text(r, c) for c in range(len(names))))
        return "\n".join(lines) + "\n"

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
