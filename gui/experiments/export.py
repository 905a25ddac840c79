"""Saving the study's table (the seeds' table for one factor at a time) as CSV or Markdown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from core import atomic
from core.studies import table as study_table
from gui import dialogs
from gui.experiments.state import ExperimentsState


def export_table(parent: QWidget, settings, state: ExperimentsState, kind: str, path=None) -> Path | None:
    """Ask where (unless ``path`` is given), then write the table atomically; the file, or None."""
    header, body = state.table()
    if not header or state.shown is None:
        return None
    suffix = ".csv" if kind == "csv" else ".md"
    if path is None:
        home = str(Path.home())
        start = Path(settings.last_dir("exports", home) if settings else home) / f"{state.shown.name}{suffix}"
        filter_text = "CSV files (*.csv)" if kind == "csv" else "Markdown files (*.md)"
        path, _ = QFileDialog.getSaveFileName(parent, "Export the study's table", str(start), filter_text)
        if not path:
            return None
    path = Path(path)
    if path.suffix.lower() != suffix:
        path = path.with_name(path.name + suffix)
    text = study_table.to_csv(header, body) if kind == "csv" else study_table.to_markdown(header, body)
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        dialogs.show_error(parent, "Not saved", f"The table could not be written to {path}: {exc.strerror}.", repr(exc))
        return None
    if settings is not None:
        settings.set_last_dir("exports", str(path.parent))
    return path
