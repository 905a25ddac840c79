"""The Gallery tab: a run's test images in blue and red, the confusion matrix and the report.

Top, the source (:mod:`~gui.gallery.source_bar`; listed and opened by :mod:`~gui.gallery.sources`):
any run of the workspace, a run folder elsewhere, or a model shipped with the app evaluated on its
dataset. Left, the filters
(:mod:`~gui.gallery.filter_bar`) and the grid with its count, size and export
(:mod:`~gui.gallery.grid_page`). Right, the confusion matrix and the report
(:mod:`~gui.gallery.evaluation_page`), where a click filters the grid to the images behind it, and
below them the image clicked, large, with Grad-CAM (:mod:`~gui.gallery.detail_panel`). What is
shown, filtered and selected is decided in :mod:`~gui.gallery.state`; this class wires the pages
to it and to the tasks.

Each kind of task has its :class:`~gui.tasks.TaskSlot`, so a newer request supersedes an older one
and a stale result never reaches the screen: opening a source (:mod:`~gui.gallery.loading`: reading
a run on this tab's runner, evaluating a model on the window's shared TensorFlow runner), the
detail's model and image (:mod:`~gui.gallery.detail`), and each export (:mod:`~gui.gallery.export`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from core import gallery as core_gallery
from core.gallery import GalleryData, GalleryFilter
from gui.gallery.detail import DetailLoader
from gui.gallery.detail_panel import DetailPanel
from gui.gallery.evaluation_page import EvaluationPage
from gui.gallery.export import GalleryExporter
from gui.gallery.filter_bar import FilterBar
from gui.gallery.grid_page import GridPage
from gui.gallery.loading import SourceOpener
from gui.gallery.source_bar import SourceBar
from gui.gallery.sources import SourceChoice
from gui.gallery.state import GalleryState
from gui.settings import AppSettings
from gui.thumbnails import ThumbnailLoader
from gui.widgets.gallery_view import DEFAULT_THUMB, MAX_THUMB, MIN_THUMB
from gui.workers import JobRunner

EMPTY_HINT = "Choose a run above, or the model shipped with the app, to see its test images."
SPLITTERS = ("gallery", "gallery-right")  # settings names of the two splitters


class GalleryTab(QWidget):
    status_message = Signal(str, int)  # text, milliseconds (0: until replaced)
    data_changed = Signal(object)  # the GalleryData now shown, or None

    def __init__(
        self, jobs: JobRunner, settings: AppSettings, *, workspace: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs  # the window's runner: TensorFlow jobs, one at a time
        self.settings = settings
        self.workspace = workspace
        self.load_jobs = JobRunner(self)  # reading runs, decoding files, exports: no TensorFlow
        self.loader = ThumbnailLoader(self)
        self.state = GalleryState(thumb_range=(MIN_THUMB, MAX_THUMB), thumb_size=DEFAULT_THUMB)
        self._first_show = True

        self._build_ui()
        self._build_shortcuts()
        self._restore_settings()
        self._update_actions()

    # ==========================================================================================
    # Construction

    def _build_ui(self) -> None:
        self.sources = SourceBar()
        self.sources.refresh_requested.connect(lambda: self.refresh_sources())
        self.sources.evaluate_requested.connect(self.evaluate_current)
        self.sources.cancel_requested.connect(self.cancel_loading)
        self.opener = SourceOpener(self.load_jobs, self.jobs, self.state, self.sources, parent=self)
        self.source_choice = SourceChoice(self)  # listed, chosen, opened: gui/gallery/sources.py
        self.opener.busy_changed.connect(lambda _busy: self._update_actions())
        self.opener.status_message.connect(self.status_message)
        self.filters = FilterBar()
        self.filters.filter_changed.connect(self._refilter)
        self.filters.reset_requested.connect(self.reset_filters)
        self.grid = GridPage(self.loader)
        self.grid.row_chosen.connect(self._on_row_chosen)
        self.grid.zoom_requested.connect(self.zoom)
        self.grid.thumb_size_requested.connect(self.set_thumb_size)
        self.grid.evaluate_requested.connect(self.evaluate_current)
        self.grid.shipped_requested.connect(lambda: self.show_shipped())
        self.grid.export_csv_requested.connect(lambda: self.export_csv())
        self.grid.export_png_requested.connect(lambda: self.export_png())
        self.evaluation = EvaluationPage()
        self.evaluation.filter_requested.connect(self.apply_filter)
        self.evaluation.percent_changed.connect(lambda on: setattr(self.state, "row_percent", on))
        self.detail_panel = DetailPanel()
        self.details = DetailLoader(self.load_jobs, self.state, self.detail_panel, parent=self)
        self.exporter = GalleryExporter(self.load_jobs, self.settings, self.state, self.grid.view, parent=self)
        self.exporter.status_message.connect(self.status_message)

        # The widgets tests, benchmarks and the window reach, under the names they always had.
        self.source_combo, self.notes_label = self.sources.source_combo, self.sources.notes_label
        self.outcome_buttons, self.sort_combo = self.filters.outcome_buttons, self.filters.sort_combo
        self.true_combo, self.pred_combo = self.filters.true_combo, self.filters.pred_combo
        self.reset_button = self.filters.reset_button
        self.model, self.view, self.stack = self.grid.model, self.grid.view, self.grid.stack
        self.empty_label, self.empty_evaluate = self.grid.empty_label, self.grid.empty_evaluate
        self.count_label, self.size_slider = self.grid.count_label, self.grid.size_slider
        self.csv_button, self.png_button = self.grid.csv_button, self.grid.png_button
        self.eval_tabs, self.matrix, self.report = self.evaluation, self.evaluation.matrix, self.evaluation.report
        self.detail = self.detail_panel.view

        grid_pane = QWidget()
        gl = QVBoxLayout(grid_pane)
        gl.setContentsMargins(0, 0, 4, 0)
        gl.addWidget(self.filters)
        gl.addWidget(self.grid, 1)

        self.right_split = _splitter(Qt.Orientation.Vertical, (self.evaluation, 1, 430), (self.detail_panel, 1, 400))
        self.splitter = _splitter(Qt.Orientation.Horizontal, (grid_pane, 3, 700), (self.right_split, 2, 730))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.sources)
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

    def _splitters(self) -> dict[str, QSplitter]:
        return dict(zip(SPLITTERS, (self.splitter, self.right_split), strict=True))

    def _restore_settings(self) -> None:
        s = self.settings
        self.state.restore(
            thumb_size=s.tab_value("gallery", "thumb_size", DEFAULT_THUMB, int),
            row_percent=s.tab_value("gallery", "row_percent", False, bool),
            sort=s.tab_value("gallery", "sort", 0, int),
        )
        self.set_thumb_size(self.state.thumb_size)
        self.evaluation.set_percent(self.state.row_percent)
        self.filters.show_filter(self.state.filter)
        s.restore_splitters(self._splitters())

    def save_settings(self) -> None:
        self.settings.set_tab_state("gallery", self.state.settings())
        self.settings.save_splitters(self._splitters())

    # ==========================================================================================
    # What the window and the tests read

    @property
    def data(self) -> GalleryData | None:
        return self.state.data

    @property
    def filter(self) -> GalleryFilter:
        return self.state.filter

    @property
    def detail_row(self) -> int | None:
        return self.state.detail_row

    @property
    def loading(self) -> bool:
        return self.state.is_loading

    def shown_rows(self) -> np.ndarray:
        """The evaluation rows the grid shows, in order."""
        return self.model.rows()

    # ==========================================================================================
    # Sources (gui/gallery/sources.py; loading them: gui/gallery/loading.py)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.state.is_loading:
            self.refresh_sources(select_current=True)
        if self._first_show:
            self._first_show = False
            self.source_choice.show_default()

    def refresh_sources(self, select_current: bool = True) -> None:
        """Read the runs of the workspace again and fill the source list."""
        self.source_choice.refresh(select_current)

    def choose_run_folder(self) -> None:
        self.source_choice.choose_run_folder()

    def show_run(self, run_dir: str | Path) -> None:
        """Show a run (the Train tab's "Show in Gallery", the source list, a folder chosen)."""
        self.source_choice.show_run(run_dir)

    def show_shipped(self, model_path: str | Path | None = None) -> None:
        """Evaluate a model shipped with the app (default: the first) on its dataset and show it."""
        self.source_choice.show_shipped(model_path)

    def evaluate_current(self) -> None:
        """Evaluate the chosen run with its saved model (for runs that stopped before their evaluation)."""
        self.source_choice.evaluate_current()

    def cancel_loading(self) -> None:
        """Stop loading (the Cancel button); the gallery keeps what it showed before."""
        self.opener.cancel()

    # ==========================================================================================
    # Showing data

    def set_data(self, data: GalleryData | None) -> None:
        """Show ``data`` (a GalleryData made elsewhere: tests, or a caller that evaluated already)."""
        self.opener.stop()
        self.state.show(None if data is None else ("data", str(id(data))), data)
        self._set_data()

    def _set_data(self) -> None:
        """Draw the state's (new) data everywhere; the detail and its tasks start again."""
        data = self.state.data
        self.details.reset()
        self.filters.set_classes([] if data is None else data.class_names)
        self.filters.show_filter(self.state.filter)
        self.grid.set_gallery(data, self.state.rows())
        self.evaluation.set_data(data)
        self.sources.set_info(data)
        if data is None:
            self._show_empty(EMPTY_HINT)
        self._update_count()
        self._update_actions()
        self.data_changed.emit(data)

    def _show_empty(self, html_text: str, run: Path | None = None) -> None:
        self.grid.show_empty(
            html_text,
            can_evaluate=self.state.can_evaluate(run),
            can_show_shipped=bool(core_gallery.shipped_models()),
        )
        self._update_actions()

    def _update_actions(self) -> None:
        self.grid.set_exportable(self.model.rowCount() > 0)
        self.filters.set_active(self.state.data is not None)
        self.sources.set_evaluate(
            visible=self.state.offers_evaluate(self.sources.current_source()), enabled=not self.state.is_loading
        )

    def _update_count(self) -> None:
        self.grid.set_count(self.state.count_text(self.model.rowCount()))

    # ==========================================================================================
    # Filters

    def apply_filter(self, flt: GalleryFilter, *, keep_sort: bool = True) -> np.ndarray:
        """Show what ``flt`` selects (the sort stays as chosen unless ``keep_sort`` is False); the rows."""
        flt = self.state.set_filter(flt, keep_sort=keep_sort)
        self.filters.show_filter(flt)
        self._refilter(flt)
        return self.shown_rows()

    def show_cell(self, true_class: int, pred_class: int) -> np.ndarray:
        """Filter the gallery to exactly the images of one confusion-matrix cell."""
        return self.apply_filter(GalleryFilter.cell(true_class, pred_class))

    def reset_filters(self) -> None:
        self.apply_filter(GalleryFilter(), keep_sort=False)

    def _refilter(self, flt: GalleryFilter) -> None:
        self.state.set_filter(flt)
        if self.state.data is None:
            return
        # The image in the detail panel stays selected (and in view) when the new filter still shows it.
        self.grid.show_rows(self.state.rows(), keep=self.state.detail_row)
        self.evaluation.select_cell(flt.true_class, flt.pred_class)
        self._update_count()
        self._update_actions()

    # ==========================================================================================
    # Thumbnail size

    def set_thumb_size(self, size: int) -> None:
        size = self.state.set_thumb_size(size)
        self.grid.set_thumb_size(size)
        self.loader.set_resolution(size)

    def zoom(self, step: int) -> None:
        self.set_thumb_size(self.state.zoomed(step))

    # ==========================================================================================
    # Detail: the image large, its probabilities and Grad-CAM

    def _on_row_chosen(self, row: int) -> None:
        if row != self.state.detail_row:
            self.show_detail(row)

    def show_detail(self, row: int | None) -> None:
        """Show image ``row`` (a row of the evaluation) in the detail panel."""
        self.details.show(row)

    def select_image(self, row: int) -> None:
        """Image ``row`` chosen elsewhere (a point of the Inside tab's feature space): selected in the
        grid, in view, and shown large; filters that hide it are reset (the status bar says so)."""
        if self.state.data is None or not 0 <= int(row) < len(self.state.data):
            return
        if not self.grid.select_row(int(row)):
            self.reset_filters()
            self.grid.select_row(int(row))
            self.status_message.emit("The filters hid that image, so they were reset.", 6000)
        if self.state.detail_row != int(row):
            self.show_detail(int(row))

    # ==========================================================================================
    # Export

    def export_csv(self, path: str | Path | None = None) -> None:
        """Save the shown images' list as CSV (asks where unless ``path`` is given)."""
        self.exporter.export_csv(self.shown_rows(), path)

    def export_png(self, path: str | Path | None = None) -> None:
        """Save the shown images as one PNG, captioned like the grid (asks where unless ``path`` is given)."""
        self.exporter.export_png(self.shown_rows(), path)

    # ==========================================================================================

    def shutdown(self) -> None:
        """Stop loading and the thumbnail workers (the window waits for its TensorFlow jobs itself)."""
        self.opener.shutdown()
        self.load_jobs.shutdown(30_000)
        self.details.shutdown()
        self.loader.shutdown()


def _splitter(orientation: Qt.Orientation, *parts: tuple[QWidget, int, int]) -> QSplitter:
    """A splitter of ``(widget, stretch, starting size)`` parts that none can be collapsed to nothing."""
    splitter = QSplitter(orientation)
    for i, (widget, stretch, _size) in enumerate(parts):
        splitter.addWidget(widget)
        splitter.setStretchFactor(i, stretch)
    splitter.setChildrenCollapsible(False)
    splitter.setSizes([size for _w, _s, size in parts])
    return splitter
