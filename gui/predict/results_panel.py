"""The right side of the Predict tab: tool bar, progress, notes, the results table, the single view.

Only draws and forwards: the tool bar shows the tab's actions, a row that becomes current goes out
as ``row_chosen(result, by_person)`` (False when the panel selected the first row itself), and the
tab decides what the view shows. The table is a :class:`~gui.predict.results_model.ResultsModel`
in a ``QTableView``; the single view is the shared :class:`~gui.widgets.prediction_view.PredictionView`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.ensemble import SourceResult
from gui.predict.results_model import COL_FILE, RESULT_ROLE, ResultsModel
from gui.widgets.prediction_view import PredictionView


def _tool(action: QAction) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return b


class ResultsPanel(QWidget):
    """Inputs and results: ``inputs``, ``edits`` and ``stop`` are the tab's actions for the tool bar."""

    row_chosen = Signal(object, bool)  # SourceResult, chosen by a person (not the first row of a batch)

    def __init__(self, inputs: Sequence[QAction], edits: Sequence[QAction], stop: QAction, export: QAction) -> None:
        super().__init__()
        self._export_action = export
        self._auto_selecting = False
        bar = QHBoxLayout()
        for a in inputs:
            bar.addWidget(_tool(a))
        bar.addSpacing(12)
        for a in edits:
            bar.addWidget(_tool(a))
        bar.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setToolTip("Images predicted so far.")
        self.progress.setFormat("%v / %m")
        self.progress.hide()
        bar.addWidget(self.progress)
        bar.addWidget(_tool(stop))

        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        self._build_notice()
        self._build_table()
        self.view = PredictionView()

        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(self.view)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.state_label)
        layout.addWidget(self.notice)
        layout.addWidget(self.split, 1)

    def _build_notice(self) -> None:
        self.notice_label = QLabel("")
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_close = QToolButton()
        self.notice_close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.notice_close.setToolTip("Hide this message.")
        self.notice_close.setAutoRaise(True)
        self.notice_close.clicked.connect(self.hide_notice)
        self.notice = QFrame()
        self.notice.setFrameShape(QFrame.Shape.StyledPanel)
        self.notice.setStyleSheet("QFrame { background: #fff4ce; color: #3b2f00; border-radius: 4px; }")
        nl = QHBoxLayout(self.notice)
        nl.setContentsMargins(8, 4, 4, 4)
        nl.addWidget(self.notice_label, 1)
        nl.addWidget(self.notice_close, 0, Qt.AlignmentFlag.AlignTop)
        self.notice.hide()

    def _build_table(self) -> None:
        self.results = ResultsModel(self)  # sorts itself: no proxy model (see its module)
        self.table = QTableView()
        self.table.setModel(self.results)
        # No sort column until a title is clicked: rows stay in the order the files came in.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.setIconSize(QSize(36, 36))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 44)
        header.resizeSection(COL_FILE, 220)
        header.resizeSection(2, 120)
        header.resizeSection(3, 90)
        header.resizeSection(4, 140)
        header.setStretchLastSection(True)
        self.table.setToolTip("Click a row to see that image below. Click a column title to sort.")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.doubleClicked.connect(self._open_row_file)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.table.hide()

    # -- state line, notes, progress -------------------------------------------------------------

    def set_state(self, text: str) -> None:
        self.state_label.setText(text)
        self.state_label.setVisible(bool(text))

    def show_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice.show()

    def hide_notice(self) -> None:
        self.notice.hide()

    @property
    def notice_text(self) -> str:
        return self.notice_label.text() if not self.notice.isHidden() else ""

    def show_progress(self, done: int, total: int) -> None:
        """``total`` 0: busy (no total known yet)."""
        self.progress.setRange(0, max(0, total))
        if total > 0:
            self.progress.setValue(done)
        self.progress.show()

    def hide_progress(self) -> None:
        self.progress.hide()

    # -- rows ---------------------------------------------------------------------------------

    def clear_rows(self) -> None:
        self.results.clear()
        self.table.hide()

    def add_rows(self, chunk: list[SourceResult]) -> int:
        """A chunk of rows: one insert into the table; the first row is selected. The number of rows."""
        self.results.add(chunk)
        done = self.results.rowCount()
        if done > 1 and self.table.isHidden():
            self.table.show()
            self.split.setSizes([300, 500])
        if not self.table.selectionModel().hasSelection():
            self._auto_selecting = True
            try:
                self.table.selectRow(0)
            finally:
                self._auto_selecting = False
        return done

    def current_result(self) -> SourceResult | None:
        index = self.table.currentIndex()
        return self.results.data(index, RESULT_ROLE) if index.isValid() else None

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        result = self.results.data(current, RESULT_ROLE)
        if result is not None:
            self.row_chosen.emit(result, not self._auto_selecting)

    def _table_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        result = self.results.data(index, RESULT_ROLE)
        menu = QMenu(self)
        if result is not None and result.path is not None:
            path = result.path
            menu.addAction("Open the image", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
            menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
            menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(str(path)))
        menu.addAction(self._export_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _open_row_file(self, index: QModelIndex) -> None:
        result = self.results.data(index, RESULT_ROLE)
        if result is not None and result.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(result.path)))
