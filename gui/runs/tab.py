"""The Runs tab: every run of the workspace in one table, and several runs side by side.

It wires the parts: the state (:mod:`gui.runs.state`: what is listed, filtered, selected, enabled),
the pages that draw (:mod:`gui.runs.table_page` the filter bar and table, :mod:`gui.runs.compare`
the curves and differences, :mod:`gui.runs.prediction_diff`, :mod:`gui.runs.details`), the actions
(:mod:`gui.runs.actions`), and the tasks. Run folders are read by :func:`core.runs.list_runs` on
the tab's own job runner (no TensorFlow; it never waits behind a training), one :class:`TaskSlot`
per kind of reading, so a newer reading always supersedes an older one; exports go through the
app's runner (one TensorFlow job at a time). New runs appear by themselves: a file-system watcher
on the runs folder, a refresh when the tab is shown, and a poll while a listed run trains.

What the other tabs do with a run is theirs; this tab asks through signals (see :class:`RunsTab`).
Deleting moves runs aside in the workspace (Undo brings them back); when Undo is no longer
possible (the next delete, or closing the app) they go on to the system trash (send2trash).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget

from core import paths, runs
from core.runs import RunInfo
from gui import dialogs
from gui.runs.actions import RunActions
from gui.runs.commands import RunCommands
from gui.runs.compare import MAX_RUNS, CompareEntry, RunCompare
from gui.runs.details import DetailsPage
from gui.runs.format import workspace_label
from gui.runs.prediction_diff import PredictionDiffView
from gui.runs.state import RunsState
from gui.runs.table_model import NAME, NOTE
from gui.runs.table_page import FilterBar, RunsTableView, UndoBar, message_bar
from gui.settings import AppSettings
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner

log = logging.getLogger(__name__)

POLL_MS = 4000  # while a listed run trains and the tab is shown
WATCH_DELAY_MS = 400  # a new run folder gets several files at once: refresh once


def _history_stamp(run_dir: Path) -> tuple[int, int]:
    try:
        st = (run_dir / "history.csv").stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


def read_histories(paths_: list[Path], cache: dict[Path, tuple]) -> dict[Path, tuple]:
    """History rows of each run, re-read only when history.csv changed: {path: (stamp, rows)}."""
    out = {}
    for path in paths_:
        stamp = _history_stamp(path)
        cached = cache.get(path)
        out[path] = cached if cached is not None and cached[0] == stamp else (stamp, runs.read_history(path))
    return out


class RunsTab(RunCommands, QWidget):
    """All runs of the workspace; compare, diff, export, and hand runs to the other tabs.

    The action handlers (rename, delete, export, resume ...) are in :class:`gui.runs.commands.RunCommands`.

    Signals for the main window to connect (this tab never does another tab's work):

    * ``open_in_gallery(Path run_dir)``: show the run's test images in the Gallery tab.
    * ``open_in_predict(Path model_path)``: use the run's model (``model.keras``) in the Predict tab.
    * ``train_again(dict config)``: put the run's settings (a ``TrainConfig.to_dict()``) in the Train tab.
    * ``continue_run(Path run_dir, int extra_epochs)``: train a finished run for more epochs.
    * ``resume_run(Path run_dir)``: resume an interrupted or stopped run from its last complete epoch.
    * ``status_message(str, int)``: text for the status bar and how long (ms, 0 = until replaced).
    """

    open_in_gallery = Signal(object)
    open_in_predict = Signal(object)
    train_again = Signal(dict)
    continue_run = Signal(object, int)
    resume_run = Signal(object)
    status_message = Signal(str, int)
    refreshed = Signal()  # the table took in a new reading of the workspace
    compared = Signal()  # the comparison shows the selected runs' curves

    def __init__(
        self,
        jobs: JobRunner,
        settings: AppSettings | None = None,
        *,
        workspace: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.settings = settings
        self.workspace = workspace
        self.state = RunsState()
        self.io_jobs = JobRunner(self)  # reading runs: never queued behind a training
        self.last_scan_s = 0.0
        self.resume_prompt = None
        self.export_dialogs: list = []
        self._histories: dict[Path, tuple] = {}
        self._shutting_down = False
        # One slot per kind of reading: a newer one supersedes the older (the old rescan flags).
        self.scan_task = TaskSlot(self.io_jobs, "Reading runs", parent=self, on_failed=self._on_scan_failed)
        self.poll_task = TaskSlot(self.io_jobs, "Reading training runs", parent=self, on_done=self._on_polled)
        self.history_task = TaskSlot(self.io_jobs, "Reading histories", parent=self)
        self.interrupted_task = TaskSlot(self.io_jobs, "Looking for interrupted runs", parent=self)

        self.actions_ = RunActions(self)
        for name, action in self.actions_.actions.items():
            setattr(self, f"{name}_action", action)
        self._build_ui()

        self._selection_timer = QTimer(self, singleShot=True, interval=120)
        self._selection_timer.timeout.connect(self._selection_settled)
        self._watch_timer = QTimer(self, singleShot=True, interval=WATCH_DELAY_MS)
        self._watch_timer.timeout.connect(self._on_watched_change)
        self._poll_timer = QTimer(self, interval=POLL_MS)
        self._poll_timer.timeout.connect(self._poll)
        self._deferred_timer = QTimer(self, singleShot=True, interval=800)
        self._deferred_timer.timeout.connect(self._apply_deferred)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _p: self._watch_timer.start())
        self._watch_workspace()
        self._update_actions()

    def _build_ui(self) -> None:
        self.filter_bar = FilterBar(self.refresh_action)
        self.filter_bar.filter_changed.connect(self._filter_changed)
        self.filter_edit, self.count_label = self.filter_bar.edit, self.filter_bar.count_label
        self.toolbar = self.actions_.toolbar

        self.interrupted_bar, self.interrupted_label = message_bar()
        review = QPushButton("Review...")
        review.setToolTip("Choose which interrupted runs to resume from their last complete epoch.")
        review.clicked.connect(lambda: self.check_interrupted(quiet=False))
        self.interrupted_bar.layout().addWidget(review)
        self.undo_bar = UndoBar()
        self.undo_label = self.undo_bar.label
        self.undo_bar.undo_requested.connect(self.undo_delete)
        self.undo_bar.show_trash_requested.connect(self.show_trash)

        self.table = RunsTableView(self.state)
        self.model, self.proxy = self.table.model_, self.table.proxy
        self.model.write_failed.connect(lambda m, d: dialogs.show_error(self, "Not saved", m, d))
        self.model.meta_changed.connect(self._on_meta_changed)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_timer.start())
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.horizontalHeader().sortIndicatorChanged.connect(
            lambda _column, order: self.state.set_sort(
                self.table.sort_column_id(), order == Qt.SortOrder.DescendingOrder
            )
        )

        self.compare = RunCompare()
        self.diff = PredictionDiffView(self.io_jobs)
        self.details = DetailsPage()
        self.bottom = QTabWidget()
        self.bottom.setDocumentMode(True)
        self.bottom.addTab(self.compare, "Curves and differences")
        self.bottom.addTab(self.diff, "Prediction diff")
        self.bottom.addTab(self.details, "Details")
        self.bottom.setTabToolTip(0, "The selected runs' loss and accuracy overlaid, and how their settings differ.")
        self.bottom.setTabToolTip(1, "Two selected runs: the test images one gets right and the other wrong.")
        self.bottom.setTabToolTip(2, "Everything about the selected run: files, problems, settings.")
        self.bottom.currentChanged.connect(lambda _i: self._update_diff())

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.bottom)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([320, 480])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        for widget in (self.filter_bar, self.toolbar, self.interrupted_bar, self.undo_bar):
            layout.addWidget(widget)
        layout.addWidget(self.splitter, 1)
        self.interrupted_bar.hide()
        self.undo_bar.hide()
        self._update_count()

    @property
    def loaded(self) -> bool:
        return self.state.loaded

    @property
    def scans(self) -> int:
        return self.state.scans

    @property
    def trashed(self) -> list[tuple[Path, Path]]:
        return self.state.trashed

    # ==============================================================================================
    # Reading the workspace

    def refresh(self) -> None:
        """Read the workspace again (in a worker); a reading still under way is superseded."""
        if self._shutting_down:
            return
        self.state.stale = False
        workspace, started = self.workspace, time.perf_counter()
        self.scan_task.start(
            lambda reporter, cancel: runs.list_runs(workspace),
            on_done=lambda rows: self._on_scanned(rows, time.perf_counter() - started),
        )

    def _on_scan_failed(self, failure: TaskFailure) -> None:
        log.error("Reading the runs failed: %s\n%s", failure.message, failure.detail)
        self.count_label.setText("The workspace could not be read.")
        dialogs.show_error(
            self, "Cannot read the runs", f"{failure.message} Check that the workspace folder exists.", failure.detail
        )

    def _on_scanned(self, rows: list[RunInfo], seconds: float) -> None:
        self.last_scan_s = seconds
        if self.table.editing():
            # Never pull the table out from under an open editor: take the new rows in when it closes.
            self.state.pending = rows
            self._deferred_timer.start()
        else:
            self.set_rows(rows)

    def _apply_deferred(self) -> None:
        if self.state.pending is None:
            return
        if self.table.editing():
            self._deferred_timer.start()
            return
        self.set_rows(self.state.pending)

    def set_rows(self, rows: list[RunInfo]) -> None:
        """Show ``rows`` (a reading of the workspace), keeping selection, sort and scroll position."""
        self.state.set_runs(rows)
        self.table.show_runs(self.state.runs, self.state.diff_keys)
        self._update_count()
        self._update_interrupted_bar()
        self._update_actions()
        self._watch_workspace()
        if self.state.running() and self.isVisible():
            self._poll_timer.start()
        else:
            self._poll_timer.stop()
        self._selection_timer.start()
        self.refreshed.emit()

    def _watch_workspace(self) -> None:
        root = paths.runs_dir(self.workspace)
        wanted = [str(p) for p in (root, root.parent) if p.is_dir()][:1]
        watched = self.watcher.directories()
        if watched != wanted:
            if watched:
                self.watcher.removePaths(watched)
            if wanted:
                self.watcher.addPaths(wanted)

    def _on_watched_change(self) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self.state.stale = True

    def _poll(self) -> None:
        """While runs train: re-read just those (a whole scan would compete with the training for the CPU)."""
        training = self.state.running()
        if not training:
            self._poll_timer.stop()
            return
        if self.isVisible() and not self.scan_task.running:
            self.poll_task.start(lambda reporter, cancel: [runs.read_run(path) for path in training])

    def _on_polled(self, rows: list[RunInfo]) -> None:
        if self.table.editing():
            return
        if any(row.state != "running" for row in rows):  # it ended: its results may change the columns
            self.refresh()
            return
        for row in rows:
            self.state.update_run(row)
            self.model.update_row(row)
        self.proxy.refilter()
        self._selection_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self.state.stale or not self.state.loaded:
            self.refresh()
        elif self.state.running():
            self._poll_timer.start()
        focus = QGuiApplication.focusObject()
        if not (isinstance(focus, QWidget) and self.isAncestorOf(focus)):
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)
        self._poll_timer.stop()

    # ==============================================================================================
    # Filter, selection

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def set_filter(self, text: str, state: str = "all") -> None:
        self.filter_bar.set_filter(text, state)

    def _filter_changed(self, text: str, state: str) -> None:
        self.proxy.set_filter(text, state)
        self._update_count()
        self._selection_timer.start()

    def _update_count(self) -> None:
        self.count_label.setToolTip(f"Runs folder: {paths.runs_dir(self.workspace)}")
        self.count_label.setText(self.state.count_text(self.proxy.rowCount(), workspace_label(self.workspace)))

    def selected_rows(self) -> list[RunInfo]:
        return self.table.selected_rows()

    def selected_paths(self) -> list[Path]:
        return self.table.selected_paths()

    def select_paths(self, paths_: list[Path], current: Path | None = None) -> None:
        self.table.select_paths(paths_, current)

    def _selection_settled(self) -> None:
        self.state.select(self.table.selected_paths())
        self._update_actions()
        rows = self.state.selected()
        self.details.show_runs(rows)
        self._update_compare(rows)
        self._update_diff()

    def _update_actions(self) -> None:
        one = self.state.one()
        self.actions_.update(self.state.enabled(), self.state.resume_text(), one is not None and not one.has_evaluation)

    # ==============================================================================================
    # The bottom: curves, differences, diff

    def _update_compare(self, rows: list[RunInfo]) -> None:
        if not rows:
            self.history_task.cancel()
            self.state.needs_compare(())
            self.compare.set_runs([])
            self.compared.emit()
            return
        to_read = [r.path for r in rows[:MAX_RUNS]]  # more are listed in the table of differences, not drawn
        snapshot = dict(self._histories)
        self.history_task.start(
            lambda reporter, cancel: read_histories(to_read, snapshot),
            on_done=lambda histories: self._on_histories(rows, histories),
        )

    def _on_histories(self, rows: list[RunInfo], histories: dict[Path, tuple]) -> None:
        self._histories.update(histories)
        none = ((0, -1), [])
        key = self.state.compare_key(rows, {p: h[0] for p, h in histories.items()})
        if self.state.needs_compare(key):
            self.compare.set_runs(
                [CompareEntry(r.path, r.label, histories.get(r.path, none)[1], r.config, r) for r in rows]
            )
        self.compared.emit()

    def _update_diff(self) -> None:
        if self.bottom.currentWidget() is not self.diff:
            return
        pair = self.state.diff_pair()
        if pair is None:
            self.diff.clear(
                "Select exactly two runs (Ctrl+click) that were tested on the same images to see which test images "
                f"one gets right and the other wrong. ({len(self.state.selected())} selected.)"
            )
            return
        a, b = pair
        missing = [r for r in (a, b) if not r.has_evaluation]
        if missing:
            names = " and ".join(f"'{r.label}'" for r in missing)
            self.diff.clear(
                f"Run {names} has no test-set evaluation (it did not finish, or its files are damaged), so there are "
                "no predictions to compare. Open it in the Gallery to evaluate it."
            )
            return
        if self.diff.is_current(a.path, b.path):
            return  # the same pair (perhaps swapped by hand), evaluations unchanged: keep it
        self.diff.compare(a.path, b.path, a.label, b.label)

    def show_diff(self) -> None:
        self.bottom.setCurrentWidget(self.diff)
        self._update_diff()

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), index.parent()):
            self.table.selectRow(index.row())
            self._selection_settled()
        self.context_menu = self.actions_.menu(self)
        self.context_menu.popup(self.table.viewport().mapToGlobal(pos))

    def _double_clicked(self, index) -> None:
        column = self.proxy.mapToSource(index).column()
        if self.model.columns[column] not in (NAME, NOTE):
            self.bottom.setCurrentWidget(self.details)

    def _on_meta_changed(self, path: Path) -> None:
        self.state.changed(path)
        self._selection_timer.start()

    # ==============================================================================================
    # Settings and closing

    def _update_interrupted_bar(self) -> None:
        n = self.state.interrupted()
        if n:
            self.interrupted_label.setText(
                f"<b>{n} interrupted run{'s' if n != 1 else ''}</b>: the app or the computer stopped during "
                f"training. {'They' if n != 1 else 'It'} can go on from the last complete epoch."
            )
        self.interrupted_bar.setVisible(bool(n))

    def _splitters(self) -> dict[str, QSplitter]:
        return {"runs": self.splitter, "runs-compare": self.compare.splitter}

    def save_settings(self) -> None:
        if self.settings is not None:
            self.settings.save_splitters(self._splitters())

    def restore_layout(self) -> None:
        if self.settings is not None:
            self.settings.restore_splitters(self._splitters())

    def shutdown(self) -> None:
        """Stop timers and reading jobs; runs deleted this session go on to the system trash."""
        self._shutting_down = True
        for timer in (self._selection_timer, self._watch_timer, self._poll_timer, self._deferred_timer):
            timer.stop()
        for task in (self.scan_task, self.poll_task, self.history_task, self.interrupted_task):
            task.cancel()
        self.io_jobs.shutdown(30_000)
        self.diff.shutdown()
        self.send_to_system_trash(self.state.deleted([]))

    def send_to_system_trash(self, trashed: list[Path]) -> None:
        """Runs whose Undo is gone leave the workspace for the system trash (they stay if it has none)."""
        for path in trashed:
            try:
                runs.send_to_system_trash(path)
            except OSError:
                log.warning("Run %s stays in the workspace's trash folder", path, exc_info=True)
