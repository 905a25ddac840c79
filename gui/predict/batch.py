"""Predicting the Predict tab's inputs, a batch at a time, and reading the row shown in the single view.

:class:`BatchController` runs two tasks, each a :class:`~gui.tasks.TaskSlot`: the batch (a
:class:`~gui.predict.jobs.PredictWorker` on the tab's runner; its chunks of rows come through the
worker's ``results`` signal, forwarded by the slot) and the image read for the single view (on a
second runner, so a click is answered while a long batch runs). Starting a batch supersedes the one
before: not one of its rows, its progress or its end reaches the table afterwards. The decisions
(texts, what waits) are :class:`~gui.predict.state.PredictState`'s; the drawing is the panel's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from core.ensemble import InMemoryImage, SourceResult, member_labels
from gui import dialogs
from gui.predict.jobs import RESULTS_HZ, PredictWorker, read_view_image
from gui.predict.results_model import results_csv
from gui.predict.results_panel import ResultsPanel
from gui.predict.state import DROP_HINT, PredictState
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner


class BatchController(QObject):
    """Starts, stops and clears batches; fills ``panel``'s table, shows the chosen row, exports the rows."""

    finished = Signal(str)  # "finished", "cancelled" or "failed"
    status_message = Signal(str, int)
    changed = Signal()  # rows came or a batch started or ended: what is enabled may differ

    def __init__(
        self, runner: JobRunner, view_runner: JobRunner, state: PredictState, panel: ResultsPanel, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.panel = panel
        self.view = panel.view
        self.members: list = []  # LoadedModel of the model in use (several: an ensemble)
        self.predictors: list = []
        self.rate_hz = RESULTS_HZ  # table updates a second during a batch (the first batch at once)
        self.task = TaskSlot(
            runner,
            "Predicting",
            parent=self,
            on_progress=self._on_progress,
            on_done=lambda _summary: self._on_end("finished"),
            on_cancelled=lambda _summary: self._on_end("cancelled"),
            on_failed=lambda failure: self._on_end("failed", failure),
        )
        self.view_task = TaskSlot(view_runner, "Reading image", parent=self)
        panel.row_chosen.connect(self._on_row_chosen)

    def use_models(self, members: list, predictors: list) -> None:
        self.members, self.predictors = list(members), list(predictors)
        self.view_task.cancel()  # an image read for other models

    # -- batches ------------------------------------------------------------------------------------

    def start(self, sources: list) -> None:
        """Predict ``sources`` with the models in use; the table starts empty."""
        self.view_task.cancel()
        self.state.start_batch()
        self.panel.clear_rows()
        self.panel.results.set_models(self.members[0].class_names, len(self.members))
        self.view.clear("Predicting … click a row to see its image.")
        # Grad-CAM of the first row waits for the batch: it would take the model's CPU meanwhile.
        self.view.hold_gradcam(True)
        self.panel.show_progress(0, 0)
        self.panel.set_state("Looking for images …")
        worker = PredictWorker(self.predictors, sources, k=5, rate_hz=self.rate_hz)
        # Starting supersedes the batch before: none of its rows or its end reach the table any more.
        self.task.start(worker, signals={"results": self._on_results})
        self.changed.emit()

    def stop(self) -> None:
        """Stop the batch; the rows done so far stay (its end arrives, as "cancelled")."""
        self.task.stop()

    def clear(self) -> None:
        """Drop the batch without a word, and its rows, and what the view shows."""
        self.task.cancel()
        self.view_task.cancel()
        self.state.clear()
        self.panel.hide_progress()
        self.view.hold_gradcam(False)
        self.panel.clear_rows()
        self.view.clear(DROP_HINT)
        self.panel.set_state("")
        self.changed.emit()

    def _on_results(self, chunk: list) -> None:
        """A chunk of rows: one insert into the table, and the progress is the number of rows."""
        self.state.add_results(chunk)
        done = self.panel.add_rows(chunk)
        if self.state.total > 0:
            self.panel.progress.setValue(done)
            self.panel.set_state(self.state.rows_text())
        self.changed.emit()

    def _on_progress(self, done: int, total: int, what: str) -> None:
        """Before the first rows: looking for images (no total yet), then how many there are."""
        self.state.set_total(total)
        self.panel.show_progress(done, total)
        self.panel.set_state(self.state.progress_text(done, total, what))

    def _on_end(self, outcome: str, failure: TaskFailure | None = None) -> None:
        summary = self.state.end_batch(outcome)
        self.panel.hide_progress()
        self.view.hold_gradcam(False)
        if self.state.take_waiting_view():
            shown = self.panel.current_result()
            if shown is not None:
                self.show_result(shown)
        self.panel.set_state(summary.text)
        if failure is not None:
            dialogs.show_error(self.panel, "Prediction failed", failure.message, failure.detail)
        elif summary.no_images:
            self.view.clear("No image files were found there. " + DROP_HINT)
        if summary.status:
            self.status_message.emit(summary.status, 8000)
        self.changed.emit()
        self.finished.emit(outcome)

    # -- the single view ----------------------------------------------------------------------------

    def _on_row_chosen(self, result: SourceResult, by_person: bool) -> None:
        if not self.state.row_chosen(result, by_person=by_person):
            return  # the batch's first row: shown when the batch ends
        if by_person:
            self.view.hold_gradcam(False)  # a person chose this row: explain it now
        self.show_result(result)

    def show_result(self, result: SourceResult) -> None:
        """Show one result in the single view (reads the image again, in the background)."""
        if not result.ok:
            self.view.clear(f"{result.name}: {result.error}.")
            return
        if not self.members:
            return
        members = list(self.members)
        source = result.source

        def shown(out) -> None:
            display, inputs = out
            self.view.show_prediction(
                display,
                inputs[0],
                result.probs,
                title=str(source.name if isinstance(source, InMemoryImage) else source),
                member_probs=result.member_probs if len(members) > 1 else None,
                member_inputs=inputs,
                notes=result.notes,
            )

        # A new row supersedes the read before: the view never shows an image that was asked for earlier.
        self.view_task.start(
            read_view_image(source, [m.input_shape for m in members], [m.background for m in members]),
            on_done=shown,
            on_failed=lambda failure: self.view.clear(f"{result.name}: {failure.message}"),
        )

    # -- export -------------------------------------------------------------------------------------

    def export_csv(self, path: str | Path | None, settings) -> Path | None:
        """Save the table as CSV (asks where unless ``path`` is given); the path written, or None."""
        rows = self.panel.results.results
        if not rows:
            self.status_message.emit("Nothing to export yet: predict some images first.", 5000)
            return None
        if not path:
            start = Path(settings.last_dir("exports", str(Path.home()))) / "predictions.csv"
            chosen, _ = QFileDialog.getSaveFileName(self.panel, "Export predictions", str(start), "CSV files (*.csv)")
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        if path.suffix.lower() != ".csv":
            path = path.with_suffix(path.suffix + ".csv") if path.suffix else path.with_suffix(".csv")
        from core import atomic

        text = results_csv(rows, self.members[0].class_names, member_labels(self.members))
        try:
            atomic.write_text(path, text)
        except OSError as exc:
            dialogs.show_error(
                self.panel, "Export failed", f"The CSV file could not be written to {path}: {exc.strerror}."
            )
            return None
        settings.set_last_dir("exports", str(path.parent))
        self.status_message.emit(f"Saved {len(rows):,} rows to {path}.", 6000)
        return path
