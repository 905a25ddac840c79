"""The model summary table: layer, type, output shape, parameters, and the totals underneath.

A ``QAbstractTableModel`` over the rows of ``core.models.model_summary`` (a model, not widgets per
row), shown in a ``QTableView``; a status line above says what is shown, or why nothing can be.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

COLUMNS = (("name", "Layer"), ("type", "Type"), ("output_shape", "Output shape"), ("params", "Parameters"))
TYPE_COLUMN = 1

Index = QModelIndex | QPersistentModelIndex


def format_shape(shape: Any) -> str:
    """A layer's output shape per image: Keras' ``(None, 28, 28, 16)`` as ``(28, 28, 16)``.

    The batch dimension is the same for every layer; leaving it out gives the layer names room.
    """
    if isinstance(shape, (list, tuple)):
        if shape and all(isinstance(s, (list, tuple)) for s in shape):
            return ", ".join(format_shape(s) for s in shape)
        dims = shape[1:] if shape and shape[0] is None else shape
        return str(tuple(dims))
    if shape is None:
        return ""
    per_image = re.sub(r"\(None, ?", "(", str(shape))
    return re.sub(r"\((\w+)\)", r"(\1,)", per_image)  # one dimension: (10,) as Python writes it


class SummaryModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = COLUMNS[index.column()][0]
        value = row.get(key)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if key == "params":
                return f"{int(value or 0):,}"
            if key == "output_shape":
                return format_shape(value)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and key == "params":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section][0] == "output_shape":
            return "The shape of one image's output (the batch dimension is left out)."
        return None


class ModelSummaryView(QWidget):
    """Status line, table and totals; ``set_summary``, ``set_pending``, ``set_problem``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("The summary appears once TensorFlow has loaded.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = SummaryModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setToolTip("Every layer of the model for the chosen dataset's input shape.")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        # Layer names, shapes and counts are always whole (ResNet's and AlexNet's names were cut
        # off); the type takes the width left, shortened with "…" when the panel is narrow (its
        # tooltip has it whole). A panel too narrow even for that scrolls sideways.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TYPE_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("Conv2D…") + 8)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setMinimumHeight(160)
        self.totals = QLabel("")
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bold = QFont(self.totals.font())
        bold.setBold(True)
        self.totals.setFont(bold)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the summary as text (tab-separated) to paste elsewhere.")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.copy_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.totals, 1)
        bottom.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.summary: dict[str, Any] | None = None

    def set_pending(self, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)

    def set_problem(self, text: str) -> None:
        self.summary = None
        self.model.set_rows([])
        self.totals.setText("")
        self.copy_button.setEnabled(False)
        self.status.setStyleSheet("color: #b00020;")
        self.status.setText(text)

    def set_summary(self, summary: dict[str, Any], caption: str) -> None:
        self.summary = summary
        self.status.setStyleSheet("")
        self.status.setText(caption)
        self.model.set_rows(summary.get("rows", []))
        self.totals.setText(
            f"Total {int(summary.get('total', 0)):,} parameters  ·  trainable "
            f"{int(summary.get('trainable', 0)):,}  ·  non-trainable {int(summary.get('non_trainable', 0)):,}"
        )
        self.copy_button.setEnabled(True)

    def as_text(self) -> str:
        if not self.summary:
            return ""
        lines = ["\t".join(title for _, title in COLUMNS)]
        for row in self.summary.get("rows", []):
            lines.append(
                "\t".join(
                    [
                        str(row.get("name", "")),
                        str(row.get("type", "")),
                        format_shape(row.get("output_shape")),
                        str(int(row.get("params") or 0)),
                    ]
                )
            )
        lines.append(self.totals.text())
        return "\n".join(lines)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
