"""What the Gallery exports: the shown rows as CSV, the grid as one PNG.

:class:`GalleryExporter` asks where (remembering the folder), then runs the job (:func:`csv_job`,
:func:`png_job`) in a worker thread, one :class:`~gui.tasks.TaskSlot` per format. Both write
atomically (the old file survives a failed write). The PNG is captioned in blue and red like the
grid, on a light background whatever the desktop theme, and holds at most ``MAX_EXPORT_IMAGES``
images (or fewer big ones: ``MAX_EXPORT_PIXELS``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFileDialog, QWidget

from core import atomic
from core.errors import WorkbenchError
from core.gallery import GalleryData
from gui import dialogs
from gui.gallery.state import GalleryState
from gui.settings import AppSettings
from gui.tasks import TaskSlot
from gui.widgets.gallery_view import MAX_EXPORT_IMAGES, MAX_EXPORT_PIXELS, CellLayout, GalleryView, render_grid
from gui.workers import Job, JobRunner


def export_palette() -> QPalette:
    """A light palette for exported pictures, whatever the desktop theme: like the notebooks' figures."""
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Base, QColor("white"))
    pal.setColor(QPalette.ColorRole.Text, QColor("#202020"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#555555"))
    pal.setColor(QPalette.ColorRole.Mid, QColor("#a0a0a0"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#3a7bd5"))
    return pal


def csv_job(data: GalleryData, rows: np.ndarray, target: Path) -> Job:
    """Writes ``rows`` of ``data`` to ``target``; returns the path."""

    def job(reporter, cancel):
        return data.export_csv(target, rows)

    return job


def png_rows(rows: np.ndarray, thumb: int, font: QFont) -> np.ndarray:
    """The rows that fit in one picture: the first ``MAX_EXPORT_IMAGES`` or fewer, by pixel count."""
    probe = CellLayout(thumb, font)
    limit = min(MAX_EXPORT_IMAGES, max(1, MAX_EXPORT_PIXELS // max(1, probe.width * probe.height)))
    return rows[:limit]


def png_job(data: GalleryData, rows: np.ndarray, target: Path, *, thumb: int, font: QFont, title: str) -> Job:
    """Draws ``rows`` of ``data`` as one captioned grid and saves it to ``target``; the path, or None if cancelled."""
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

    return job


class GalleryExporter(QObject):
    """Exports what the grid shows; a new export of a format supersedes one of that format under way."""

    status_message = Signal(str, int)  # text, milliseconds

    def __init__(
        self, runner: JobRunner, settings: AppSettings, state: GalleryState, view: GalleryView, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.state = state
        self.view = view
        self.window = parent  # where dialogs open
        self.csv_task = TaskSlot(runner, "Exporting CSV", parent=self)
        self.png_task = TaskSlot(runner, "Exporting PNG", parent=self)

    def _ask_path(self, title: str, suffix: str, filter_text: str) -> Path | None:
        start = Path(self.settings.last_dir("exports", str(Path.home()))) / self.state.export_name(suffix)
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(start), filter_text)
        if not path:
            return None
        path = Path(path)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        self.settings.set_last_dir("exports", str(path.parent))
        return path

    def export_csv(self, rows: np.ndarray, path: str | Path | None = None) -> None:
        """Save ``rows`` (those shown, in order) as CSV; asks where unless ``path`` is given."""
        data = self.state.data
        if data is None or not len(rows):
            return
        path = path or self._ask_path("Save the shown images as CSV", ".csv", "CSV files (*.csv)")
        if path is None:
            return
        self.csv_task.start(
            csv_job(data, rows, Path(path)),
            on_done=lambda p: self.status_message.emit(f"Saved {len(rows):,} rows to {p}.", 8000),
            on_failed=lambda f: dialogs.show_error(self.window, "The CSV was not saved", f.message, f.detail),
        )

    def export_png(self, shown: np.ndarray, path: str | Path | None = None) -> None:
        """Save ``shown`` as one picture captioned like the grid; asks where unless ``path`` is given."""
        data = self.state.data
        if data is None or not len(shown):
            return
        path = path or self._ask_path("Save the grid as a PNG picture", ".png", "PNG pictures (*.png)")
        if path is None:
            return
        thumb, font = self.view.thumb_size, self.view.font()
        rows = png_rows(shown, thumb, font)
        title = f"{data.title}: {data.count_text(len(shown), self.state.filter)}"

        def finished(p) -> None:
            if p is None:
                return
            cut = ""
            if len(rows) < len(shown):
                cut = f" (the first {len(rows):,} of {len(shown):,} shown; filter to export others)"
            self.status_message.emit(f"Saved the grid of {len(rows):,} images to {p}{cut}.", 10000)

        self.png_task.start(
            png_job(data, rows, Path(path), thumb=thumb, font=font, title=title),
            on_done=finished,
            on_failed=lambda f: dialogs.show_error(self.window, "The PNG was not saved", f.message, f.detail),
        )
