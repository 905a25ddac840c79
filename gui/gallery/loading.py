"""Opening a source for the Gallery: one at a time, the newest request wins.

Reading a run's saved evaluation and test images needs no TensorFlow and runs on the tab's own
runner; evaluating a model (a shipped one, or a run's "Evaluate now") runs on the window's shared
runner, one TensorFlow job at a time. Each has its :class:`~gui.tasks.TaskSlot`, and opening a
source cancels and cuts off both, so whatever order the jobs end in, only the source asked for
last reaches the screen. The sources loaded last stay in memory (:class:`SourceCache`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core import gallery as core_gallery
from core.gallery import GalleryData
from gui.gallery.source_bar import SourceBar
from gui.gallery.state import GalleryState, SourceCache, SourceKey
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import Job, JobRunner


def _job(fn: Callable[..., GalleryData], *args: Any, **kwargs: Any) -> Job:
    """``fn(*args, reporter=, cancel=, **kwargs)`` as a job for a task slot."""
    return lambda reporter, cancel: fn(*args, reporter=reporter, cancel=cancel, **kwargs)


class SourceOpener(QObject):
    """Loads sources for the state, showing the progress in the source bar; the tab shows the result."""

    loaded = Signal(object, object)  # SourceKey, GalleryData
    failed = Signal(object, str, object)  # SourceKey, what was loading (for people), TaskFailure
    cancelled = Signal()  # the Cancel button stopped a load
    busy_changed = Signal(bool)
    status_message = Signal(str, int)  # text, milliseconds (0: until replaced)

    def __init__(
        self, load_jobs: JobRunner, tf_jobs: JobRunner, state: GalleryState, bar: SourceBar, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.bar = bar
        self.cache = SourceCache()
        self.read_task = TaskSlot(load_jobs, "Gallery", parent=self)
        self.evaluate_task = TaskSlot(tf_jobs, "Gallery", parent=self)

    def read_run(self, key: SourceKey, run_dir: Path, workspace: Path | None) -> None:
        job = _job(core_gallery.load_run, run_dir, workspace=workspace)
        self._open(key, f"Loading run {run_dir.name}", job, self.read_task)

    def evaluate_model(self, key: SourceKey, model_path: Path) -> None:
        job = _job(core_gallery.evaluate_model_file, model_path)
        self._open(key, f"Evaluating {model_path.name} on its test set", job, self.evaluate_task)

    def evaluate_run(self, key: SourceKey, run_dir: Path) -> None:
        job = _job(core_gallery.evaluate_run, run_dir)
        self._open(key, f"Evaluating run {run_dir.name} on its test set", job, self.evaluate_task)

    def _open(self, key: SourceKey, what: str, job: Job, slot: TaskSlot) -> None:
        self.stop()
        self.state.ask(key, what)
        other = slot.runner.current if slot is self.evaluate_task else None
        if other is not None and other.name != slot.name:
            text = (
                f"{what}: waiting for the job that is running ({other.name}) to end, one TensorFlow job at a time ..."
            )
        else:
            text = f"{what} ..."
        self.bar.start_progress(text)
        self.busy_changed.emit(True)
        self.status_message.emit(f"{what} ...", 0)
        slot.start(
            job,
            on_done=lambda data: self._done(key, data),
            on_failed=lambda failure: self._failed(key, what, failure),
            on_cancelled=lambda _partial: self._cancelled(),
            on_message=lambda text: self.bar.set_progress(0, 0, text),
            on_progress=self.bar.set_progress,
        )

    def stop(self) -> None:
        """Drop whatever is loading, quietly: nothing of it will arrive (something else is shown now)."""
        self.read_task.cancel()
        self.evaluate_task.cancel()
        if self.state.is_loading:
            self.state.load_ended()
            self.bar.end_progress()
            self.busy_changed.emit(False)

    def cancel(self) -> None:
        """Stop loading (the Cancel button); the gallery keeps what it showed before."""
        if self.state.is_loading:
            self.read_task.cancel()
            self.evaluate_task.cancel()
            self._cancelled()

    def _end(self) -> None:
        self.state.load_ended()
        self.bar.end_progress()
        self.status_message.emit("", 1)
        self.busy_changed.emit(False)

    def _done(self, key: SourceKey, data: GalleryData) -> None:
        self._end()
        self.cache.put(key, data)
        self.loaded.emit(key, data)

    def _failed(self, key: SourceKey, what: str, failure: TaskFailure) -> None:
        self._end()
        self.failed.emit(key, what, failure)

    def _cancelled(self) -> None:
        self._end()
        self.cancelled.emit()

    def shutdown(self) -> None:
        self.evaluate_task.cancel()  # the window waits for its own runner; this tab's is shut down by the tab
