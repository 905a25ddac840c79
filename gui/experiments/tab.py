"""The Experiments tab: set up a study, run it in worker processes, watch its trials, compare, export.

It wires the parts: the state (:mod:`gui.experiments.state`), the setup panel
(:mod:`gui.experiments.setup_page`), the trials table (:mod:`gui.experiments.trials_view`), the
plots (:mod:`gui.experiments.plots`), the shared runs comparison (:mod:`gui.widgets.run_compare`)
and the tasks (:mod:`gui.experiments.tasks`): the study on its own runner (the GUI process never
trains a trial), readings of its storage on another, polled while it runs.

Signals for the main window: ``open_in_gallery(Path run_dir)``, ``train_settings_wanted()`` (answer
with :meth:`set_baseline`), ``status_message(str, int)``.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import atomic, runs
from core.studies import table as study_table
from core.studies.plan import StudyError, StudyPlan
from gui import dialogs
from gui.experiments import tasks
from gui.experiments.plots import StudyPlots
from gui.experiments.setup_page import SetupPanel
from gui.experiments.state import ExperimentsState, Phase
from gui.experiments.trials_view import TrialsView
from gui.settings import AppSettings
from gui.tasks import TaskFailure, TaskSlot
from gui.widgets.run_compare import MAX_RUNS, CompareEntry, RunCompare
from gui.workers import JobRunner

log = logging.getLogger(__name__)
POLL_MS = 1500  # reading the storage while the study runs
SAVED = ("factors", "design", "trials", "time_budget", "objective", "pruner", "jobs", "storage")


class ExperimentsTab(QWidget):
    open_in_gallery = Signal(object)
    train_settings_wanted = Signal()
    status_message = Signal(str, int)
    study_read = Signal()  # a reading of the shown study reached the view (tests wait on it)
    study_ended = Signal()

    def __init__(
        self, settings: AppSettings | None = None, *, workspace: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.workspace = workspace
        self.state = ExperimentsState()
        self._studies: list[dict] = []
        self.reader = tasks.StudyReader(workspace)
        self.study_jobs = JobRunner(self)  # the study: its worker processes, watched
        self.io_jobs = JobRunner(self)  # readings of storages and run folders
        self.study_task = TaskSlot(self.study_jobs, "Running a study", parent=self)
        self.read_task = TaskSlot(self.io_jobs, "Reading a study", parent=self, on_failed=self._read_failed)
        self.list_task = TaskSlot(self.io_jobs, "Listing studies", parent=self, on_done=self._on_listed)
        self.compare_task = TaskSlot(self.io_jobs, "Reading trials' runs", parent=self)
        self.delete_task = TaskSlot(self.io_jobs, "Deleting a study", parent=self)
        self._build_ui()
        self._poll_timer = QTimer(self, interval=POLL_MS)
        self._poll_timer.timeout.connect(self._poll)
        self._restore()
        self._refresh_setup()
        self._listed = False  # the workspace's studies are listed when the tab is first shown

    # ==========================================================================================
    # Construction

    def _build_ui(self) -> None:
        self.setup = SetupPanel()
        self.setup.changed.connect(self._on_setup_changed)
        self.setup.baseline_changed.connect(self._on_baseline_field)
        self.setup.add_factor.connect(self._on_add_factor)
        self.setup.remove_factor.connect(self._on_remove_factor)
        self.setup.open_file.connect(self.open_study_file)
        self.setup.use_train_settings.connect(self.train_settings_wanted)
        self.setup.start.connect(self.start_study)
        scroll = QScrollArea()
        scroll.setWidget(self.setup)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(scroll, 1)
        ll.addWidget(self.setup.footer)

        self.study_box = QComboBox()
        self.study_box.setMinimumWidth(220)
        self.study_box.setToolTip("The studies of this workspace, newest first: pick one to show its trials.")
        self.study_box.activated.connect(lambda _i: self.show_study(self.study_box.currentData()))
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip(
            "Run the shown study's trials that are left (after Stop, closing the app or a crash)."
        )
        self.continue_button.clicked.connect(self.continue_study)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the study: running trials stop within a batch and go back to the queue; Continue runs them later."
        )
        self.stop_button.clicked.connect(self.stop_study)
        self.delete_button = QPushButton("Delete...")
        self.delete_button.setToolTip("Move the shown study and all its trials' runs to the trash (asks first).")
        self.delete_button.clicked.connect(self.delete_study)
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
        self.trials.selection_changed.connect(self._on_selection)
        self.trials.open_trial.connect(self._open_trial)
        self.plots = StudyPlots()
        self.compare = RunCompare()
        self.table_view = QTableWidget()
        self.table_view.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table_view.setAlternatingRowColors(True)
        self.table_view.verticalHeader().hide()
        self.table_view.setToolTip(
            "The study as a table: for one factor at a time, the seeds' table (each row one change against the "
            "baseline, with the difference); otherwise one row per trial."
        )
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setToolTip("Save this table as CSV (for a spreadsheet).")
        self.csv_button.clicked.connect(lambda: self.export_table("csv"))
        self.md_button = QPushButton("Export Markdown...")
        self.md_button.setToolTip("Save this table as a Markdown table (for a report or a README).")
        self.md_button.clicked.connect(lambda: self.export_table("md"))
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
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.setSpacing(4)
        rl.addLayout(bar)
        rl.addWidget(self.summary)
        rl.addWidget(self.message)
        rl.addWidget(self.progress)
        rl.addWidget(self.right_split, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([400, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

    # ==========================================================================================
    # The setup

    @property
    def running(self) -> bool:
        return self.state.phase is not Phase.IDLE

    def set_baseline(self, config: dict, source: str = "the Train tab") -> None:
        """Use ``config`` (a TrainConfig dict) as the baseline of the study being set up."""
        if self.running:
            self.status_message.emit("Stop the study before changing its baseline.", 5000)
            return
        self.state.set_baseline(config, source)
        self._refresh_setup()

    def _on_setup_changed(self, key: str, value) -> None:
        setattr(self.state, key, value)
        self._refresh_setup()

    def _on_baseline_field(self, key: str, value) -> None:
        self.state.set_field(key, value)
        self._refresh_setup()

    def _on_add_factor(self, key: str, values: str) -> None:
        self.state.add_factor(key, values)
        self._refresh_setup()

    def _on_remove_factor(self, key: str) -> None:
        self.state.remove_factor(key)
        self._refresh_setup()

    def open_study_file(self, path: str | Path | None = None) -> None:
        """Fill the setup from a study file (TOML): a ready-made one or the user's."""
        from core.paths import RESOURCES_DIR

        if not path:
            start = self.settings.last_dir("studies", str(RESOURCES_DIR / "studies")) if self.settings else ""
            path, _ = QFileDialog.getOpenFileName(
                self, "Open a study file", start, "Study files (*.toml);;All files (*)"
            )
            if not path:
                return
        try:
            self.state.load_plan_file(path)
        except StudyError as exc:
            self._show_message(str(exc))
            return
        if self.settings is not None:
            self.settings.set_last_dir("studies", str(Path(path).parent))
        self._show_message("")
        self._refresh_setup()

    def _refresh_setup(self) -> None:
        self.preview = self.state.preview()
        self.setup.show_state(self.state, self.preview, self.state.enabled(self.preview))
        self._update_buttons()

    def _update_buttons(self) -> None:
        enabled = self.state.enabled(self.preview)
        self.setup.start_button.setEnabled(enabled["start"])
        self.continue_button.setEnabled(enabled["continue"])
        self.stop_button.setEnabled(enabled["stop"])
        self.delete_button.setEnabled(enabled["delete"])
        self.csv_button.setEnabled(enabled["export"])
        self.md_button.setEnabled(enabled["export"])
        self.study_box.setEnabled(not self.running)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ==========================================================================================
    # Running

    def start_study(self) -> bool:
        """Start the study set up on the left (or continue it when its name and settings match one)."""
        preview = self.state.preview()
        if self.running or not preview.ok or preview.plan is None:
            self._show_message("" if self.running else preview.text)
            return False
        self._run(preview.plan, resume=False)
        return True

    def continue_study(self) -> bool:
        """Run the trials of the shown study that are left."""
        if self.running or self.state.shown is None:
            return False
        self._run(self.state.shown, resume=True)
        return True

    def _run(self, plan: StudyPlan, *, resume: bool) -> None:
        self._show_message("")
        self.state.show_study(plan, None)
        self.state.phase = Phase.RUNNING
        self.reader.forget()
        jobs = self.state.jobs
        self.study_task.start(
            tasks.run_job(plan, jobs, self.workspace, resume=resume),
            on_done=self._study_ended,
            on_cancelled=self._study_ended,
            on_failed=self._study_failed,
        )
        what = "Continuing" if resume else "Starting"
        self.status_message.emit(f"{what} study {plan.name} with {jobs} worker process(es) ...", 6000)
        self._poll_timer.start()
        self._update_buttons()
        self._refresh_setup()
        QTimer.singleShot(500, self._poll)

    def stop_study(self) -> None:
        if self.state.phase is not Phase.RUNNING:
            return
        self.state.phase = Phase.STOPPING
        self.study_task.stop()
        self.status_message.emit("Stopping the study: running trials stop within a batch and are queued again ...", 0)
        self._update_buttons()

    def _study_ended(self, _result=None) -> None:
        stopped = self.state.phase is Phase.STOPPING
        self.state.phase = Phase.IDLE
        self._poll_timer.stop()
        self.status_message.emit("Study stopped; Continue runs what is left." if stopped else "Study finished.", 8000)
        self._read_now(final=True)
        self.refresh_studies()
        self._refresh_setup()

    def _study_failed(self, failure: TaskFailure) -> None:
        self.state.phase = Phase.IDLE
        self._poll_timer.stop()
        log.warning("A study failed: %s\n%s", failure.message, failure.detail)
        shown = self.state.shown
        if shown is not None and shown.name not in self.state.existing and isinstance(failure.error, StudyError):
            self.state.shown, self.state.rows = None, []  # refused before it was made: nothing to show
        self.refresh_studies()
        self._refresh_setup()
        self._show_message(failure.message)
        if self.state.shown is not None:
            self._read_now(final=True)
        else:
            self.study_ended.emit()

    # ==========================================================================================
    # Reading the shown study

    def show_study(self, name: str | None) -> None:
        """Show an existing study's trials (and put its settings in the setup, to continue or vary it)."""
        if not name or self.running:
            return
        entry = next((s for s in self._studies if s.get("name") == name), None)
        if entry is None:
            return
        try:
            plan = StudyPlan.from_dict(entry)
        except (TypeError, ValueError) as exc:
            self._show_message(f"The study {name} cannot be read: {exc}.")
            return
        self._show_message("")
        self.reader.forget()
        self.state.show_study(plan, Path(entry["folder"]))
        self.state.setup_from_plan(plan)
        self._refresh_setup()
        self._read_now()

    def _poll(self) -> None:
        if not self.read_task.running:
            self._read_now()

    def _read_now(self, final: bool = False) -> None:
        plan = self.state.shown
        if plan is None:
            return
        reader, name, storage = self.reader, plan.name, plan.storage
        self.read_task.start(lambda reporter, cancel: reader.read(name, storage), on_done=self._on_read)

    def _read_failed(self, failure: TaskFailure) -> None:
        if self.state.phase is Phase.RUNNING and isinstance(failure.error, StudyError):
            return  # the study is still being created: the next poll finds it
        self._show_message(failure.message)

    def _on_read(self, reading: tasks.Reading) -> None:
        if self.state.shown is None or reading.plan.name != self.state.shown.name:
            return
        self.state.shown_folder = reading.folder
        if reading.plan.name not in self.state.existing and not self.list_task.running:
            self.refresh_studies()  # a new study: list it
        self.state.set_rows(reading.rows)
        if reading.importance is not None:
            self.state.importance = reading.importance
        self._show_study()
        self.study_read.emit()
        if not self.running:
            self.study_ended.emit()

    def _show_study(self) -> None:
        state = self.state
        plan = state.shown
        factors = [f.key for f in plan.factors] if plan else []
        self.trials.show_rows(state.visible_rows(), factors)
        done, total = state.progress()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} trials")
        self.summary.setText(state.summary())
        self.plots.show_state(state)
        header, body = state.table()
        self.table_view.clear()
        self.table_view.setColumnCount(len(header))
        self.table_view.setRowCount(len(body))
        self.table_view.setHorizontalHeaderLabels(header)
        for r, row in enumerate(body):
            for c, text in enumerate(row):
                self.table_view.setItem(r, c, QTableWidgetItem(text))
        self.table_view.resizeColumnsToContents()
        if plan is not None and plan.design == "ofat":
            base = html.escape(state.baseline_text())
            self.table_title.setText(f"<b>One factor at a time</b> against the baseline ({base})")
        else:
            self.table_title.setText("<b>One row per trial</b>")
        self._update_buttons()

    # ==========================================================================================
    # Selection, Gallery, export

    def _on_selection(self, numbers: list[int]) -> None:
        self.state.selected = numbers
        rows = [self.state.row(n) for n in numbers]
        chosen = [(r.number, Path(r.run_dir)) for r in rows if r is not None and r.run_dir][:MAX_RUNS]
        if not chosen:
            self.compare_task.cancel()
            self.compare.set_runs([])
            return
        name = self.state.shown.name if self.state.shown else ""

        def job(reporter, cancel):
            out = []
            for number, path in chosen:
                if not path.is_dir():
                    continue
                info = runs.read_run(path)
                out.append(CompareEntry(path, f"{name} #{number}", runs.read_history(path), info.config, info))
            return out

        self.compare_task.start(job, on_done=self.compare.set_runs)
        if self.bottom.currentWidget() is self.plots and len(chosen) > 0:
            self.bottom.setCurrentWidget(self.compare)

    def _open_trial(self, number: int) -> None:
        row = self.state.row(number)
        if row is None or not row.run_dir or not Path(row.run_dir).is_dir():
            self.status_message.emit(f"Trial {number} has no run folder yet.", 5000)
            return
        if row.state == "running":
            self.status_message.emit(f"Trial {number} is still training; open it when it has finished.", 5000)
            return
        self.open_in_gallery.emit(Path(row.run_dir))

    def export_table(self, kind: str, path: str | Path | None = None) -> Path | None:
        """Save the study's table as CSV or Markdown (written atomically); returns the file."""
        header, body = self.state.table()
        if not header or self.state.shown is None:
            return None
        suffix = ".csv" if kind == "csv" else ".md"
        if path is None:
            start_dir = self.settings.last_dir("exports", str(Path.home())) if self.settings else str(Path.home())
            start = Path(start_dir) / f"{self.state.shown.name}{suffix}"
            filter_text = "CSV files (*.csv)" if kind == "csv" else "Markdown files (*.md)"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export the study's table", str(start), filter_text)
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        text = study_table.to_csv(header, body) if kind == "csv" else study_table.to_markdown(header, body)
        try:
            atomic.write_text(path, text)
        except OSError as exc:
            dialogs.show_error(
                self, "Not saved", f"The table could not be written to {path}: {exc.strerror}.", repr(exc)
            )
            return None
        if self.settings is not None:
            self.settings.set_last_dir("exports", str(path.parent))
        self.status_message.emit(f"Table saved to {path}", 6000)
        return path

    # ==========================================================================================
    # Studies of the workspace: list, delete

    def refresh_studies(self) -> None:
        self._listed = True
        self.list_task.start(tasks.list_job(self.workspace))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._listed:
            self.refresh_studies()

    def _on_listed(self, studies: list[dict]) -> None:
        self._studies = studies
        self.state.existing = {s["name"]: s for s in studies if s.get("name")}
        shown = self.state.shown.name if self.state.shown else None
        self.study_box.clear()
        for s in studies:
            n = len(s.get("factors") or [])
            self.study_box.addItem(
                f"{s['name']}  ({s.get('design', '?')}, {n} factor{'s' if n != 1 else ''})", s["name"]
            )
        if not studies:
            self.study_box.addItem("No studies yet", None)
        i = self.study_box.findData(shown)
        self.study_box.setCurrentIndex(max(0, i))
        self._refresh_setup()

    def confirm_delete(self, name: str, n_runs: int) -> bool:
        """Ask before deleting (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Delete the study?",
            f"Move study {name} and its {n_runs} trial run(s) to the trash? Its trials, table and models go with it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete_study(self) -> None:
        plan = self.state.shown
        if plan is None or self.running:
            return
        n_runs = sum(1 for r in self.state.rows if r.run_dir)
        if not self.confirm_delete(plan.name, n_runs):
            return
        self.read_task.cancel()
        self.reader.forget()

        def deleted(_target) -> None:
            self.state.shown, self.state.rows = None, []
            self.state.name = ""
            self.trials.show_rows([], [])
            self.compare.set_runs([])
            self.plots.show_state(self.state)
            self.summary.setText(self.state.summary())
            self.progress.setValue(0)
            self.status_message.emit(f"Study {plan.name} and its runs were moved to the trash.", 6000)
            self.refresh_studies()

        self.delete_task.start(
            tasks.delete_job(plan.name, self.workspace),
            on_done=deleted,
            on_failed=lambda f: self._show_message(f.message),
        )

    # ==========================================================================================
    # Settings and closing

    def _restore(self) -> None:
        if self.settings is None:
            return
        saved = self.settings.tab_state("experiments")
        try:
            if isinstance(saved.get("baseline"), dict):
                self.state.set_baseline(saved["baseline"], str(saved.get("baseline_source") or "the last session"))
            for key in SAVED:
                if key == "factors" and isinstance(saved.get(key), list):
                    for f in saved[key]:
                        self.state.add_factor(str(f[0]), str(f[1]))
                elif key in saved and key != "factors" and isinstance(saved[key], type(getattr(self.state, key))):
                    setattr(self.state, key, saved[key])
        except (TypeError, ValueError, IndexError, KeyError):
            log.warning("The Experiments tab's saved setup was not usable", exc_info=True)

    def save_settings(self) -> None:
        if self.settings is None:
            return
        values = {key: getattr(self.state, key) for key in SAVED if key != "factors"}
        values["factors"] = [[f.key, f.values] for f in self.state.factors]
        values["baseline"] = self.state.baseline
        values["baseline_source"] = self.state.baseline_source
        self.settings.set_tab_state("experiments", values)
        self.settings.save_splitters({"experiments": self.splitter, "experiments-right": self.right_split})

    def restore_layout(self) -> None:
        if self.settings is not None:
            self.settings.restore_splitters({"experiments": self.splitter, "experiments-right": self.right_split})

    def shutdown(self) -> None:
        """Stop the study (its trials go back to the queue: Continue runs them next time) and the readings."""
        self._poll_timer.stop()
        if self.study_task.running:
            self.study_task.stop()
        for task in (self.read_task, self.list_task, self.compare_task):
            task.cancel()
        self.study_jobs.shutdown(120_000)
        self.io_jobs.shutdown(30_000)
