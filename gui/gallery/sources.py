"""Which source the Gallery shows: the workspace's runs listed, one chosen, opened, or refused.

:class:`SourceChoice` fills the :class:`~gui.gallery.source_bar.SourceBar` with the shipped models
and the workspace's runs, and follows a choice (from the list, a folder chosen, the Train or Runs
tab) through the :class:`~gui.gallery.loading.SourceOpener`: shown at once from its cache, read or
evaluated in the background, or refused with a sentence in the grid's place. What is asked for and
shown is kept in the tab's :class:`~gui.gallery.state.GalleryState`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from core import gallery as core_gallery
from core.errors import WorkbenchError
from core.gallery import GalleryData
from gui import dialogs
from gui.gallery.state import SourceKey
from gui.tasks import TaskFailure

if TYPE_CHECKING:
    from gui.gallery.tab import GalleryTab


class SourceChoice(QObject):
    """The sources of a :class:`~gui.gallery.tab.GalleryTab`: listed, chosen, opened."""

    def __init__(self, tab: GalleryTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.state = tab.state
        self.bar = tab.sources
        self.opener = tab.opener
        self.bar.source_chosen.connect(self.chosen)
        self.bar.browse_requested.connect(self.choose_run_folder)
        self.opener.loaded.connect(self._loaded)
        self.opener.failed.connect(self._failed)
        self.opener.cancelled.connect(self._cancelled)

    def show_default(self) -> None:
        """Nothing shown or asked for yet: open the newest run (or the shipped model)."""
        if self.state.data is None and self.state.requested is None:
            key = self.state.default_source([m.path for m in core_gallery.shipped_models()])
            if key is not None:
                self.chosen(*key)

    def refresh(self, select_current: bool = True) -> None:
        """Read the runs of the workspace again and fill the source list."""
        try:
            self.state.entries = core_gallery.run_entries(self.tab.workspace)
        except (OSError, WorkbenchError) as exc:
            self.state.entries = []
            self.tab.status_message.emit(f"The runs cannot be listed: {exc}", 8000)
        self.bar.set_sources(core_gallery.shipped_models(), self.state.entries)
        if select_current:
            self.bar.select(self.state.source_to_select())
        self.tab._update_actions()

    def chosen(self, kind: str, path: str) -> None:
        if kind == "shipped":
            self.show_shipped(path)
        elif kind == "run":
            self.show_run(path)

    def choose_run_folder(self) -> None:
        from core import paths

        tab = self.tab
        start = tab.settings.last_dir("gallery-runs", str(paths.runs_dir(tab.workspace)))
        folder = QFileDialog.getExistingDirectory(tab, "Show a run folder in the gallery", start)
        if folder:
            tab.settings.set_last_dir("gallery-runs", str(Path(folder).parent))
            self.show_run(folder)

    def show_run(self, run_dir: str | Path) -> None:
        """Show a run (the Train tab's "Show in Gallery", the source list, a folder chosen)."""
        run_dir = Path(run_dir)
        key = ("run", str(run_dir))
        self.refresh(select_current=False)
        self.bar.select(key)
        problem = self.state.run_problem(run_dir)
        if problem is not None:
            self._show_now(key, None)
            self.tab._show_empty(
                f"<b>Run {html.escape(run_dir.name)} cannot be shown:</b> {html.escape(problem)}.", run_dir
            )
            return
        if self._from_cache(key):
            return
        self.opener.read_run(key, run_dir, self.tab.workspace)

    def show_shipped(self, model_path: str | Path | None = None) -> None:
        """Evaluate a model shipped with the app (default: the first) on its dataset and show it."""
        if model_path is None:
            shipped = core_gallery.shipped_models()
            if not shipped:
                self.tab._show_empty("No model is shipped with this installation (the weights folder is empty).")
                return
            model_path = shipped[0].path
        model_path = Path(model_path)
        key = ("shipped", str(model_path))
        self.bar.select(key)
        if self._from_cache(key):
            return
        self.opener.evaluate_model(key, model_path)

    def evaluate_current(self) -> None:
        """Evaluate the chosen run with its saved model (for runs that stopped before their evaluation)."""
        key = self.bar.current_source()
        if key is None or key[0] != "run":
            return
        self.opener.evaluate_run(key, Path(key[1]))

    def _from_cache(self, key: SourceKey) -> bool:
        """Show ``key`` from memory if it was loaded before and has not changed since."""
        data = self.opener.cache.get(key)
        if data is None:
            return False
        self._show_now(key, data)
        return True

    def _show_now(self, key: SourceKey, data: GalleryData | None) -> None:
        """Show ``data`` for ``key`` at once, dropping whatever was still loading."""
        self.opener.stop()
        self.state.show(key, data)
        self.bar.select(key)
        self.tab._set_data()

    # -- A source loaded (gui/gallery/loading.py), or not ------------------------------------

    def _loaded(self, key: SourceKey, data: GalleryData) -> None:
        if key[0] == "run" and data.run_dir is not None:
            self.refresh(select_current=False)  # an "Evaluate now" changes the run's entry
        self.state.show(key, data)
        self.bar.select(key)
        self.tab._set_data()
        self.tab.status_message.emit(f"{data.title}: {len(data):,} test images, {data.wrong_count:,} wrong.", 6000)

    def _failed(self, key: SourceKey, what: str, failure: TaskFailure) -> None:
        self.bar.select(self.state.shown)
        dialogs.show_error(self.tab, "The gallery cannot show this", failure.message, failure.detail)
        if self.state.data is None:
            run = Path(key[1]) if key[0] == "run" else None
            self.tab._show_empty(f"<b>{html.escape(what)} failed:</b> {html.escape(failure.message)}", run)

    def _cancelled(self) -> None:
        self.bar.select(self.state.shown)
        self.tab._update_actions()
        self.tab.status_message.emit("Loading cancelled.", 3000)
