"""The Gallery tab: a run's test images captioned blue and red, its confusion matrix and report.

Where things are:

* ``state.py``: what the tab shows and why (source asked for and shown, filter, selection, sizes,
  settings); plain Python, no Qt, no TensorFlow.
* ``tab.py``: :class:`GalleryTab`, which wires the pages to the state and to the tasks, one
  :class:`~gui.tasks.TaskSlot` per kind: ``loading.py`` (read a run, evaluate a model: one source
  at a time, the newest request wins), ``detail.py`` (load the model for Grad-CAM, decode an image),
  ``export.py`` (CSV, PNG).
* Pages that only draw and forward input: ``source_bar.py`` (the source list and loading progress),
  ``filter_bar.py``, ``grid_page.py`` (the grid, count, size, export buttons), ``evaluation_page.py``
  (``confusion_matrix.py`` and ``report_table.py``), ``detail_panel.py`` (the image large, Grad-CAM).

The grid itself (model, delegate, view) is ``gui/widgets/gallery_view.py``, shared with the Runs
tab's prediction diff. ``GalleryTab`` is imported on first use, so ``gui.gallery.state`` loads
without Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gui.gallery.tab import GalleryTab

__all__ = ["GalleryTab"]


def __getattr__(name: str) -> Any:
    if name == "GalleryTab":
        from gui.gallery.tab import GalleryTab

        return GalleryTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
