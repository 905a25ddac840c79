"""Export a run's model as .keras (with its card), TensorFlow SavedModel or TensorFlow Lite.

The export itself is :func:`core.export.export_model`, run on the app's job runner (it needs
TensorFlow, and one TensorFlow job runs at a time: during training the export waits its turn, and
the dialog says so). Every export checks itself on real test images; the dialog shows the check's
summary, or the refusal when the exported model does not reproduce the app's predictions (the
export is then removed). Closing the dialog during an export lets it finish in the background;
:attr:`ExportDialog.exported` / :attr:`ExportDialog.export_failed` still report the outcome.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.export import FORMATS, default_suffix, missing_text
from gui.settings import AppSettings
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner

FORMAT_TIPS = {
    "keras": "The model file and its JSON card: for Keras / TensorFlow in Python, and for this app's Predict tab.",
    "savedmodel": "A folder for TensorFlow Serving, TensorFlow.js and other converters (tf.saved_model.load).",
    "tflite": "One small file for phones, Raspberry Pi and microcontrollers (LiteRT / TensorFlow Lite).",
    "onnx": "One file for ONNX Runtime, OpenCV's DNN module, Windows ML and other ONNX tools.",
}
SAVEDMODEL_TAIL = "-savedmodel"
OK_COLOR = "#2e7d32"
BAD_COLOR = "#c62828"


def target_for(folder: Path, stem: str, fmt: str) -> Path:
    """Where an export of ``fmt`` goes by default: ``folder/stem.keras``, ``folder/stem-savedmodel`` ..."""
    return Path(folder) / (f"{stem}{SAVEDMODEL_TAIL}" if fmt == "savedmodel" else f"{stem}{default_suffix(fmt)}")


def stem_of(path: Path) -> str:
    name = Path(path).name
    for tail in (".keras", ".tflite", ".onnx", SAVEDMODEL_TAIL):
        if name.endswith(tail) and len(name) > len(tail):
            return name[: -len(tail)]
    return name


class ExportDialog(QDialog):
    exported = Signal(object)  # core.export.ExportReport
    export_failed = Signal(str, str)  # message for people, detail

    def __init__(
        self,
        jobs: JobRunner,
        model_path: str | Path,
        *,
        settings: AppSettings | None = None,
        name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.model_path = Path(model_path)
        self.settings = settings
        # The export runs on the app's runner (one TensorFlow job at a time); the dialog allows one at a time.
        self.task = TaskSlot(
            jobs,
            "Exporting",
            parent=self,
            on_done=self._on_finished,
            on_failed=self._on_task_failed,
            on_cancelled=lambda _r: self._on_failed("The export was cancelled; nothing was written.", ""),
            on_message=lambda text: self._show_result(text, ok=None),
        )
        self.report = None
        self.error: tuple[str, str] | None = None
        run = self.model_path.parent.name if self.model_path.name == "model.keras" else self.model_path.stem
        self.setWindowTitle(f"Export {name or run}")
        self.setMinimumWidth(620)

        about = QLabel(
            f"Model: <code>{self.model_path}</code><br>"
            "The export is loaded back and run on test images, and must give the app's own predictions."
        )
        about.setWordWrap(True)
        about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        box = QGroupBox("Format")
        formats = QVBoxLayout(box)
        self.format_group = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        self.unavailable: set[str] = set()  # formats whose optional packages are missing
        for fmt, text in FORMATS.items():
            button = QRadioButton(text)
            button.setToolTip(FORMAT_TIPS.get(fmt, ""))
            self.format_group.addButton(button)
            self.format_buttons[fmt] = button
            formats.addWidget(button)
            hint = QLabel(FORMAT_TIPS.get(fmt, ""))
            hint.setWordWrap(True)
            hint.setIndent(24)
            hint.setStyleSheet("color: palette(placeholder-text);")
            formats.addWidget(hint)
            missing = missing_text(fmt)  # ONNX without its optional packages: say how to install them
            if missing:
                button.setEnabled(False)
                hint.setText(missing)
                hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                button.setToolTip(missing)
                self.unavailable.add(fmt)
            button.toggled.connect(lambda on, f=fmt: on and self._format_changed(f))

        self.target_edit = QLineEdit()
        self.target_edit.setToolTip("Where the export is written. A SavedModel is a folder.")
        self.target_edit.textChanged.connect(self._update_buttons)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.setToolTip("Choose the file (or, for a SavedModel, the folder name) to write.")
        self.browse_button.clicked.connect(self.browse)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Save as:"))
        target_row.addWidget(self.target_edit, 1)
        target_row.addWidget(self.browse_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setMaximumHeight(140)
        self.detail.hide()

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setToolTip("Write the export and check it (Enter).")
        self.export_button.setDefault(True)
        self.show_button = self.buttons.addButton("Show in folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.show_button.setToolTip("Open the folder that holds the export.")
        self.show_button.setEnabled(False)
        self.detail_button = self.buttons.addButton("Details", QDialogButtonBox.ButtonRole.ActionRole)
        self.detail_button.setToolTip("Show or hide the technical detail of the failure.")
        self.detail_button.hide()
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setToolTip("Close (an export in progress goes on and reports in the status bar).")
        # AcceptRole/ActionRole buttons would close the dialog through accepted(); handle clicks instead.
        self.export_button.clicked.connect(self.start_export)
        self.show_button.clicked.connect(self.show_in_folder)
        self.detail_button.clicked.connect(lambda: self.detail.setVisible(not self.detail.isVisible()))
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(box)
        layout.addLayout(target_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        layout.addWidget(self.detail)
        layout.addWidget(self.buttons)

        folder = Path((settings.last_dir("exports") if settings is not None else "") or self.model_path.parent)
        self._stem = name_for_files(name or run)
        fmt = settings.tab_value("export", "format", "keras", str) if settings is not None else "keras"
        fmt = fmt if fmt in FORMATS and self.format_buttons[fmt].isEnabled() else "keras"
        self.target_edit.setText(str(target_for(folder, self._stem, fmt)))
        self.format_buttons[fmt].setChecked(True)
        self._update_buttons()

    # -- choices ---------------------------------------------------------------------------------------
    @property
    def format(self) -> str:
        for fmt, button in self.format_buttons.items():
            if button.isChecked():
                return fmt
        return "keras"

    def set_format(self, fmt: str) -> None:
        self.format_buttons[fmt].setChecked(True)

    @property
    def target(self) -> Path:
        return Path(self.target_edit.text().strip()).expanduser()

    def set_target(self, path: str | Path) -> None:
        self.target_edit.setText(str(path))

    def _format_changed(self, fmt: str) -> None:
        text = self.target_edit.text().strip()
        if text:
            current = Path(text).expanduser()
            self.target_edit.setText(str(target_for(current.parent, stem_of(current), fmt)))

    def browse(self) -> None:
        fmt = self.format
        start = str(self.target)
        if fmt == "savedmodel":
            path, _ = QFileDialog.getSaveFileName(
                self,
                "Export as a SavedModel folder",
                start,
                "SavedModel folder (*)",
                "",
                QFileDialog.Option.DontConfirmOverwrite,
            )
        else:
            suffix = default_suffix(fmt)
            path, _ = QFileDialog.getSaveFileName(
                self,
                f"Export as {FORMATS[fmt]}",
                start,
                f"{FORMATS[fmt]} (*{suffix})",
                "",
                QFileDialog.Option.DontConfirmOverwrite,
            )
        if path:
            self.target_edit.setText(str(target_for(Path(path).parent, stem_of(Path(path)), fmt)))

    def _update_buttons(self) -> None:
        running = self.running
        self.export_button.setEnabled(not running and bool(self.target_edit.text().strip()))
        for widget in (self.target_edit, self.browse_button):
            widget.setEnabled(not running)
        for fmt, button in self.format_buttons.items():
            button.setEnabled(not running and fmt not in self.unavailable)

    # -- the export ----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.task.running

    def problem(self) -> str | None:
        """Why Export cannot start now, in words; None when it can."""
        target = self.target
        if not self.target_edit.text().strip():
            return "Choose where to save the export."
        if not self.model_path.exists():
            return f"The model file {self.model_path} is missing; it cannot be exported."
        try:
            if target.resolve() == self.model_path.resolve():
                return "That is the model file itself; choose another name for the export."
        except OSError:
            pass
        if target.parent.exists() and not target.parent.is_dir():
            return f"{target.parent} is a file, not a folder."
        from core.errors import WorkbenchError
        from core.export import check_target

        try:  # a file of another kind is never replaced; an earlier export of this kind is asked about
            check_target(target, self.format, overwrite=True)
        except WorkbenchError as exc:
            return str(exc)
        return None

    def confirm_replace(self, target: Path) -> bool:
        what = "folder" if target.is_dir() else "file"
        answer = QMessageBox.question(
            self,
            "Replace the export?",
            f"The {what} {target} exists already. Replace it with this export?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def start_export(self) -> bool:
        if self.running:
            return False
        problem = self.problem()
        if problem:
            self._show_result(problem, ok=False)
            return False
        target, fmt, model = self.target, self.format, self.model_path
        if target.exists() and not self.confirm_replace(target):
            return False
        if self.settings is not None:
            self.settings.set_last_dir("exports", str(target.parent))
            self.settings.set_tab_state("export", {"format": fmt})
        self.report, self.error = None, None
        self.detail.hide()
        self.detail_button.hide()
        self.show_button.setEnabled(False)
        busy = self.jobs.current
        if busy is not None:
            self._show_result(
                f"Waiting for '{busy.name}' to finish: one TensorFlow job runs at a time. The export starts then.",
                ok=None,
            )
        else:
            self._show_result("Exporting and checking the export on test images ...", ok=None)
        self.progress.show()

        def job(reporter, cancel):
            from core.export import export_model

            reporter.on_message("Exporting and checking the export on test images ...")
            return export_model(model, target, fmt, overwrite=True)  # replacing was confirmed above

        self.task.start(job)
        self._update_buttons()
        return True

    def _on_finished(self, report) -> None:
        self.report = report
        self.progress.hide()
        self._show_result(report.summary(), ok=report.ok)
        self.show_button.setEnabled(True)
        self._update_buttons()
        self.exported.emit(report)

    def _on_task_failed(self, failure: TaskFailure) -> None:
        self._on_failed(failure.message, failure.detail)

    def _on_failed(self, message: str, detail: str) -> None:
        self.error = (message, detail)
        self.progress.hide()
        self._show_result(f"Not exported: {message}", ok=False)
        if detail:
            self.detail.setPlainText(detail)
            self.detail_button.show()
        self._update_buttons()
        self.export_failed.emit(message, detail)

    def _show_result(self, text: str, ok: bool | None) -> None:
        color = OK_COLOR if ok is True else BAD_COLOR if ok is False else None
        self.result.setStyleSheet(f"color: {color};" if color else "")
        self.result.setText(text)

    def show_in_folder(self) -> None:
        target = self.report.path if self.report is not None else self.target
        folder = target if target.is_dir() else target.parent
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def reject(self) -> None:
        # An export in progress goes on (it cannot be interrupted half-way without losing the old file);
        # the owner hears the outcome through exported / export_failed.
        if self.running:
            self.hide()
        else:
            super().reject()


def name_for_files(text: str) -> str:
    """A run's label made safe as a file name."""
    import re

    cleaned = re.sub(r"[^\w.\- ]+", "-", text, flags=re.UNICODE).strip(" .-")
    return cleaned[:80] or "model"
