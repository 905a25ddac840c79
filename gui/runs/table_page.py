"""The top of the Runs tab: the filter bar, the message bars (interrupted runs, Undo) and the table.

It only draws and forwards what the person does (signals); what is listed, filtered and enabled is
decided by :class:`~gui.runs.state.RunsState`, what happens by the tab.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.runs import RunInfo
from gui.runs.format import STATE_FILTERS
from gui.runs.state import RunsState
from gui.runs.table_model import NAME, RowRole, RunsFilterProxy, RunsTableModel

MAX_COLUMN_WIDTH = 240


def message_bar() -> tuple[QFrame, QLabel]:
    """A tinted strip with a label, for a message with buttons beside it."""
    frame = QFrame()
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    frame.setStyleSheet("QFrame { background: palette(alternate-base); }")
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    row = QHBoxLayout(frame)
    row.setContentsMargins(8, 4, 8, 4)
    row.addWidget(label, 1)
    return frame, label


class FilterBar(QWidget):
    """Words, a state, and how many runs are shown. ``filter_changed(text, state)``."""

    filter_changed = Signal(str, str)

    def __init__(self, refresh_action, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setClearButtonEnabled(True)
        self.edit.setPlaceholderText("Filter (Ctrl+F): words or setting=value, e.g.  mnist optimizer=sgd")
        self.edit.setToolTip(
            "Shows the runs whose name, dataset, model, note or state contain every word; "
            "'optimizer=sgd', 'batch_size=256' or 'augment_flip=on' match a setting."
        )
        self.state_combo = QComboBox()
        for key, text in STATE_FILTERS:
            self.state_combo.addItem(text, key)
        self.state_combo.setToolTip("Show only runs in one state, or those with damaged files.")
        self.count_label = QLabel()
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        refresh = QToolButton()
        refresh.setDefaultAction(refresh_action)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.edit, 3)
        bar.addWidget(self.state_combo)
        bar.addWidget(self.count_label, 2)
        bar.addWidget(refresh)
        self.edit.textChanged.connect(self._changed)
        self.state_combo.currentIndexChanged.connect(self._changed)

    def _changed(self, *args) -> None:
        self.filter_changed.emit(self.edit.text(), self.state_combo.currentData() or "all")

    def set_filter(self, text: str, state: str = "all") -> None:
        self.edit.setText(text)
        self.state_combo.setCurrentIndex(max(0, self.state_combo.findData(state)))


class RunsTableView(QTableView):
    """The runs table over :class:`RunsTableModel` and :class:`RunsFilterProxy`; reports selections."""

    def __init__(self, state: RunsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self, state)
        self.proxy.setSourceModel(self.model_)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(True)
        self.setWordWrap(False)
        # A long name keeps its start and its end ("20261202-2038…cnn-2-mnist-sample"); its tooltip has it whole.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setResizeContentsPrecision(60)  # sizing columns to their contents looks at 60 rows, not all
        self.sortByColumn(self.model_.column_of("date"), Qt.SortOrder.DescendingOrder)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setToolTip("")
        self._columns_sized: tuple | None = None

    def editing(self) -> bool:
        return self.state() == QAbstractItemView.State.EditingState

    # -- rows ----------------------------------------------------------------------------------------
    def show_runs(self, rows: list[RunInfo], keys: list[str]) -> None:
        """Show ``rows``, keeping selection, sort and scroll position."""
        selected = self.selected_paths()
        current = self.current_path()
        sort_id = self.sort_column_id()
        order = self.horizontalHeader().sortIndicatorOrder()
        scroll = self.verticalScrollBar().value()
        columns_before = self.model_.columns

        self.model_.set_rows(rows, keys)
        shown = self.proxy.source_columns()
        keep_sort = sort_id in self.model_.columns and self.model_.column_of(sort_id) in shown
        self.proxy.refilter(sort=not keep_sort)
        if keep_sort:
            self.sortByColumn(shown.index(self.model_.column_of(sort_id)), order)
        if self.model_.columns != columns_before or self._columns_sized is None:
            self.size_columns()
        self.select_paths(selected, current)
        self.verticalScrollBar().setValue(scroll)

    def sort_column_id(self) -> str | None:
        column = self.horizontalHeader().sortIndicatorSection()
        shown = self.proxy.source_columns()
        return self.model_.columns[shown[column]] if 0 <= column < len(shown) else None

    def size_columns(self) -> None:
        """Fit the columns to their contents, measured from the texts (QTableView's own
        resizeColumnsToContents asks the model for every role of every cell: 60 % of showing 200 runs)."""
        header = self.horizontalHeader()
        cell_metrics = self.fontMetrics()
        head_metrics = header.fontMetrics()
        icon = self.iconSize().width() if self.iconSize().isValid() else 16
        for proxy_column, column in enumerate(self.proxy.source_columns()):
            texts = self.model_.column_texts(column)
            widest = max((cell_metrics.horizontalAdvance(t) for t in texts), default=0) + 14
            if self.model_.columns[column] in (NAME, "state"):
                widest += max(icon, 16) + 6
            title = str(self.model_.headerData(column, Qt.Orientation.Horizontal) or "")
            widest = max(widest, head_metrics.horizontalAdvance(title) + 28)  # room for the sort arrow
            header.resizeSection(proxy_column, min(max(widest, 48), MAX_COLUMN_WIDTH))
        self._columns_sized = tuple(self.model_.columns)

    # -- selection -----------------------------------------------------------------------------------
    def selected_rows(self) -> list[RunInfo]:
        """The selected runs, in the order the table shows them."""
        indexes = sorted(self.selectionModel().selectedRows(0), key=lambda i: i.row())
        return [i.data(RowRole) for i in indexes if i.data(RowRole) is not None]

    def selected_paths(self) -> list[Path]:
        return [r.path for r in self.selected_rows()]

    def current_path(self) -> Path | None:
        rows = self.selected_rows()
        if len(rows) == 1:
            return rows[0].path
        index = self.currentIndex()
        row = index.data(RowRole) if index.isValid() else None
        if row is not None and row.path in {r.path for r in rows}:
            return row.path
        return rows[0].path if rows else None

    def select_paths(self, paths_: list[Path], current: Path | None = None) -> None:
        """Select these runs (those that are listed); ``current`` gets the focus."""
        selection = QItemSelection()
        last_column = self.proxy.columnCount() - 1
        current_index = None
        for path in paths_:
            src = self.model_.row_of(Path(path))
            if src < 0:
                continue
            first = self.proxy.mapFromSource(self.model_.index(src, 0))
            if not first.isValid():
                continue
            selection.select(first, self.proxy.index(first.row(), max(0, last_column)))
            if current_index is None or (current is not None and Path(path) == Path(current)):
                current_index = first
        sm = self.selectionModel()
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if current_index is not None:
            sm.setCurrentIndex(current_index, QItemSelectionModel.SelectionFlag.NoUpdate)

    def edit_cell(self, path: Path, column_id: str) -> None:
        src = self.model_.row_of(path)
        index = self.proxy.mapFromSource(self.model_.index(src, self.model_.column_of(column_id)))
        self.setCurrentIndex(index)
        self.edit(index)


class UndoBar(QFrame):
    """ "Moved N runs to the trash" with Undo; ``undo_requested``, ``show_trash_requested``."""

    undo_requested = Signal()
    show_trash_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        frame, self.label = message_bar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(frame)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring the runs back (Ctrl+Z).")
        self.undo_button.clicked.connect(self.undo_requested)
        trash = QPushButton("Show trash folder")
        trash.setToolTip("Open the workspace's trash folder, where deleted runs wait while Undo can bring them back.")
        trash.clicked.connect(self.show_trash_requested)
        hide = QToolButton()
        hide.setText("✕")
        hide.setAutoRaise(True)
        hide.setToolTip("Hide this message (Ctrl+Z still brings the runs back until the next delete).")
        hide.clicked.connect(self.hide)
        for w in (self.undo_button, trash, hide):
            frame.layout().addWidget(w)
