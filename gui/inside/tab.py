"""The Inside tab: a run's feature space (t-SNE or PCA) and a layer's activations for one image.

A face on core/features.py and core/activations.py, wired from small parts:

* :mod:`gui.inside.state`: what the tab is doing (choices, what is open and computed, what runs);
* pages that only draw and forward input: :mod:`~gui.inside.source_bar` (the run chooser),
  :mod:`~gui.inside.embedding_panel` (layer, method, compare, Compute / Stop, the scatters),
  :mod:`~gui.inside.activations_panel` (the image, the layer, the grid);
* :mod:`gui.inside.feature_space`: the Feature space page's choices, its embedding task and its
  points; :mod:`gui.inside.activations`: the activation requests;
* :mod:`gui.inside.jobs`: the work, run by three :class:`~gui.tasks.TaskSlot` s on the main window's
  :class:`~gui.workers.JobRunner` (one TensorFlow job at a time). A new request of a kind
  supersedes the last, so an older result never reaches a view.

* Feature space: layer (``features`` by default), t-SNE or PCA, Compute. The scatter is coloured
  by true class with mistakes crossed; hovering shows the image with its true and predicted class;
  clicking emits :attr:`InsideTab.show_detail` (and shows that image's activations). "Compare
  with" puts a second run's embedding of the same layer beside the first; pointing at an image in
  one rings the same image in the other. Embeddings are cached in the run folder, so a run opened
  again shows its last picture at once.
* Activations: a test image of the run (by row) or an image another tab hands over with
  :meth:`InsideTab.set_image`; a layer (first conv, last conv, dense shortcuts); the maps as a grid
  with one colour scale (click one to enlarge it), or a bar strip for a dense layer.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from gui import dialogs
from gui.inside import jobs as inside_jobs
from gui.inside.activations import ActivationsRequests
from gui.inside.activations_panel import ActivationsPanel
from gui.inside.embedding_panel import EmbeddingPanel
from gui.inside.feature_space import FeatureSpace
from gui.inside.source_bar import SourceBar
from gui.inside.state import External, InsideState, Opened, Source
from gui.settings import AppSettings
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner


class InsideTab(QWidget):
    """Feature space and activations of a run (see the module docstring)."""

    #: A point was clicked: (run folder, or model file for a shipped model; row of the evaluation).
    #: ``GalleryData.test_index[row]`` is the image's index in the test split.
    show_detail = Signal(object, int)
    status_message = Signal(str)

    def __init__(
        self,
        jobs: JobRunner | None = None,
        settings: AppSettings | None = None,
        workspace: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs if jobs is not None else JobRunner(self)
        self.settings = settings
        self.workspace = workspace

        self.source_bar = SourceBar()
        self.embedding_page = EmbeddingPanel()
        self.activations_page = ActivationsPanel()
        self.state = InsideState(three_d_available=self.embedding_page.three_d.isEnabled())
        self.pages = QTabWidget()
        self.pages.addTab(self.embedding_page, "Feature space")
        self.pages.addTab(self.activations_page, "Activations")
        self.pages.setTabToolTip(0, "Where the network puts each test image: t-SNE or PCA of a layer's features.")
        self.pages.setTabToolTip(1, "What a layer makes of one image: its feature maps or values.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_bar)
        layout.addWidget(self.pages, 1)

        self.open_task = TaskSlot(
            self.jobs,
            "Opening a run",
            parent=self,
            on_done=self._on_opened,
            on_failed=self._on_open_failed,
            on_cancelled=lambda _r: self._on_open_failed(TaskFailure("Opening was cancelled.", "")),
            on_progress=self.embedding_page.on_progress,
        )
        self.features = FeatureSpace(self)  # the Feature space page: choices, embedding task, points
        self.activations = ActivationsRequests(self.jobs, self.state, self.activations_page, self)
        self._first_show = True

        self._wire()
        if self.settings is not None:
            self.state.apply_settings(self.settings.tab_state("inside"))
            self.embedding_page.show_choice(self.state.method, self.state.three_d)
        self.embedding_page.show_hint(0, "Choose a run above, then press Compute.")
        self._update_controls()

    def _wire(self) -> None:
        bar, emb, act = self.source_bar, self.embedding_page, self.activations_page
        bar.source_chosen.connect(self._on_source_chosen)
        bar.refresh_requested.connect(self.refresh_sources)
        emb.waiting_prefix = self._waiting_prefix  # its other signals: gui/inside/feature_space.py
        act.image_source_chosen.connect(self._on_image_source_chosen)
        act.row_chosen.connect(self._on_row_chosen)
        act.layer_chosen.connect(self._on_act_layer_chosen)
        act.shortcut_clicked.connect(self._on_shortcut)

    # ==========================================================================================
    # For callers (the main window, other tabs) and tests; everything else is in ``self.state``

    @property
    def activations_busy(self) -> bool:
        """An activation request is waiting (debounce timer) or running: the grid is not current yet."""
        return self.activations.busy

    def current_layer(self) -> str | None:
        return self.state.layer

    def current_method(self) -> str:
        return self.state.method

    def set_method(self, method: str) -> None:
        self.embedding_page.choose_method(method)

    def set_layer(self, layer: str) -> None:
        self.embedding_page.choose_layer(layer)

    # ==========================================================================================
    # Sources

    def refresh_sources(self) -> None:
        """List the workspace's runs that have a test-set evaluation, and the shipped models."""
        current = self.source_bar.current_path()
        compare = self.embedding_page.compare_combo.currentData()
        sources = inside_jobs.list_sources(self.workspace)
        self.state.set_sources(sources)
        self.source_bar.set_sources(sources, current)
        self.embedding_page.set_compare_sources(sources, compare)
        self.state.compare_path = self.embedding_page.compare_combo.currentData()
        if not sources:
            self.source_bar.set_info("No runs with a test-set evaluation yet: train one in the Train tab.")
        elif self.state.opened is None:
            self.source_bar.set_info("Choose a run to look inside.")
        self._update_controls()

    def _source_for(self, path: str | Path, kind: str | None = None) -> Source:
        source, added = self.state.source_for(path, kind)
        if added:
            self.source_bar.add_source(source)
            self.embedding_page.add_compare_source(source)
        return source

    def set_run(self, run_dir: str | Path) -> None:
        """Look inside run ``run_dir`` (the Runs tab and the Train tab call this)."""
        self._select_and_open(self._source_for(run_dir, "run"))

    def set_model_file(self, path: str | Path) -> None:
        """Look inside a model file whose card names its dataset (a shipped model)."""
        self._select_and_open(self._source_for(path, "model"))

    def _select_and_open(self, source: Source) -> None:
        self.source_bar.select(source.path)
        self._open(source)

    def _on_source_chosen(self, path: str) -> None:
        source = self.state.source(path)
        if self.state.needs_open(source):
            self._open(source)

    def _open(self, source: Source) -> None:
        """Open ``source`` (a newer choice supersedes one still opening)."""
        self.state.begin_open(source)
        self.embedding_page.scatters[0].set_message("Opening ...")
        self.activations_page.grid.set_message("Opening ...")
        self.source_bar.set_info(f"Opening {source.label} ...")
        layer, methods, workspace = self.state.open_layer(), self.state.lookup_order(), self.workspace
        self._update_controls()
        self.open_task.start(
            lambda reporter, cancel: inside_jobs.open_source(source, workspace, reporter, cancel, layer, methods)
        )

    def _on_opened(self, opened: Opened) -> None:
        self.state.open_done(opened)
        self.source_bar.show_opened(opened.data)
        self.embedding_page.set_layers(opened.feature_layers, self.state.layer)
        self.activations_page.set_rows(len(opened.data), self.state.row)
        self.embedding_page.hide_progress()
        self.features.show_cached_or_hint()
        if self.state.image_source == "test":
            self.activations_page.set_layers(opened.layer_choices, self.state.act_layer)
            self._show_test_image()
        self._update_controls()

    def _on_open_failed(self, failure: TaskFailure) -> None:
        self.state.open_failed()
        self.embedding_page.hide_progress()
        self.embedding_page.scatters[0].set_message("This run cannot be opened.")
        self.activations_page.grid.set_message("")
        self.source_bar.set_info(html.escape(failure.message))
        self._update_controls()
        if failure.detail:
            dialogs.show_error(self, "Cannot open the run", failure.message, failure.detail)

    # ==========================================================================================
    # Feature space (gui/inside/feature_space.py)

    @property
    def embed_task(self) -> TaskSlot:
        return self.features.task

    def compute(self) -> None:
        """Compute (or recompute) the embedding of the chosen layer, and of the compared run's."""
        self.features.compute()

    def stop(self) -> None:
        """Ask the embedding to stop; it ends as cancelled ("Stopped.")."""
        self.features.stop()

    # ==========================================================================================
    # Activations

    def set_image(self, image: np.ndarray, model: Any, title: str = "") -> None:
        """Show the activations of ``image`` in ``model`` (Predict and Gallery call this).

        ``image``: uint8 ``H x W x C`` pixels, ideally already the model's input size (anything else
        is resized); ``model``: a :class:`core.inference.LoadedModel` (or a bare ``keras.Model``).
        Switches to the Activations page.
        """
        from core import activations
        from core.images import array_to_model_input

        keras_model = getattr(model, "model", model)
        input_shape = tuple(getattr(model, "input_shape", None) or tuple(keras_model.inputs[0].shape)[1:])
        class_names = list(getattr(model, "class_names", None) or [])
        arr = array_to_model_input(np.asarray(image), input_shape)
        choices = activations.layer_choices(keras_model)
        self.state.set_external(External(arr, keras_model, input_shape, class_names, title or "image", choices))
        self.activations_page.set_external_label(f"From another tab: {title or 'image'}")
        self.pages.setCurrentIndex(1)
        if not self.activations_page.choose_image_source("external"):
            self._on_image_source_chosen("external")

    def set_test_image(self, row: int) -> None:
        """Show the activations of test image ``row`` of the open run."""
        self.activations_page.choose_image_source("test")
        self.activations_page.row_spin.setValue(int(row))
        self.pages.setCurrentIndex(1)

    def _on_image_source_chosen(self, kind: str) -> None:
        state, page = self.state, self.activations_page
        state.choose_image_source(kind)
        if state.using_external:
            page.set_layers(state.external.layer_choices, state.act_layer)
            page.show_image(state.external.image, f"<b>{html.escape(state.external.title)}</b>")
            self.activations.schedule()
        elif state.opened is not None:
            page.set_layers(state.opened.layer_choices, state.act_layer)
            self._show_test_image()
        self._update_controls()

    def _on_row_chosen(self, row: int) -> None:
        self.state.row = row
        if self.state.image_source == "test":
            self._show_test_image()

    def _on_act_layer_chosen(self, layer: str) -> None:
        self.state.act_layer = layer
        self.activations.schedule()

    def _on_shortcut(self, which: str) -> None:
        layer = self.state.shortcut_layer(which)
        if layer is not None:
            self.activations_page.choose_layer(layer)

    def _show_test_image(self) -> None:
        opened = self.state.opened
        if opened is not None and self.activations_page.show_test_image(opened.data, self.state.row):
            self.activations.schedule()

    # ==========================================================================================
    # State of the controls, showing, closing

    def _waiting_prefix(self) -> str:
        """Another tab's job holds the runner: say so before the elapsed time."""
        current = self.jobs.current
        mine = {slot.name for slot in (self.open_task, self.embed_task, self.activations.task)}
        return f"Waiting for {current.name.lower()} to finish ... " if current and current.name not in mine else ""

    def _update_controls(self) -> None:
        controls = self.state.controls()
        self.embedding_page.set_controls(controls)
        self.activations_page.set_controls(controls)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        # Runs finish in the Train tab while this one is hidden: list them again when it is shown.
        if self.state.refresh_on_show():
            self.refresh_sources()
        super().showEvent(event)
        if self._first_show:  # not a blank chooser: the newest run (or the shipped model) is opened
            self._first_show = False
            default = self.state.default_source()
            if default is not None:
                self._select_and_open(default)

    def save_settings(self) -> None:
        """Remember the method and 3-D (``AppSettings.tab_state("inside")``); a comparison always starts
        at equal widths, so the plots' splitter is not kept."""
        if self.settings is None:
            return
        self.settings.set_tab_state("inside", self.state.to_settings())

    def shutdown(self) -> None:
        """Stop this tab's jobs (the main window's close waits for the runner afterwards)."""
        self.activations.stop()
        for slot in (self.open_task, self.embed_task):
            slot.cancel()
