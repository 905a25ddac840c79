"""Page 2 of the Train tab: which network, its options, pre-trained weights and its summary.

It only draws and forwards: ``model_chosen(name)``, ``options_changed(keys, values)`` (the options
this page shows and those of them that differ from the defaults) and ``pretrained_changed(bool)``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from gui.train.auto_panel import AutoPanel
from gui.train.model_options import ModelOptionsForm
from gui.train.model_summary import ModelSummaryView

FAMILY_TITLES = {
    "auto": "Automatic",
    "classic": "Classic CNNs",
    "modern": "Modern CNNs",
    "pretrained": "Keras Applications backbones",
}


class ModelPage(QWidget):
    model_chosen = Signal(str)
    options_changed = Signal(object, object)  # keys shown (list), values that differ from the defaults (dict)
    pretrained_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip("The model zoo: classic CNNs, modern ones, and Keras Applications backbones.")
        self.combo.setMaxVisibleItems(30)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(20)
        self.combo.currentIndexChanged.connect(self._on_index_changed)
        self.headline = QLabel("")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.problem_label.hide()
        self.pretrained_check = QCheckBox("Start from ImageNet weights (pre-trained)")
        self.pretrained_check.setToolTip(
            "Keras Applications models only: start from weights learned on ImageNet (downloaded once, needs "
            "internet). Without them the model learns from scratch."
        )
        self.pretrained_check.toggled.connect(lambda *_: self.pretrained_changed.emit(self.pretrained()))
        self.model_box = QGroupBox("Model")
        v = QVBoxLayout(self.model_box)
        v.addWidget(self.combo)
        v.addWidget(self.headline)
        v.addWidget(self.description)
        v.addWidget(self.problem_label)
        v.addWidget(self.pretrained_check)

        self.options = ModelOptionsForm("Architecture options", regularisation=False)
        self.options.changed.connect(
            lambda: self.options_changed.emit(list(self.options.defaults), self.options.changed_values())
        )

        self.auto_panel = AutoPanel()
        summary_box = QGroupBox("Summary")
        self.summary = ModelSummaryView()
        QVBoxLayout(summary_box).addWidget(self.summary)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 4, 0)
        layout.addWidget(self.model_box)
        layout.addWidget(self.auto_panel)
        layout.addWidget(self.options)
        layout.addWidget(summary_box, 1)

    def fill(self, specs: list) -> None:
        """List the models (``core.models.ModelSpec``), grouped under their family's title."""
        self.combo.blockSignals(True)
        family = None
        for spec in specs:
            if spec.family != family:
                family = spec.family
                self.combo.addItem(FAMILY_TITLES.get(family, family.title()))
                item = self.combo.model().item(self.combo.count() - 1)
                item.setEnabled(False)
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            self.combo.addItem(f"   {spec.title}", spec.name)
            self.combo.setItemData(
                self.combo.count() - 1, f"{spec.description} ({spec.origin})", Qt.ItemDataRole.ToolTipRole
            )
        self.combo.blockSignals(False)

    def current(self) -> str | None:
        return self.combo.currentData()

    def select(self, name: str) -> bool:
        """Show ``name`` in the list without emitting ``model_chosen``; False if it is not listed."""
        i = self.combo.findData(name)
        if i < 0:
            return False
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(i)
        self.combo.blockSignals(False)
        return True

    def _on_index_changed(self, *args) -> None:
        name = self.current()
        if name:
            self.model_chosen.emit(name)

    def show_spec(self, spec, options: dict[str, Any], pretrained: bool) -> None:
        """Show ``spec`` with ``options`` over its defaults (no signal is emitted)."""
        self.options.blockSignals(True)
        self.pretrained_check.blockSignals(True)
        try:
            self.options.set_spec(spec, options)
            self.pretrained_check.setEnabled(spec.supports_pretrained)
            self.pretrained_check.setChecked(bool(pretrained) and spec.supports_pretrained)
        finally:
            self.options.blockSignals(False)
            self.pretrained_check.blockSignals(False)
        self.description.setText(spec.description)

    def pretrained(self) -> bool:
        return self.pretrained_check.isChecked() and self.pretrained_check.isEnabled()

    def show_headline(self, spec, params_text: str = "") -> None:
        text = f"<b>{spec.title}</b> ({spec.origin})"
        if params_text:
            text += f", {params_text}"
        self.headline.setText(text)

    def show_problem(self, problem: str | None) -> None:
        """Say why the model cannot take the dataset's images (None: hide the sentence)."""
        if problem:
            self.problem_label.setText(problem)
            self.problem_label.show()
            self.summary.set_problem(problem)
        else:
            self.problem_label.hide()

    def set_editable(self, editable: bool) -> None:
        self.model_box.setEnabled(editable)
        self.options.setEnabled(editable)
