"""The Gallery tab: a run's test images in blue and red, the confusion matrix and the report.

Top, the source: any run of the workspace (runs that cannot be shown are listed with the reason,
and "Evaluate now" makes the missing evaluation when the run has a model), a run folder elsewhere,
or a model shipped with the app evaluated on its dataset. Left, the grid (``gui/widgets/gallery_view``)
with its filters (all / correct / wrong, true class, predicted class), sorting (test-set order,
confidence, loss), the count of what is shown, thumbnail size and export (CSV of the shown rows,
PNG of the grid). Right, the confusion matrix and the classification report, where a click on a
cell or a number filters the grid to the images behind it, and below them the detail of the image
clicked: large, with its top-k probabilities and Grad-CAM (the Predict tab's view, reused).

Loading a run (reading its evaluation and its test images) runs on this tab's own job runner;
everything that needs TensorFlow (evaluating a model, loading one for Grad-CAM) goes through the
window's shared runner, one TensorFlow job at a time.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPalette, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import atomic
from core import gallery as core_gallery
from core.errors import WorkbenchError
from core.gallery import GalleryData, GalleryFilter, RunEntry
from gui import dialogs
from gui.settings import AppSettings
from gui.thumbnails import ThumbnailLoader
from gui.widgets.confusion_matrix import ConfusionMatrixView
from gui.widgets.gallery_view import (
    DEFAULT_THUMB,
    MAX_EXPORT_IMAGES,
    MAX_EXPORT_PIXELS,
    MAX_THUMB,
    MIN_THUMB,
    CellLayout,
    GalleryModel,
    GalleryView,
    render_grid,
)
from gui.widgets.prediction_view import PredictionView
from gui.widgets.report_table import ReportTable
from gui.workers import JobRunner, run_in_thread

SORTS = (
    ("Test-set order", "index", False),
    ("Confidence, lowest first", "confidence", False),
    ("Confidence, highest first", "confidence", True),
    ("Loss, highest first", "loss", True),
    ("Loss, lowest first", "loss", False),
)
SORT_TIPS = {
    "index": "In the order of the test set.",
    "confidence": "By the probability of the predicted class: the least sure predictions first, or the surest.",
    "loss": "By each image's cross-entropy loss: the worst mistakes (confidently wrong) first, or the easiest.",
}
ZOOM_STEP = 1.25
EMPTY_HINT = "Choose a run above, or the model shipped with the app, to see its test images."
CACHED_SOURCES = 3  # sources kept in memory, so going back to one is instant
DETAIL_HINT = "Click an image (or move with the arrow keys) to see it large, with its probabilities and Grad-CAM."


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "gallery"


def export_palette() -> QPalette:
    """A light palette for exported pictures, whatever the desktop theme: like the notebooks' figures."""
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Base, QColor("white"))
    pal.setColor(QPalette.ColorRole.Text, QColor("#202020"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#555555"))
    pal.setColor(QPalette.ColorRole.Mid, QColor("#a0a0a0"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#3a7bd5"))
    return pal


class GalleryTab(QWidget):
    status_message = Signal(str, int)  # text, milliseconds (0: until replaced)
    data_changed = Signal(object)  # the GalleryData now shown, or None

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
        self.load_jobs = JobRunner(self)  # reading runs, decoding files, exports: no TensorFlow
        self.loader = ThumbnailLoader(self)
        self.data: GalleryData | None = None
        self.filter = GalleryFilter()
        self.entries: list[RunEntry] = []
        self.detail_row: int | None = None
        self._loading: str | None = None  # what is being loaded, for people
        self._pending_key: tuple | None = None  # the source asked for last
        self._shown_key: tuple | None = None  # the source on screen
        self._updating = False
        self._first_show = True
        self._model_job = None
        self._model_error: str | None = None
        self._cache: OrderedDict[tuple, tuple[float | None, GalleryData]] = OrderedDict()
        self._detail_text = ""
        self._view_title = ""

        self._build_ui()
        self._build_shortcuts()
        self._restore_settings()
        self._update_actions()

    # ==========================================================================================
    # Construction

    def _build_ui(self) -> None:
        # -- source row ------------------------------------------------------------------------
        self.source_combo = QComboBox()
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(40)
        self.source_combo.setToolTip(
            "What to show: a run of your workspace (newest first; runs that cannot be shown say why) or a model "
            "shipped with the app, evaluated on its own dataset."
        )
        self.source_combo.activated.connect(self._on_source_activated)
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.refresh_button.setToolTip("Read the list of runs again (F5).")
        self.refresh_button.clicked.connect(lambda: self.refresh_sources())
        self.browse_button = QPushButton("Open run folder...")
        self.browse_button.setToolTip("Show a run folder from anywhere (for example one copied from another computer).")
        self.browse_button.clicked.connect(lambda: self.choose_run_folder())
        self.evaluate_button = QPushButton("Evaluate now")
        self.evaluate_button.setToolTip(
            "Predict this run's test set with its saved model and save the evaluation in the run, then show it."
        )
        self.evaluate_button.clicked.connect(self.evaluate_current)
        source_row = QHBoxLayout()
        source_label = QLabel("&Source:")
        source_label.setBuddy(self.source_combo)
        source_row.addWidget(source_label)
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(self.refresh_button)
        source_row.addWidget(self.browse_button)
        source_row.addWidget(self.evaluate_button)

        self.info_label = QLabel("")
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.notes_label = QLabel("")
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label.setStyleSheet("QLabel { background: #fff4d6; color: #5a4500; padding: 4px; }")
        self.notes_label.hide()

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop loading; the gallery keeps what it showed before.")
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.progress_row = QWidget()
        pr = QHBoxLayout(self.progress_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.progress_label, 1)
        pr.addWidget(self.progress)
        pr.addWidget(self.cancel_button)
        self.progress_row.hide()

        # -- filters ---------------------------------------------------------------------------
        self.outcome_buttons = QButtonGroup(self)
        outcome_row = QHBoxLayout()
        show_label = QLabel("Show:")
        outcome_row.addWidget(show_label)
        for i, (text, tip) in enumerate(
            (
                ("&All", "Every test image (Alt+A)."),
                ("Corr&ect", "Only the images predicted correctly: blue captions (Alt+E)."),
                ("&Wrong", "Only the mistakes: red captions (Alt+W)."),
            )
        ):
            b = QRadioButton(text)
            b.setToolTip(tip)
            self.outcome_buttons.addButton(b, i)
            outcome_row.addWidget(b)
        self.outcome_buttons.button(0).setChecked(True)
        self.outcome_buttons.idToggled.connect(lambda _id, on: on and self._on_filter_controls())
        self.true_combo = QComboBox()
        self.true_combo.setToolTip("Only images whose true class is this one.")
        self.pred_combo = QComboBox()
        self.pred_combo.setToolTip("Only images the model predicted as this class.")
        for combo in (self.true_combo, self.pred_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(9)
            combo.currentIndexChanged.connect(self._on_filter_controls)
        self.sort_combo = QComboBox()
        for text, key, _desc in SORTS:
            self.sort_combo.addItem(text)
            self.sort_combo.setItemData(self.sort_combo.count() - 1, SORT_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.sort_combo.setToolTip("Order of the images: test-set order, by confidence, or by loss.")
        self.sort_combo.currentIndexChanged.connect(self._on_filter_controls)
        self.reset_button = QPushButton("Reset filters")
        self.reset_button.setToolTip("Show every test image again in test-set order (Ctrl+R).")
        self.reset_button.clicked.connect(self.reset_filters)
        true_label = QLabel("&True:")
        true_label.setBuddy(self.true_combo)
        pred_label = QLabel("Pre&dicted:")
        pred_label.setBuddy(self.pred_combo)
        sort_label = QLabel("Sort &by:")
        sort_label.setBuddy(self.sort_combo)
        outcome_row.addSpacing(12)
        outcome_row.addWidget(sort_label)
        outcome_row.addWidget(self.sort_combo)
        outcome_row.addStretch(1)
        outcome_row.addWidget(self.reset_button)
        class_row = QHBoxLayout()
        for w in (true_label, self.true_combo, pred_label, self.pred_combo):
            class_row.addWidget(w)
        class_row.addStretch(1)

        # -- grid --------------------------------------------------------------------------------
        self.model = GalleryModel(self.loader, self)
        self.view = GalleryView(thumb=DEFAULT_THUMB)
        self.view.setModel(self.model)
        self.view.setToolTip("")
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.clicked.connect(self._on_item_clicked)
        self.view.activated.connect(self._on_item_clicked)
        self.view.zoom_requested.connect(lambda step: self.zoom(step))

        self.empty_label = QLabel("")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_evaluate = QPushButton("Evaluate this run now")
        self.empty_evaluate.setToolTip(self.evaluate_button.toolTip())
        self.empty_evaluate.clicked.connect(self.evaluate_current)
        self.empty_shipped = QPushButton("Show the shipped model")
        self.empty_shipped.setToolTip("Evaluate the model that comes with the app on its dataset and show it.")
        self.empty_shipped.clicked.connect(lambda: self.show_shipped())
        empty = QWidget()
        el = QVBoxLayout(empty)
        el.addStretch(1)
        el.addWidget(self.empty_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.empty_evaluate)
        buttons.addWidget(self.empty_shipped)
        buttons.addStretch(1)
        el.addLayout(buttons)
        el.addStretch(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(self.view)

        self.count_label = QLabel("")
        self.count_label.setToolTip("How many images the grid shows, of all test images.")
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.count_label.setMinimumWidth(120)
        font = self.count_label.font()
        font.setBold(True)
        self.count_label.setFont(font)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_THUMB, MAX_THUMB)
        self.size_slider.setValue(DEFAULT_THUMB)
        self.size_slider.setMaximumWidth(160)
        self.size_slider.setToolTip("Thumbnail size in pixels (Ctrl+= bigger, Ctrl+- smaller, or Ctrl+wheel).")
        self.size_slider.valueChanged.connect(self.set_thumb_size)
        self.size_value = QLabel("")
        self.size_value.setMinimumWidth(44)
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setToolTip(
            "Save the list of the images shown, in the order shown, with classes, confidence, loss and every "
            "probability (Ctrl+E)."
        )
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.png_button = QPushButton("Export PNG...")
        self.png_button.setToolTip(
            f"Save the shown images as one picture, captioned in blue and red like the grid (Ctrl+Shift+E; "
            f"at most {MAX_EXPORT_IMAGES:,} images)."
        )
        self.png_button.clicked.connect(lambda: self.export_png())
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        size_label = QLabel("Si&ze:")
        size_label.setBuddy(self.size_slider)
        bottom.addWidget(size_label)
        bottom.addWidget(self.size_slider)
        bottom.addWidget(self.size_value)
        bottom.addSpacing(12)
        bottom.addWidget(self.csv_button)
        bottom.addWidget(self.png_button)

        grid_pane = QWidget()
        gl = QVBoxLayout(grid_pane)
        gl.setContentsMargins(0, 0, 4, 0)
        gl.addLayout(outcome_row)
        gl.addLayout(class_row)
        gl.addWidget(self.stack, 1)
        gl.addLayout(bottom)

        # -- evaluation views and detail -------------------------------------------------------------
        self.matrix = ConfusionMatrixView()
        self.matrix.cell_clicked.connect(self.show_cell)
        self.matrix.true_class_clicked.connect(lambda c: self.apply_filter(GalleryFilter(true_class=c)))
        self.matrix.predicted_class_clicked.connect(lambda c: self.apply_filter(GalleryFilter(pred_class=c)))
        self.report = ReportTable()
        self.report.true_class_requested.connect(lambda c: self.apply_filter(GalleryFilter(true_class=c)))
        self.report.predicted_class_requested.connect(lambda c: self.apply_filter(GalleryFilter(pred_class=c)))
        self.report.correct_requested.connect(lambda: self.apply_filter(GalleryFilter(outcome="correct")))
        self.report.all_requested.connect(lambda: self.apply_filter(GalleryFilter()))
        self.eval_tabs = QTabWidget()
        self.eval_tabs.setDocumentMode(True)
        self.eval_tabs.addTab(self.matrix, "Confusion matrix")
        self.eval_tabs.addTab(self.report, "Classification report")
        self.eval_tabs.setTabToolTip(0, "Counts of true against predicted classes; click a cell to see its images.")
        self.eval_tabs.setTabToolTip(1, "Precision, recall, F1 and support per class; click a number for its images.")

        self.detail_title = QLabel(DETAIL_HINT)
        self.detail_title.setWordWrap(True)
        self.detail_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = PredictionView()
        detail_pane = QWidget()
        dl = QVBoxLayout(detail_pane)
        dl.setContentsMargins(4, 4, 4, 0)
        dl.addWidget(self.detail_title)
        dl.addWidget(self.detail, 1)

        # The detail view needs ~700 px; in a scroll area it no longer sets the window's minimum width,
        # so the app fits 1280-1366 px screens (it scrolls there instead).
        detail_scroll = QScrollArea()
        detail_scroll.setWidgetResizable(True)
        detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        detail_scroll.setWidget(detail_pane)
        detail_scroll.setMinimumWidth(320)

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.addWidget(self.eval_tabs)
        self.right_split.addWidget(detail_scroll)
        self.right_split.setChildrenCollapsible(False)
        self.right_split.setStretchFactor(0, 1)
        self.right_split.setStretchFactor(1, 1)
        self.right_split.setSizes([430, 400])

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(grid_pane)
        self.splitter.addWidget(self.right_split)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([700, 730])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(source_row)
        layout.addWidget(self.info_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.splitter, 1)
        self._show_empty(EMPTY_HINT)

    def _build_shortcuts(self) -> None:
        def shortcut(keys, slot) -> None:
            for key in keys:
                sc = QShortcut(QKeySequence(key), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
                sc.activated.connect(slot)

        shortcut(["F5"], lambda: self.refresh_sources())
        shortcut(["Ctrl+E"], lambda: self.export_csv())
        shortcut(["Ctrl+Shift+E"], lambda: self.export_png())
        shortcut(["Ctrl+R"], self.reset_filters)
        shortcut(["Ctrl+=", "Ctrl++"], lambda: self.zoom(1))
        shortcut(["Ctrl+-"], lambda: self.zoom(-1))

    def _restore_settings(self) -> None:
        q = self.settings.q
        try:
            thumb = int(q.value("gallery/thumb_size", DEFAULT_THUMB))
        except (TypeError, ValueError):
            thumb = DEFAULT_THUMB
        self.set_thumb_size(thumb)
        percent = str(q.value("gallery/row_percent", "false")).lower() == "true"
        self.matrix.set_percent(percent)
        try:
            sort = int(q.value("gallery/sort", 0))
        except (TypeError, ValueError):
            sort = 0
        if 0 <= sort < len(SORTS):
            self._updating = True
            self.sort_combo.setCurrentIndex(sort)
            self._updating = False
            self.filter = self._filter_from_controls()
        for name, splitter in (("gallery", self.splitter), ("gallery-right", self.right_split)):
            state = self.settings.splitter(name)
            if state is not None:
                splitter.restoreState(state)

    def save_settings(self) -> None:
        q = self.settings.q
        q.setValue("gallery/thumb_size", self.view.thumb_size)
        q.setValue("gallery/row_percent", "true" if self.matrix.model.percent else "false")
        q.setValue("gallery/sort", self.sort_combo.currentIndex())
        self.settings.set_splitter("gallery", self.splitter.saveState())
        self.settings.set_splitter("gallery-right", self.right_split.saveState())

    # ==========================================================================================
    # Sources

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._loading is None:
            self.refresh_sources(select_current=True)
        if self._first_show:
            self._first_show = False
            if self.data is None and self._pending_key is None:
                self._show_default()

    def _show_default(self) -> None:
        """The newest run that can be shown, else the shipped model."""
        for entry in self.entries:
            if entry.viewable:
                self.show_run(entry.path)
                return
        if core_gallery.shipped_models():
            self.show_shipped()

    def refresh_sources(self, select_current: bool = True) -> None:
        """Read the runs of the workspace again and fill the source list."""
        try:
            self.entries = core_gallery.run_entries(self.workspace)
        except (OSError, WorkbenchError) as exc:
            self.entries = []
            self.status_message.emit(f"The runs cannot be listed: {exc}", 8000)
        shipped = core_gallery.shipped_models()
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for model in shipped:
            combo.addItem(f"Shipped model: {model.title}", ("shipped", str(model.path)))
            combo.setItemData(
                combo.count() - 1,
                f"{model.path}\nEvaluated on the test set of {model.dataset} when chosen.",
                Qt.ItemDataRole.ToolTipRole,
            )
        grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for entry in self.entries:
            combo.addItem(entry.label, ("run", str(entry.path)))
            i = combo.count() - 1
            tip = str(entry.path) if entry.viewable else f"{entry.path}\nCannot be shown: {entry.reason}."
            combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
            if not entry.viewable:
                combo.setItemData(i, grey, Qt.ItemDataRole.ForegroundRole)
        if not self.entries:
            combo.addItem("(no runs in the workspace yet: train one in the Train tab)", ("none", ""))
        combo.blockSignals(False)
        if select_current:
            self._select_source_item(self._pending_key or self._shown_key)
        self._update_actions()

    def _select_source_item(self, key: tuple | None) -> None:
        if key is None:
            return
        kind, path = key
        for i in range(self.source_combo.count()):
            data = self.source_combo.itemData(i)
            if data and data[0] == kind and _same_path(data[1], path):
                self.source_combo.blockSignals(True)
                self.source_combo.setCurrentIndex(i)
                self.source_combo.blockSignals(False)
                return
        if kind == "run":  # a folder outside the workspace
            self.source_combo.blockSignals(True)
            self.source_combo.addItem(f"{Path(path).name} (outside the workspace)", ("run", str(path)))
            self.source_combo.setItemData(self.source_combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
            self.source_combo.setCurrentIndex(self.source_combo.count() - 1)
            self.source_combo.blockSignals(False)

    def _entry_for(self, path: str | Path) -> RunEntry | None:
        for entry in self.entries:
            if _same_path(entry.path, path):
                return entry
        return None

    def _on_source_activated(self, index: int) -> None:
        data = self.source_combo.itemData(index)
        if not data:
            return
        kind, path = data
        if kind == "shipped":
            self.show_shipped(path)
        elif kind == "run":
            self.show_run(path)

    def choose_run_folder(self) -> None:
        from core import paths

        start = self.settings.last_dir("gallery-runs", str(paths.runs_dir(self.workspace)))
        folder = QFileDialog.getExistingDirectory(self, "Show a run folder in the gallery", start)
        if folder:
            self.settings.set_last_dir("gallery-runs", str(Path(folder).parent))
            self.show_run(folder)

    # ==========================================================================================
    # Loading

    def show_run(self, run_dir: str | Path) -> None:
        """Show a run (the Train tab's "Show in Gallery", the source list, a folder chosen)."""
        run_dir = Path(run_dir)
        key = ("run", str(run_dir))
        self.refresh_sources(select_current=False)
        self._pending_key = key
        self._select_source_item(key)
        entry = self._entry_for(run_dir)
        has_eval = (run_dir / "evaluation.npz").exists() and (run_dir / "metrics.json").exists()
        if (entry is not None and not entry.viewable) or (entry is None and not has_eval):
            reason = entry.reason if entry is not None else "it has no test-set evaluation (evaluation.npz)"
            self._show_now(key, None)
            self._show_empty(f"<b>Run {_esc(run_dir.name)} cannot be shown:</b> {_esc(reason)}.", run=run_dir)
            return
        if self._from_cache(key):
            return
        workspace = self.workspace

        def job(reporter, cancel):
            return core_gallery.load_run(run_dir, reporter=reporter, cancel=cancel, workspace=workspace)

        self._start_load(key, f"Loading run {run_dir.name}", job, tensorflow=False)

    def show_shipped(self, model_path: str | Path | None = None) -> None:
        """Evaluate a model shipped with the app (default: the first) on its dataset and show it."""
        if model_path is None:
            shipped = core_gallery.shipped_models()
            if not shipped:
                self._show_empty("No model is shipped with this installation (the weights folder is empty).")
                return
            model_path = shipped[0].path
        model_path = Path(model_path)
        key = ("shipped", str(model_path))
        self._pending_key = key
        self._select_source_item(key)
        if self._from_cache(key):
            return

        def job(reporter, cancel):
            return core_gallery.evaluate_model_file(model_path, reporter=reporter, cancel=cancel)

        self._start_load(key, f"Evaluating {model_path.name} on its test set", job, tensorflow=True)

    def evaluate_current(self) -> None:
        """Evaluate the chosen run with its saved model (for runs that stopped before their evaluation)."""
        data = self.source_combo.currentData()
        if not data or data[0] != "run":
            return
        run_dir = Path(data[1])
        key = ("run", str(run_dir))
        self._pending_key = key

        def job(reporter, cancel):
            return core_gallery.evaluate_run(run_dir, reporter=reporter, cancel=cancel)

        self._start_load(key, f"Evaluating run {run_dir.name} on its test set", job, tensorflow=True)

    @staticmethod
    def _stamp(key: tuple) -> float | None:
        """When the source last changed on disk (a re-evaluated run must not come from the cache)."""
        kind, path = key
        target = Path(path) / "evaluation.npz" if kind == "run" else Path(path)
        try:
            return target.stat().st_mtime
        except OSError:
            return None

    def _from_cache(self, key: tuple) -> bool:
        """Show ``key`` from memory if it was loaded before and has not changed since."""
        cached = self._cache.get(key)
        if cached is None or cached[0] != self._stamp(key) or cached[0] is None:
            return False
        self._cache.move_to_end(key)
        self._show_now(key, cached[1])
        return True

    def _remember(self, key: tuple, data: GalleryData) -> None:
        self._cache[key] = (self._stamp(key), data)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHED_SOURCES:
            self._cache.popitem(last=False)

    def _show_now(self, key: tuple, data: GalleryData | None) -> None:
        """Show ``data`` for ``key`` at once, dropping whatever was still loading."""
        self.cancel_loading()
        self._pending_key = None
        self._loading = None
        self.progress_row.hide()
        self._shown_key = key
        self._select_source_item(key)
        self._set_data(data)

    def _start_load(self, key: tuple, what: str, job, *, tensorflow: bool) -> None:
        self.load_jobs.cancel("gallery-load")
        self.jobs.cancel("gallery-load")
        self._loading = what
        runner = self.jobs if tensorflow else self.load_jobs
        busy_with_other = tensorflow and runner.current is not None and runner.current.key != "gallery-load"
        self.progress_label.setText(
            f"{what}: waiting for the job that is running ({runner.current.name}) to end, one TensorFlow job at a "
            "time ..."
            if busy_with_other
            else f"{what} ..."
        )
        self.progress.setRange(0, 0)
        self.progress_row.show()
        self._update_actions()
        self.status_message.emit(f"{what} ...", 0)
        run_in_thread(
            runner,
            job,
            name="Gallery",
            key="gallery-load",
            context=self,
            on_finished=lambda data: self._on_loaded(key, data),
            on_failed=lambda message, detail: self._on_load_failed(key, what, message, detail),
            on_cancelled=lambda _r: self._on_load_cancelled(key),
            on_message=lambda text: self._on_load_progress(key, 0, 0, text),
            on_progress=lambda done, total, text: self._on_load_progress(key, done, total, text),
        )

    def cancel_loading(self) -> None:
        self.load_jobs.cancel("gallery-load")
        self.jobs.cancel("gallery-load")

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def _on_load_progress(self, key: tuple, done: int, total: int, text: str) -> None:
        if key != self._pending_key:
            return
        self.progress_label.setText(f"{text} ...")
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)

    def _end_loading(self, key: tuple) -> bool:
        """Whether ``key`` is still what was asked for last (a newer request makes older results moot)."""
        if key != self._pending_key:
            return False
        self._pending_key = None
        self._loading = None
        self.progress_row.hide()
        self.status_message.emit("", 1)
        return True

    def _on_loaded(self, key: tuple, data: GalleryData) -> None:
        if not self._end_loading(key):
            return
        self._shown_key = key
        self._remember(key, data)
        if key[0] == "run" and data.run_dir is not None:
            self.refresh_sources(select_current=False)  # an "Evaluate now" changes the run's entry
        self._select_source_item(key)
        self._set_data(data)
        self.status_message.emit(
            f"{data.title}: {len(data):,} test images, {data.wrong_count:,} wrong.",
            6000,
        )

    def _on_load_failed(self, key: tuple, what: str, message: str, detail: str) -> None:
        if not self._end_loading(key):
            return
        self._update_actions()
        self._select_source_item(self._shown_key)
        dialogs.show_error(self, "The gallery cannot show this", message, detail)
        if self.data is None:
            self._show_empty(
                f"<b>{_esc(what)} failed:</b> {_esc(message)}", run=Path(key[1]) if key[0] == "run" else None
            )

    def _on_load_cancelled(self, key: tuple) -> None:
        if not self._end_loading(key):
            return
        self._select_source_item(self._shown_key)
        self._update_actions()
        self.status_message.emit("Loading cancelled.", 3000)

    # ==========================================================================================
    # Showing data

    def set_data(self, data: GalleryData | None) -> None:
        """Show ``data`` (a GalleryData made elsewhere: tests, or a caller that evaluated already)."""
        self._pending_key = None
        self._shown_key = None if data is None else ("data", str(id(data)))
        self._set_data(data)

    def _set_data(self, data: GalleryData | None) -> None:
        self.data = data
        self.detail_row = None
        self._model_error = None
        self._model_job = None
        self.detail.clear("")
        self.detail_title.setText(DETAIL_HINT)
        self.detail_title.show()
        self._updating = True
        try:
            for combo, any_text in ((self.true_combo, "any class"), (self.pred_combo, "any class")):
                combo.clear()
                combo.addItem(any_text, None)
                if data is not None:
                    for i, name in enumerate(data.class_names):
                        combo.addItem(name, i)
            self.outcome_buttons.button(0).setChecked(True)
        finally:
            self._updating = False
        self.filter = self._filter_from_controls()
        if data is None:
            self._show_empty(EMPTY_HINT)
            self.model.set_gallery(None)
            self.matrix.set_matrix(np.zeros((0, 0), np.int64), [])
            self.report.set_report({}, [])
            self.info_label.setText("")
            self.notes_label.hide()
        else:
            self.model.set_gallery(data, data.view(self.filter))
            self.matrix.set_matrix(data.confusion, data.class_names)
            self.report.set_report(data.report, data.class_names)
            self.info_label.setText(
                f"<b>{_esc(data.title)}</b> · accuracy {100 * data.accuracy:.2f} % · loss {data.evaluation.loss:.4f}"
                f" · {len(data):,} test images · {data.wrong_count:,} wrong"
            )
            self.info_label.setToolTip(
                "\n".join(
                    p
                    for p in (
                        f"Run folder: {data.run_dir}" if data.run_dir else "",
                        f"Model: {data.model_path}" if data.model_path else "",
                        f"Dataset: {data.dataset}" if data.dataset else "",
                    )
                    if p
                )
            )
            if data.notes:
                self.notes_label.setText(" ".join(data.notes))
                self.notes_label.show()
            else:
                self.notes_label.hide()
            if data.loaded_model is not None:
                self.detail.set_model(data.loaded_model)
            self.stack.setCurrentWidget(self.view)
        self._update_count()
        self._update_actions()
        self.data_changed.emit(data)

    def _show_empty(self, html: str, run: Path | None = None) -> None:
        self.empty_label.setText(html)
        entry = self._entry_for(run) if run is not None else None
        can_evaluate = run is not None and (entry.can_evaluate if entry is not None else (run / "model.keras").exists())
        self.empty_evaluate.setVisible(bool(can_evaluate))
        self.empty_shipped.setVisible(bool(core_gallery.shipped_models()))
        self.stack.setCurrentIndex(0)
        self._update_actions()

    def _update_actions(self) -> None:
        has = self.data is not None
        shown = self.model.rowCount() > 0
        for w in (self.csv_button, self.png_button):
            w.setEnabled(shown)
        for w in (self.true_combo, self.pred_combo, self.sort_combo, self.reset_button):
            w.setEnabled(has)
        for b in self.outcome_buttons.buttons():
            b.setEnabled(has)
        data = self.source_combo.currentData()
        entry = self._entry_for(data[1]) if data and data[0] == "run" else None
        self.evaluate_button.setVisible(entry is not None and entry.can_evaluate and not entry.viewable)
        self.evaluate_button.setEnabled(self._loading is None)

    # ==========================================================================================
    # Filters

    def _filter_from_controls(self) -> GalleryFilter:
        _text, key, desc = SORTS[max(0, self.sort_combo.currentIndex())]
        outcome = ("all", "correct", "wrong")[max(0, self.outcome_buttons.checkedId())]
        return GalleryFilter(
            outcome=outcome,
            true_class=self.true_combo.currentData(),
            pred_class=self.pred_combo.currentData(),
            sort=key,
            descending=desc,
        )

    def _on_filter_controls(self, *args) -> None:
        if self._updating:
            return
        self._refilter(self._filter_from_controls())

    def apply_filter(self, flt: GalleryFilter, *, keep_sort: bool = True) -> np.ndarray:
        """Show what ``flt`` selects (the sort stays as chosen unless ``keep_sort`` is False); the rows."""
        if keep_sort:
            flt = GalleryFilter(flt.outcome, flt.true_class, flt.pred_class, self.filter.sort, self.filter.descending)
        self._updating = True
        try:
            self.outcome_buttons.button(("all", "correct", "wrong").index(flt.outcome)).setChecked(True)
            self.true_combo.setCurrentIndex(0 if flt.true_class is None else flt.true_class + 1)
            self.pred_combo.setCurrentIndex(0 if flt.pred_class is None else flt.pred_class + 1)
            for i, (_t, key, desc) in enumerate(SORTS):
                if key == flt.sort and desc == flt.descending:
                    self.sort_combo.setCurrentIndex(i)
                    break
        finally:
            self._updating = False
        self._refilter(flt)
        return self.shown_rows()

    def show_cell(self, true_class: int, pred_class: int) -> np.ndarray:
        """Filter the gallery to exactly the images of one confusion-matrix cell."""
        return self.apply_filter(GalleryFilter.cell(true_class, pred_class))

    def reset_filters(self) -> None:
        self.apply_filter(GalleryFilter(), keep_sort=False)

    def _refilter(self, flt: GalleryFilter) -> None:
        self.filter = flt
        if self.data is None:
            return
        keep = self.detail_row
        self.model.set_rows(self.data.view(flt))
        # The image in the detail panel stays selected (and in view) when the new filter still shows it.
        index = self.model.index_of_row(keep) if keep is not None else QModelIndex()
        if index.isValid():
            self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        else:
            self.view.scrollToTop()
        self.matrix.select_cell(flt.true_class, flt.pred_class)
        self._update_count()
        self._update_actions()

    def _update_count(self) -> None:
        if self.data is None:
            self.count_label.setText("")
            return
        n = self.model.rowCount()
        text = self.data.count_text(n, self.filter)
        if n == 0:
            text += " (nothing to show: Reset filters, Ctrl+R)"
        self.count_label.setText(text)

    def shown_rows(self) -> np.ndarray:
        """The evaluation rows the grid shows, in order."""
        return self.model.rows()

    # ==========================================================================================
    # Thumbnail size

    def set_thumb_size(self, size: int) -> None:
        size = max(MIN_THUMB, min(MAX_THUMB, int(size)))
        self.view.set_thumb_size(size)
        self.loader.set_resolution(size)
        if self.size_slider.value() != size:
            self.size_slider.blockSignals(True)
            self.size_slider.setValue(size)
            self.size_slider.blockSignals(False)
        self.size_value.setText(f"{size} px")

    def zoom(self, step: int) -> None:
        size = self.view.thumb_size
        new = round(size * ZOOM_STEP) if step > 0 else round(size / ZOOM_STEP)
        if new == size:
            new = size + (1 if step > 0 else -1)
        self.set_thumb_size(new)

    # ==========================================================================================
    # Detail

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_at(current)
        if row is not None and row != self.detail_row:
            self.show_detail(row)

    def _on_item_clicked(self, index: QModelIndex) -> None:
        row = self.model.row_at(index)
        if row is not None and row != self.detail_row:
            self.show_detail(row)

    def show_detail(self, row: int | None) -> None:
        """Show image ``row`` (a row of the evaluation) in the detail panel."""
        data = self.data
        if data is None or row is None:
            return
        self.detail_row = row
        verdict = "correct" if data.correct[row] else "wrong"
        source = data.images.describe(row) if data.has_images else ""
        where = "" if not source or source.startswith("test image") else f" · {source}"
        self._detail_text = (
            f"Test image #{int(data.test_index[row])} · true {data.class_names[data.y_true[row]]}, predicted "
            f"{data.class_names[data.y_pred[row]]} ({core_gallery.format_percent(data.confidence[row])}), {verdict}"
            f" · loss {data.losses[row]:.3f}{where}"
        )
        # The view writes the classes itself; its title keeps what it does not show.
        self._view_title = f"Test image #{int(data.test_index[row])} · loss {data.losses[row]:.3f}{where}"
        if not data.has_images:
            self._detail_message(f"No picture: {data.images.reason}.")
            return
        loaded = data.loaded_model
        if loaded is None:
            if self._model_error:
                self._detail_message(
                    f"The model cannot be loaded, so this image cannot be explained: {self._model_error}"
                )
            else:
                self._detail_message("Loading the model to show this image with its probabilities and Grad-CAM ...")
                self._request_model()
            return
        if isinstance(data.images, core_gallery.FileImages):
            self._detail_in_worker(data, row, loaded)
            return
        try:
            result = self._prepare_detail(data, row, loaded)
        except WorkbenchError as exc:
            self._detail_failed(data, row, str(exc))
            return
        self._detail_ready(data, row, result)

    def _detail_message(self, message: str) -> None:
        self.detail_title.setText(self._detail_text)
        self.detail_title.show()
        self.detail.clear(message)

    @staticmethod
    def _prepare_detail(data: GalleryData, row: int, loaded) -> tuple[np.ndarray, np.ndarray]:
        return data.images.image(row), data.images.model_input(row, loaded.input_shape)

    def _detail_in_worker(self, data: GalleryData, row: int, loaded) -> None:
        """Decode the image (files can be large photos) off the GUI thread, then show it."""

        def job(reporter, cancel):
            return self._prepare_detail(data, row, loaded)

        run_in_thread(
            self.load_jobs,
            job,
            name="Gallery image",
            key="gallery-detail",
            context=self,
            on_finished=lambda result: self._detail_ready(data, row, result),
            on_failed=lambda message, detail: self._detail_failed(data, row, message),
        )

    def _detail_ready(self, data: GalleryData, row: int, result) -> None:
        if data is not self.data or row != self.detail_row:
            return
        display, model_input = result
        probs = np.asarray(data.evaluation.probs[row], dtype=np.float32)
        self.detail_title.hide()
        self.detail.show_prediction(
            display, model_input, probs, true_index=int(data.y_true[row]), title=self._view_title
        )

    def _detail_failed(self, data: GalleryData, row: int, message: str) -> None:
        if data is self.data and row == self.detail_row:
            self._detail_message(f"This image cannot be shown: {message}")

    def _request_model(self) -> None:
        """Load the data's model (for Grad-CAM) once, on this tab's runner.

        Not on the shared TensorFlow runner: a training run holds that for its whole length, and
        loading a model beside it is safe (Grad-CAM itself runs on the detail view's own runner too).
        """
        data = self.data
        if data is None or self._model_job is not None or self._model_error:
            return
        if data.model_path is None:
            self._model_error = "there is no saved model (model.keras) for these predictions"
            return
        path = data.model_path

        def job(reporter, cancel):
            from core.inference import load_model

            return load_model(path)

        def finished(loaded) -> None:
            self._model_job = None
            if data is not self.data:
                return
            data.loaded_model = loaded
            self.detail.set_model(loaded)
            if self.detail_row is not None:
                self.show_detail(self.detail_row)

        def failed(message: str, detail: str) -> None:
            self._model_job = None
            if data is self.data:
                self._model_error = message
                if self.detail_row is not None:
                    self.show_detail(self.detail_row)

        self._model_job = run_in_thread(
            self.load_jobs,
            job,
            name="Loading the model for Grad-CAM",
            key="gallery-model",
            context=self,
            on_finished=finished,
            on_failed=failed,
            on_cancelled=lambda _r: setattr(self, "_model_job", None),
        )

    # ==========================================================================================
    # Export

    def _default_name(self, suffix: str) -> str:
        data = self.data
        base = data.run_dir.name if data is not None and data.run_dir is not None else "shipped-model"
        flt = self.filter
        parts = [base]
        if flt.outcome != "all":
            parts.append(flt.outcome)
        if data is not None and flt.true_class is not None:
            parts.append(f"true-{data.class_names[flt.true_class]}")
        if data is not None and flt.pred_class is not None:
            parts.append(f"pred-{data.class_names[flt.pred_class]}")
        return _slug("-".join(parts)) + suffix

    def _ask_path(self, title: str, suffix: str, filter_text: str) -> Path | None:
        start = Path(self.settings.last_dir("exports", str(Path.home()))) / self._default_name(suffix)
        path, _ = QFileDialog.getSaveFileName(self, title, str(start), filter_text)
        if not path:
            return None
        path = Path(path)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        self.settings.set_last_dir("exports", str(path.parent))
        return path

    def export_csv(self, path: str | Path | None = None) -> None:
        """Save the shown images' list as CSV (asks where unless ``path`` is given)."""
        data, rows = self.data, self.shown_rows()
        if data is None or not len(rows):
            return
        if path is None:
            path = self._ask_path("Save the shown images as CSV", ".csv", "CSV files (*.csv)")
            if path is None:
                return
        target = Path(path)

        def job(reporter, cancel):
            return data.export_csv(target, rows)

        run_in_thread(
            self.load_jobs,
            job,
            name="Exporting CSV",
            context=self,
            on_finished=lambda p: self.status_message.emit(f"Saved {len(rows):,} rows to {p}.", 8000),
            on_failed=lambda message, detail: dialogs.show_error(self, "The CSV was not saved", message, detail),
        )

    def export_png(self, path: str | Path | None = None) -> None:
        """Save the shown images as one PNG, captioned like the grid (asks where unless ``path`` is given)."""
        data, rows = self.data, self.shown_rows()
        if data is None or not len(rows):
            return
        if path is None:
            path = self._ask_path("Save the grid as a PNG picture", ".png", "PNG pictures (*.png)")
            if path is None:
                return
        target = Path(path)
        thumb = self.view.thumb_size
        font = self.view.font()
        title = f"{data.title}: {data.count_text(len(rows), self.filter)}"
        total = len(rows)
        probe = CellLayout(thumb, font)
        limit = min(MAX_EXPORT_IMAGES, max(1, MAX_EXPORT_PIXELS // max(1, probe.width * probe.height)))
        rows = rows[:limit]
        palette = export_palette()

        def job(reporter, cancel):
            layout = CellLayout(thumb, font)
            image = render_grid(
                data,
                rows,
                layout,
                palette,
                title=title,
                progress=lambda d, t: reporter.on_progress(d, t, "Drawing the grid"),
                cancelled=lambda: cancel.cancelled,
            )
            if cancel.cancelled:
                return None
            with atomic.atomic_path(target) as tmp:
                if not image.save(str(tmp), "PNG"):
                    raise WorkbenchError(
                        f"Could not write {target.name}. Check that the folder exists and is writable, or choose "
                        "another place.",
                        detail=str(target),
                    )
            return target

        def finished(p) -> None:
            if p is None:
                return
            cut = f" (the first {len(rows):,} of {total:,} shown; filter to export others)" if len(rows) < total else ""
            self.status_message.emit(f"Saved the grid of {len(rows):,} images to {p}{cut}.", 10000)

        run_in_thread(
            self.load_jobs,
            job,
            name="Exporting PNG",
            context=self,
            on_finished=finished,
            on_failed=lambda message, detail: dialogs.show_error(self, "The PNG was not saved", message, detail),
        )

    # ==========================================================================================

    def shutdown(self) -> None:
        """Stop loading and the thumbnail workers (the window waits for its TensorFlow jobs itself)."""
        self.load_jobs.shutdown(30_000)
        self.detail.shutdown()
        self.loader.shutdown()


def _same_path(a: Any, b: Any) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, ValueError):
        return str(a) == str(b)


def _esc(text: Any) -> str:
    import html

    return html.escape(str(text))
