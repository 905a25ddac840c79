"""The Inside tab's activations page: the image (a test image or one from another tab), the layer, the grid.

It only draws and forwards input; the tab decides which image and layer are current (the state)
and hands the computed values to :attr:`ActivationsPanel.grid`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from core.errors import WorkbenchError
from gui.inside.activation_grid import ActivationGrid
from gui.inside.feature_scatter import array_pixmap
from gui.inside.state import Controls

SHORTCUTS = (
    ("first_conv", "First conv", "The first convolutional layer: edges and blobs."),
    ("last_conv", "Last conv", "The last convolutional layer: parts the classifier looks for."),
    ("dense", "Dense", "The 'features' layer: the values the classifier decides from."),
)


class ActivationsPanel(QWidget):
    """The image and layer chooser beside the :class:`ActivationGrid`."""

    image_source_chosen = Signal(str)  # "test" or "external"
    row_chosen = Signal(int)
    layer_chosen = Signal(str)
    shortcut_clicked = Signal(str)  # "first_conv", "last_conv" or "dense"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_source = QComboBox()
        self.image_source.addItem("Test image of the run", "test")
        self.image_source.setToolTip(
            "Look at a test image of the run, or at the image another tab (Predict, Gallery) sent here."
        )
        self.image_source.currentIndexChanged.connect(
            lambda _i: self.image_source_chosen.emit(self.image_source.currentData())
        )
        self.row_spin = QSpinBox()
        self.row_spin.setRange(0, 0)
        self.row_spin.setToolTip("Which test image (row of the run's evaluation, in test-set order).")
        self.row_spin.valueChanged.connect(self.row_chosen)
        self.image_view = QLabel()
        self.image_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_view.setMinimumSize(168, 168)
        self.image_caption = QLabel("")
        self.image_caption.setWordWrap(True)
        self.image_caption.setTextFormat(Qt.TextFormat.RichText)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose output is shown.")
        self.layer_combo.currentIndexChanged.connect(lambda _i: self._emit_layer())
        self.shortcuts: dict[str, QPushButton] = {}
        for which, text, tip in SHORTCUTS:
            button = self.shortcuts[which] = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _c=False, which=which: self.shortcut_clicked.emit(which))
        self.first_conv_button = self.shortcuts["first_conv"]
        self.last_conv_button = self.shortcuts["last_conv"]
        self.dense_button = self.shortcuts["dense"]
        self.status = QLabel("")
        self.status.setWordWrap(True)

        side = QGridLayout()
        side.addWidget(QLabel("Image:"), 0, 0)
        side.addWidget(self.image_source, 0, 1)
        side.addWidget(QLabel("Test image:"), 1, 0)
        side.addWidget(self.row_spin, 1, 1)
        side.addWidget(self.image_view, 2, 0, 1, 2)
        side.addWidget(self.image_caption, 3, 0, 1, 2)
        side.addWidget(QLabel("Layer:"), 4, 0)
        side.addWidget(self.layer_combo, 4, 1)
        row = QHBoxLayout()
        for button in self.shortcuts.values():
            row.addWidget(button)
        side.addLayout(row, 5, 0, 1, 2)
        side.addWidget(self.status, 6, 0, 1, 2)
        side.setRowStretch(7, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMaximumWidth(300)

        self.grid = ActivationGrid()
        layout = QHBoxLayout(self)
        layout.addWidget(side_widget)
        layout.addWidget(self.grid, 1)

    def _emit_layer(self) -> None:
        layer = self.layer_combo.currentData()
        if layer is not None:
            self.layer_chosen.emit(layer)

    # -- choices ---------------------------------------------------------------------------------
    def image_source_kind(self) -> str:
        return self.image_source.currentData()

    def set_external_label(self, label: str) -> int:
        """Name the image from another tab in the image chooser (added once); returns its index."""
        i = self.image_source.findData("external")
        if i < 0:
            self.image_source.addItem(label, "external")
            return self.image_source.count() - 1
        self.image_source.setItemText(i, label)
        return i

    def choose_image_source(self, kind: str) -> bool:
        """Select ``kind`` as if the user had; False when it was already selected (nothing emitted)."""
        i = self.image_source.findData(kind)
        if i == self.image_source.currentIndex():
            return False
        self.image_source.setCurrentIndex(i)
        return True

    def set_rows(self, count: int, row: int = 0) -> None:
        """``count`` test images to choose from, ``row`` shown (nothing emitted)."""
        self.row_spin.blockSignals(True)
        self.row_spin.setRange(0, max(0, count - 1))
        self.row_spin.setValue(row)
        self.row_spin.blockSignals(False)

    def set_layers(self, choices: Sequence[Any], current: str | None) -> None:
        """List the layers of ``choices`` (``core.activations.LayerChoice``), ``current`` chosen (nothing emitted)."""
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for c in choices:
            self.layer_combo.addItem(c.label, c.name)
        i = self.layer_combo.findData(current) if current else -1
        self.layer_combo.setCurrentIndex(max(0, i))
        self.layer_combo.blockSignals(False)

    def choose_layer(self, layer: str) -> None:
        """Select ``layer`` as if the user had."""
        i = self.layer_combo.findData(layer)
        if i >= 0:
            self.layer_combo.setCurrentIndex(i)

    def set_controls(self, controls: Controls) -> None:
        self.row_spin.setEnabled(controls.row)
        self.layer_combo.setEnabled(controls.act_layer)
        self.first_conv_button.setEnabled(controls.act_layer and controls.first_last_conv)
        self.last_conv_button.setEnabled(controls.act_layer and controls.first_last_conv)
        self.dense_button.setEnabled(controls.act_layer and controls.dense)

    # -- drawing ---------------------------------------------------------------------------------
    def show_image(self, arr: np.ndarray, caption: str) -> None:
        self.image_view.setPixmap(array_pixmap(arr, 160))
        self.image_caption.setText(caption)

    def show_no_image(self, caption: str) -> None:
        self.image_view.clear()
        self.image_caption.setText(caption)

    def show_test_image(self, data: Any, row: int) -> bool:
        """Show test image ``row`` of ``data`` (``core.gallery.GalleryData``) with its true and predicted class.

        False when there is no picture to show (the dataset is not on this computer, or a file is gone).
        """
        if not data.has_images:
            self.show_no_image(html.escape(f"No pictures: {data.images.reason}"))
            self.grid.set_message("This run's test images are not available on this computer.")
            return False
        try:
            arr = data.images.image(row, max_side=168)
        except WorkbenchError as exc:
            self.show_no_image(html.escape(str(exc)))
            return False
        t, p = data.class_names[data.y_true[row]], data.class_names[data.y_pred[row]]
        colour = "#1f5fbf" if data.correct[row] else "#c62828"
        self.show_image(
            arr,
            f"Test image {int(data.test_index[row])}<br>true <b>{html.escape(t)}</b>, predicted "
            f"<b style='color:{colour}'>{html.escape(p)}</b>",
        )
        return True
