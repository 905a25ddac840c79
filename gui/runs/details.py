"""The Details page of the Runs tab: everything about the selected run, damaged files included."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QTextBrowser, QWidget

from core.runs import RunInfo
from gui.runs.format import format_duration, format_percent, format_setting, setting_label
from gui.runs.table_model import STATE_COLORS


class DetailsPage(QTextBrowser):
    """One run in full, or the list of the selected runs; links open in the file manager."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(lambda url: QDesktopServices.openUrl(url))

    def show_runs(self, rows: list[RunInfo]) -> None:
        if not rows:
            self.setHtml("<p><i>Select a run to see its details.</i></p>")
        elif len(rows) > 1:
            items = "".join(f"<li>{html.escape(r.label)} ({html.escape(r.state)})</li>" for r in rows[:30])
            more = f"<li>... and {len(rows) - 30} more</li>" if len(rows) > 30 else ""
            self.setHtml(f"<p><b>{len(rows)} runs selected</b></p><ul>{items}{more}</ul>")
        else:
            self.setHtml(details_html(rows[0]))


def details_html(row: RunInfo) -> str:
    """One run, for the Details tab: state, problems and what still works, results, settings, files."""
    esc = html.escape
    color = STATE_COLORS.get(row.state, STATE_COLORS["unknown"]).name()
    parts = [f"<h3>{esc(row.label)}</h3>"]
    parts.append(
        f"<p><span style='color:{color}'><b>{esc(row.state)}</b></span>"
        + (f" &middot; started {row.started:%Y-%m-%d %H:%M}" if row.started else "")
        + f"<br>Folder: <a href='{QUrl.fromLocalFile(str(row.path)).toString()}'>{esc(str(row.path))}</a></p>"
    )
    if row.note:
        parts.append(f"<p><b>Note:</b> {esc(row.note)}</p>")
    if row.error:
        parts.append(f"<p><b>Error:</b> {esc(row.error)}</p>")
    if row.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in row.problems)
        works = row.still_works()
        parts.append(
            f"<p style='color:#c62828'><b>What is wrong</b></p><ul>{items}</ul>"
            f"<p><b>What still works:</b> {esc(', '.join(works) if works else 'nothing; the folder can be deleted')}."
            "</p>"
        )
    results = [
        ("Epochs", f"{row.epochs_done if row.epochs_done is not None else '?'} of {row.epochs or '?'}"),
        (
            "Best validation accuracy",
            format_percent(row.best_val)
            + (f" (epoch {row.best_epoch})" if row.best_epoch else "")
            + (" (training accuracy: no validation set)" if row.best and row.best.metric != "val_accuracy" else ""),
        ),
        ("Test accuracy", format_percent(row.test_accuracy)),
        ("Training time", format_duration(row.seconds)),
        ("Wall time (pauses counted)", format_duration(row.wall_seconds)),
        ("Parameters", f"{row.params:,}" if row.params is not None else ""),
    ]
    if row.backup_epoch and row.state != "finished":
        results.append(("Resumable from", f"epoch {row.backup_epoch}"))
    parts.append(_table(results))
    if row.config:
        parts.append("<p><b>Settings</b></p>")
        parts.append(_table([(setting_label(k), format_setting(k, v)) for k, v in row.config.items()]))
    return "".join(parts)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>&nbsp;&nbsp;{html.escape(str(v))}</td></tr>" for k, v in rows if v != ""
    )
    return f"<table cellspacing='2'>{body}</table>"
