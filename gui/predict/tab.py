"""The Predict tab: drop images on the window and see what a model thinks, and why.

:class:`PredictTab` wires the parts of :mod:`gui.predict`: on the left the
:class:`~gui.predict.model_panel.ModelPanel` (several models selected = an ensemble), on the right
the :class:`~gui.predict.results_panel.ResultsPanel` (inputs, a table that fills as batches finish,
the single-image view), the :class:`~gui.predict.state.PredictState`, and three tasks, each a
:class:`~gui.tasks.TaskSlot` (a new start supersedes the last; its results never arrive): loading
models (:class:`~gui.predict.loading.ModelLoader`), and predicting a batch and reading the image
shown (:class:`~gui.predict.batch.BatchController`, which also handles Stop, Clear and Export).

Threads: the tab has its own :class:`~gui.workers.JobRunner` for loading models and predicting
batches (training may run for hours on the window's runner; Predict stays usable meanwhile), and a
second one for reading the image shown in the single view, so a click on a row is answered while a
long batch is still running. The view computes Grad-CAM on a third. All of them are stopped when
the window closes (the tab watches its window's close event) or :meth:`PredictTab.shutdown` is called.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from core import paths
from core.ensemble import InMemoryImage, SourceResult
from gui import dialogs
from gui.predict import class_names as class_names_dialog
from gui.predict.actions import make_actions
from gui.predict.batch import BatchController
from gui.predict.drop import IMAGE_FILTER, DropArea, qimage_to_pil, read_mime
from gui.predict.loading import ModelLoader
from gui.predict.model_panel import ModelPanel
from gui.predict.results_panel import ResultsPanel
from gui.predict.state import DROP_HINT, PredictState, initial_models, plan_drop
from gui.settings import AppSettings
from gui.workers import JobRunner

SHIPPED_MODEL = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
SETTINGS_TAB = "predict"


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
        self._hooked: QWidget | None = None
        self._resume_batch = False  # a batch was stopped for a model choice that may be refused

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
        self.picker.selection_changed.connect(self._on_models_chosen)
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
        """Choose the models used last time (or the shipped MNIST model) and load them.

        Done when the tab is first shown (or given images) with TensorFlow ready, not at start-up:
        loading costs a second or more of CPU that someone who came to train should not pay.
        """
        if self.state.started or not self.tf_ready:
            return
        self.state.started = True
        self.populate()
        wanted = initial_models(self.settings.tab_value(SETTINGS_TAB, "models", [], list), SHIPPED_MODEL)
        if not self.picker.select_paths(wanted):
            self.picker.select_paths([SHIPPED_MODEL])

    def refresh_models(self) -> None:
        self.picker.refresh()
        self.status_message.emit(f"{len(self.picker.entries)} models listed.", 3000)

    # ==========================================================================================
    # Models

    def open_model_file(self) -> None:
        start = self.settings.last_dir("models", str(paths.runs_dir(self.workspace)))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a Keras model", start, "Keras models (*.keras *.h5 *.hdf5);;All files (*)"
        )
        if path:
            self.use_model_file(path)

    def use_model_file(self, path: str | Path) -> None:
        """Add a model file to the list and predict with it."""
        self.state.started = True  # this choice replaces the one remembered from last time
        self.populate()
        self.picker.add_file(path)

    def add_loaded_model(self, loaded, predictor=None) -> None:
        """Use a model loaded elsewhere (another tab, a test) instead of loading its file again."""
        self.loader.add(loaded, predictor)

    def _on_models_chosen(self, chosen: list[Path]) -> None:
        self.state.choose_models(chosen)  # remembered once it works (_on_models_loaded)
        self.load_models(chosen)

    def load_models(self, chosen: list[Path]) -> None:
        """Load the chosen models (cached ones at once) in the background, then predict the inputs again."""
        if not chosen:
            return
        if not self.tf_ready:
            self.view.clear("Loading TensorFlow … the model is loaded as soon as it is ready.")
            return
        self._hook_window()
        self._resume_batch = self.state.running  # again with the old models, should these be refused
        self.stop()  # a batch with the old model is no longer wanted
        self.state.start_loading(chosen)
        self.panel.set_state("Loading " + ", ".join(p.name for p in chosen) + " …")
        self._update_actions()
        self.loader.load(
            chosen,
            on_done=self._on_models_loaded,
            on_failed=lambda f: self._on_models_loaded([(p, None, (f.message, f.detail)) for p in chosen]),
            on_cancelled=lambda _r: self._on_models_cancelled(),
        )

    def _on_models_cancelled(self) -> None:
        self.state.loading_done()
        self.panel.set_state("")
        self._update_actions()

    def _on_models_loaded(self, out: list) -> None:
        chosen = list(self.state.loading or self.state.wanted)
        outcome = self.loader.outcome(out, self)
        for path, problem in outcome.problems:
            self.picker.set_problem(path, problem)
            if problem:
                self.picker.forget_file(path)  # a file that does not load is not listed after a restart
        if outcome.error is not None:
            self._refuse_choice(chosen, *outcome.error)
            return
        self._use_models(outcome.members, outcome.predictors)
        self.picker.remember_files(chosen)
        self.settings.set_tab_state(SETTINGS_TAB, {"models": [str(p) for p in chosen]})

    def _refuse_choice(self, chosen: list[Path], title: str, message: str, detail: str) -> None:
        """A choice that cannot be used: the models in use before stay in use and selected; nothing is
        remembered. With none before (the first choice of a launch), the shipped model is used."""
        if self.state.refuse_choice():
            self.picker.restore_selection(self.state.in_use)
            self.panel.set_state("")
            self._update_actions()
            self.status_message.emit(f"Still predicting with the model in use: {message}", 10_000)
            if self._resume_batch and self.state.sources:
                self._start_batch(self.state.sources)
        else:
            self.settings.set_tab_state(SETTINGS_TAB, {"models": []})
            self._use_models([], [], problem=message)
            self.picker.forget_emitted()
            if [Path(p) for p in chosen] != [SHIPPED_MODEL] and SHIPPED_MODEL.is_file():
                self.picker.select_paths([SHIPPED_MODEL])
        dialogs.show_error(self, title, message, detail)

    def rename_classes(self) -> None:
        changed = False
        for m in [m for m in self.members if m.card is None]:
            changed = self.loader.name_classes(m, self, ask_if_known=True) or changed
        if changed:
            self._use_models(self.members, self.predictors)

    def _use_models(self, members: list, predictors: list, problem: str | None = None) -> None:
        self.batches.use_models(members, predictors)
        self.state.use_models([m.path for m in members], problem)
        self.panel.set_state("")
        self._show_model_info()
        self._update_actions()
        if not members:
            self.state.forget_rows()
            self.panel.clear_rows()
            self.view.clear(f"No model in use: {problem}" if problem else "Choose a model on the left.")
            return
        self.view.set_model(members)
        self.view.hold_gradcam(False)
        self.results.set_models(members[0].class_names, len(members))
        self.model_ready.emit()
        if self.state.sources:
            self._start_batch(self.state.sources)
        else:
            self.view.clear(DROP_HINT)

    def _show_model_info(self) -> None:
        self.model_panel.show_models(self.members, self.state.model_problem, self.tf_ready)

    def show_model_card(self, path: Path) -> None:
        self.model_panel.show_card(Path(path), self.loader.inferred(Path(path)))

    # ==========================================================================================
    # Inputs

    def open_images(self) -> None:
        start = self.settings.last_dir("images", str(Path.home()))
        files, _ = QFileDialog.getOpenFileNames(self, "Images to predict", start, IMAGE_FILTER)
        if files:
            self.settings.set_last_dir("images", str(Path(files[0]).parent))
            self.predict_sources(files)

    def open_folder(self) -> None:
        start = self.settings.last_dir("images", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "A folder of images to predict", start)
        if folder:
            self.settings.set_last_dir("images", folder)
            self.predict_sources([folder])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.handle_mime(mime, pasted=True):
            self.show_notice("The clipboard holds no image and no image file: copy an image or image files first.")

    def handle_mime(self, mime: QMimeData, *, pasted: bool = False) -> bool:
        """Predict what a drop or the clipboard holds; False if it holds nothing usable."""
        local, remote, image = read_mime(mime)
        plan = plan_drop(local, remote, image is not None)
        if plan.notice:
            self.show_notice(plan.notice)
        elif plan.notice == "":
            self.hide_notice()
        for m in plan.models:
            self.use_model_file(m)
        if plan.images:
            self.predict_sources(plan.images)
        elif plan.use_image_data:
            name = "Pasted image" if pasted else "Dropped image"
            self.predict_sources([InMemoryImage(name, qimage_to_pil(image))])
        return plan.accepted

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
        window = self.window()
        if window is not self and window is not self._hooked:
            if self._hooked is not None:
                self._hooked.removeEventFilter(self)
            window.installEventFilter(self)
            self._hooked = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if obj is self._hooked and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

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
