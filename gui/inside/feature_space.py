"""The Inside tab's feature space: the embedding of a layer (t-SNE or PCA), computed, cached, compared.

:class:`FeatureSpace` wires the :class:`~gui.inside.embedding_panel.EmbeddingPanel` to the tab's
:class:`~gui.inside.state.InsideState` and runs the embedding (:func:`gui.inside.jobs.embed_job`)
in a :class:`~gui.tasks.TaskSlot` on the tab's runner. An embedding kept in the run folder is drawn
at once; "Compare with" draws a second run's embedding of the same layer beside the first, and
pointing at an image in one rings the same image in the other. A click on a point shows that
image's activations and asks the window to show it in the Gallery (``InsideTab.show_detail``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from gui import dialogs
from gui.inside import jobs as inside_jobs
from gui.inside.state import Opened
from gui.tasks import TaskFailure, TaskSlot

if TYPE_CHECKING:
    from gui.inside.tab import InsideTab


class FeatureSpace(QObject):
    """The Feature space page of an :class:`~gui.inside.tab.InsideTab`: its choices, task and points."""

    def __init__(self, tab: InsideTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.state = tab.state
        self.page = tab.embedding_page
        self.task = TaskSlot(
            tab.jobs,
            "Feature space",
            parent=self,
            on_done=self._embedded,
            on_failed=self._failed,
            on_cancelled=lambda _r: self._failed(TaskFailure("Stopped.", "")),
            on_progress=self.page.on_progress,
            on_message=tab.status_message.emit,
        )
        page = self.page
        page.choice_changed.connect(self._choice_changed)
        page.compare_chosen.connect(self._compare_chosen)
        page.compute_clicked.connect(self.compute)
        page.stop_clicked.connect(self.stop)
        page.point_clicked.connect(self._point_clicked)
        page.point_hovered.connect(self._point_hovered)
        for side in (0, 1):
            page.scatters[side].thumbnail = lambda row, side=side: self.state.thumbnail(self.opened_on(side), row)
            page.scatters[side].describe = lambda row, side=side: _describe(self.opened_on(side), row)

    def opened_on(self, side: int) -> Opened | None:
        return self.state.opened if side == 0 else self.state.compare_opened

    def _choice_changed(self) -> None:
        self.state.layer, self.state.method, self.state.three_d = self.page.choice()
        self.show_cached_or_hint()

    def show_cached_or_hint(self) -> None:
        """Draw the cached embedding for the current choice if there is one, else say what to do."""
        opened = self.state.opened
        if opened is None:
            return
        from core import features

        key = layer, method, dims = self.state.embedding_key
        found = opened.cached.get(key) or features.lookup_embedding(opened.data, layer, method, dims=dims)
        if found is not None:
            opened.cached[key] = found
            self.page.draw(0, opened, found)
            self.state.embedding = found
            kept = f"{found.title}: computed in {found.seconds:.1f} s, kept in the run folder."
            self.page.status.setText(kept)
        else:
            self.state.embedding = None
            self.page.show_hint(0, "Press Compute to embed the test set.", opened.data.title)
            self.page.status.setText("")
        self._refresh_compare_plot()

    def _compare_chosen(self, path: str | None) -> None:
        self.state.choose_compare(path)
        self.page.set_compare_visible(bool(path))
        if path:
            self._refresh_compare_plot()

    def _refresh_compare_plot(self) -> None:
        if not self.state.compare_path:
            return
        from core import features

        opened = self.state.compare_opened
        if opened is not None:
            layer, method, dims = self.state.embedding_key
            found = features.lookup_embedding(opened.data, layer, method, dims=dims)
            if found is not None:
                self.state.compare_embedding = found
                self.page.draw(1, opened, found)
                return
        self.state.compare_embedding = None
        self.page.show_hint(1, "Press Compute to embed this run too.", self.page.compare_combo.currentText())

    def compute(self) -> None:
        """Compute (or recompute) the embedding of the chosen layer, and of the compared run's."""
        state = self.state
        if not state.begin_embedding():
            return
        layer, method, dims = state.embedding_key
        job = inside_jobs.embed_job(
            state.opened, layer, method, dims, state.compare_source(), state.compare_opened, self.tab.workspace
        )
        self.page.start_progress("Extracting features")
        self.page.status.setText("")
        self.task.start(job)
        self.tab._update_controls()

    def stop(self) -> None:
        """Ask the embedding to stop; it ends as cancelled ("Stopped.")."""
        worker = self.task.worker
        if worker is not None:
            worker.cancel.cancel()
            self.page.status.setText("Stopping ...")

    def _embedded(self, results: list[tuple[Opened, Any]]) -> None:
        seconds = self.page.elapsed_seconds()
        self.page.hide_progress()
        for side, opened, emb in self.state.embedded(results):
            if side == 1:
                self.page.set_compare_visible(True)
            self.page.draw(side, opened, emb)
        first = self.page.show_summary([emb for _opened, emb in results], seconds)
        self.tab.status_message.emit(first)
        self.tab._update_controls()

    def _failed(self, failure: TaskFailure) -> None:
        self.state.embedding_ended()
        self.page.hide_progress()
        self.page.status.setText(html.escape(failure.message))
        self.tab._update_controls()
        if failure.detail:
            dialogs.show_error(self.tab, "Feature space", failure.message, failure.detail)

    def _point_hovered(self, side: int, row: int) -> None:
        if self.state.same_rows():
            self.page.ring(1 - side, row)

    def _point_clicked(self, side: int, row: int) -> None:
        opened = self.opened_on(side)
        if opened is None:
            return
        if row >= 0 and self.state.same_rows():
            self.page.ring(1 - side, row)
        if side == 0:
            self.tab.activations_page.row_spin.setValue(int(row))  # the activations page follows the clicked image
        self.tab.show_detail.emit(opened.source.path, int(row))


def _describe(opened: Opened | None, row: int) -> str:
    """The line under the hover card's thumbnail."""
    if opened is None:
        return ""
    from core.gallery import format_percent

    data = opened.data
    return f"test image {int(data.test_index[row])} · confidence {format_percent(data.confidence[row])}"
