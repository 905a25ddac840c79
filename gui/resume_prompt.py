"""After a crash: offer to resume each interrupted run from its last complete epoch.

A run is interrupted when its status says "running" but its process is gone (the app was killed,
or the computer stopped). :class:`ResumePrompt` lists them (see :func:`core.runs.interrupted_runs`)
with how far each got, and offers Resume (the checked runs, each going on from its last complete
epoch with optimizer state, learning-rate schedule and curves intact), Mark as stopped (kept as
they are; they can still be resumed from the Runs tab) or Not now (asked again next launch).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import runs
from core.errors import WorkbenchError
from gui import dialogs

PathRole = Qt.ItemDataRole.UserRole + 1


def _when(text: object) -> str:
    if not isinstance(text, str):
        return ""
    try:
        return _dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def progress_text(run: runs.InterruptedRun) -> str:
    """ "epoch 4 of 12", "no complete epoch (starts again)" or, when every epoch is trained but the
    model was never saved, the finish: "Finish this run: save its model from epoch 3 and evaluate it.".
    """
    if run.info.can_finish:
        return run.info.finish_text()
    if run.epochs_done <= 0:
        return "no complete epoch: starts again"
    return f"epoch {run.epochs_done} of {run.epochs}" if run.epochs else f"epoch {run.epochs_done}"


class ResumePrompt(QDialog):
    """Lists interrupted runs; ``resume_requested(paths)`` when the person chooses Resume."""

    resume_requested = Signal(list)  # run folders (Path), in the order listed
    marked_stopped = Signal(list)  # run folders now marked stopped

    def __init__(self, interrupted: list[runs.InterruptedRun], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Resume interrupted training?")
        self.setMinimumWidth(720)
        self.interrupted = list(interrupted)
        self.action: str | None = None  # "resume", "stop" or "later" once chosen
        self.chosen: list[Path] = []

        n = len(self.interrupted)
        intro = QLabel(
            f"<b>{'A run was' if n == 1 else f'{n} runs were'} cut short</b>: the app or the computer stopped "
            "during training.<br>Resume goes on from the last complete epoch, with the optimizer state, the "
            "learning-rate schedule and the curves as they were; at most the epoch that was running is lost."
            + (
                "<br>A run whose epochs were all trained but whose model was not yet saved is finished: its model "
                "is saved from its best epoch and evaluated."
                if any(run.info.can_finish for run in self.interrupted)
                else ""
            )
        )
        intro.setWordWrap(True)

        self.tree = QTreeWidget()
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setHeaderLabels(["Run", "Model and dataset", "Resumes after", "Last saved"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setToolTip("Tick the runs to resume or to mark as stopped.")
        for run in self.interrupted:
            info = run.info
            config = info.config if isinstance(info.config, dict) else {}
            dataset = str(config.get("dataset") or "?")
            label = runs.read_meta(info.path).get("name") or config.get("name") or info.name
            item = QTreeWidgetItem(
                [
                    str(label),
                    f"{config.get('model', '?')} on {Path(dataset).name if '/' in dataset else dataset}",
                    progress_text(run),
                    _when(info.status.get("updated") if isinstance(info.status, dict) else None),
                ]
            )
            item.setData(0, PathRole, info.path)
            item.setToolTip(0, str(info.path))
            item.setToolTip(2, progress_text(run))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked)
            self.tree.addTopLevelItem(item)
        self.tree.itemChanged.connect(self._update_buttons)

        self.buttons = QDialogButtonBox()
        self.resume_button = self.buttons.addButton("Resume", QDialogButtonBox.ButtonRole.AcceptRole)
        self.resume_button.setToolTip("Go on training the ticked runs, one after another, in the Train tab.")
        self.stop_button = self.buttons.addButton("Mark as stopped", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.stop_button.setToolTip(
            "Keep the ticked runs as they are, marked stopped: not asked about again, and still resumable "
            "from the Runs tab."
        )
        self.later_button = self.buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        self.later_button.setToolTip("Decide later: the runs stay interrupted and this is asked at the next launch.")
        self.resume_button.setDefault(True)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.mark_stopped)
        self.later_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.buttons)
        self._update_buttons()

    def checked_paths(self) -> list[Path]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                out.append(Path(item.data(0, PathRole)))
        return out

    def set_checked(self, paths: list[Path]) -> None:
        wanted = {Path(p) for p in paths}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            on = Path(item.data(0, PathRole)) in wanted
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _update_buttons(self, *args) -> None:
        some = bool(self.checked_paths())
        self.resume_button.setEnabled(some)
        self.stop_button.setEnabled(some)

    def resume(self) -> None:
        self.chosen = self.checked_paths()
        if not self.chosen:
            return
        self.action = "resume"
        self.accept()
        self.resume_requested.emit(list(self.chosen))

    def mark_stopped(self) -> None:
        chosen = self.checked_paths()
        if not chosen:
            return
        done, failures = [], []
        for path in chosen:
            try:
                runs.mark_stopped(path)
                done.append(path)
            except (OSError, WorkbenchError) as exc:
                failures.append(f"{path.name}: {exc}")
        self.chosen, self.action = done, "stop"
        if failures:
            dialogs.show_error(
                self.parentWidget(),
                "Some runs could not be marked",
                "These runs could not be marked as stopped (is the workspace writable?). They stay interrupted.",
                "\n".join(failures),
            )
        self.accept()
        if done:
            self.marked_stopped.emit(done)

    def reject(self) -> None:
        if self.action is None:
            self.action = "later"
        super().reject()
