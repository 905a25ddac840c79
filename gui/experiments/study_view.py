"""The right side of the Experiments tab: which study, its progress, its trials, plots, table and
the selected trials' curves. It draws the tab's state and forwards input as signals."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.experiments.plots import StudyPlots
from gui.experiments.state import ExperimentsState
from gui.experiments.trials_view import MIN_FACTOR_WIDTH, TrialsView, fit_widths
from gui.widgets.run_compare import RunCompare


class StudyTable(QTableWidget):
    """The study's table (read-only): its columns fit the width, a long value (the baseline's, a
    list of conv layers) elided in the middle and whole in its tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self._natural: list[int] = []
        self._fitted_width = -1

    def show_table(self, header: list[str], body: list[list[str]]) -> None:
        self.clear()
        self.setColumnCount(len(header))
        self.setRowCount(len(body))
        self.setHorizontalHeaderLabels(header)
        for r, row in enumerate(body):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.setItem(r, c, item)
        self.resizeColumnsToContents()
        self._natural = [self.columnWidth(c) for c in range(len(header))]
        self.fit_columns()

    def fit_columns(self) -> None:
        for c, w in enumerate(fit_widths(self._natural, self.viewport().width(), MIN_FACTOR_WIDTH)):
            self.setColumnWidth(c, w)
        self._fitted_width = self.viewport().width()

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize and self._natural and self.viewport().width() != self._fitted_width:
            self.fit_columns()
        return super().viewportEvent(event)


class StudyView(QWidget):
    """The study shown: a bar (study list, Continue, Stop, Delete), summary, progress, trials, plots."""

    study_chosen = Signal(object)  # a study's name
    continue_clicked = Signal()
    stop_clicked = Signal()
    delete_clicked = Signal()
    export_requested = Signal(str)  # "csv" or "md"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study_box = QComboBox()
        self.study_box.setMinimumWidth(220)
        self.study_box.setToolTip("The studies of this workspace, newest first: pick one to show its trials.")
        self.study_box.activated.connect(lambda _i: self.study_chosen.emit(self.study_box.currentData()))
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip(
            "Run the shown study's trials that are left (after Stop, closing the app or a crash)."
        )
        self.continue_button.clicked.connect(self.continue_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the study: running trials stop within a batch and go back to the queue; Continue runs them later."
        )
        self.stop_button.clicked.connect(self.stop_clicked)
        self.delete_button = QPushButton("Delete...")
        self.delete_button.setToolTip("Move the shown study and all its trials' runs to the trash (asks first).")
        self.delete_button.clicked.connect(self.delete_clicked)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Study"))
        bar.addWidget(self.study_box, 1)
        for b in (self.continue_button, self.stop_button, self.delete_button):
            bar.addWidget(b)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c62828;")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.progress = QProgressBar()
        self.progress.setToolTip("Trials finished (complete, pruned or failed) of the study's trials.")
        self.progress.setMaximumHeight(16)

        self.trials = TrialsView()
        self.plots = StudyPlots()
        self.compare = RunCompare()
        self.table_view = StudyTable()
        self.table_view.setToolTip(
            "The study as a table: for one factor at a time, the seeds' table (each row one change against the "
            "baseline, with the difference); otherwise one row per trial."
        )
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setToolTip("Save this table as CSV (for a spreadsheet).")
        self.csv_button.clicked.connect(lambda: self.export_requested.emit("csv"))
        self.md_button = QPushButton("Export Markdown...")
        self.md_button.setToolTip("Save this table as a Markdown table (for a report or a README).")
        self.md_button.clicked.connect(lambda: self.export_requested.emit("md"))
        table_page = QWidget()
        tl = QVBoxLayout(table_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tb = QHBoxLayout()
        self.table_title = QLabel()
        self.table_title.setWordWrap(True)  # the baseline's values can be long
        tb.addWidget(self.table_title, 1)
        tb.addWidget(self.csv_button)
        tb.addWidget(self.md_button)
        tl.addLayout(tb)
        tl.addWidget(self.table_view)
        self.bottom = QTabWidget()
        self.bottom.setDocumentMode(True)
        self.bottom.addTab(self.plots, "Plots")
        self.bottom.addTab(table_page, "Table")
        self.bottom.addTab(self.compare, "Curves of the selected trials")
        self.bottom.setTabToolTip(0, "Objective by trial, factors against the objective, parameter importance.")
        self.bottom.setTabToolTip(1, "The study's table (the seeds' table for one factor at a time), to export.")
        self.bottom.setTabToolTip(2, "The selected trials' loss and accuracy overlaid, and how their settings differ.")

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.trials)
        self.right_split.addWidget(self.bottom)
        self.right_split.setChildrenCollapsible(False)
        self.right_split.setSizes([260, 440])
        rl = QVBoxLayout(self)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.setSpacing(4)
        rl.addLayout(bar)
        rl.addWidget(self.summary)
        rl.addWidget(self.message)
        rl.addWidget(self.progress)
        rl.addWidget(self.right_split, 1)

    def show_state(self, state: ExperimentsState) -> None:
        """Draw the shown study: trials, progress, summary, plots and the table."""
        plan = state.shown
        factors = [f.key for f in plan.factors] if plan else []
        self.trials.show_rows(state.visible_rows(), factors)
        done, total = state.progress()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} trials")
        self.summary.setText(state.summary())
        self.plots.show_state(state)
        self.table_view.show_table(*state.table())
        if plan is not None and plan.design == "ofat":
            base = html.escape(state.baseline_text())
            self.table_title.setText(f"<b>One factor at a time</b> against the baseline ({base})")
        else:
            self.table_title.setText("<b>One row per trial</b>")

    def set_enabled(self, enabled: dict[str, bool], running: bool) -> None:
        self.continue_button.setEnabled(enabled["continue"])
        self.stop_button.setEnabled(enabled["stop"])
        self.delete_button.setEnabled(enabled["delete"])
        self.csv_button.setEnabled(enabled["export"])
        self.md_button.setEnabled(enabled["export"])
        self.study_box.setEnabled(not running)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_studies(self, studies: list[dict], shown: str | None) -> None:
        """The workspace's studies in the list, the shown one selected."""
        self.study_box.clear()
        for s in studies:
            n = len(s.get("factors") or [])
            self.study_box.addItem(
                f"{s['name']}  ({s.get('design', '?')}, {n} factor{'s' if n != 1 else ''})", s["name"]
            )
        if not studies:
            self.study_box.addItem("No studies yet", None)
        elif shown is None:  # nothing shown: the list must not name a study whose trials are not there
            self.study_box.insertItem(0, f"Choose a study to show ({len(studies)} in this workspace)", None)
        i = self.study_box.findData(shown)
        self.study_box.setCurrentIndex(max(0, i))
