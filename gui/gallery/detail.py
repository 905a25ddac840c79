"""The image chosen in the grid, brought to the detail panel: decoded (off the GUI thread when it
comes from a file, which can be a large photo), with the model loaded once for its probabilities
and Grad-CAM.

Two :class:`~gui.tasks.TaskSlot`\\ s, on the tab's own runner (not the shared TensorFlow one: a
training run holds that for its whole length, and loading a model beside it is safe; Grad-CAM
itself runs on the detail view's own runner too): loading the model, and decoding an image. A
newer image, or new data, supersedes what was under way, so a late result never shows the wrong
image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from core.errors import WorkbenchError
from core.gallery import GalleryData
from gui.gallery.detail_panel import DetailPanel
from gui.gallery.state import GalleryState
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner


class DetailLoader(QObject):
    """Shows row after row of the state's data in ``panel``; :meth:`reset` when the data changes."""

    def __init__(self, runner: JobRunner, state: GalleryState, panel: DetailPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.panel = panel
        self.model_task = TaskSlot(runner, "Loading the model for Grad-CAM", parent=self)
        self.image_task = TaskSlot(runner, "Gallery image", parent=self)

    def reset(self) -> None:
        """New data: nothing chosen, nothing of the old data's still under way."""
        self.model_task.cancel()
        self.image_task.cancel()
        self.panel.show_hint()
        data = self.state.data
        if data is not None and data.loaded_model is not None:
            self.panel.view.set_model(data.loaded_model)

    def show(self, row: int | None) -> None:
        """Show image ``row`` (a row of the evaluation) in the panel."""
        data = self.state.data
        if data is None or row is None:
            return
        self.image_task.cancel()
        self.state.detail_row = row
        text, title = self.state.detail_texts(row)
        if not data.has_images:
            self.panel.show_message(text, f"No picture: {data.images.reason}.")
            return
        loaded = data.loaded_model
        if loaded is None:
            if self.state.model_error:
                message = f"The model cannot be loaded, so this image cannot be explained: {self.state.model_error}"
            else:
                message = "Loading the model to show this image with its probabilities and Grad-CAM ..."
                self._request_model()
            self.panel.show_message(text, message)
            return

        def prepare(reporter=None, cancel=None) -> tuple[np.ndarray, np.ndarray]:
            return data.images.image(row), data.images.model_input(row, loaded.input_shape)

        def failed(message: str) -> None:
            self.panel.show_message(text, f"This image cannot be shown: {message}")

        if self.state.decodes_slowly():
            self.image_task.start(
                prepare,
                on_done=lambda result: self._ready(data, row, title, result),
                on_failed=lambda failure: failed(failure.message),
            )
            return
        try:
            result = prepare()
        except WorkbenchError as exc:
            failed(str(exc))
            return
        self._ready(data, row, title, result)

    def _ready(self, data: GalleryData, row: int, title: str, result: tuple[np.ndarray, np.ndarray]) -> None:
        display, model_input = result
        probs = np.asarray(data.evaluation.probs[row], dtype=np.float32)
        self.panel.show_prediction(display, model_input, probs, true_index=int(data.y_true[row]), title=title)

    def _request_model(self) -> None:
        """Load the data's model once (a request while it loads changes nothing)."""
        data = self.state.data
        if data is None or self.model_task.running or self.state.model_error:
            return
        if data.model_path is None:
            self.state.model_error = "there is no saved model (model.keras) for these predictions"
            return
        path = data.model_path

        def job(reporter, cancel):
            from core.inference import load_model

            return load_model(path)

        self.model_task.start(
            job, on_done=lambda loaded: self._model_loaded(data, loaded), on_failed=self._model_failed
        )

    def _model_loaded(self, data: GalleryData, loaded) -> None:
        data.loaded_model = loaded
        self.panel.view.set_model(loaded)
        self.show(self.state.detail_row)

    def _model_failed(self, failure: TaskFailure) -> None:
        self.state.model_error = failure.message
        self.show(self.state.detail_row)

    def shutdown(self) -> None:
        self.panel.view.shutdown()
