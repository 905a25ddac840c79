"""The Train tab: choose data, model and hyper-parameters, train, and watch it learn.

This class only wires: the pages report edits, which go into the :class:`TrainState` (the ONE
place the config is kept, and where the run's phase and what is enabled are decided); the tab
then starts the tasks that follow from a change and tells the pages what to show. Where things are:

* gui/train/state.py           the config, the run's state machine, what is enabled, the fix for an error
* gui/train/run_control.py     Start, Pause/Resume, Stop, the run's signals, its end and result
* gui/train/tasks.py           the dataset preview and the model summary (TaskSlots)
* gui/train/dataset_page.py, model_page.py, hyperparameters.py   the three setup pages
* gui/train/monitor.py         the buttons, state line, progress bars, plots and log
* gui/train/result_box.py      the result of a run or of a saved run
* here: the pages' edits into the state (``_after_change``), saved runs (``show_run``), settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.auto import AUTO_SPEC, default_config, transfer_config
from core.config import TrainConfig
from gui.settings import AppSettings
from gui.train.dataset_page import DatasetPage
from gui.train.hyperparameters import HyperParameterForm
from gui.train.model_page import ModelPage
from gui.train.monitor import RunMonitor
from gui.train.result_box import ResultBox, describe_saved_run
from gui.train.run_control import RunControl
from gui.train.state import MODEL_FIELDS, PREVIEW_FIELDS, Phase, TrainState
from gui.train.tasks import PreviewAndSummary
from gui.workers import JobRunner, TrainWorker

PAGE_TIPS = (
    "Which images to train on: the bundled sample, a Keras built-in, or a folder of your own.",
    "Which network to train, its options and its layer-by-layer summary.",
    "How to train: optimizer, learning rate and schedule, batch size, epochs, augmentation, "
    "regularisation and early stopping.",
)


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class TrainTab(QWidget):
    running_changed = Signal(bool)
    status_message = Signal(str, int)  # text, milliseconds (0: until replaced)
    show_in_gallery = Signal(object)  # run folder (Path)

    def __init__(
        self,
        jobs: JobRunner,
        settings: AppSettings,
        *,
        workspace: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.settings = settings
        self.workspace = workspace
        self.state = TrainState()
        self.train_fn = None  # tests may replace core.training.train
        self.shown_run: Path | None = None
        self._was_running = False
        self._applying = False  # apply_config is filling the pages: their signals are not edits

        self._build_ui()
        self.preview_jobs = JobRunner(self)  # dataset previews: no TensorFlow for the sample and folders
        self.tasks = PreviewAndSummary(self, jobs, self.preview_jobs)
        self.run = RunControl(self, jobs)
        self._show_state(transition=True)

    # ==========================================================================================
    # Construction

    def _build_ui(self) -> None:
        self.dataset_page = DatasetPage()
        self.dataset_page.dataset_chosen.connect(self._on_dataset_chosen)
        self.dataset_page.open_folder_requested.connect(self.choose_folder)
        self.dataset_page.fields_changed.connect(lambda fields: self._edit(**fields))
        self.model_page = ModelPage()
        self.model_page.model_chosen.connect(self._on_model_chosen)
        self.model_page.options_changed.connect(self._on_options_changed)
        self.model_page.pretrained_changed.connect(lambda on: self._edit(pretrained=on))
        self.model_page.auto_panel.transfer_requested.connect(self.use_transfer_learning)
        self.hyper = HyperParameterForm()
        self.hyper.changed.connect(self._on_hyper_changed)
        self.hyper.restore_defaults.connect(self.restore_default_hyperparameters)
        self.regularisation = self.hyper.regularisation
        self.regularisation.changed.connect(
            lambda: self._on_options_changed(list(self.regularisation.defaults), self.regularisation.changed_values())
        )

        self.setup_tabs = QTabWidget()
        self.setup_tabs.setDocumentMode(True)
        for i, (page, title) in enumerate(
            ((self.dataset_page, "1  Dataset"), (self.model_page, "2  Model"), (self.hyper, "3  Hyper-parameters"))
        ):
            self.setup_tabs.addTab(_scroll(page), title)
            self.setup_tabs.setTabToolTip(i, PAGE_TIPS[i])
        self.setup_tabs.setMinimumWidth(440)

        self.result_box = ResultBox()
        self.result_box.show_in_gallery.connect(self.show_in_gallery)
        self.result_box.open_folder.connect(lambda d: QDesktopServices.openUrl(QUrl.fromLocalFile(str(d))))
        self.result_box.copy_path.connect(self._copy_model_path)
        self.result_box.use_settings.connect(self._use_run_settings)
        self.monitor = RunMonitor(self.result_box)
        self.start_action = self.monitor.start_action
        self.pause_action = self.monitor.pause_action
        self.stop_action = self.monitor.stop_action
        self.start_action.triggered.connect(self.start_training)
        self.pause_action.triggered.connect(self.toggle_pause)
        self.stop_action.triggered.connect(self.stop_training)
        for action in (self.start_action, self.pause_action, self.stop_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.setup_tabs)
        self.splitter.addWidget(self.monitor)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([470, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

    @property
    def plots(self):
        """The live plots (None until :meth:`attach_plots`)."""
        return self.monitor.plots

    @property
    def log(self):
        return self.monitor.log

    @property
    def tf_ready(self) -> bool:
        return self.state.tf_ready

    @property
    def running(self) -> bool:
        return self.state.running

    @property
    def phase(self) -> Phase:
        return self.state.phase

    # ==========================================================================================
    # Start-up stages

    def populate(self) -> None:
        """Fill the dataset and model lists and restore the last settings (no TensorFlow needed)."""
        from core import datasets, models

        self.state.datasets = {d["name"]: d for d in datasets.list_datasets()}
        specs = [AUTO_SPEC, *models.list_models()]  # auto first: the default
        self.state.specs = {s.name: s for s in specs}
        self.model_page.fill(specs)
        self.state.populated = True
        self.apply_config(self.state.config_from_settings(self.settings.train_config()))

    def attach_plots(self) -> None:
        """Create the pyqtgraph plots (imports pyqtgraph: done after the window is on screen)."""
        self.monitor.attach_plots()

    def set_tensorflow_ready(self, ready: bool = True) -> None:
        self.state.tf_ready = ready
        self._show_state()
        if ready:
            QTimer.singleShot(0, self.run.resume_next)
            self.tasks.request_summary(immediately=True)
            if self.state.preview is None:
                self.tasks.request_preview(immediately=True)

    # ==========================================================================================
    # Configuration: the pages' edits go into the state; the tab follows up on what changed

    def current_config(self) -> TrainConfig:
        return self.state.config

    def current_dataset(self) -> str | None:
        return self.dataset_page.current()

    def current_model(self) -> str | None:
        return self.model_page.current()

    def input_shape(self) -> tuple[int, int, int] | None:
        """The shape the model will receive, when it is known (built-ins: always; folders: after the preview)."""
        return self.state.input_shape()

    def apply_config(self, config: TrainConfig) -> None:
        """Show ``config`` in the pages (dataset, model, options and every hyper-parameter) and keep it."""
        self._applying = True
        try:
            self.state.apply(config)
            self.hyper.set_values(config.to_dict())
            self.dataset_page.set_values(config)
            self.dataset_page.fill(self.state.datasets, self.settings.recent_folders(), config.dataset)
            if self.model_page.select(config.model):
                self._show_model(config.model, dict(config.model_options), config.pretrained)
        finally:
            self._applying = False
        # What the pages could take (a value out of a field's range is clamped, an unknown model
        # is not selected) is what a run uses.
        shown = {**self.hyper.values(), **self.dataset_page.values()}
        shown.update(dataset=self.current_dataset() or config.dataset, model=self.current_model() or config.model)
        if self.state.populated:
            shown.update(model_options=self._shown_options(), pretrained=self.model_page.pretrained())
        self.state.update(**shown)
        self._after_change(set(PREVIEW_FIELDS | MODEL_FIELDS), reload_preview=True)

    def _edit(self, **fields) -> None:
        """An edit in a page: into the state, then what follows from it."""
        if not self._applying:
            self._after_change(self.state.update(**fields))

    def _after_change(self, changed: set[str], *, reload_preview: bool = False) -> None:
        if "dataset" in changed or reload_preview:
            name = self.state.get("dataset")
            self.dataset_page.describe(name, self.state.datasets.get(name))
            self.state.forget_preview()
            self.dataset_page.preview.show_message("Loading the preview ...")
        if changed & PREVIEW_FIELDS or reload_preview:
            self.tasks.request_preview(restart=True)
        if changed & MODEL_FIELDS:
            self.tasks.forget_params()
        if changed & MODEL_FIELDS or "dataset" in changed or reload_preview:
            self.tasks.request_summary()
        self._show_state()

    def select_dataset(self, name: str) -> None:
        """Use dataset ``name`` (a built-in or a folder) and load its preview again."""
        self.dataset_page.fill(self.state.datasets, self.settings.recent_folders(), name)
        self._on_dataset_chosen(name)

    def _on_dataset_chosen(self, name: str) -> None:
        if not self._applying:
            self._after_change(self.state.update(dataset=name), reload_preview=True)

    def _on_hyper_changed(self) -> None:
        self._edit(**self.hyper.values())

    def _on_options_changed(self, keys: list, values: dict) -> None:
        if not self._applying:
            self._after_change(self.state.set_options(keys, values))

    def _on_model_chosen(self, name: str) -> None:
        if self._applying or name not in self.state.specs:
            return
        options = self.state.select_model(name)
        self._show_model(name, options, self.state.get("pretrained"))
        changed = self.state.update(model_options=self._shown_options(), pretrained=self.model_page.pretrained())
        self._after_change(changed | {"model"})

    def _show_model(self, name: str, options: dict, pretrained: bool) -> None:
        spec = self.state.specs[name]
        self.model_page.show_spec(spec, options, pretrained)
        self.regularisation.blockSignals(True)
        try:
            self.regularisation.set_spec(spec, options)
        finally:
            self.regularisation.blockSignals(False)
        self.tasks.forget_params()

    def _shown_options(self) -> dict:
        return {**self.model_page.options.changed_values(), **self.regularisation.changed_values()}

    def select_model(self, name: str) -> None:
        """Choose model ``name`` as if picked in the list."""
        if self.model_page.select(name):
            self._on_model_chosen(name)

    def use_transfer_learning(self) -> None:
        """The Auto panel's offer: MobileNetV2 with ImageNet weights and the auto recipe."""
        self.apply_config(transfer_config(self.state.config))

    def restore_default_hyperparameters(self) -> None:
        self.hyper.set_values(default_config().to_dict())  # each form's change reaches the state
        spec = self.state.specs.get(self.state.get("model"))
        if spec is not None:
            self.regularisation.set_spec(spec)

    def save_settings(self) -> None:
        if self.state.populated:
            self.settings.set_train_config(self.state.to_settings())
        self.settings.save_splitters(self._splitters())

    def restore_layout(self) -> None:
        self.settings.restore_splitters(self._splitters())

    def _splitters(self) -> dict[str, QSplitter]:
        return {"train": self.splitter, "monitor": self.monitor.split}

    # ==========================================================================================
    # Dataset folders

    def choose_folder(self) -> None:
        start = self.settings.last_dir("datasets", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of class folders", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> None:
        """Use ``folder`` (one sub-folder per class) as the dataset and preview it."""
        folder = str(Path(folder).expanduser().resolve())
        self.settings.add_recent_folder(folder)
        self.settings.set_last_dir("datasets", str(Path(folder).parent))
        self.tasks.forget_scan(folder)  # scan again: the folder may have changed since
        self.select_dataset(folder)
        self.setup_tabs.setCurrentIndex(0)

    # ==========================================================================================
    # What is enabled: asked of the state, shown by the pages

    def start_problem(self) -> str | None:
        """Why Start is not possible right now, or None."""
        return self.state.start_problem()

    def _show_state(self, *, transition: bool = False) -> None:
        """Show the phase and what is enabled; the state line follows too on a transition, or at
        rest without a note (then it says whether Start can go, and if not, why)."""
        state = self.state
        actions = state.actions()
        follows = transition or (not state.running and state.note is None)
        self.monitor.show_phase(state.phase, actions, state.status_text() if follows else None)
        # Lock what would change the run under it; previews, summary and log stay readable.
        self.dataset_page.set_editable(actions.form_editable)
        self.model_page.set_editable(actions.form_editable)
        self.hyper.setEnabled(actions.form_editable)
        choices = state.auto_choices()  # auto's choices for the previewed data, and why
        self.model_page.auto_panel.show_choices(choices, state.transfer_advice())
        self.hyper.show_reasons([c for c in choices if c.what != "Model"] if choices else choices)
        if self._was_running != state.running:
            self._was_running = state.running
            self.running_changed.emit(state.running)

    def _fire(self, event: str) -> None:
        self.state.fire(event)
        self._show_state(transition=True)

    def note(self, text: str) -> None:
        """A sentence for the state line that stays until the next run (an outcome, a shown run)."""
        self.state.note = text
        self.monitor.state_label.setText(text)

    # ==========================================================================================
    # Start, Pause, Stop: handled in gui/train/run_control.py

    def start_training(self) -> bool:
        """Start a run with the form's settings; False (with a message) if it cannot start."""
        return self.run.start()

    def resume_run(self, run_dir: str | Path, extra_epochs: int = 0) -> bool:
        """Go on with a saved run in its own folder (after a crash or Stop, or for extra epochs)."""
        return self.run.resume(run_dir, extra_epochs)

    def toggle_pause(self) -> None:
        self.run.toggle_pause()

    def stop_training(self) -> None:
        self.run.stop()

    @property
    def worker(self) -> TrainWorker | None:
        """The current run's worker, while there is one."""
        return self.run.worker

    @property
    def last_result(self):
        """The ``RunResult`` of the last run that ended with one."""
        return self.run.last_result

    # ==========================================================================================
    # Saved runs

    def show_run(self, run_dir: str | Path) -> None:
        """Show a saved run: its history in the plots, its metrics and paths in the result box."""
        from core import runs

        if self.state.running:
            self.status_message.emit("Stop the current run before opening another one.", 5000)
            return
        run_dir = runs.resolve_run(str(run_dir), self.workspace)
        info = runs.read_run(run_dir)
        history = runs.read_history(run_dir)
        best = info.best_epoch  # the one best-epoch rule (core.runs.best_epoch)
        config = info.config or {}
        notes = [f"Note: {problem}" for problem in info.problems]
        if info.status.get("error"):
            notes.append(f"Error: {info.status['error']}")
        self.monitor.show_history(
            f"Run {run_dir.name} ({info.state}): {config.get('model', '?')} on {config.get('dataset', '?')}",
            history,
            int(config.get("epochs") or len(history) or 1),
            best,
            notes,
        )
        headline, details = describe_saved_run(info, history, best)
        self.result_box.show_run(headline, details, run_dir, info.model_path, config or None)
        self.shown_run = run_dir
        self.note(f"Showing the saved run {run_dir.name}.")

    def _copy_model_path(self, path: Path) -> None:
        QGuiApplication.clipboard().setText(str(path))
        self.status_message.emit("Model path copied.", 3000)

    def _use_run_settings(self, config: dict) -> None:
        self.apply_config(TrainConfig.from_dict(config))
        self.status_message.emit("The run's settings are in the form; press Start to train again.", 5000)

    # ==========================================================================================

    def shutdown(self) -> None:
        """Stop timers and preview jobs (the window waits for the training job itself)."""
        self.tasks.shutdown()
        self.monitor.shutdown()
