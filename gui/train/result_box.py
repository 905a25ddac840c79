"""The Train tab's result box: test accuracy, the run's summary and paths, and what to do next.

It only draws and forwards: ``show_in_gallery(run_dir)``, ``open_folder(run_dir)``,
``copy_path(model_path)`` and ``use_settings(config_dict)``. :func:`describe_result` and
:func:`describe_saved_run` turn a finished run (a ``RunResult``) or a saved run folder into the
headline and details it shows.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from core.reporting import format_duration


def describe_times(seconds: float | None, wall_seconds: float | None) -> str:
    """A run's training time, and its wall time when pauses made it longer."""
    if seconds is None:
        return ""
    text = f"training {format_duration(seconds)}"
    if wall_seconds is not None and round(wall_seconds) > round(seconds):
        text += f" (wall time {format_duration(wall_seconds)})"
    return text


def pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.2f} %"


def describe_result(result) -> tuple[str, str]:
    """Headline and details of a run that just ended (``core.training.RunResult``)."""
    details = [
        "stopped" if result.state == "stopped" else "finished",
        f"{result.epochs_done} epoch{'s' if result.epochs_done != 1 else ''}",
    ]
    if result.best_epoch:
        val = "" if result.best_val_accuracy is None else f" (validation {result.best_val_accuracy:.4f})"
        details.append(f"best epoch {result.best_epoch}{val}")
    details.append(describe_times(result.seconds, result.wall_seconds))
    return f"Test accuracy {pct(result.test_accuracy)}", " · ".join(details)


def describe_saved_run(info, history: list[dict], best: int | None) -> tuple[str, str]:
    """Headline and details of a saved run (``core.runs.read_run``'s info and its history)."""
    status, metrics = info.status, info.metrics
    acc = status.get("test_accuracy", metrics.get("test_accuracy", metrics.get("accuracy")))
    headline = f"Test accuracy {pct(acc)}" if acc is not None else f"Run {info.state}"
    details = [info.state, f"{int(status.get('epochs_done') or len(history))} epochs"]
    if best:
        has_val = info.best is not None and info.best.metric == "val_accuracy"
        bva = info.best_val if has_val else None
        details.append(f"best epoch {best}" + (f" (validation {bva:.4f})" if isinstance(bva, float) else ""))
    if info.seconds:
        details.append(describe_times(info.seconds, info.wall_seconds))
    return headline, " · ".join(details)


class ResultBox(QGroupBox):
    show_in_gallery = Signal(object)  # run folder (Path)
    open_folder = Signal(object)  # run folder (Path)
    copy_path = Signal(object)  # model file (Path)
    use_settings = Signal(object)  # the run's TrainConfig as a dict

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Result", parent)
        self.run_dir: Path | None = None
        self.model_path: Path | None = None
        self.config: dict | None = None
        self.headline = QLabel("")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.headline.setFont(font)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.path = QLabel("")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path.setWordWrap(True)
        self.path.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.gallery_button = QPushButton("Show in Gallery")
        self.gallery_button.setToolTip("Open this run's test images, predictions and mistakes in the Gallery tab.")
        self.gallery_button.clicked.connect(lambda: self._forward(self.show_in_gallery, self.run_dir))
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip("Open the run folder (model, card, history, metrics) in your file manager.")
        self.open_folder_button.clicked.connect(lambda: self._forward(self.open_folder, self.run_dir))
        self.copy_path_button = QPushButton("Copy path")
        self.copy_path_button.setToolTip("Copy the path of the saved model to the clipboard.")
        self.copy_path_button.clicked.connect(lambda: self._forward(self.copy_path, self.model_path))
        self.use_settings_button = QPushButton("Use these settings")
        self.use_settings_button.setToolTip("Load this run's dataset, model and hyper-parameters into the form.")
        self.use_settings_button.clicked.connect(lambda: self._forward(self.use_settings, self.config))
        buttons = QHBoxLayout()
        for b in (self.gallery_button, self.open_folder_button, self.copy_path_button, self.use_settings_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.headline)
        top.addWidget(self.details, 1)
        layout.addLayout(top)
        layout.addWidget(self.path)
        layout.addLayout(buttons)
        self.hide()

    @staticmethod
    def _forward(signal, value) -> None:
        if value:
            signal.emit(value)

    def show_run(self, headline: str, details: str, run_dir: Path, model: Path | None, config: dict | None) -> None:
        """Fill the box for a run and show it."""
        self.run_dir, self.model_path, self.config = Path(run_dir), model, config
        self.headline.setText(headline)
        self.details.setText(details)
        if model is not None and model.exists():
            self.path.setText(f"Model: {model}")
        else:
            self.path.setText(f"Run folder: {run_dir}")
        has_eval = (self.run_dir / "evaluation.npz").exists()
        self.gallery_button.setEnabled(has_eval)
        self.gallery_button.setToolTip(
            "Open this run's test images, predictions and mistakes in the Gallery tab."
            if has_eval
            else "This run has no test-set predictions to show (it did not finish its evaluation)."
        )
        self.copy_path_button.setEnabled(model is not None and model.exists())
        self.use_settings_button.setEnabled(bool(config))
        self.show()
