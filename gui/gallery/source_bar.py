"""The Gallery's top: which source is shown, what it is, and the progress of loading the next one.

The list holds the shipped models and every run of the workspace (newest first; runs that cannot
be shown are grey and say why in their tooltip), plus a run folder from elsewhere once chosen. It
only draws and forwards: the tab decides what a choice loads.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.gallery import GalleryData, RunEntry, ShippedModel
from gui.gallery.state import SourceKey, same_path

EVALUATE_TIP = "Predict this run's test set with its saved model and save the evaluation in the run, then show it."


class SourceBar(QWidget):
    source_chosen = Signal(str, str)  # kind ("run" or "shipped"), path
    refresh_requested = Signal()
    browse_requested = Signal()
    evaluate_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_combo = QComboBox()
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(40)
        self.source_combo.setToolTip(
            "What to show: a run of your workspace (newest first; runs that cannot be shown say why) or a model "
            "shipped with the app, evaluated on its own dataset."
        )
        self.source_combo.activated.connect(self._on_activated)
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.refresh_button.setToolTip("Read the list of runs again (F5).")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.browse_button = QPushButton("Open run folder...")
        self.browse_button.setToolTip("Show a run folder from anywhere (for example one copied from another computer).")
        self.browse_button.clicked.connect(self.browse_requested)
        self.evaluate_button = QPushButton("Evaluate now")
        self.evaluate_button.setToolTip(EVALUATE_TIP)
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        source_row = QHBoxLayout()
        source_label = QLabel("&Source:")
        source_label.setBuddy(self.source_combo)
        source_row.addWidget(source_label)
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(self.refresh_button)
        source_row.addWidget(self.browse_button)
        source_row.addWidget(self.evaluate_button)

        self.info_label = QLabel("")
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.notes_label = QLabel("")
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label.setStyleSheet("QLabel { background: #fff4d6; color: #5a4500; padding: 4px; }")
        self.notes_label.hide()

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop loading; the gallery keeps what it showed before.")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress_row = QWidget()
        pr = QHBoxLayout(self.progress_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.progress_label, 1)
        pr.addWidget(self.progress)
        pr.addWidget(self.cancel_button)
        self.progress_row.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(source_row)
        layout.addWidget(self.info_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.progress_row)

    # -- the list ----------------------------------------------------------------------------------
    def set_sources(self, shipped: list[ShippedModel], entries: list[RunEntry]) -> None:
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for model in shipped:
            combo.addItem(f"Shipped model: {model.title}", ("shipped", str(model.path)))
            combo.setItemData(
                combo.count() - 1,
                f"{model.path}\nEvaluated on the test set of {model.dataset} when chosen.",
                Qt.ItemDataRole.ToolTipRole,
            )
        grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for entry in entries:
            combo.addItem(entry.label, ("run", str(entry.path)))
            i = combo.count() - 1
            tip = str(entry.path) if entry.viewable else f"{entry.path}\nCannot be shown: {entry.reason}."
            combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
            if not entry.viewable:
                combo.setItemData(i, grey, Qt.ItemDataRole.ForegroundRole)
        if not entries:
            combo.addItem("(no runs in the workspace yet: train one in the Train tab)", ("none", ""))
        combo.blockSignals(False)

    def select(self, key: SourceKey | None) -> None:
        """Point the list at ``key`` (a run folder outside the workspace gets its own item)."""
        if key is None:
            return
        kind, path = key
        combo = self.source_combo
        combo.blockSignals(True)
        try:
            for i in range(combo.count()):
                data = combo.itemData(i)
                if data and data[0] == kind and same_path(data[1], path):
                    combo.setCurrentIndex(i)
                    return
            if kind == "run":
                combo.addItem(f"{Path(path).name} (outside the workspace)", ("run", str(path)))
                combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
                combo.setCurrentIndex(combo.count() - 1)
        finally:
            combo.blockSignals(False)

    def current_source(self) -> SourceKey | None:
        data = self.source_combo.currentData()
        return (data[0], data[1]) if data else None

    def _on_activated(self, index: int) -> None:
        data = self.source_combo.itemData(index)
        if data and data[0] in ("run", "shipped"):
            self.source_chosen.emit(data[0], data[1])

    def set_evaluate(self, visible: bool, enabled: bool) -> None:
        self.evaluate_button.setVisible(visible)
        self.evaluate_button.setEnabled(enabled)

    # -- what is shown -----------------------------------------------------------------------------
    def set_info(self, data: GalleryData | None) -> None:
        if data is None:
            self.info_label.setText("")
            self.notes_label.hide()
            return
        self.info_label.setText(
            f"<b>{html.escape(data.title)}</b> · accuracy {100 * data.accuracy:.2f} % · loss "
            f"{data.evaluation.loss:.4f} · {len(data):,} test images · {data.wrong_count:,} wrong"
        )
        where = (
            f"Run folder: {data.run_dir}" if data.run_dir else "",
            f"Model: {data.model_path}" if data.model_path else "",
            f"Dataset: {data.dataset}" if data.dataset else "",
        )
        self.info_label.setToolTip("\n".join(p for p in where if p))
        if data.notes:
            self.notes_label.setText(" ".join(data.notes))
            self.notes_label.show()
        else:
            self.notes_label.hide()

    # -- loading -----------------------------------------------------------------------------------
    def start_progress(self, text: str) -> None:
        self.progress_label.setText(text)
        self.progress.setRange(0, 0)
        self.progress_row.show()

    def set_progress(self, done: int, total: int, text: str) -> None:
        self.progress_label.setText(f"{text} ...")
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)

    def end_progress(self) -> None:
        self.progress_row.hide()
