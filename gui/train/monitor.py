"""The run monitor: Start / Pause / Stop, the state line, progress bars with time left, the live
plots and the log. The Start, Pause and Stop actions are here; the tab connects their
``triggered`` and tells the monitor the run's phase and what is enabled (it decides nothing).

Batch updates are only stored on arrival (:meth:`RunMonitor.on_batches`); the plots' frame timer
shows them, one piece of work per frame: a plot, or the progress bars and state line (at most
every ``PROGRESS_INTERVAL_S``). See gui/train/training_plots.py and docs/ARCHITECTURE.md, "The GUI
stays responsive": no per-batch work in the GUI thread.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QFontDatabase, QKeySequence
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.reporting import format_epoch_line
from gui.train.result_box import format_duration
from gui.train.state import Actions, Phase
from gui.workers import BatchUpdate

# Progress bars and the state line change 4 times a second, each plot about 8 times, each in a
# frame of its own (see gui/train/training_plots.py): a progress bar repaints itself at once on
# every new value, and each frame of work delays the window's reactions.
PROGRESS_INTERVAL_S = 0.25
#: Messages of a run that also go to the state line while it prepares or runs.
STATE_LINE_MESSAGES = ("Loading", "Building", "Evaluating", "Training on")


class RunMonitor(QWidget):
    def __init__(self, result_box: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.phase = Phase.IDLE
        self._pause_resumes = False  # the Pause button reads "Resume"
        self.plots = None
        self._build_actions()
        self._build_ui(result_box)
        self._clock = QTimer(self, interval=500)
        self._clock.timeout.connect(self._update_times)
        self.reset_numbers()

    # -- construction ---------------------------------------------------------------------------
    def _build_actions(self) -> None:
        style = self.style()
        self.start_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "&Start training", self)
        self.start_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.pause_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "&Pause", self)
        self.pause_action.setShortcut(QKeySequence("Ctrl+P"))
        self.pause_action.setToolTip("Pause training after the current batch (Ctrl+P); press again to resume.")
        self.stop_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "S&top", self)
        self.stop_action.setShortcuts([QKeySequence("Ctrl+."), QKeySequence(Qt.Key.Key_Escape)])
        self.stop_action.setToolTip(
            "Stop after the current batch (Ctrl+. or Esc). The best model so far is evaluated and saved, "
            "and the run is marked stopped."
        )

    def _build_ui(self, result_box: QWidget) -> None:
        def tool(action: QAction) -> QToolButton:
            b = QToolButton()
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setMinimumWidth(96)
            return b

        self.start_button = tool(self.start_action)
        self.pause_button = tool(self.pause_action)
        self.stop_button = tool(self.stop_action)
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.pause_button)
        controls.addWidget(self.stop_button)
        controls.addSpacing(8)
        controls.addWidget(self.state_label, 1)

        self.epoch_bar = QProgressBar()
        self.epoch_bar.setToolTip("Batches done in the current epoch (or progress of loading and evaluating).")
        self.run_bar = QProgressBar()
        self.run_bar.setToolTip("Progress of the whole run, over all epochs.")
        self.time_label = QLabel("")
        self.time_label.setToolTip(
            "Training time: the run's time with pauses left out; wall time: with pauses counted. Both "
            "include a resumed run's earlier sessions. The time left is estimated from the speed so far."
        )
        progress = QGridLayout()
        progress.addWidget(QLabel("Epoch"), 0, 0)
        progress.addWidget(self.epoch_bar, 0, 1)
        progress.addWidget(QLabel("Run"), 1, 0)
        progress.addWidget(self.run_bar, 1, 1)
        progress.addWidget(self.time_label, 2, 0, 1, 2)
        progress.setColumnStretch(1, 1)

        self.plot_slot = QWidget()
        self.plot_slot_layout = QVBoxLayout(self.plot_slot)
        self.plot_slot_layout.setContentsMargins(0, 0, 0, 0)
        self.plot_placeholder = QLabel("Preparing the plots ...")
        self.plot_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_slot_layout.addWidget(self.plot_placeholder)
        self.plot_slot.setMinimumHeight(260)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setMaximumBlockCount(10_000)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setToolTip("One line per epoch, plus what the run reports (loading, building, skipped files).")
        self.log.setPlaceholderText("The log of the run appears here: one line per epoch.")
        self._log_follows = True
        self.log.verticalScrollBar().rangeChanged.connect(self._keep_log_at_end)

        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.plot_slot)
        self.split.addWidget(self.log)
        self.split.setStretchFactor(0, 4)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([520, 150])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(progress)
        layout.addWidget(result_box)
        layout.addWidget(self.split, 1)

    def attach_plots(self) -> None:
        """Create the pyqtgraph plots (imports pyqtgraph: done after the window is on screen)."""
        if self.plots is not None:
            return
        from gui.train.training_plots import TrainingPlots

        self.plots = TrainingPlots()
        self.plots.add_frame_task(self.refresh_progress)
        self.plots.setToolTip(
            "Loss and accuracy: training per batch (faint) with a smoothed line, validation per epoch "
            "(dots); the dashed line marks the best epoch. Below: the learning rate per epoch."
        )
        self.plot_slot_layout.removeWidget(self.plot_placeholder)
        self.plot_placeholder.deleteLater()
        self.plot_slot_layout.addWidget(self.plots)

    # -- what the tab tells it -------------------------------------------------------------------
    def show_phase(self, phase: Phase, actions: Actions, text: str | None) -> None:
        """Show the phase and what is enabled; ``text`` replaces the state line (None: keep it)."""
        self.phase = phase
        if actions.pause_resumes != self._pause_resumes:
            self._pause_resumes = actions.pause_resumes
            self.pause_action.setText("&Resume" if actions.pause_resumes else "&Pause")
            icon = QStyle.StandardPixmap.SP_MediaPlay if actions.pause_resumes else QStyle.StandardPixmap.SP_MediaPause
            self.pause_action.setIcon(self.style().standardIcon(icon))
        self.start_action.setEnabled(actions.start)
        self.start_action.setToolTip(
            "Start training with these settings (Ctrl+Return)."
            if actions.start_problem is None
            else f"Start: {actions.start_problem}"
        )
        self.pause_action.setEnabled(actions.pause)
        self.stop_action.setEnabled(actions.stop)
        if text is not None:
            self.state_label.setText(text)

    def reset_numbers(self) -> None:
        self._started_at = time.monotonic()
        self._rate_origin: tuple[float, int] | None = None
        self._paused_total = 0.0
        self._paused_since: float | None = None
        self._before = (0.0, 0.0)  # a resumed run's training and wall time from its earlier sessions
        self.batches_done = 0
        self.epochs = 0
        self.steps = 0
        self._latest: BatchUpdate | None = None
        self._progress_shown_at = -math.inf

    def begin(self, title: str, epochs: int) -> None:
        """A run was submitted: clear the last one's plots, log and bars; start the clock."""
        self.reset_numbers()
        self.log.clear()
        self.log_line(title)
        if self.plots is not None:
            self.plots.clear()
        self.epoch_bar.setRange(0, 1)
        self.epoch_bar.setValue(0)
        self.run_bar.setRange(0, max(1, epochs))
        self.run_bar.setValue(0)
        self.epoch_bar.setFormat("Waiting to start ...")
        self.run_bar.setFormat("%p %")
        self.time_label.setText("")
        self._clock.start()

    def paused(self) -> None:
        self._paused_since = time.monotonic()

    def resumed(self) -> None:
        """Paused time ends (Resume, or Stop while paused): it is left out of the time estimate."""
        if self._paused_since is not None:
            self._paused_total += time.monotonic() - self._paused_since
            self._paused_since = None

    # -- the run's signals -----------------------------------------------------------------------
    def on_run_started(self, info: dict) -> None:
        self.epochs = int(info.get("epochs") or 1)
        self.steps = int(info.get("steps_per_epoch") or 1)
        self._before = (float(info.get("seconds_before") or 0.0), float(info.get("wall_seconds_before") or 0.0))
        if self.plots is not None:
            self.plots.start_run(self.steps, self.epochs)
            # A resumed run: its curves go on from where they were.
            self.plots.add_restored_epochs(info.get("history") or [])
        self.epoch_bar.setRange(0, self.steps)
        self.epoch_bar.setValue(0)
        self.epoch_bar.setFormat(f"Epoch 1/{self.epochs}: batch %v of %m")
        self.run_bar.setRange(0, self.epochs * self.steps)
        self.run_bar.setValue(0)
        self.log_line(
            f"Run folder {info.get('run_dir')}: {info.get('train_size', 0):,} training, "
            f"{info.get('val_size', 0):,} validation, {info.get('test_size', 0):,} test images; "
            f"{int(info.get('params', 0)):,} parameters."
        )

    def on_batches(self, update: BatchUpdate) -> None:
        """New batches: only store them; the plots' frame timer shows them (see refresh_progress)."""
        if self.plots is not None:
            self.plots.add_batches(update.x, update.loss, update.accuracy)
        steps = max(1, update.steps)
        self.batches_done = update.epoch * steps + update.step + 1
        if self._rate_origin is None:
            # Measure speed from the first update on: the first batch includes tracing the graph.
            self._rate_origin = (time.monotonic() - self._paused_total, self.batches_done)
        self._latest = update
        if self.plots is None or not self.plots.live:
            self.refresh_progress()

    def refresh_progress(self, force: bool = False) -> bool:
        """Show the newest batch in the progress bars and state line (at most every 0.25 s unless forced).

        Returns whether it changed anything (the plots' frame timer then leaves the plots for the
        next frame).
        """
        update = self._latest
        if update is None:
            return False
        now = time.monotonic()
        if not force and now - self._progress_shown_at < PROGRESS_INTERVAL_S:
            return False
        self._latest = None
        self._progress_shown_at = now
        steps = max(1, update.steps)
        if self.epoch_bar.maximum() != steps:
            self.epoch_bar.setRange(0, steps)
        self.epoch_bar.setFormat(f"Epoch {update.epoch + 1}/{self.epochs or '?'}: batch %v of %m")
        self.epoch_bar.setValue(update.step + 1)
        self.run_bar.setValue(min(self.batches_done, self.run_bar.maximum()))
        logs = update.logs
        if self.phase is Phase.RUNNING and "loss" in logs:
            acc = logs.get("accuracy")
            self.state_label.setText(
                f"Training: epoch {update.epoch + 1} of {self.epochs}, loss {logs['loss']:.4f}"
                + (f", accuracy {acc:.4f}" if acc is not None else "")
            )
        return True

    def on_epoch(self, epoch: int, logs: dict) -> None:
        best_before = self.plots.best_epoch if self.plots is not None else None
        if self.plots is not None:
            self.plots.add_epoch(epoch + 1, logs)
            best = self.plots.best_epoch == epoch + 1 and best_before != epoch + 1
        else:
            best = False
        self.log_line(format_epoch_line(epoch + 1, self.epochs or epoch + 1, logs, best))
        self.refresh_progress(force=True)
        self.run_bar.setValue(min((epoch + 1) * self.steps, self.run_bar.maximum()))

    def on_message(self, text: str) -> None:
        self.log_line(text)
        if text.startswith(STATE_LINE_MESSAGES) and self.phase in (Phase.PREPARING, Phase.RUNNING):
            self.state_label.setText(text)

    def on_phase_progress(self, done: int, total: int, what: str) -> None:
        if self.steps and what.lower().startswith("train"):
            return
        self.epoch_bar.setRange(0, max(1, total))
        self.epoch_bar.setValue(done)
        self.epoch_bar.setFormat(f"{what}: %v of %m" if total > 1 else what)

    def end(self, outcome: str) -> None:
        """The run ended (``outcome``: Finished, Stopped, Failed): final numbers, clock and plots stop."""
        self.refresh_progress(force=True)
        self.epoch_bar.setFormat(outcome)
        self.run_bar.setFormat(f"{outcome} (%p %)")
        self._clock.stop()
        self._update_times(final=True)
        if self.plots is not None:
            self.plots.stop_run()

    def _update_times(self, final: bool = False) -> None:
        now = time.monotonic()
        paused = self._paused_total + (now - self._paused_since if self._paused_since is not None else 0)
        session = now - self._started_at
        active, wall = self._before[0] + session - paused, self._before[1] + session
        text = f"Training time {format_duration(active)}"
        if round(wall) > round(active):
            text += f"  ·  wall time {format_duration(wall)}"
        total = self.epochs * self.steps
        if not final and self._rate_origin is not None and total:
            t0, done0 = self._rate_origin
            active = now - paused - t0
            done = self.batches_done - done0
            if done > 0 and active > 0:
                rate = done / active
                left = (total - self.batches_done) / rate
                text += f"  ·  about {format_duration(left)} left  ·  {rate:.1f} batches/s"
            else:
                text += "  ·  estimating the time left ..."
        self.time_label.setText(text)

    # -- a saved run -----------------------------------------------------------------------------
    def show_history(self, title: str, history: list[dict], epochs: int, best: int | None, notes: list[str]) -> None:
        """Show a saved run: its curves, one log line per epoch, and empty bars."""
        if self.plots is not None:
            self.plots.load_history(history, best)
        self.log.clear()
        self.log_line(title)
        for row in history:
            e = int(row.get("epoch", 0))
            self.log_line(format_epoch_line(e, epochs, row, best=(best == e)))
        for note in notes:
            self.log_line(note)
        for bar in (self.epoch_bar, self.run_bar):
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat("")
        self.time_label.setText("")

    def log_line(self, text: str) -> None:
        bar = self.log.verticalScrollBar()
        self._log_follows = bar.value() >= bar.maximum() - 2  # at the end: it stays there
        self.log.appendPlainText(text)
        if self._log_follows:
            bar.setValue(bar.maximum())

    def _keep_log_at_end(self, _minimum: int, maximum: int) -> None:
        """A long line (the closing one) brings a horizontal scroll bar a moment later, which
        covers the last line: a log that follows its end scrolls on to it."""
        if self._log_follows:
            self.log.verticalScrollBar().setValue(maximum)

    def shutdown(self) -> None:
        self._clock.stop()
        if self.plots is not None:
            self.plots.stop_run()
