"""Asking for a layer's activations: a moment after the image or layer choice settles, one at a time.

Quick changes of row or layer ask for one activation map, not many (a short delay), and a newer
choice supersedes what is on its way (a :class:`~gui.tasks.TaskSlot`): an activation map of an
image or layer no longer chosen is never drawn.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QObject, QTimer

from core.errors import WorkbenchError
from gui.inside import jobs as inside_jobs
from gui.inside.activations_panel import ActivationsPanel
from gui.inside.state import ActivationRequest, InsideState
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner

DELAY_MS = 120  # quick changes of row or layer ask for one activation map, not many


class ActivationsRequests(QObject):
    """Computes the activations :meth:`InsideState.activation_request` names and shows them on ``page``."""

    def __init__(self, jobs: JobRunner, state: InsideState, page: ActivationsPanel, parent: QObject) -> None:
        super().__init__(parent)
        self.state, self.page = state, page
        self.task = TaskSlot(jobs, "Activations", parent=self, on_failed=self._failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self._compute)

    @property
    def busy(self) -> bool:
        return self._timer.isActive() or self.task.running

    def schedule(self) -> None:
        # What is on its way was asked for an image or layer no longer chosen: it must not be drawn.
        self.task.cancel()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.task.cancel()

    def _compute(self) -> None:
        """Ask for the activations chosen now; this request supersedes any still on its way."""
        try:
            request = self.state.activation_request()
        except WorkbenchError as exc:
            self.page.grid.set_message(str(exc))
            return
        if request is None:
            self.page.status.setText("")
            return
        self.page.status.setText(f"Computing {request.layer} ...")
        self.task.start(inside_jobs.activations_job(request), on_done=lambda result: self._show(request, result))

    def _show(self, request: ActivationRequest, result: tuple[str, np.ndarray]) -> None:
        name, values = result
        class_name = request.choice.class_name if request.choice else ""
        self.page.grid.set_activations(values, name, class_name, request.labels)
        self.page.status.setText("")

    def _failed(self, failure: TaskFailure) -> None:
        self.page.status.setText(html.escape(failure.message))
        self.page.grid.set_message(failure.message)
