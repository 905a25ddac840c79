"""The Predict tab: drop images on the window and see what a model thinks, and why.

:class:`PredictTab` wires the parts of :mod:`gui.predict`: on the left the
:class:`~gui.predict.model_panel.ModelPanel` (several models selected = an ensemble), on the right
the :class:`~gui.predict.results_panel.ResultsPanel` (inputs, a table that fills as batches finish,
the single-image view), the :class:`~gui.predict.state.PredictState`, and three tasks, each a
:class:`~gui.tasks.TaskSlot` (a new start supersedes the last; its results never arrive): loading
models (:class:`~gui.predict.loading.ModelLoader`, driven by :class:`~gui.predict.choice.ModelChoice`:
which models are in use, a refused choice), and predicting a batch and reading the image shown
(:class:`~gui.predict.batch.BatchController`, which also handles Stop, Clear and Export). Images come
in through :class:`~gui.predict.inputs.ImageInputs` (Open, Paste, drops).

Threads: the tab has its own :class:`~gui.workers.JobRunner` for loading models and predicting
batches (training may run for hours on the window's runner; Predict stays usable meanwhile), and a
second one for reading the image shown in the single view, so a click on a row is answered while a
long batch is still running. The view computes Grad-CAM on a third. All of them are stopped when
the window closes (:class:`~gui.predict.window_close.WindowCloseWatch`) or :meth:`PredictTab.shutdown`
is called.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from core.ensemble import InMemoryImage, SourceResult
from gui.predict import class_names as class_names_dialog
from gui.predict.actions import make_actions
from gui.predict.batch import BatchController
from gui.predict.choice import ModelChoice
from gui.predict.drop import DropArea
from gui.predict.inputs import ImageInputs
from gui.predict.loading import ModelLoader
from gui.predict.model_panel import ModelPanel
from gui.predict.results_panel import ResultsPanel
from gui.predict.state import DROP_HINT, PredictState
from gui.predict.window_close import WindowCloseWatch
from gui.settings import AppSettings
from gui.workers import JobRunner


class PredictTab(QWidget):
    status_message = Signal(str, int)  # text, milliseconds (0: until replaced)
    model_ready = Signal()  # a model (or ensemble) was loaded and is in use
    batch_finished = Signal(str)  # "finished", "cancelled" or "failed"

    def __init__(
        self,
        settings: AppSettings,
        *,
        workspace: Path | None = None,
        tf_loader=None,
        show_status=None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.workspace = workspace
        self.tf_loader = tf_loader
        self.state = PredictState()
        self.state.tf_ready = tf_loader is None or bool(getattr(tf_loader, "is_ready", False))
        self.jobs = JobRunner(self)  # loading models, predicting batches
        self.view_jobs = JobRunner(self)  # reading the image of the single view
        self.ask_class_names = class_names_dialog.ask_class_names  # tests replace it
        self.loader = ModelLoader(
            self.jobs, settings, ask=lambda *a: self.ask_class_names(*a), status=self.status_message.emit, parent=self
        )
        self.choice = ModelChoice(self)  # which models are in use
        self.inputs = ImageInputs(self)  # Open images / folder, Paste, drops
        self.window_watch = WindowCloseWatch(self, self.shutdown)  # the tab's threads end with its window

        if show_status is not None:
            self.status_message.connect(lambda text, ms: show_status(text, ms))
        if tf_loader is not None and not self.tf_ready:
            # Bound methods, not lambdas: the loader signals from its own thread, and only a QObject's
            # methods are queued to the GUI thread.
            tf_loader.ready.connect(self._on_tensorflow_ready)
            tf_loader.failed.connect(self._on_tensorflow_failed)

        self._build_actions()
        self._build_ui()
        self._update_actions()
        self._show_model_info()
        self.view.clear(DROP_HINT)

    # ==========================================================================================
    # Construction

    def _build_actions(self) -> None:
        handlers = {
            "open_images": self.open_images,
            "open_folder": self.open_folder,
            "paste": self.paste,
            "export": self.export_csv,
            "clear": self.clear_results,
            "stop": self.stop,
            "open_model": self.open_model_file,
            "refresh": self.refresh_models,
        }
        actions = make_actions(self, handlers)
        self.open_images_action, self.open_folder_action = actions["open_images"], actions["open_folder"]
        self.paste_action, self.export_action = actions["paste"], actions["export"]
        self.clear_action, self.stop_action = actions["clear"], actions["stop"]
        self.open_model_action, self.refresh_action = actions["open_model"], actions["refresh"]

    def _build_ui(self) -> None:
        self.model_panel = ModelPanel(self.settings, workspace=self.workspace)
        self.picker = self.model_panel.picker
        self.picker.open_button.clicked.connect(self.open_model_file)
        self.picker.refresh_button.clicked.disconnect()
        self.picker.refresh_button.clicked.connect(self.refresh_models)
        self.picker.selection_changed.connect(self.choice.chosen)
        self.model_panel.card_requested.connect(self.show_model_card)
        self.model_panel.status_message.connect(self.status_message)
        self.model_panel.rename_requested.connect(self.rename_classes)
        self.model_info = self.model_panel.model_info
        self.name_classes_button = self.model_panel.name_classes_button
        self.card_button = self.model_panel.card_button

        self.panel = ResultsPanel(
            inputs=(self.open_images_action, self.open_folder_action, self.paste_action),
            edits=(self.export_action, self.clear_action),
            stop=self.stop_action,
            export=self.export_action,
        )
        self.batches = BatchController(self.jobs, self.view_jobs, self.state, self.panel, parent=self)
        self.batches.finished.connect(self.batch_finished)
        self.batches.status_message.connect(self.status_message)
        self.batches.changed.connect(self._update_actions)
        p = self.panel
        self.results, self.table, self.view, self.progress, self.split = p.results, p.table, p.view, p.progress, p.split
        self.state_label, self.notice = p.state_label, p.notice

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(self.model_panel)
        self.main_split.addWidget(self.panel)
        self.main_split.setStretchFactor(0, 0)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setChildrenCollapsible(False)
        self.main_split.setSizes([440, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.main_split)
        self.drop_area = DropArea(self, self.handle_mime)  # the whole tab takes drops

    # ==========================================================================================
    # Start-up and TensorFlow

    @property
    def tf_ready(self) -> bool:
        return self.state.tf_ready

    def populate(self) -> None:
        """List the models (cards only; no TensorFlow needed)."""
        if not self.picker.populated:
            self.picker.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._hook_window()
        if not self.picker.populated:
            QTimer.singleShot(0, self.populate)
        elif self.state.started:
            QTimer.singleShot(0, self.picker.refresh)  # runs that finished since
        if self.tf_ready and not self.state.started:
            QTimer.singleShot(0, self._start)

    def set_tensorflow_ready(self, ready: bool = True) -> None:
        self.state.tf_ready = ready
        self._update_actions()
        self._show_model_info()
        if not ready:
            return
        if not self.state.started:
            if self.isVisible() or self.state.sources:
                self._start()
        elif self.state.load_when_ready:
            self.load_models(self.state.wanted)  # chosen before TensorFlow was ready

    def _on_tensorflow_ready(self, _info) -> None:
        self.set_tensorflow_ready(True)

    def _on_tensorflow_failed(self, message: str, detail: str) -> None:
        self.view.clear(f"Predict needs TensorFlow, which could not be loaded: {message}")

    def _start(self) -> None:
        """Load the models of the first start, once TensorFlow is ready (:meth:`ModelChoice.start`)."""
        self.choice.start()

    def refresh_models(self) -> None:
        self.picker.refresh()
        self.status_message.emit(f"{len(self.picker.entries)} models listed.", 3000)

    # ==========================================================================================
    # Models

    def open_model_file(self) -> None:
        self.choice.open_file()

    def use_model_file(self, path: str | Path) -> None:
        """Add a model file to the list and predict with it."""
        self.choice.use_file(path)

    def add_loaded_model(self, loaded, predictor=None) -> None:
        """Use a model loaded elsewhere (another tab, a test) instead of loading its file again."""
        self.loader.add(loaded, predictor)

    def load_models(self, chosen: list[Path]) -> None:
        """Load the chosen models (cached ones at once) in the background, then predict the inputs again."""
        self.choice.load(chosen)

    def rename_classes(self) -> None:
        self.choice.rename_classes()

    def _show_model_info(self) -> None:
        self.model_panel.show_models(self.members, self.state.model_problem, self.tf_ready)

    def show_model_card(self, path: Path) -> None:
        self.model_panel.show_card(Path(path), self.loader.inferred(Path(path)))

    # ==========================================================================================
    # Inputs

    def open_images(self) -> None:
        self.inputs.open_images()

    def open_folder(self) -> None:
        self.inputs.open_folder()

    def paste(self) -> None:
        self.inputs.paste()

    def handle_mime(self, mime: QMimeData, *, pasted: bool = False) -> bool:
        """Predict what a drop or the clipboard holds; False if it holds nothing usable."""
        return self.inputs.handle_mime(mime, pasted=pasted)

    def predict_sources(self, sources: list) -> None:
        """Predict these files, folders (searched recursively) and in-memory images; replaces the table."""
        self.state.set_sources([s if isinstance(s, InMemoryImage) else Path(s) for s in sources])
        self._start()
        if not self.predictors:
            self.state.forget_rows()
            self.results.clear()
            self.view.clear(self.state.waiting_message())
            self._update_actions()
            return
        self._start_batch(self.state.sources)

    # ==========================================================================================
    # Batches (gui/predict/batch.py runs them)

    @property
    def members(self) -> list:
        """LoadedModel of the model in use (several: an ensemble)."""
        return self.batches.members

    @property
    def predictors(self) -> list:
        return self.batches.predictors

    @property
    def results_hz(self) -> float:
        """Table updates a second during a batch (the first batch at once)."""
        return self.batches.rate_hz

    @results_hz.setter
    def results_hz(self, value: float) -> None:
        self.batches.rate_hz = value

    def _start_batch(self, sources: list) -> None:
        self._hook_window()
        self.batches.start(sources)

    def stop(self) -> None:
        """Stop predicting; the rows done so far stay."""
        self.batches.stop()

    def clear_results(self) -> None:
        self.batches.clear()
        self.hide_notice()

    def current_result(self) -> SourceResult | None:
        return self.panel.current_result()

    def show_result(self, result: SourceResult) -> None:
        """Show one result in the single view (reads the image again, in the background)."""
        self.batches.show_result(result)

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Save the table as CSV (asks where unless ``path`` is given); the path written, or None."""
        return self.batches.export_csv(path, self.settings)

    # ==========================================================================================
    # Notes, actions, closing

    def show_notice(self, text: str) -> None:
        self.panel.show_notice(text)

    def hide_notice(self) -> None:
        self.panel.hide_notice()

    @property
    def notice_text(self) -> str:
        return self.panel.notice_text

    @property
    def busy(self) -> bool:
        return self.jobs.busy or self.view_jobs.busy or self.view.jobs.busy

    def _update_actions(self) -> None:
        self.export_action.setEnabled(self.state.can_export)
        self.clear_action.setEnabled(self.state.can_clear)
        self.stop_action.setEnabled(self.state.can_stop)

    def _hook_window(self) -> None:
        self.window_watch.hook()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override (when the tab is a window of its own)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop predicting and wait for every thread of the tab to end (the window is closing)."""
        self.jobs.cancel()
        self.view_jobs.cancel()
        ok = self.jobs.wait_idle(timeout_ms)
        ok = self.view_jobs.wait_idle(timeout_ms) and ok
        ok = self.view.shutdown(timeout_ms) and ok
        return ok
