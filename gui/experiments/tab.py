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

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.studies.plan import StudyError, StudyPlan
from gui.experiments import tasks
from gui.experiments.export import export_table
from gui.experiments.setup_page import SetupPanel
from gui.experiments.state import ExperimentsState, Phase
from gui.experiments.study_view import StudyView
from gui.settings import AppSettings
from gui.tasks import TaskFailure, TaskSlot
from gui.widgets.run_compare import MAX_RUNS
from gui.workers import JobRunner

log = logging.getLogger(__name__)
POLL_MS = 1500  # reading the storage while the study runs


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
        # As narrow as the form allows (no part of it cut off): the rest goes to the trials table.
        scroll.setMinimumWidth(self.setup.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(scroll, 1)
        ll.addWidget(self.setup.footer)

        self.view = StudyView()
        self.view.study_chosen.connect(self.show_study)
        self.view.continue_clicked.connect(self.continue_study)
        self.view.stop_clicked.connect(self.stop_study)
        self.view.delete_clicked.connect(self.delete_study)
        self.view.export_requested.connect(self.export_table)
        self.view.trials.selection_changed.connect(self._on_selection)
        self.view.trials.open_trial.connect(self._open_trial)
        v = self.view  # its parts, as the tab's attributes (tests and the screenshot reach them here)
        self.study_box, self.continue_button, self.stop_button = v.study_box, v.continue_button, v.stop_button
        self.delete_button, self.summary, self.message, self.progress = (
            v.delete_button,
            v.summary,
            v.message,
            v.progress,
        )
        self.trials, self.plots, self.compare, self.bottom = v.trials, v.plots, v.compare, v.bottom
        self.table_view, self.right_split = v.table_view, v.right_split
        right = self.view

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([scroll.minimumWidth(), 10_000])
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
        self.view.set_enabled(enabled, self.running)

    def _show_message(self, text: str) -> None:
        self.view.show_message(text)

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
        self.view.set_studies(self._studies, name)  # the list names the study shown
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
        if not self.running:
            self._refresh_setup()  # what Start would do depends on the trials just read (all run: refused)
        self.study_read.emit()
        if not self.running:
            self.study_ended.emit()

    def _show_study(self) -> None:
        self.view.show_state(self.state)
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
        self.compare_task.start(tasks.compare_job(name, chosen), on_done=self.compare.set_runs)
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
        saved = export_table(self, self.settings, self.state, kind, path)
        if saved is not None:
            self.status_message.emit(f"Table saved to {saved}", 6000)
        return saved

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
        self.view.set_studies(studies, self.state.shown.name if self.state.shown else None)
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
        if self.settings is not None:
            self.state.restore_settings(self.settings.tab_state("experiments"))

    def save_settings(self) -> None:
        if self.settings is None:
            return
        self.settings.set_tab_state("experiments", self.state.settings())
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
