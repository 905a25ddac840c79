"""Start, Pause/Resume and Stop of the Train tab, the run's signals, its end and its result.

Each button asks the :class:`~gui.train.state.TrainState` whether its event is allowed now and
fires it; the state decides the phase and what is enabled. Training runs in a
:class:`~gui.workers.TrainWorker` through a :class:`~gui.tasks.TaskSlot` on the window's
:class:`~gui.workers.JobRunner` (one TensorFlow job at a time); its batch updates go straight to the
monitor, which only stores them (the plots' frame timer draws). A failed run's error box offers the
fix chosen by the error's type (:func:`~gui.train.state.fix_for`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from core.config import TrainConfig
from core.errors import WorkbenchError
from gui import dialogs
from gui.tasks import TaskFailure, TaskSlot
from gui.train.result_box import describe_result, pct
from gui.train.state import Fix, fix_for
from gui.workers import JobRunner, TrainWorker

if TYPE_CHECKING:
    from gui.train.tab import TrainTab


class RunControl(QObject):
    def __init__(self, tab: TrainTab, jobs: JobRunner) -> None:
        super().__init__(tab)
        self.tab = tab
        self.state = tab.state
        self.monitor = tab.monitor
        self.jobs = jobs
        self.worker: TrainWorker | None = None
        self.last_result = None  # the RunResult of the last run that ended with one
        self.last_failure: TaskFailure | None = None
        self.running_config: TrainConfig | None = None
        self.batches_at_stop: int | None = None  # batches the worker had reported when Stop was pressed
        self.task = TaskSlot(
            jobs,
            "Training",
            parent=self,
            on_done=self._on_finished,
            on_cancelled=self._on_cancelled,
            on_failed=self._on_failed,
            on_message=self.monitor.on_message,
            on_progress=self.monitor.on_phase_progress,
        )

    # -- Start -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a run with the chosen settings; False (with a message) if it cannot start."""
        tab, state = self.tab, self.state
        problem = state.start_problem()
        if problem:
            tab.status_message.emit(problem, 5000)
            return False
        config = state.config
        try:
            config.validate()
            from core import auto, models

            if config.model != auto.AUTO:  # Auto's network is chosen when the data is measured
                models.resolve_options(config.model, config.model_options)
        except WorkbenchError as exc:
            dialogs.show_error(tab.window(), "Cannot start training", str(exc), exc.detail)
            return False
        tab.settings.set_train_config(config.to_dict())
        preview = state.preview  # loaded for exactly these settings: the run reuses its dataset
        dataset = None if preview is None else preview.dataset
        worker = TrainWorker(config, workspace=tab.workspace, dataset=dataset, train_fn=tab.train_fn)
        title = state.specs[config.model].title
        return self._launch(worker, config, f"Training {title} on {tab.dataset_page.combo.currentText()}")

    def resume(self, run_dir: str | Path, extra_epochs: int = 0) -> bool:
        """Go on with a saved run in its own folder (after a crash or Stop, or for extra epochs)."""
        from core import runs
        from core import training as core_training

        tab, state = self.tab, self.state
        run_dir = Path(run_dir)
        if state.running or not state.tf_ready:
            # Several interrupted runs may be resumed at launch, before TensorFlow is ready: queue them.
            state.queue_resume(run_dir, extra_epochs)
            when = "the current run ends" if state.running else "TensorFlow is ready"
            tab.status_message.emit(f"{run_dir.name} will resume when {when}.", 6000)
            return False
        try:
            info = runs.read_run(run_dir)
            config = TrainConfig.from_dict(info.config)
        except (WorkbenchError, TypeError) as exc:
            dialogs.show_error(tab.window(), "Cannot resume the run", f"Run {run_dir.name} cannot be read.", str(exc))
            return False
        config.epochs = max(config.epochs, core_training.backup_epoch(run_dir)) + extra_epochs
        tab.apply_config(config)  # the form shows the settings the run goes on with, not the last ones typed

        def resume(cfg, reporter, cancel, **_):
            return core_training.resume_run(run_dir, reporter, cancel, extra_epochs=extra_epochs)

        worker = TrainWorker(config, workspace=tab.workspace, train_fn=resume)
        verb = (
            f"Continuing {run_dir.name} for {extra_epochs} more epoch(s)"
            if extra_epochs
            else f"Resuming {run_dir.name}"
        )
        return self._launch(worker, config, verb)

    def resume_next(self) -> None:
        queued = self.state.next_resume()
        if queued is not None:
            self.tab.resume_run(*queued)

    def _launch(self, worker: TrainWorker, config: TrainConfig, title: str) -> bool:
        self.running_config = config
        self.tab.result_box.hide()
        self.tab.shown_run = None
        self.monitor.begin(title, config.epochs)
        self._fire("start")
        self.worker = worker  # before start: a closed runner ends the task at once
        self.task.start(
            worker,
            signals={
                "run_started": self._on_run_started,
                "batch_progress": self.monitor.on_batches,  # stored only; drawn by the frame timer
                "epoch_end": self.monitor.on_epoch,
            },
        )
        return True

    def _fire(self, event: str) -> None:
        self.state.fire(event)
        self.tab._show_state(transition=True)

    # -- Pause / Resume, Stop ------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.state.can("resume"):
            self.worker.cancel.resume()
            self.monitor.resumed()
            self._fire("resume")
        elif self.state.can("pause"):
            self.worker.cancel.pause()
            self.monitor.paused()
            self._fire("pause")

    def stop(self) -> None:
        worker = self.worker
        if worker is None or not self.state.can("stop"):
            return
        self.monitor.resumed()
        self.batches_at_stop = worker.batches_seen
        # Not started yet: dropped at once, it ends as cancelled(None); running: stops after this batch.
        self.task.stop()
        if self.worker is worker and self.state.can("stop"):
            self._fire("stop")

    # -- the run's signals and its end ----------------------------------------------------------
    def _on_run_started(self, info: dict) -> None:
        self.monitor.on_run_started(info)
        if self.state.can("run_started"):
            self._fire("run_started")

    def _on_finished(self, result) -> None:
        self._end("finished", "Finished")
        self._show_result(result)
        self.tab.status_message.emit(f"Training finished: test accuracy {pct(result.test_accuracy)}.", 10_000)

    def _on_cancelled(self, result) -> None:
        self._end("stopped", "Stopped")
        if result is None:
            self.monitor.log_line("Stopped before training began; nothing was saved.")
            self.tab.note("Stopped before training began.")
            return
        self._show_result(result)
        self.tab.status_message.emit("Training stopped; the best model so far was saved.", 10_000)

    def _on_failed(self, failure: TaskFailure) -> None:
        self.last_failure = failure
        self._end("failed", "Failed")
        self.monitor.log_line(f"Failed: {failure.message}")
        self.tab.note(f"The run failed: {failure.message}")
        self.tab.status_message.emit("Training failed.", 10_000)
        box = dialogs.show_error(self.tab.window(), "Training failed", failure.message, failure.detail)
        self.add_error_actions(box, failure.error)

    def add_error_actions(self, box, error: BaseException | None) -> None:
        """Offer the obvious fix on the error box, chosen by the error's type (see state.fix_for)."""
        if box is None or not hasattr(box, "addButton"):
            return
        tab = self.tab
        fix = fix_for(error)
        if fix is Fix.USE_SAMPLE:
            b = box.addButton("Use the bundled sample", QMessageBox.ButtonRole.AcceptRole)
            b.clicked.connect(lambda: tab.select_dataset("mnist-sample"))
        elif fix is Fix.CHOOSE_MODEL:
            b = box.addButton("Choose another model", QMessageBox.ButtonRole.AcceptRole)
            b.clicked.connect(lambda: tab.setup_tabs.setCurrentIndex(1))
        elif fix is Fix.HALVE_BATCH:
            b = box.addButton("Halve the batch size", QMessageBox.ButtonRole.AcceptRole)
            b.clicked.connect(self.halve_batch_size)

    def halve_batch_size(self) -> None:
        spin = self.tab.hyper.widget("batch_size")
        spin.setValue(max(1, spin.value() // 2))  # the form's change reaches the state
        self.tab.setup_tabs.setCurrentIndex(2)

    def _end(self, event: str, outcome: str) -> None:
        self.monitor.end(outcome)
        self.worker = None
        self._fire(event)
        QTimer.singleShot(0, self.resume_next)
        self.tab.tasks.request_summary()

    def _show_result(self, result) -> None:
        self.last_result = result
        line = result.summary_line()  # the command line's closing line, so the log does not end at "Evaluating"
        self.monitor.log_line(line[:1].upper() + line[1:])
        headline, details = describe_result(result)
        config = self.running_config.to_dict() if self.running_config is not None else None
        self.tab.result_box.show_run(headline, details, Path(result.run_dir), Path(result.model_path), config)
        self.tab.note(
            "Stopped; the best model so far was evaluated and saved."
            if result.state == "stopped"
            else "Finished: the best model was evaluated on the test set and saved."
        )
