"""The main window: the Train, Predict, Gallery, Runs, Experiments and Inside tabs, the menus and the status bar.

It owns the one :class:`~gui.workers.JobRunner` every TensorFlow job goes through, hears from the
background TensorFlow import, remembers its geometry and the form between launches, and answers the
tabs' requests of one another (show a run in the Gallery, train its settings again, ...). Its parts:
the Runs, Experiments and Inside tabs built after the first paint (:mod:`.plot_tabs`), the status
bar (:mod:`.status`), closing (:mod:`.closing`: asks before stopping a run, waits for its thread,
then saves) and the menus (:mod:`gui.menus`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMainWindow, QTabWidget, QWidget

from core import paths
from gui import dialogs
from gui.gallery import GalleryTab
from gui.garbage import collect_garbage_in_gui_thread
from gui.main_window.closing import WindowCloser, ask_yes_no
from gui.main_window.first_paint import FirstPaint
from gui.main_window.plot_tabs import PlotTabs
from gui.main_window.status import StatusBar
from gui.menus import ModelCardViewer, build_menus
from gui.settings import AppSettings
from gui.train import TrainTab
from gui.workers import JobRunner

#: The tabs in their order: (title, tool tip).
TABS = [
    ("Train", "Train a model from the zoo on a dataset and watch it learn."),
    ("Predict", "Use a saved model on your own images."),
    ("Gallery", "Browse a run's test images with their predictions."),
    ("Runs", "Every saved run: compare, resume, continue, export."),
    ("Experiments", "Studies: vary settings over many runs, in parallel, and compare them in a table."),
    ("Inside", "Inside the network: t-SNE of features and activation maps."),
]


class MainWindow(QMainWindow):
    tensorflow_ready = Signal(object)

    def __init__(
        self,
        settings: AppSettings | None = None,
        *,
        tf_loader=None,
        workspace: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.workspace = workspace
        self.tf_loader = tf_loader
        self.tf_info: dict | None = None
        self.jobs = JobRunner(self)
        self.closer = WindowCloser(self)
        self._started = False
        self.setWindowTitle("CNN Workbench")

        self.tabs = QTabWidget()
        self.train_tab = TrainTab(self.jobs, self.settings, workspace=workspace)
        from gui.predict import PredictTab

        self.predict_tab = PredictTab(
            self.settings, workspace=workspace, tf_loader=tf_loader, show_status=self.show_status
        )
        self.gallery_tab = GalleryTab(self.jobs, self.settings, workspace=workspace)
        # The Runs, Experiments and Inside tabs (pyqtgraph) are built after the first paint: plot_tabs.py.
        self.plot_tabs = PlotTabs(self)
        pages = (self.train_tab, self.predict_tab, self.gallery_tab, *self.plot_tabs.slots)
        for index, (page, (title, tip)) in enumerate(zip(pages, TABS, strict=True)):
            self.tabs.addTab(page, title)
            self.tabs.setTabToolTip(index, tip)
        self.setCentralWidget(self.tabs)

        build_menus(self)
        # Ctrl+. and Esc stop what the shown tab runs (the Train tab's Stop is also in the Run menu,
        # so it is window-wide): only the current tab's Stop keeps its keys.
        self._stop_keys = {tab: tab.stop_action.shortcuts() for tab in (self.train_tab, self.predict_tab)}
        self.tabs.currentChanged.connect(self._route_stop_keys)
        self.card_viewer = ModelCardViewer(self)
        self.status_bar = StatusBar(self.statusBar(), self.jobs)
        self.job_label, self.tf_label = self.status_bar.job_label, self.status_bar.tf_label
        self.train_tab.status_message.connect(self.show_status)
        self.train_tab.running_changed.connect(self._on_running_changed)
        self.train_tab.show_in_gallery.connect(self.show_in_gallery)
        self.train_tab.sweep_requested.connect(self.sweep_settings)
        self.gallery_tab.status_message.connect(self.show_status)

        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1440, 900)
        self.tabs.setCurrentIndex(min(max(0, self.settings.current_tab()), self.tabs.count() - 1))
        self._route_stop_keys()
        self.train_tab.restore_layout()
        if self.tabs.currentWidget() in self.plot_tabs.slots:
            self.plot_tabs.build()

        if tf_loader is not None:
            tf_loader.ready.connect(self._on_tensorflow_ready)
            tf_loader.failed.connect(self._on_tensorflow_failed)

    def _route_stop_keys(self, _index: int | None = None) -> None:
        current = self.tabs.currentWidget()
        for tab, keys in self._stop_keys.items():
            tab.stop_action.setShortcuts(keys if tab is current else [])

    # ==========================================================================================
    # Start-up

    def finish_startup_after_paint(self) -> None:
        """Run :meth:`finish_startup` once the window has been painted (or at once if hidden)."""
        if not self.isVisible():
            self.finish_startup()
            return
        self._paint_watch = FirstPaint(self, lambda: QTimer.singleShot(0, self.finish_startup))

    def finish_startup(self) -> None:
        """Stage 2: lists, settings, plots, then TensorFlow in the background (see gui/garbage.py)."""
        if self._started:
            return
        self._started = True
        self.train_tab.populate()
        self.train_tab.attach_plots()
        self.plot_tabs.build()
        collect_garbage_in_gui_thread()  # before TensorFlow's import below: see gui/garbage.py
        # After a crash: offer to resume the runs that were cut short (resumes wait for TensorFlow).
        QTimer.singleShot(0, self.runs_tab.check_interrupted)
        if self.tf_loader is not None:
            self.tf_loader.start()

    @property
    def runs_tab(self):
        """The Runs tab (built on first use: see ``__init__``)."""
        self.plot_tabs.build()
        return self.plot_tabs.runs

    @property
    def inside_tab(self):
        """The Inside tab (built on first use: see ``__init__``)."""
        self.plot_tabs.build()
        return self.plot_tabs.inside

    @property
    def experiments_tab(self):
        """The Experiments tab (built on first use: see ``__init__``)."""
        self.plot_tabs.build()
        return self.plot_tabs.experiments

    def _on_tensorflow_ready(self, info: dict) -> None:
        self.tf_info = info
        self.status_bar.show_tensorflow(info)
        if info.get("devices") is not None:
            self.train_tab.hyper.hardware.show_devices(info["devices"])
        self.train_tab.set_tensorflow_ready(True)
        self.show_status("Ready to train.", 4000)
        self.tensorflow_ready.emit(info)

    def _on_tensorflow_failed(self, message: str, detail: str) -> None:
        self.status_bar.show_tensorflow_failed()
        dialogs.show_error(
            self,
            "TensorFlow could not be loaded",
            message + " Training needs it: reinstall with 'make setup' (or pip install tensorflow).",
            detail,
        )

    # ==========================================================================================
    # Status bar (status.py; the menus are built by gui/menus.py)

    def show_status(self, text: str, ms: int = 0) -> None:
        self.statusBar().showMessage(text, ms)

    def _on_running_changed(self, running: bool) -> None:
        for a in (self.open_run_action, self.open_dataset_action):
            a.setEnabled(not running)
        if running:
            self.tabs.setCurrentWidget(self.train_tab)

    # ==========================================================================================
    # File menu

    def open_model(self, path: str | Path | None = None) -> None:
        """Show a model's card; without a card, load the model in the background to describe it."""
        self.card_viewer.open(path)

    @property
    def card_dialog(self):
        return self.card_viewer.dialog

    def open_run(self, path: str | Path | None = None) -> None:
        from core.errors import WorkbenchError

        if self.train_tab.running:
            self.show_status("Stop the current run before opening another one.", 5000)
            return
        if not path:
            start = str(paths.runs_dir(self.workspace))
            path = QFileDialog.getExistingDirectory(self, "Open a run folder", start)
            if not path:
                return
        try:
            self.train_tab.show_run(path)
        except WorkbenchError as exc:
            dialogs.show_error(self, "Cannot open the run", str(exc), exc.detail)
            return
        except (OSError, ValueError) as exc:
            dialogs.show_error(self, "Cannot open the run", f"The run folder {path} cannot be read.", repr(exc))
            return
        self.tabs.setCurrentWidget(self.train_tab)

    def open_dataset_folder(self, path: str | Path | None = None) -> None:
        if self.train_tab.running:
            return
        self.tabs.setCurrentWidget(self.train_tab)
        if path:
            self.train_tab.open_folder(path)
        else:
            self.train_tab.choose_folder()

    def open_workspace(self) -> None:
        folder = paths.runs_dir(self.workspace)
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_in_gallery(self, run_dir) -> None:
        self.gallery_tab.show_run(run_dir)
        self.tabs.setCurrentWidget(self.gallery_tab)

    def show_gallery_detail(self, source, row: int) -> None:
        """Open test image ``row`` of a run (a folder) or of a shipped model (a .keras file) in the Gallery,
        selected in its grid."""
        source = Path(source)
        data = self.gallery_tab.data
        shown = data is not None and source in (getattr(data, "run_dir", None), getattr(data, "model_path", None))
        self.tabs.setCurrentWidget(self.gallery_tab)
        if shown:
            self.gallery_tab.select_image(row)
            return

        def when_loaded(*_args) -> None:
            self.gallery_tab.data_changed.disconnect(when_loaded)
            self.gallery_tab.select_image(row)

        self.gallery_tab.data_changed.connect(when_loaded)
        if source.suffix == ".keras":
            self.gallery_tab.show_shipped(source)
        else:
            self.gallery_tab.show_run(source)

    def show_activations(self, image, model, title: str) -> None:
        """An image of Predict or the Gallery (the user's own too) in the Inside tab, with its model."""
        self.inside_tab.set_image(image, model, title)
        self.tabs.setCurrentWidget(self.plot_tabs.inside_slot)

    def show_in_predict(self, model_path) -> None:
        self.predict_tab.use_model_file(model_path)
        self.tabs.setCurrentWidget(self.predict_tab)

    def train_again(self, config: dict, run_name: str = "") -> None:
        from core.config import config_from_run
        from core.errors import WorkbenchError

        if self.train_tab.running:
            self.show_status("Stop the current run before loading other settings.", 5000)
            return
        try:
            checked = config_from_run(config, run_name)
        except WorkbenchError as exc:  # a damaged or hand-edited config.json: a sentence, not a slot's traceback
            dialogs.show_error(self, "Cannot train this run again", str(exc), exc.detail)
            return
        self.train_tab.apply_config(checked)
        self.tabs.setCurrentWidget(self.train_tab)
        self.show_status("Settings loaded from the run: press Start to train again.", 6000)

    def sweep_settings(self, config: dict) -> None:
        """The Train tab's "Sweep these settings...": its settings become the Experiments tab's baseline."""
        self.experiments_tab.set_baseline(config, "the Train tab")
        self.tabs.setCurrentWidget(self.plot_tabs.experiments_slot)
        self.show_status("The Train tab's settings are the baseline: add the factors to vary, then Start.", 6000)

    def continue_run(self, run_dir, extra_epochs: int = 0) -> None:
        """Resume an interrupted or stopped run, or continue a finished one for ``extra_epochs``."""
        self.train_tab.resume_run(run_dir, extra_epochs)
        self.tabs.setCurrentWidget(self.train_tab)

    # ==========================================================================================
    # Help menu

    def show_user_guide(self) -> None:
        self.guide = dialogs.UserGuideDialog(self)
        self.guide.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.guide.show()

    def show_about(self) -> None:
        from core.logs import log_path

        extra = (
            f"<p>Settings: {self.settings.path}<br>Runs: {paths.runs_dir(self.workspace)}<br>"
            f"Log (attach it to a bug report): {log_path(self.workspace)}</p>"
        )
        dialogs.show_about(self, extra)

    # ==========================================================================================
    # Closing (closing.py)

    def confirm_stop_on_close(self) -> bool:
        """Ask whether to stop the run and quit (tests replace this)."""
        return ask_yes_no(
            self,
            "Stop training and quit?",
            "A run is in progress. Stop it and quit? The best model so far is evaluated and saved "
            "before the app closes.",
        )

    def confirm_stop_study_on_close(self) -> bool:
        """Ask whether to stop the running study and quit (tests replace this)."""
        return ask_yes_no(
            self,
            "Stop the study and quit?",
            "A study is running. Stop it and quit? Its running trials stop within a batch and wait in the "
            "study's queue: pick the study in the Experiments tab next time and press Continue.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.closer.close_event(event)
