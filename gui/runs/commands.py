"""What the Runs tab's actions do: rename, note, delete and Undo, hand a run to another tab, export,
resume after a crash. :class:`RunCommands` is mixed into :class:`gui.runs.tab.RunsTab`, whose
state (``self.state``), pages and signals it uses; the questions it asks (``confirm_delete``,
``ask_note``, ``ask_extra_epochs``) are methods that tests replace.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMessageBox

from core import paths, runs
from core.errors import WorkbenchError
from core.runs import RunInfo
from gui import dialogs
from gui.export_dialog import ExportDialog
from gui.runs.table_model import NAME, NOTE

log = logging.getLogger(__name__)


class RunCommands:
    """The Runs tab's action handlers (a mixin of :class:`gui.runs.tab.RunsTab`)."""

    def _one(self) -> RunInfo | None:
        rows = self.state.selected()
        if len(rows) != 1:
            self.status_message.emit("Select one run first.", 3000)
            return None
        return rows[0]

    def rename(self) -> None:
        row = self._one()
        if row is None:
            return
        self.table.edit_cell(row.path, NAME)

    def ask_note(self, row: RunInfo) -> str | None:
        """The new note, or None if the person cancelled (tests replace this)."""
        text, ok = QInputDialog.getMultiLineText(self, "Note", f"Note about '{row.label}':", row.note)
        return text if ok else None

    def edit_note(self) -> None:
        row = self._one()
        if row is None:
            return
        text = self.ask_note(row)
        if text is None:
            return
        src = self.model.row_of(row.path)
        self.model.setData(self.model.index(src, self.model.column_of(NOTE)), text)

    def confirm_delete(self, rows: list[RunInfo]) -> bool:
        names = "".join(f"<li>{html.escape(r.label)}</li>" for r in rows[:10])
        more = f"<li>... and {len(rows) - 10} more</li>" if len(rows) > 10 else ""
        trash = (self.workspace or paths.workspace_dir()) / "trash"
        answer = QMessageBox.question(
            self,
            "Delete runs?",
            f"Move {'this run' if len(rows) == 1 else f'these {len(rows)} runs'} to the trash?"
            f"<ul>{names}{more}</ul>Nothing is erased: they wait in <code>{html.escape(str(trash))}</code>, where "
            "Undo (Ctrl+Z) brings them back, and go on to the system trash when you delete again or close the app.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        rows = self.state.selected()
        if not rows:
            return
        running = [r for r in rows if r.state == "running"]
        if running:
            self.status_message.emit(f"Run '{running[0].label}' is training; stop it before deleting it.", 6000)
            return
        if not self.confirm_delete(rows):
            return
        moved, failures = [], []
        for row in rows:
            try:
                moved.append((row.path, runs.trash_run(row.path, self.workspace)))
            except (OSError, WorkbenchError) as exc:
                log.warning("Run %s not moved to the trash", row.path, exc_info=True)
                failures.append(f"{row.name}: {exc}")
        # The runs of the delete before can no longer be undone: on to the system trash.
        self.send_to_system_trash(self.state.deleted(moved))
        if failures:
            dialogs.show_error(
                self,
                "Some runs were not deleted",
                "These runs could not be moved to the trash; they are still in the workspace.",
                "\n".join(failures),
            )
        if moved:
            trash = moved[0][1].parent
            self.undo_label.setText(
                f"Moved {len(moved)} run{'s' if len(moved) != 1 else ''} to the trash ({trash}); "
                "they go on to the system trash when you delete again or close the app."
            )
            self.undo_bar.show()
            self.status_message.emit(f"Moved {len(moved)} run(s) to the trash. Ctrl+Z undoes it.", 8000)
        self.set_rows([r for r in self.state.runs if r.path not in {m[0] for m in moved}])
        self.refresh()

    def undo_delete(self) -> None:
        if not self.state.trashed:
            return
        restored, failures = [], []
        for _original, trashed in self.state.take_undo():
            try:
                restored.append(runs.restore_run(trashed, self.workspace))
            except (OSError, WorkbenchError) as exc:
                log.warning("Run %s not restored", trashed, exc_info=True)
                failures.append(f"{trashed.name}: {exc}")
        self.undo_bar.hide()
        if failures:
            dialogs.show_error(
                self, "Some runs were not restored", "These runs stay in the trash folder.", "\n".join(failures)
            )
        if restored:
            self.status_message.emit(f"Restored {len(restored)} run(s).", 5000)

            def select_restored() -> None:
                self.refreshed.disconnect(select_restored)
                self.select_paths(restored)

            self.refreshed.connect(select_restored)
        self._update_actions()
        self.refresh()

    def show_trash(self) -> None:
        trash = (self.workspace or paths.workspace_dir()) / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(trash)))

    def open_gallery(self) -> None:
        row = self._one()
        if row is not None and row.has_evaluation:
            self.open_in_gallery.emit(row.path)

    def open_predict(self) -> None:
        row = self._one()
        if row is not None and row.has_model:
            self.open_in_predict.emit(row.model_path)

    def retrain(self) -> None:
        row = self._one()
        if row is not None and row.config:
            self.train_again.emit(dict(row.config))
            self.status_message.emit(f"The settings of '{row.label}' are in the Train tab; press Start.", 6000)

    def ask_extra_epochs(self, row: RunInfo) -> int | None:
        """How many more epochs, or None if the person cancelled (tests replace this)."""
        done = row.epochs_done or row.backup_epoch
        n, ok = QInputDialog.getInt(
            self,
            "Continue training",
            f"'{row.label}' trained {done} epoch{'s' if done != 1 else ''}. Train it for how many more?\n"
            "It goes on from its last epoch (weights, optimizer state and schedule) in the same run folder.",
            value=max(1, min(int(row.epochs or 10), 100)),
            minValue=1,
            maxValue=10_000,
        )
        return n if ok else None

    def continue_training(self) -> None:
        row = self._one()
        if row is None or not row.can_continue:
            return
        extra = self.ask_extra_epochs(row)
        if extra:
            self.continue_run.emit(row.path, int(extra))

    def resume(self) -> None:
        row = self._one()
        if row is not None and row.can_resume:
            self.resume_run.emit(row.path)

    def mark_stopped(self) -> None:
        rows = [r for r in self.state.selected() if r.state == "interrupted"]
        failures = []
        for row in rows:
            try:
                runs.mark_stopped(row.path)
            except (OSError, WorkbenchError) as exc:
                log.warning("Run %s not marked as stopped", row.path, exc_info=True)
                failures.append(f"{row.name}: {exc}")
        if failures:
            dialogs.show_error(self, "Not marked", "These runs could not be marked as stopped.", "\n".join(failures))
        self.refresh()

    def export(self) -> None:
        row = self._one()
        if row is None or not row.has_model:
            return
        dialog = ExportDialog(self.jobs, row.model_path, settings=self.settings, name=row.label, parent=self)
        dialog.exported.connect(lambda report: self.status_message.emit(report.summary(), 10_000))
        dialog.export_failed.connect(lambda message, _d: self.status_message.emit(f"Not exported: {message}", 10_000))
        dialog.finished.connect(lambda _r, d=dialog: self._forget_dialog(d))
        self.export_dialogs.append(dialog)
        dialog.open()

    def _forget_dialog(self, dialog) -> None:
        if not dialog.running and dialog in self.export_dialogs:
            self.export_dialogs.remove(dialog)
            dialog.deleteLater()

    def show_folder(self) -> None:
        row = self._one()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(row.path)))

    def copy_path(self) -> None:
        row = self._one()
        if row is not None:
            QGuiApplication.clipboard().setText(str(row.path))
            self.status_message.emit("Run folder path copied.", 3000)

    # ==============================================================================================
    # Interrupted runs

    def check_interrupted(self, quiet: bool = True) -> None:
        """Look for interrupted runs (in a worker) and, if there are any, offer to resume them.

        The main window calls this once after start-up; the Review button of the tab does too
        (``quiet=False``: it says so when there is none).
        """
        if self.resume_prompt is not None and self.resume_prompt.isVisible():
            self.resume_prompt.raise_()
            return
        workspace = self.workspace
        self.interrupted_task.start(
            lambda reporter, cancel: runs.interrupted_runs(workspace),
            on_done=lambda found: self._offer_resume(found, quiet),
        )

    def _offer_resume(self, interrupted: list, quiet: bool = True) -> None:
        if self._shutting_down:
            return
        if not interrupted:
            if not quiet:
                self.status_message.emit("No run is interrupted any more.", 4000)
                self.refresh()
            return
        from gui.resume_prompt import ResumePrompt

        prompt = ResumePrompt(interrupted, self.window() if self.window() is not self else self)
        prompt.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        prompt.resume_requested.connect(self._resume_chosen)
        prompt.marked_stopped.connect(lambda _paths: self.refresh())
        prompt.destroyed.connect(lambda *_: setattr(self, "resume_prompt", None))
        self.resume_prompt = prompt
        prompt.open()

    def _resume_chosen(self, paths_: list[Path]) -> None:
        for path in paths_:
            self.resume_run.emit(Path(path))
        if paths_:
            self.status_message.emit(f"Resuming {len(paths_)} run(s) from their last complete epoch.", 6000)
