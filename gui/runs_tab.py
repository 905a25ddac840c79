"""The Runs tab: every run of the workspace in one table, and several runs side by side.

Top, the table (:mod:`gui.widgets.runs_table`): date, dataset, model, parameters, the settings that
differ between the listed runs, epochs, best validation and test accuracy, time and state; sortable,
filterable (Ctrl+F: words or ``setting=value``), names and notes editable (F2, Ctrl+Shift+N), runs
deletable to the workspace's trash with Undo (Delete, Ctrl+Z). Bottom, for the selected runs: their
curves overlaid with a table of differences (:mod:`gui.widgets.run_compare`), the prediction diff of
two runs in the gallery's grid (:mod:`gui.widgets.prediction_diff`), and the details of one run,
damaged files included, with what still works.

Reading run folders and histories happens on the tab's own job runner (no TensorFlow; it never
waits behind a training); exports go through the app's runner (one TensorFlow job at a time). New
runs appear by themselves: a file-system watcher on the runs folder, a refresh when the tab is
shown, and a poll every few seconds while a listed run is training.

What the other tabs do with a run is theirs; this tab asks through signals (see :class:`RunsTab`).
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QItemSelection, QItemSelectionModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import paths, runs
from core.errors import WorkbenchError
from gui import dialogs
from gui.settings import AppSettings
from gui.widgets.prediction_diff import PredictionDiffView
from gui.widgets.run_compare import MAX_RUNS, CompareEntry, RunCompare
from gui.widgets.runs_table import (
    NAME,
    NOTE,
    STATE_COLORS,
    STATE_FILTERS,
    RowRole,
    RunRow,
    RunsFilterProxy,
    RunsTableModel,
    format_duration,
    format_percent,
    format_setting,
    parse_history,
    read_row,
    scan_runs,
    setting_label,
    workspace_label,
)
from gui.workers import JobRunner, run_in_thread

POLL_MS = 4000  # while a listed run trains and the tab is shown
WATCH_DELAY_MS = 400  # a new run folder gets several files at once: refresh once
MAX_COLUMN_WIDTH = 240


def _history_stamp(run_dir: Path) -> tuple[int, int]:
    try:
        st = (run_dir / "history.csv").stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


def read_histories(rows: list[RunRow], cache: dict[Path, tuple]) -> dict[Path, tuple]:
    """History rows of each run (re-read only when history.csv changed): {path: (stamp, rows)}.

    Read as the table reads them (:func:`parse_history`): a damaged line ends the curves.
    """
    out = {}
    for row in rows:
        stamp = _history_stamp(row.path)
        cached = cache.get(row.path)
        if cached is not None and cached[0] == stamp:
            out[row.path] = cached
            continue
        try:
            history, _damaged = parse_history((row.path / "history.csv").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            history = []
        out[row.path] = (stamp, history)
    return out


class RunsTab(QWidget):
    """All runs of the workspace; compare, diff, export, and hand runs to the other tabs.

    Signals for the main window to connect (this tab never does another tab's work):

    * ``open_in_gallery(Path run_dir)``: show the run's test images in the Gallery tab.
    * ``open_in_predict(Path model_path)``: use the run's model (``model.keras``) in the Predict tab.
    * ``train_again(dict config)``: put the run's settings (a ``TrainConfig.to_dict()``) in the Train tab.
    * ``continue_run(Path run_dir, int extra_epochs)``: train a finished run for more epochs
      (``core.training.resume_run(run_dir, ..., extra_epochs=n)``) in the Train tab.
    * ``resume_run(Path run_dir)``: resume an interrupted or stopped run from its last complete epoch
      (``core.training.resume_run(run_dir, ...)``); after the crash prompt, once per chosen run.
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
        self.io_jobs = JobRunner(self)  # reading runs: never queued behind a training
        self.loaded = False
        self.scans = 0  # how many readings of the workspace the table took in
        self.last_scan_s = 0.0
        self.trashed: list[tuple[Path, Path]] = []  # (where it was, where it is in the trash), last delete
        self.resume_prompt = None
        self.export_dialogs: list = []
        self._scan_running = False
        self._scan_again = False
        self._stale = True
        self._pending_rows: list[RunRow] | None = None
        self._histories: dict[Path, tuple] = {}
        self._compare_key: tuple | None = None
        self._columns_sized: tuple | None = None
        self._shutting_down = False

        self._build_actions()
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

    # ==============================================================================================
    # Construction

    def _action(self, text: str, tip: str, slot, shortcut=None, icon: QStyle.StandardPixmap | None = None) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.refresh_action = self._action(
            "&Refresh", "Read the workspace again", self.refresh, QKeySequence.StandardKey.Refresh, sp.SP_BrowserReload
        )
        self.filter_action = self._action(
            "&Filter", "Filter the runs", self.focus_filter, QKeySequence.StandardKey.Find
        )
        self.rename_action = self._action("Re&name", "Rename the run (its folder keeps its name)", self.rename, "F2")
        self.note_action = self._action("&Note...", "Write a note about the run", self.edit_note, "Ctrl+Shift+N")
        self.delete_action = self._action(
            "&Delete...",
            "Move the selected runs to the workspace's trash folder, after asking",
            self.delete_selected,
            QKeySequence.StandardKey.Delete,
            sp.SP_TrashIcon,
        )
        self.undo_action = self._action(
            "&Undo delete",
            "Bring the runs just deleted back from the trash",
            self.undo_delete,
            QKeySequence.StandardKey.Undo,
        )
        self.gallery_action = self._action(
            "Open in &Gallery", "Browse the run's test images and its mistakes in the Gallery tab", self.open_gallery
        )
        self.predict_action = self._action(
            "Open in &Predict", "Use the run's model on your own images in the Predict tab", self.open_predict
        )
        self.train_again_action = self._action(
            "&Train again...",
            "Put this run's settings in the Train tab, to train again or change one",
            self.retrain,
        )
        self.continue_action = self._action(
            "&Continue training...",
            "Train this finished run for more epochs, from where it ended",
            self.continue_training,
        )
        self.resume_action = self._action(
            "Re&sume", "Go on from the last complete epoch of an interrupted or stopped run", self.resume
        )
        self.mark_stopped_action = self._action(
            "Mark as st&opped", "Stop asking about this interrupted run (it stays resumable)", self.mark_stopped
        )
        self.export_action = self._action(
            "&Export model...", "Export the run's model as .keras, SavedModel or TensorFlow Lite", self.export, "Ctrl+E"
        )
        self.diff_action = self._action(
            "Compare &predictions", "Which test images one of two runs gets right and the other wrong", self.show_diff
        )
        self.folder_action = self._action(
            "Show &folder", "Open the run folder in your file manager", self.show_folder, icon=sp.SP_DirOpenIcon
        )
        self.copy_path_action = self._action("Copy &path", "Copy the run folder's path", self.copy_path)

    def _build_ui(self) -> None:
        # -- filter bar ---------------------------------------------------------------------------------
        self.filter_edit = QLineEdit()
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setPlaceholderText("Filter (Ctrl+F): words or setting=value, e.g.  mnist optimizer=sgd")
        self.filter_edit.setToolTip(
            "Shows the runs whose name, dataset, model, note or state contain every word; "
            "'optimizer=sgd', 'batch_size=256' or 'augment_flip=on' match a setting."
        )
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.state_combo = QComboBox()
        for key, text in STATE_FILTERS:
            self.state_combo.addItem(text, key)
        self.state_combo.setToolTip("Show only runs in one state, or those with damaged files.")
        self.state_combo.currentIndexChanged.connect(self._filter_changed)
        self.count_label = QLabel()
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        refresh = QToolButton()
        refresh.setDefaultAction(self.refresh_action)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter_edit, 3)
        bar.addWidget(self.state_combo)
        bar.addWidget(self.count_label, 2)
        bar.addWidget(refresh)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.rename_action,
            self.note_action,
            self.delete_action,
            None,
            self.gallery_action,
            self.predict_action,
            self.diff_action,
            None,
            self.train_again_action,
            self.continue_action,
            self.resume_action,
            None,
            self.export_action,
            self.folder_action,
        ):
            if action is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(action)

        # -- message bars -----------------------------------------------------------------------------------
        self.interrupted_bar, self.interrupted_label = self._message_bar()
        review = QPushButton("Review...")
        review.setToolTip("Choose which interrupted runs to resume from their last complete epoch.")
        review.clicked.connect(lambda: self.check_interrupted(quiet=False))
        self.interrupted_bar.layout().addWidget(review)
        self.undo_bar, self.undo_label = self._message_bar()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring the runs back from the trash (Ctrl+Z).")
        self.undo_button.clicked.connect(self.undo_delete)
        trash = QPushButton("Show trash folder")
        trash.setToolTip("Open the workspace's trash folder; empty it there to free the disk space.")
        trash.clicked.connect(self.show_trash)
        hide = QToolButton()
        hide.setText("✕")
        hide.setAutoRaise(True)
        hide.setToolTip("Hide this message (the runs stay in the trash).")
        hide.clicked.connect(self.undo_bar.hide)
        for w in (self.undo_button, trash, hide):
            self.undo_bar.layout().addWidget(w)

        # -- table ------------------------------------------------------------------------------------------
        self.model = RunsTableModel(self)
        self.model.write_failed.connect(lambda m, d: dialogs.show_error(self, "Not saved", m, d))
        self.model.meta_changed.connect(self._on_meta_changed)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setResizeContentsPrecision(60)  # sizing columns to their contents looks at 60 rows, not all
        self.table.sortByColumn(self.model.column_of("date"), Qt.SortOrder.DescendingOrder)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.setToolTip("")
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_timer.start())
        self.table.doubleClicked.connect(self._double_clicked)

        # -- bottom: compare, diff, details ----------------------------------------------------------------
        self.compare = RunCompare()
        self.diff = PredictionDiffView(self.io_jobs)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(lambda url: QDesktopServices.openUrl(url))
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
        layout.addLayout(bar)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.interrupted_bar)
        layout.addWidget(self.undo_bar)
        layout.addWidget(self.splitter, 1)
        self.interrupted_bar.hide()
        self.undo_bar.hide()
        self._update_count()

    def _message_bar(self) -> tuple[QFrame, QLabel]:
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

    # ==============================================================================================
    # Reading the workspace

    def refresh(self) -> None:
        """Read the workspace again (in a worker); the table is updated when the reading is done."""
        if self._shutting_down:
            return
        if self._scan_running:
            self._scan_again = True
            return
        self._scan_running = True
        self._stale = False
        workspace = self.workspace
        started = time.perf_counter()

        def job(reporter, cancel):
            return scan_runs(workspace)

        run_in_thread(
            self.io_jobs,
            job,
            name="Reading runs",
            key="scan",
            context=self,
            on_finished=lambda rows: self._on_scanned(rows, time.perf_counter() - started),
            on_failed=self._on_scan_failed,
            on_cancelled=lambda _r: self._scan_done(),
        )

    def _scan_done(self) -> None:
        self._scan_running = False
        if self._scan_again and not self._shutting_down:
            self._scan_again = False
            self.refresh()

    def _on_scan_failed(self, message: str, detail: str) -> None:
        self._scan_done()
        self.count_label.setText("The workspace could not be read.")
        dialogs.show_error(self, "Cannot read the runs", f"{message} Check that the workspace folder exists.", detail)

    def _on_scanned(self, rows: list[RunRow], seconds: float) -> None:
        self.last_scan_s = seconds
        if self.table.state() == QAbstractItemView.State.EditingState:
            # Never pull the table out from under an open editor: take the new rows in when it closes.
            self._pending_rows = rows
            self._deferred_timer.start()
        else:
            self.set_rows(rows)
        self._scan_done()

    def _apply_deferred(self) -> None:
        if self._pending_rows is None:
            return
        if self.table.state() == QAbstractItemView.State.EditingState:
            self._deferred_timer.start()
            return
        rows, self._pending_rows = self._pending_rows, None
        self.set_rows(rows)

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show ``rows`` (what :func:`scan_runs` returned), keeping selection, sort and scroll position."""
        selected = self.selected_paths()
        current = self.current_row()
        current_path = current.path if current is not None else None
        sort_id = self._sort_column_id()
        order = self.table.horizontalHeader().sortIndicatorOrder()
        scroll = self.table.verticalScrollBar().value()
        columns_before = self.model.columns

        self.model.set_rows(rows)
        shown = self.proxy.source_columns()
        keep_sort = sort_id in self.model.columns and self.model.column_of(sort_id) in shown
        self.proxy.refilter(sort=not keep_sort)
        if keep_sort:
            self.table.sortByColumn(shown.index(self.model.column_of(sort_id)), order)
        if self.model.columns != columns_before or self._columns_sized is None:
            self._size_columns()
        self.select_paths(selected, current_path)
        self.table.verticalScrollBar().setValue(scroll)

        self.loaded = True
        self.scans += 1
        self._update_count()
        self._update_interrupted_bar()
        self._update_actions()
        self._watch_workspace()
        if any(r.state == "running" for r in rows) and self.isVisible():
            self._poll_timer.start()
        else:
            self._poll_timer.stop()
        self._selection_timer.start()
        self.refreshed.emit()

    def _sort_column_id(self) -> str | None:
        column = self.table.horizontalHeader().sortIndicatorSection()
        shown = self.proxy.source_columns()
        return self.model.columns[shown[column]] if 0 <= column < len(shown) else None

    def _size_columns(self) -> None:
        """Fit the columns to their contents, measured from the texts (QTableView's own
        resizeColumnsToContents asks the model for every role of every cell: 60 % of showing 200 runs)."""
        header = self.table.horizontalHeader()
        cell_metrics = self.table.fontMetrics()
        head_metrics = header.fontMetrics()
        icon = self.table.iconSize().width() if self.table.iconSize().isValid() else 16
        for proxy_column, column in enumerate(self.proxy.source_columns()):
            texts = self.model.column_texts(column)
            widest = max((cell_metrics.horizontalAdvance(t) for t in texts), default=0) + 14
            if self.model.columns[column] in (NAME, "state"):
                widest += max(icon, 16) + 6
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal) or "")
            widest = max(widest, head_metrics.horizontalAdvance(title) + 28)  # room for the sort arrow
            header.resizeSection(proxy_column, min(max(widest, 48), MAX_COLUMN_WIDTH))
        self._columns_sized = tuple(self.model.columns)

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
            self._stale = True

    def _poll(self) -> None:
        """While runs train: re-read just those (a whole scan would compete with the training for the CPU)."""
        training = [r.path for r in self.model.rows if r.state == "running"]
        if not training:
            self._poll_timer.stop()
            return
        if not self.isVisible() or self._scan_running:
            return

        def job(reporter, cancel):
            return [read_row(path) for path in training]

        run_in_thread(
            self.io_jobs, job, name="Reading training runs", key="poll", context=self, on_finished=self._on_polled
        )

    def _on_polled(self, rows: list[RunRow]) -> None:
        if self.table.state() == QAbstractItemView.State.EditingState:
            return
        for row in rows:
            if row.state != "running":  # it ended: its results may change the columns, read everything
                self.refresh()
                return
        for row in rows:
            self.model.update_row(row)
        self.proxy.refilter()
        self._selection_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale or not self.loaded:
            self.refresh()
        elif any(r.state == "running" for r in self.model.rows):
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
        self.filter_edit.setText(text)
        index = self.state_combo.findData(state)
        self.state_combo.setCurrentIndex(max(0, index))

    def _filter_changed(self, *args) -> None:
        self.proxy.set_text(self.filter_edit.text())
        self.proxy.set_state(self.state_combo.currentData() or "all")
        self._update_count()
        self._selection_timer.start()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        where = workspace_label(self.workspace)
        self.count_label.setToolTip(f"Runs folder: {paths.runs_dir(self.workspace)}")
        if not self.loaded:
            self.count_label.setText("Reading the runs ...")
        elif total == 0:
            self.count_label.setText(f"No runs yet in {where}: each training run appears here.")
        elif shown == total:
            damaged = sum(1 for r in self.model.rows if r.problems)
            extra = f", {damaged} with problems" if damaged else ""
            self.count_label.setText(f"{total} run{'s' if total != 1 else ''}{extra}")
        else:
            self.count_label.setText(f"{shown} of {total} runs shown")

    def selected_rows(self) -> list[RunRow]:
        """The selected runs, in the order the table shows them."""
        indexes = sorted(self.table.selectionModel().selectedRows(0), key=lambda i: i.row())
        return [i.data(RowRole) for i in indexes if i.data(RowRole) is not None]

    def selected_paths(self) -> list[Path]:
        return [r.path for r in self.selected_rows()]

    def current_row(self) -> RunRow | None:
        rows = self.selected_rows()
        if len(rows) == 1:
            return rows[0]
        index = self.table.currentIndex()
        row = index.data(RowRole) if index.isValid() else None
        return row if row is not None and row.path in {r.path for r in rows} else (rows[0] if rows else None)

    def select_paths(self, paths_: list[Path], current: Path | None = None) -> None:
        """Select these runs (those that are listed); ``current`` gets the focus."""
        selection = QItemSelection()
        last_column = self.proxy.columnCount() - 1
        current_index = None
        for path in paths_:
            src = self.model.row_of(Path(path))
            if src < 0:
                continue
            first = self.proxy.mapFromSource(self.model.index(src, 0))
            if not first.isValid():
                continue
            selection.select(first, self.proxy.index(first.row(), max(0, last_column)))
            if current_index is None or (current is not None and Path(path) == Path(current)):
                current_index = first
        sm = self.table.selectionModel()
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if current_index is not None:
            sm.setCurrentIndex(current_index, QItemSelectionModel.SelectionFlag.NoUpdate)

    def _selection_settled(self) -> None:
        self._update_actions()
        rows = self.selected_rows()
        self._show_details(rows)
        self._update_compare(rows)
        self._update_diff()

    # ==============================================================================================
    # The bottom: curves, differences, diff, details

    def _update_compare(self, rows: list[RunRow]) -> None:
        if not rows:
            self._compare_key = ()
            self.compare.set_runs([])
            self.compared.emit()
            return
        to_read = rows[:MAX_RUNS]  # more are listed in the table of differences, not drawn
        snapshot = dict(self._histories)

        def job(reporter, cancel):
            return read_histories(to_read, snapshot)

        run_in_thread(
            self.io_jobs,
            job,
            name="Reading histories",
            key="histories",
            context=self,
            on_finished=lambda histories: self._on_histories(rows, histories),
        )

    def _on_histories(self, rows: list[RunRow], histories: dict[Path, tuple]) -> None:
        self._histories.update(histories)
        if [r.path for r in rows] != self.selected_paths():
            return  # the selection moved on; its own reading is on its way
        none = ((0, -1), [])
        key = tuple(
            (r.path, histories.get(r.path, none)[0], r.label, r.state, r.best_val, r.test_accuracy, r.seconds)
            + (r.epochs_done,)
            for r in rows
        )
        if key != self._compare_key:
            self._compare_key = key
            entries = [CompareEntry(r.path, r.label, histories.get(r.path, none)[1], r.config, r) for r in rows]
            self.compare.set_runs(entries)
        self.compared.emit()

    def _diff_pair(self) -> tuple[RunRow, RunRow] | None:
        rows = self.selected_rows()
        if len(rows) != 2:
            return None
        a, b = rows
        # The older run is A (the first), the newer B: "what did the change fix, what did it break".
        if (a.started and b.started and a.started > b.started) or (not a.started and b.started):
            a, b = b, a
        return a, b

    def _update_diff(self) -> None:
        if self.bottom.currentWidget() is not self.diff:
            return
        pair = self._diff_pair()
        if pair is None:
            n = len(self.selected_rows())
            self.diff.clear(
                "Select exactly two runs (Ctrl+click) that were tested on the same images to see which test images "
                f"one gets right and the other wrong. ({n} selected.)"
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
        if (self.diff.run_a, self.diff.run_b) in ((a.path, b.path), (b.path, a.path)) and (
            self.diff.diff is not None or self.diff.loading
        ):
            return  # the same pair (perhaps swapped by hand): keep it
        self.diff.compare(a.path, b.path, a.label, b.label)

    def show_diff(self) -> None:
        self.bottom.setCurrentWidget(self.diff)
        self._update_diff()

    def _show_details(self, rows: list[RunRow]) -> None:
        if not rows:
            self.details.setHtml("<p><i>Select a run to see its details.</i></p>")
        elif len(rows) > 1:
            items = "".join(f"<li>{html.escape(r.label)} ({html.escape(r.state)})</li>" for r in rows[:30])
            more = f"<li>... and {len(rows) - 30} more</li>" if len(rows) > 30 else ""
            self.details.setHtml(f"<p><b>{len(rows)} runs selected</b></p><ul>{items}{more}</ul>")
        else:
            self.details.setHtml(details_html(rows[0]))

    # ==============================================================================================
    # Actions

    def _update_actions(self) -> None:
        rows = self.selected_rows()
        one = rows[0] if len(rows) == 1 else None
        self.rename_action.setEnabled(one is not None)
        self.note_action.setEnabled(one is not None)
        self.delete_action.setEnabled(bool(rows) and all(r.state != "running" for r in rows))
        self.undo_action.setEnabled(bool(self.trashed))
        self.gallery_action.setEnabled(one is not None and one.has_evaluation)
        self.predict_action.setEnabled(one is not None and one.has_model)
        self.export_action.setEnabled(one is not None and one.has_model)
        self.train_again_action.setEnabled(one is not None and bool(one.config))
        self.continue_action.setEnabled(one is not None and one.can_continue)
        self.resume_action.setEnabled(one is not None and one.can_resume)
        self.mark_stopped_action.setEnabled(bool(rows) and all(r.state == "interrupted" for r in rows))
        pair = self._diff_pair()
        self.diff_action.setEnabled(pair is not None and all(r.has_evaluation for r in pair))
        self.folder_action.setEnabled(one is not None)
        self.copy_path_action.setEnabled(one is not None)
        if one is not None and not one.has_evaluation:
            self.gallery_action.setToolTip("This run has no test-set evaluation to browse.")
        else:
            self.gallery_action.setToolTip("Browse the run's test images and its mistakes in the Gallery tab")
        if one is not None and one.can_resume and one.backup_epoch:
            self.resume_action.setText(f"Re&sume from epoch {one.backup_epoch}")
        else:
            self.resume_action.setText("Re&sume")

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), index.parent()):
            self.table.selectRow(index.row())
            self._selection_settled()
        menu = QMenu(self)
        for action in (
            self.gallery_action,
            self.predict_action,
            self.diff_action,
            None,
            self.train_again_action,
            self.continue_action,
            self.resume_action,
            self.mark_stopped_action,
            None,
            self.export_action,
            self.folder_action,
            self.copy_path_action,
            None,
            self.rename_action,
            self.note_action,
            self.delete_action,
        ):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))
        self.context_menu = menu

    def _double_clicked(self, index) -> None:
        column = self.proxy.mapToSource(index).column()
        if self.model.columns[column] not in (NAME, NOTE):
            self.bottom.setCurrentWidget(self.details)

    def _one(self) -> RunRow | None:
        rows = self.selected_rows()
        if len(rows) != 1:
            self.status_message.emit("Select one run first.", 3000)
            return None
        return rows[0]

    def rename(self) -> None:
        row = self._one()
        if row is None:
            return
        src = self.model.row_of(row.path)
        index = self.proxy.mapFromSource(self.model.index(src, self.model.column_of(NAME)))
        self.table.setCurrentIndex(index)
        self.table.edit(index)

    def ask_note(self, row: RunRow) -> str | None:
        """The new note, or None if the person cancelled (tests replace this)."""
        text, ok = QInputDialog.getMultiLineText(self, "Note", f"Note about '{row.label}':", row.note)
        return text if ok else None

    def edit_note(self) -> None:
        row = self._one()
        if row is None:
            return
        text = self.ask_note(row)
        if text is None:
            return
        src = self.model.row_of(row.path)
        self.model.setData(self.model.index(src, self.model.column_of(NOTE)), text)

    def _on_meta_changed(self, path: Path) -> None:
        self._compare_key = None
        self._selection_timer.start()

    def confirm_delete(self, rows: list[RunRow]) -> bool:
        names = "".join(f"<li>{html.escape(r.label)}</li>" for r in rows[:10])
        more = f"<li>... and {len(rows) - 10} more</li>" if len(rows) > 10 else ""
        trash = (self.workspace or paths.workspace_dir()) / "trash"
        answer = QMessageBox.question(
            self,
            "Delete runs?",
            f"Move {'this run' if len(rows) == 1 else f'these {len(rows)} runs'} to the workspace's trash folder?"
            f"<ul>{names}{more}</ul>Nothing is erased: they go to <code>{html.escape(str(trash))}</code>, and "
            "Undo (Ctrl+Z) brings them back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        running = [r for r in rows if r.state == "running"]
        if running:
            self.status_message.emit(f"Run '{running[0].label}' is training; stop it before deleting it.", 6000)
            return
        if not self.confirm_delete(rows):
            return
        moved, failures = [], []
        for row in rows:
            try:
                moved.append((row.path, runs.trash_run(row.path, self.workspace)))
            except (OSError, WorkbenchError) as exc:
                failures.append(f"{row.name}: {exc}")
        self.trashed = moved
        if failures:
            dialogs.show_error(
                self,
                "Some runs were not deleted",
                "These runs could not be moved to the trash; they are still in the workspace.",
                "\n".join(failures),
            )
        if moved:
            trash = moved[0][1].parent
            self.undo_label.setText(
                f"Moved {len(moved)} run{'s' if len(moved) != 1 else ''} to the trash folder ({trash})."
            )
            self.undo_bar.show()
            self.status_message.emit(f"Moved {len(moved)} run(s) to the trash. Ctrl+Z undoes it.", 8000)
        remaining = [r for r in self.model.rows if r.path not in {m[0] for m in moved}]
        self.set_rows(remaining)
        self.refresh()

    def undo_delete(self) -> None:
        if not self.trashed:
            return
        restored, failures = [], []
        for _original, trashed in self.trashed:
            try:
                restored.append(runs.restore_run(trashed, self.workspace))
            except (OSError, WorkbenchError) as exc:
                failures.append(f"{trashed.name}: {exc}")
        self.trashed = []
        self.undo_bar.hide()
        if failures:
            dialogs.show_error(
                self, "Some runs were not restored", "These runs stay in the trash folder.", "\n".join(failures)
            )
        if restored:
            self.status_message.emit(f"Restored {len(restored)} run(s).", 5000)

            def select_restored() -> None:
                self.refreshed.disconnect(select_restored)
                self.select_paths(restored)

            self.refreshed.connect(select_restored)
        self._update_actions()
        self.refresh()

    def show_trash(self) -> None:
        trash = (self.workspace or paths.workspace_dir()) / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(trash)))

    def open_gallery(self) -> None:
        row = self._one()
        if row is not None and row.has_evaluation:
            self.open_in_gallery.emit(row.path)

    def open_predict(self) -> None:
        row = self._one()
        if row is not None and row.has_model:
            self.open_in_predict.emit(row.model_path)

    def retrain(self) -> None:
        row = self._one()
        if row is not None and row.config:
            self.train_again.emit(dict(row.config))
            self.status_message.emit(f"The settings of '{row.label}' are in the Train tab; press Start.", 6000)

    def ask_extra_epochs(self, row: RunRow) -> int | None:
        """How many more epochs, or None if the person cancelled (tests replace this)."""
        done = row.epochs_done or row.backup_epoch
        n, ok = QInputDialog.getInt(
            self,
            "Continue training",
            f"'{row.label}' trained {done} epoch{'s' if done != 1 else ''}. Train it for how many more?\n"
            "It goes on from its last epoch (weights, optimizer state and schedule) in the same run folder.",
            value=max(1, min(int(row.epochs or 10), 100)),
            minValue=1,
            maxValue=10_000,
        )
        return n if ok else None

    def continue_training(self) -> None:
        row = self._one()
        if row is None or not row.can_continue:
            return
        extra = self.ask_extra_epochs(row)
        if extra:
            self.continue_run.emit(row.path, int(extra))

    def resume(self) -> None:
        row = self._one()
        if row is not None and row.can_resume:
            self.resume_run.emit(row.path)

    def mark_stopped(self) -> None:
        rows = [r for r in self.selected_rows() if r.state == "interrupted"]
        failures = []
        for row in rows:
            try:
                runs.mark_stopped(row.path)
            except (OSError, WorkbenchError) as exc:
                failures.append(f"{row.name}: {exc}")
        if failures:
            dialogs.show_error(self, "Not marked", "These runs could not be marked as stopped.", "\n".join(failures))
        self.refresh()

    def export(self) -> None:
        row = self._one()
        if row is None or not row.has_model:
            return
        from gui.export_dialog import ExportDialog

        dialog = ExportDialog(self.jobs, row.model_path, settings=self.settings, name=row.label, parent=self)
        dialog.exported.connect(lambda report: self.status_message.emit(report.summary(), 10_000))
        dialog.export_failed.connect(lambda message, _d: self.status_message.emit(f"Not exported: {message}", 10_000))
        dialog.finished.connect(lambda _r, d=dialog: self._forget_dialog(d))
        self.export_dialogs.append(dialog)
        dialog.open()

    def _forget_dialog(self, dialog) -> None:
        if not dialog.running and dialog in self.export_dialogs:
            self.export_dialogs.remove(dialog)
            dialog.deleteLater()

    def show_folder(self) -> None:
        row = self._one()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(row.path)))

    def copy_path(self) -> None:
        row = self._one()
        if row is not None:
            QGuiApplication.clipboard().setText(str(row.path))
            self.status_message.emit("Run folder path copied.", 3000)

    # ==============================================================================================
    # Interrupted runs

    def _update_interrupted_bar(self) -> None:
        n = sum(1 for r in self.model.rows if r.state == "interrupted")
        if n:
            self.interrupted_label.setText(
                f"<b>{n} interrupted run{'s' if n != 1 else ''}</b>: the app or the computer stopped during "
                f"training. {'They' if n != 1 else 'It'} can go on from the last complete epoch."
            )
        self.interrupted_bar.setVisible(bool(n))

    def check_interrupted(self, quiet: bool = True) -> None:
        """Look for interrupted runs (in a worker) and, if there are any, offer to resume them.

        The main window calls this once after start-up; the Review button of the tab does too
        (``quiet=False``: it says so when there is none).
        """
        if self.resume_prompt is not None and self.resume_prompt.isVisible():
            self.resume_prompt.raise_()
            return
        workspace = self.workspace

        def job(reporter, cancel):
            return runs.interrupted_runs(workspace)

        run_in_thread(
            self.io_jobs,
            job,
            name="Looking for interrupted runs",
            key="interrupted",
            context=self,
            on_finished=lambda found: self._offer_resume(found, quiet),
        )

    def _offer_resume(self, interrupted: list, quiet: bool = True) -> None:
        if self._shutting_down:
            return
        if not interrupted:
            if not quiet:
                self.status_message.emit("No run is interrupted any more.", 4000)
                self.refresh()
            return
        from gui.resume_prompt import ResumePrompt

        prompt = ResumePrompt(interrupted, self.window() if self.window() is not self else self)
        prompt.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        prompt.resume_requested.connect(self._resume_chosen)
        prompt.marked_stopped.connect(lambda _paths: self.refresh())
        prompt.destroyed.connect(lambda *_: setattr(self, "resume_prompt", None))
        self.resume_prompt = prompt
        prompt.open()

    def _resume_chosen(self, paths_: list[Path]) -> None:
        for path in paths_:
            self.resume_run.emit(Path(path))
        if paths_:
            self.status_message.emit(f"Resuming {len(paths_)} run(s) from their last complete epoch.", 6000)

    # ==============================================================================================
    # Settings and closing

    def save_settings(self) -> None:
        if self.settings is not None:
            self.settings.set_splitter("runs", self.splitter.saveState())
            self.settings.set_splitter("runs-compare", self.compare.splitter.saveState())

    def restore_layout(self) -> None:
        if self.settings is None:
            return
        for name, splitter in (("runs", self.splitter), ("runs-compare", self.compare.splitter)):
            state = self.settings.splitter(name)
            if state is not None:
                splitter.restoreState(state)

    def shutdown(self) -> None:
        """Stop timers and the tab's reading jobs (the window waits for exports on its own runner)."""
        self._shutting_down = True
        for timer in (self._selection_timer, self._watch_timer, self._poll_timer, self._deferred_timer):
            timer.stop()
        self.io_jobs.shutdown(30_000)
        self.diff.shutdown()


def details_html(row: RunRow) -> str:
    """One run, for the Details tab: state, problems and what still works, results, settings, files."""
    esc = html.escape
    color = STATE_COLORS.get(row.state, STATE_COLORS["unknown"]).name()
    parts = [f"<h3>{esc(row.label)}</h3>"]
    parts.append(
        f"<p><span style='color:{color}'><b>{esc(row.state)}</b></span>"
        + (f" &middot; started {row.started:%Y-%m-%d %H:%M}" if row.started else "")
        + f"<br>Folder: <a href='{QUrl.fromLocalFile(str(row.path)).toString()}'>{esc(str(row.path))}</a></p>"
    )
    if row.note:
        parts.append(f"<p><b>Note:</b> {esc(row.note)}</p>")
    if row.error:
        parts.append(f"<p><b>Error:</b> {esc(row.error)}</p>")
    if row.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in row.problems)
        works = row.still_works()
        parts.append(
            f"<p style='color:#c62828'><b>What is wrong</b></p><ul>{items}</ul>"
            f"<p><b>What still works:</b> {esc(', '.join(works) if works else 'nothing; the folder can be deleted')}."
            "</p>"
        )
    results = [
        ("Epochs", f"{row.epochs_done if row.epochs_done is not None else '?'} of {row.epochs or '?'}"),
        (
            "Best validation accuracy",
            format_percent(row.best_val) + (f" (epoch {row.best_epoch})" if row.best_epoch else ""),
        ),
        ("Test accuracy", format_percent(row.test_accuracy)),
        ("Training time", format_duration(row.seconds)),
        ("Parameters", f"{row.params:,}" if row.params is not None else ""),
    ]
    if row.backup_epoch and row.state != "finished":
        results.append(("Resumable from", f"epoch {row.backup_epoch}"))
    parts.append(_table(results))
    if row.config:
        parts.append("<p><b>Settings</b></p>")
        parts.append(_table([(setting_label(k), format_setting(k, v)) for k, v in row.config.items()]))
    return "".join(parts)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>&nbsp;&nbsp;{html.escape(str(v))}</td></tr>" for k, v in rows if v != ""
    )
    return f"<table cellspacing='2'>{body}</table>"
