"""The Predict tab: drop images on the window and see what a model thinks, and why.

Left, the model picker (shipped models, the workspace's runs, opened ``.keras`` files; several
selected = an ensemble) and what the chosen model is. Right, the inputs (Open images, Open folder,
Paste, or drop files and folders anywhere on the tab), a sortable results table that fills as
batches finish, and the single-image view (:class:`~gui.widgets.prediction_view.PredictionView`:
image, what the model sees, top-k chart, Grad-CAM) for the chosen row.

Threads: the tab has its own :class:`~gui.workers.JobRunner` for loading models and predicting
batches (training may run for hours on the window's runner; Predict stays usable meanwhile), and a
second one for reading the image shown in the single view, so a click on a row is answered while a
long batch is still running. The view computes Grad-CAM on a third. All of them are stopped when
the window closes (the tab watches its window's close event) or :meth:`PredictTab.shutdown` is called.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import paths
from core.datasets.base import IMAGE_EXTENSIONS
from core.ensemble import InMemoryImage, SourceResult
from core.errors import ModelError, WorkbenchError
from core.inference import MODEL_SUFFIXES
from gui import dialogs
from gui.settings import AppSettings
from gui.widgets import predict_class_names as class_names_dialog
from gui.widgets.model_picker import ModelPicker
from gui.widgets.predict_results import COL_FILE, RESULT_ROLE, ResultsModel, results_csv
from gui.widgets.prediction_view import PredictionView
from gui.workers import JobRunner, JobWorker, run_in_thread

SHIPPED_MODEL = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
MODELS_KEY = "predict/models"
MAX_CACHED_MODELS = 6
RESULTS_HZ = 20.0
VIEW_MAX_SIDE = 1024
IMAGE_FILTER = "Images ({});;All files (*)".format(" ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)))
DROP_HINT = (
    "Drop images or folders here (anywhere on this tab), or use Open images (Ctrl+I), "
    "Open folder (Ctrl+Shift+I) or Paste (Ctrl+V)."
)


def _key(path: str | Path) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except OSError:
        return str(path)


def qimage_to_pil(image: QImage):
    """A PIL RGBA copy of a QImage (clipboard or dropped image data)."""
    from PIL import Image

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = rgba.width(), rgba.height()
    buf = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    arr = buf.reshape(h, rgba.bytesPerLine())[:, : 4 * w].reshape(h, w, 4)
    return Image.fromarray(arr.copy(), mode="RGBA")


class PredictWorker(JobWorker):
    """Predicts a list of sources with one model or an ensemble; results go out in throttled chunks.

    The first batch goes out as soon as it is done (the first rows appear at once), later ones
    are collected and sent at most ``rate_hz`` times a second: each chunk costs the GUI thread a
    repaint of the table, and while the next batch is read every call into Python that repaint
    makes waits for this thread to let go of the GIL.
    """

    results = Signal(object)  # list[SourceResult]

    def __init__(self, predictors, sources, *, k: int = 5, rate_hz: float = RESULTS_HZ) -> None:
        self.predictors = list(predictors)
        self.sources = list(sources)
        self.k = k
        self.total = 0
        super().__init__(self._predict, name="Predicting", key="predict", rate_hz=rate_hz)

    def _predict(self, reporter, cancel):
        from core.ensemble import predict_sources
        from core.inference import expand_paths

        reporter.on_progress(0, 0, "Looking for images")
        items: list = []
        for s in self.sources:
            items.extend([s] if isinstance(s, InMemoryImage) else expand_paths([s]))
        self.total = len(items)
        reporter.on_progress(0, self.total, "Predicting")  # later progress: the rows themselves
        pending: list[SourceResult] = []
        interval = 1.0 / self.rate_hz
        last = [float("-inf")]

        def on_batch(batch: list[SourceResult]) -> None:
            pending.extend(batch)
            if time.monotonic() - last[0] >= interval:
                flush()

        def flush() -> None:
            if pending:
                self.results.emit(list(pending))
                pending.clear()
            last[0] = time.monotonic()

        out = predict_sources(self.predictors, items, k=self.k, on_batch=on_batch, cancel=cancel)
        flush()
        return {"done": len(out), "total": self.total, "ok": sum(1 for r in out if r.ok)}


class _BatchRelay(QObject):
    """Receives one batch's signals in the GUI thread and tags them with the batch's number."""

    def __init__(self, tab: PredictTab, generation: int) -> None:
        super().__init__(tab)
        self.tab = tab
        self.generation = generation

    @Slot(object)
    def results(self, chunk) -> None:
        self.tab._on_results(self.generation, chunk)

    @Slot(int, int, str)
    def progress(self, done: int, total: int, what: str) -> None:
        self.tab._on_progress(self.generation, done, total, what)

    @Slot(object)
    def finished(self, summary) -> None:
        self.tab._on_batch_end(self.generation, "finished", summary)
        self.deleteLater()

    @Slot(object)
    def cancelled(self, summary) -> None:
        self.tab._on_batch_end(self.generation, "cancelled", summary)
        self.deleteLater()

    @Slot(str, str)
    def failed(self, message: str, detail: str) -> None:
        self.tab._on_batch_end(self.generation, "failed", (message, detail))
        self.deleteLater()


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
        self.jobs = JobRunner(self)  # loading models, predicting batches
        self.view_jobs = JobRunner(self)  # reading the image of the single view
        self.ask_class_names = class_names_dialog.ask_class_names  # tests replace it
        self.tf_ready = tf_loader is None or bool(getattr(tf_loader, "is_ready", False))
        self.members: list = []  # LoadedModel of the model in use (several: an ensemble)
        self.predictors: list = []
        self._cache: dict[str, tuple[Any, Any]] = {}  # path -> (LoadedModel, Predictor), most recent last
        self._wanted: list[Path] = []  # the models chosen in the picker
        self._loading: list[Path] | None = None
        self._model_problem: str | None = None
        self._sources: list = []  # what was dropped/opened/pasted last
        self._generation = 0
        self._batch_running = False
        self._batch_started = 0.0
        self._view_request = 0
        self._hooked: QWidget | None = None
        self._started = False
        self._auto_selecting = False
        self._view_waits = False  # the batch's first row, selected: shown in the view when the batch ends
        self.results_hz = RESULTS_HZ  # table updates a second during a batch (the first batch at once)

        if show_status is not None:
            self.status_message.connect(lambda text, ms: show_status(text, ms))
        if tf_loader is not None and not self.tf_ready:
            # Bound methods, not lambdas: the loader signals from its own thread, and only a QObject's
            # methods are queued to the GUI thread.
            tf_loader.ready.connect(self._on_tensorflow_ready)
            tf_loader.failed.connect(self._on_tensorflow_failed)

        self.setAcceptDrops(True)
        self._build_actions()
        self._build_ui()
        self._update_actions()
        self._show_model_info()
        self.view.clear(DROP_HINT)

    # ==========================================================================================
    # Construction

    def _action(self, text: str, shortcut: QKeySequence | str | None, tip: str, slot, icon=None) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # only while this tab is shown
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        # Ctrl+O is File > Open model... in the main window; Open images takes Ctrl+I here.
        self.open_images_action = self._action(
            "Open &images…", "Ctrl+I", "Predict image files you choose", self.open_images, sp.SP_DialogOpenButton
        )
        self.open_folder_action = self._action(
            "Open &folder…",
            "Ctrl+Shift+I",
            "Predict every image in a folder and its sub-folders",
            self.open_folder,
            sp.SP_DirOpenIcon,
        )
        self.paste_action = self._action(
            "&Paste", "Ctrl+V", "Predict an image, or image files, from the clipboard", self.paste, sp.SP_FileIcon
        )
        self.export_action = self._action(
            "&Export CSV…",
            "Ctrl+E",
            "Save the results table, with every class probability, as CSV",
            self.export_csv,
            sp.SP_DialogSaveButton,
        )
        self.clear_action = self._action(
            "C&lear", "Ctrl+L", "Remove the results and the image shown", self.clear_results, sp.SP_DialogResetButton
        )
        self.stop_action = self._action(
            "&Stop", None, "Stop predicting; the rows done so far stay", self.stop, sp.SP_MediaStop
        )
        self.open_model_action = self._action(
            "Open .keras file…", "Ctrl+M", "Add a saved Keras model from anywhere and use it", self.open_model_file
        )
        self.refresh_action = self._action(
            "Refresh models", "F5", "List the workspace's runs again", self.refresh_models
        )

    def _build_ui(self) -> None:
        # Left: models
        self.picker = ModelPicker(self.settings, workspace=self.workspace)
        self.picker.open_button.clicked.connect(self.open_model_file)
        self.picker.refresh_button.clicked.disconnect()
        self.picker.refresh_button.clicked.connect(self.refresh_models)
        self.picker.selection_changed.connect(self._on_models_chosen)
        self.picker.card_requested.connect(self.show_model_card)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setTextFormat(Qt.TextFormat.RichText)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.name_classes_button = QPushButton("Name classes…")
        self.name_classes_button.setToolTip("Give the classes of this card-less model their names.")
        self.name_classes_button.clicked.connect(self.rename_classes)
        self.card_button = QPushButton("Model card…")
        self.card_button.setToolTip("Everything the model's card says: classes, input, dataset, training, metrics.")
        self.card_button.clicked.connect(lambda: self.members and self.show_model_card(self.members[0].path))
        info_buttons = QHBoxLayout()
        info_buttons.addWidget(self.card_button)
        info_buttons.addWidget(self.name_classes_button)
        info_buttons.addStretch(1)
        model_box = QGroupBox("Model")
        mb = QVBoxLayout(model_box)
        mb.addWidget(self.picker, 3)
        in_use = QLabel("In use")
        in_use.setStyleSheet("font-weight: bold")
        mb.addWidget(in_use)
        mb.addWidget(self.model_info, 1)
        mb.addLayout(info_buttons)

        # Right: inputs, progress, results, single view
        def tool(action: QAction) -> QToolButton:
            b = QToolButton()
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            return b

        bar = QHBoxLayout()
        for a in (self.open_images_action, self.open_folder_action, self.paste_action):
            bar.addWidget(tool(a))
        bar.addSpacing(12)
        for a in (self.export_action, self.clear_action):
            bar.addWidget(tool(a))
        bar.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setToolTip("Images predicted so far.")
        self.progress.setFormat("%v / %m")
        self.progress.hide()
        bar.addWidget(self.progress)
        bar.addWidget(tool(self.stop_action))

        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        self.notice_label = QLabel("")
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_close = QToolButton()
        self.notice_close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        self.notice_close.setToolTip("Hide this message.")
        self.notice_close.setAutoRaise(True)
        self.notice_close.clicked.connect(self.hide_notice)
        self.notice = QFrame()
        self.notice.setFrameShape(QFrame.Shape.StyledPanel)
        self.notice.setStyleSheet("QFrame { background: #fff4ce; color: #3b2f00; border-radius: 4px; }")
        nl = QHBoxLayout(self.notice)
        nl.setContentsMargins(8, 4, 4, 4)
        nl.addWidget(self.notice_label, 1)
        nl.addWidget(self.notice_close, 0, Qt.AlignmentFlag.AlignTop)
        self.notice.hide()

        self.results = ResultsModel(self)  # sorts itself: no proxy model (see its module)
        self.table = QTableView()
        self.table.setModel(self.results)
        # No sort column until a title is clicked: rows stay in the order the files came in.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.setIconSize(QSize(36, 36))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 44)
        header.resizeSection(COL_FILE, 220)
        header.resizeSection(2, 120)
        header.resizeSection(3, 90)
        header.resizeSection(4, 140)
        header.setStretchLastSection(True)
        self.table.setToolTip("Click a row to see that image below. Click a column title to sort.")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.doubleClicked.connect(self._open_row_file)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.table.hide()

        self.view = PredictionView()

        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(self.view)
        self.split.setStretchFactor(0, 2)
        self.split.setStretchFactor(1, 3)
        self.split.setChildrenCollapsible(False)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.addLayout(bar)
        rl.addWidget(self.state_label)
        rl.addWidget(self.notice)
        rl.addWidget(self.split, 1)

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(model_box)
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(0, 0)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setChildrenCollapsible(False)
        self.main_split.setSizes([440, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.main_split)

        self.drop_overlay = QLabel("Drop to predict", self)
        self.drop_overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_overlay.setStyleSheet(
            "QLabel { background: rgba(31, 119, 180, 40); border: 3px dashed rgb(31, 119, 180); "
            "font-size: 22pt; font-weight: bold; color: rgb(31, 119, 180); }"
        )
        self.drop_overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.drop_overlay.hide()

    # ==========================================================================================
    # Start-up and TensorFlow

    def populate(self) -> None:
        """List the models (cards only; no TensorFlow needed)."""
        if not self.picker.populated:
            self.picker.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._hook_window()
        if not self.picker.populated:
            QTimer.singleShot(0, self.populate)
        elif self._started:
            QTimer.singleShot(0, self.picker.refresh)  # runs that finished since
        if self.tf_ready and not self._started:
            QTimer.singleShot(0, self._start)

    def set_tensorflow_ready(self, ready: bool = True) -> None:
        self.tf_ready = ready
        self._update_actions()
        self._show_model_info()
        if not ready:
            return
        if not self._started:
            if self.isVisible() or self._sources:
                self._start()
        elif self._wanted and not self.members and self._loading is None:
            self.load_models(self._wanted)  # chosen before TensorFlow was ready

    def _on_tensorflow_ready(self, _info) -> None:
        self.set_tensorflow_ready(True)

    def _on_tensorflow_failed(self, message: str, detail: str) -> None:
        self.view.clear(f"Predict needs TensorFlow, which could not be loaded: {message}")

    def _start(self) -> None:
        """Choose the models used last time (or the shipped MNIST model) and load them.

        Done when the tab is first shown (or given images) with TensorFlow ready, not at start-up:
        loading costs a second or more of CPU that someone who came to train should not pay.
        """
        if self._started or not self.tf_ready:
            return
        self._started = True
        self.populate()
        saved = self._saved_models()
        wanted = [p for p in saved if Path(p).is_file()] or [SHIPPED_MODEL]
        if not self.picker.select_paths(wanted):
            self.picker.select_paths([SHIPPED_MODEL])

    def _saved_models(self) -> list[str]:
        raw = self.settings.q.value(MODELS_KEY, "[]")
        try:
            data = json.loads(str(raw))
        except (TypeError, ValueError):
            return []
        return [str(p) for p in data if isinstance(p, str)] if isinstance(data, list) else []

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
        self._started = True  # this choice replaces the one remembered from last time
        self.populate()
        self.picker.add_file(path)

    def _on_models_chosen(self, chosen: list[Path]) -> None:
        self.settings.q.setValue(MODELS_KEY, json.dumps([str(p) for p in chosen]))
        self._wanted = list(chosen)
        self.load_models(chosen)

    def load_models(self, chosen: list[Path]) -> None:
        """Load the chosen models (cached ones at once) in the background, then predict the inputs again."""
        if not chosen:
            return
        if not self.tf_ready:
            self.view.clear("Loading TensorFlow … the model is loaded as soon as it is ready.")
            return
        self._hook_window()
        self.jobs.cancel("predict")  # a batch with the old model is no longer wanted
        self._loading = list(chosen)
        self._set_state("Loading " + ", ".join(p.name for p in chosen) + " …")
        self._update_actions()
        cached = {k: v for k, v in self._cache.items()}

        def job(reporter, cancel):
            from core.inference import Predictor, load_model

            out = []
            for p in chosen:
                hit = cached.get(_key(p))
                if hit is not None:
                    out.append((p, hit, None))
                    continue
                try:
                    loaded = load_model(p)
                    predictor = Predictor(loaded)
                    predictor.warm_up()  # traced here, so the first image is fast
                    out.append((p, (loaded, predictor), None))
                except WorkbenchError as exc:
                    out.append((p, None, (str(exc), exc.detail)))
                except MemoryError:
                    out.append((p, None, ("There is not enough memory to load this model.", "")))
                except Exception as exc:  # noqa: BLE001 - any failure becomes a sentence and a detail
                    out.append((p, None, (f"{p.name} cannot be used: {type(exc).__name__}: {exc}", "")))
            return out

        run_in_thread(
            self.jobs,
            job,
            name="Loading model",
            key="load",
            context=self,
            on_finished=lambda out: self._on_models_loaded(chosen, out),
            on_failed=lambda message, detail: self._on_models_failed(chosen, message, detail),
            on_cancelled=lambda _r: self._on_models_cancelled(chosen),
        )

    def _on_models_cancelled(self, chosen: list[Path]) -> None:
        if self._loading == chosen:
            self._loading = None
            self._set_state("")
            self._update_actions()

    def _on_models_failed(self, chosen: list[Path], message: str, detail: str) -> None:
        self._on_models_loaded(chosen, [(p, None, (message, detail)) for p in chosen])

    def _on_models_loaded(self, chosen: list[Path], out: list) -> None:
        for p, pair, _err in out:
            if pair is not None:
                self._remember(p, pair)
        if chosen != self._wanted:
            return  # the choice moved on while these loaded (they stay cached)
        self._loading = None
        failures = [(p, err) for p, pair, err in out if err is not None]
        for p, _pair, err in out:
            self.picker.set_problem(p, err[0] if err else None)
        if failures:
            p, (message, detail) = failures[0]
            self._use_models([], [], problem=message)
            dialogs.show_error(self, "Cannot use the model", message, detail)
            self.picker.forget_emitted()
            return
        pairs = [pair for _p, pair, _e in out]
        for loaded, _pred in pairs:
            if loaded.card is None:
                self._name_classes(loaded, ask_if_known=False)
        members = [loaded for loaded, _ in pairs]
        try:
            from core.ensemble import check_compatible

            check_compatible(members)
        except ModelError as exc:
            self._use_models([], [], problem=str(exc))
            dialogs.show_error(self, "These models cannot be combined", str(exc), exc.detail)
            self.picker.forget_emitted()
            return
        self._use_models(members, [pred for _, pred in pairs])

    def add_loaded_model(self, loaded, predictor=None) -> None:
        """Use a model loaded elsewhere (another tab, a test) instead of loading its file again."""
        from core.inference import Predictor

        self._remember(loaded.path, (loaded, predictor or Predictor(loaded)))

    def _remember(self, path: Path, pair) -> None:
        key = _key(path)
        self._cache.pop(key, None)
        self._cache[key] = pair
        while len(self._cache) > MAX_CACHED_MODELS:
            self._cache.pop(next(iter(self._cache)))

    def _name_classes(self, loaded, *, ask_if_known: bool) -> bool:
        """Give a card-less model class names: remembered ones, or asked for. True if they changed."""
        count = loaded.num_classes
        known = class_names_dialog.remembered_names(self.settings, loaded.path, count)
        if known is not None and not ask_if_known:
            loaded.class_names = known
            return False
        initial = known or list(loaded.class_names) or class_names_dialog.numbered(count)
        answer = self.ask_class_names(self, loaded.path, initial)
        if answer is None:
            if known is None:  # remember the choice, so the question is not asked every time
                class_names_dialog.remember_names(self.settings, loaded.path, list(loaded.class_names))
            return False
        names, save_card = answer
        loaded.class_names = list(names)
        class_names_dialog.remember_names(self.settings, loaded.path, list(names))
        if save_card:
            try:
                written = class_names_dialog.write_minimal_card(
                    loaded.path, list(names), loaded.input_shape, str(getattr(loaded.model, "name", "model"))
                )
                loaded.card = None  # the file on disk has it; this session keeps treating it as card-less
                self.status_message.emit(f"Class names saved in {written.name}.", 5000)
            except (OSError, WorkbenchError) as exc:
                dialogs.show_error(
                    self,
                    "The card could not be written",
                    f"The class names could not be saved beside the model ({exc}). The app still remembers "
                    "them for this file.",
                    str(exc),
                )
        return True

    def rename_classes(self) -> None:
        cardless = [m for m in self.members if m.card is None]
        if not cardless:
            return
        changed = False
        for m in cardless:
            changed = self._name_classes(m, ask_if_known=True) or changed
        if changed:
            self._use_models(self.members, self.predictors)

    def _use_models(self, members: list, predictors: list, problem: str | None = None) -> None:
        self.members, self.predictors = list(members), list(predictors)
        self._model_problem = problem
        self._set_state("")
        self._show_model_info()
        self._update_actions()
        if not members:
            self.results.clear()
            self.table.hide()
            self.view.clear(f"No model in use: {problem}" if problem else "Choose a model on the left.")
            return
        self.view.set_model(members)
        self.view.hold_gradcam(False)
        self.results.set_models(members[0].class_names, len(members))
        self.model_ready.emit()
        if self._sources:
            self._start_batch(self._sources)
        else:
            self.view.clear(DROP_HINT)

    def _show_model_info(self) -> None:
        import html

        if not self.members:
            waiting = "No model loaded yet." if self.tf_ready else "Waiting for TensorFlow to load …"
            text = html.escape(self._model_problem or waiting)
            self.model_info.setText(f"<span style='color:#b00020'>{text}</span>" if self._model_problem else text)
            self.name_classes_button.hide()
            self.card_button.setEnabled(False)
            return
        m = self.members[0]
        names = m.class_names
        shown = ", ".join(html.escape(n) for n in names[:8]) + (", …" if len(names) > 8 else "")
        h, w, c = m.input_shape
        lines = []
        if len(self.members) > 1:
            lines.append(f"<b>Ensemble of {len(self.members)} models</b> (mean of their probabilities)")
            for member in self.members:
                mh, mw, mc = member.input_shape
                lines.append(f"&nbsp;• {html.escape(member.title)} ({mh}×{mw} {'grey' if mc == 1 else 'colour'})")
        else:
            lines.append(f"<b>{html.escape(m.title)}</b>")
            lines.append(f"input {h} × {w} {'grey' if c == 1 else 'colour'}")
        lines.append(f"{len(names)} classes: {shown}")
        acc = ((m.card or {}).get("metrics") or {}).get("test_accuracy") if len(self.members) == 1 else None
        if isinstance(acc, int | float):
            lines.append(f"test accuracy {100 * acc:.1f} %")
        for member in self.members:
            if member.card is None:
                lines.append(f"<i>{html.escape(member.path.name)} has no card: class names are yours.</i>")
            if member.card_error:
                lines.append(f"<span style='color:#b00020'>{html.escape(member.card_error)}</span>")
        self.model_info.setText("<br>".join(lines))
        self.name_classes_button.setVisible(any(member.card is None for member in self.members))
        self.card_button.setEnabled(True)

    def show_model_card(self, path: Path) -> None:
        from core import cards

        path = Path(path)
        try:
            card = cards.read_card(path)
        except WorkbenchError as exc:
            card = None
            self.status_message.emit(str(exc), 6000)
        inferred = None
        hit = self._cache.get(_key(path))
        if hit is not None:
            loaded = hit[0]
            inferred = {
                "input_shape": loaded.input_shape,
                "outputs": loaded.num_classes,
                "params": int(loaded.model.count_params()),
            }
        if card is None and inferred is None:
            self.status_message.emit(f"{path.name} has no card; use it once to see what it takes.", 6000)
            return
        self.card_dialog = dialogs.ModelCardDialog(self, path, card, inferred)
        self.card_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.card_dialog.open()

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
        local: list[str] = []
        remote: list[str] = []
        if mime.hasUrls():
            for url in mime.urls():
                if url.isLocalFile() and url.toLocalFile():
                    local.append(url.toLocalFile())
                elif url.toString():
                    remote.append(url.toString())
        elif mime.hasText() and not mime.hasImage():
            for line in mime.text().splitlines():
                line = line.strip().strip('"')
                if not line:
                    continue
                url = QUrl(line)
                if url.isLocalFile():
                    local.append(url.toLocalFile())
                elif Path(line).expanduser().exists():
                    local.append(str(Path(line).expanduser()))
                elif url.scheme() in ("http", "https", "ftp"):
                    remote.append(line)
        models = [p for p in local if Path(p).suffix.lower() in MODEL_SUFFIXES]
        images = [p for p in local if p not in models]
        image_data = None
        if not images and mime.hasImage():
            data = mime.imageData()
            if isinstance(data, QImage) and not data.isNull():
                image_data = data
        if remote:
            shown = ", ".join(remote[:3]) + (f" and {len(remote) - 3} more" if len(remote) > 3 else "")
            if image_data is not None:
                self.show_notice(f"Predicting the image data that came with {shown}.")
            else:
                self.show_notice(
                    f"{shown} {'is a web address' if len(remote) == 1 else 'are web addresses'}, not a file on this "
                    "computer, and the app does not download. Save the image to your computer first, then drop "
                    "or open the file."
                )
        elif images or image_data is not None:
            self.hide_notice()
        for m in models:
            self.use_model_file(m)
        if images:
            self.predict_sources(images)
        elif image_data is not None:
            name = "Pasted image" if pasted else "Dropped image"
            self.predict_sources([InMemoryImage(name, qimage_to_pil(image_data))])
        return bool(images or models or image_data is not None or remote)

    def predict_sources(self, sources: list) -> None:
        """Predict these files, folders (searched recursively) and in-memory images; replaces the table."""
        self._sources = [s if isinstance(s, InMemoryImage) else Path(s) for s in sources]
        self._start()
        if not self.predictors:
            self.results.clear()
            if self._loading or not self.tf_ready:
                self.view.clear("Your images are predicted as soon as the model is loaded …")
            else:
                self.view.clear(
                    "Choose a model on the left: your images are predicted as soon as one is loaded."
                    + (f" ({self._model_problem})" if self._model_problem else "")
                )
            self._update_actions()
            return
        self._start_batch(self._sources)

    # -- drag and drop --------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()
            self.drop_overlay.setGeometry(self.rect().adjusted(4, 4, -4, -4))
            self.drop_overlay.raise_()
            self.drop_overlay.show()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.drop_overlay.hide()
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.drop_overlay.hide()
        if self.handle_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ==========================================================================================
    # Batches

    def _start_batch(self, sources: list) -> None:
        self._hook_window()
        self.jobs.cancel("predict")
        self.view_jobs.cancel()
        self._generation += 1
        gen = self._generation
        self.results.clear()
        self.results.set_models(self.members[0].class_names, len(self.members))
        self.table.hide()
        self.view.clear("Predicting … click a row to see its image.")
        self._view_waits = False
        self._batch_running = True
        self._batch_started = time.perf_counter()
        # Grad-CAM of the first row waits for the batch: it would take the model's CPU meanwhile.
        self.view.hold_gradcam(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self._set_state("Looking for images …")
        worker = PredictWorker(self.predictors, sources, k=5, rate_hz=self.results_hz)
        relay = _BatchRelay(self, gen)
        worker.results.connect(relay.results)
        worker.progress.connect(relay.progress)
        worker.finished.connect(relay.finished)
        worker.cancelled.connect(relay.cancelled)
        worker.failed.connect(relay.failed)
        self.jobs.submit(worker)
        self._update_actions()

    def _on_results(self, generation: int, chunk: list) -> None:
        """A chunk of rows: one insert into the table, and the progress is the number of rows."""
        if generation != self._generation:
            return
        self.results.add(chunk)
        done = self.results.rowCount()
        if self.progress.maximum() > 0:
            self.progress.setValue(done)
            self._set_state(f"Predicting … {done:,} of {self.progress.maximum():,}")
        if done > 1 and self.table.isHidden():
            self.table.show()
            self.split.setSizes([300, 500])
        if not self.table.selectionModel().hasSelection():
            self._auto_selecting = True
            try:
                self.table.selectRow(0)
            finally:
                self._auto_selecting = False
        self._update_actions()

    def _on_progress(self, generation: int, done: int, total: int, what: str) -> None:
        """Before the first rows: looking for images (no total yet), then how many there are."""
        if generation != self._generation:
            return
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self._set_state(f"{what} … {done:,} of {total:,}")
        else:
            self.progress.setRange(0, 0)
            self._set_state(f"{what} …")

    def _on_batch_end(self, generation: int, outcome: str, payload) -> None:
        if generation != self._generation:
            return
        self._batch_running = False
        self.progress.hide()
        self.view.hold_gradcam(False)
        if self._view_waits:
            self._view_waits = False
            shown = self.current_result()
            if shown is not None:
                self.show_result(shown)
        seconds = time.perf_counter() - self._batch_started
        n, ok = self.results.rowCount(), self.results.ok_count
        if outcome == "failed":
            message, detail = payload
            self._set_state("Prediction failed.")
            dialogs.show_error(self, "Prediction failed", message, detail)
        elif n == 0:
            if outcome == "cancelled":
                self._set_state("Stopped.")
            else:
                self._set_state("")
                self.view.clear("No image files were found there. " + DROP_HINT)
        else:
            bad = n - ok
            text = f"{n:,} image{'s' if n != 1 else ''}: {ok:,} predicted"
            if bad:
                text += f", {bad:,} could not be read (see Note)"
            if outcome == "cancelled":
                text = "Stopped. " + text
            text += f" in {seconds:.1f} s."
            self._set_state(text)
            self.status_message.emit(text, 8000)
        self._update_actions()
        self.batch_finished.emit(outcome)

    def stop(self) -> None:
        self.jobs.cancel("predict")

    def clear_results(self) -> None:
        self.jobs.cancel("predict")
        self._generation += 1
        self._sources = []
        self._batch_running = False
        self._view_waits = False
        self.progress.hide()
        self.view.hold_gradcam(False)
        self.results.clear()
        self.table.hide()
        self.view.clear(DROP_HINT)
        self._set_state("")
        self.hide_notice()
        self._update_actions()

    # -- the single view ------------------------------------------------------------------------

    def current_result(self) -> SourceResult | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.results.data(index, RESULT_ROLE)

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        if self._auto_selecting and self._batch_running:
            # The first row is shown when the batch ends: drawing the view (image, chart, a repaint
            # of the window) cost the GUI thread 50-100 ms on 2 cores while the batch's worker
            # held the GIL. A row a person clicks is shown at once.
            self._view_waits = True
            return
        self._view_waits = False
        if not self._auto_selecting:
            self.view.hold_gradcam(False)  # a person chose this row: explain it now
        result = self.results.data(current, RESULT_ROLE)
        if result is not None:
            self.show_result(result)

    def show_result(self, result: SourceResult) -> None:
        """Show one result in the single view (reads the image again, in the background)."""
        if not result.ok:
            self.view.clear(f"{result.name}: {result.error}.")
            return
        if not self.members:
            return
        self._view_request += 1
        request, generation = self._view_request, self._generation
        shapes = [m.input_shape for m in self.members]
        source = result.source

        def job(reporter, cancel):
            from PIL import Image

            from core.ensemble import prepare_inputs
            from core.images import open_image, to_display

            img = source.image if isinstance(source, InMemoryImage) else open_image(source)
            inputs = prepare_inputs(img, shapes)
            display = to_display(img)
            if max(display.size) > VIEW_MAX_SIDE:
                display.thumbnail((VIEW_MAX_SIDE, VIEW_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return display, inputs

        def shown(out) -> None:
            if request != self._view_request or generation != self._generation:
                return
            display, inputs = out
            ensemble = len(self.members) > 1
            self.view.show_prediction(
                display,
                inputs[0],
                result.probs,
                title=str(source.name if isinstance(source, InMemoryImage) else source),
                member_probs=result.member_probs if ensemble else None,
                member_inputs=inputs,
            )

        def failed(message: str, _detail: str) -> None:
            if request == self._view_request:
                self.view.clear(f"{result.name}: {message}")

        run_in_thread(
            self.view_jobs, job, name="Reading image", key="view", context=self, on_finished=shown, on_failed=failed
        )

    # -- table extras ---------------------------------------------------------------------------

    def _table_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        result = self.results.data(index, RESULT_ROLE)
        menu = QMenu(self)
        if result is not None and result.path is not None:
            path = result.path
            menu.addAction("Open the image", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
            menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
            menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(str(path)))
        menu.addAction(self.export_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _open_row_file(self, index: QModelIndex) -> None:
        result = self.results.data(index, RESULT_ROLE)
        if result is not None and result.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(result.path)))

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Save the table as CSV (asks where unless ``path`` is given); the path written, or None."""
        if not self.results.results:
            self.status_message.emit("Nothing to export yet: predict some images first.", 5000)
            return None
        if not path:
            start = Path(self.settings.last_dir("exports", str(Path.home()))) / "predictions.csv"
            chosen, _ = QFileDialog.getSaveFileName(self, "Export predictions", str(start), "CSV files (*.csv)")
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        if path.suffix.lower() != ".csv":
            path = path.with_suffix(path.suffix + ".csv") if path.suffix else path.with_suffix(".csv")
        from core import atomic

        text = results_csv(self.results.results, self.members[0].class_names, [m.title for m in self.members])
        try:
            atomic.write_text(path, text)
        except OSError as exc:
            dialogs.show_error(self, "Export failed", f"The CSV file could not be written to {path}: {exc.strerror}.")
            return None
        self.settings.set_last_dir("exports", str(path.parent))
        self.status_message.emit(f"Saved {len(self.results.results):,} rows to {path}.", 6000)
        return path

    # ==========================================================================================
    # State

    def show_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice.show()

    def hide_notice(self) -> None:
        self.notice.hide()

    @property
    def notice_text(self) -> str:
        return self.notice_label.text() if not self.notice.isHidden() else ""

    def _set_state(self, text: str) -> None:
        self.state_label.setText(text)
        self.state_label.setVisible(bool(text))

    @property
    def busy(self) -> bool:
        return self.jobs.busy or self.view_jobs.busy or self.view.jobs.busy

    def _update_actions(self) -> None:
        has_rows = bool(self.results.results)
        self.export_action.setEnabled(has_rows)
        self.clear_action.setEnabled(has_rows or bool(self._sources))
        self.stop_action.setEnabled(self._batch_running)

    # ==========================================================================================
    # Closing

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
