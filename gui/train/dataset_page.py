"""Page 1 of the Train tab: which images to train on, how they are split, and their preview.

It only draws and forwards: ``dataset_chosen(name)`` when a built-in dataset or a folder is picked,
``open_folder_requested()`` for "Open folder ...", ``fields_changed(dict)`` with the config fields
of the form (image size, colour, splits, limit) in ``TrainConfig`` units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from core.config import TrainConfig
from gui.train.dataset_preview import DatasetPreview
from gui.widgets.fields import Form, combo, spin

OPEN_FOLDER = "open-folder"
AUTOMATIC_SIZE = 3  # the image-size box's lowest value, shown as "automatic"


class DatasetPage(QWidget):
    dataset_chosen = Signal(str)  # a built-in dataset's name or a folder's path
    open_folder_requested = Signal()
    fields_changed = Signal(object)  # dict of TrainConfig fields

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setToolTip(
            "The bundled MNIST sample works offline. Keras built-ins download once (their size is in the "
            "description). 'Open folder...' takes a folder with one sub-folder of images per class."
        )
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(20)
        self.combo.activated.connect(self._on_activated)
        self.combo.currentIndexChanged.connect(self._on_index_changed)
        self._previous_index = 0
        self.open_folder_button = QPushButton("Open folder...")
        self.open_folder_button.setToolTip("Train on your own images: choose a folder with one sub-folder per class.")
        self.open_folder_button.clicked.connect(self.open_folder_requested)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_box = QGroupBox("Dataset")
        grid = QGridLayout(self.choose_box)
        grid.addWidget(self.combo, 0, 0)
        grid.addWidget(self.open_folder_button, 0, 1)
        grid.addWidget(self.description, 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)

        self.form = Form("Images and split")
        self.form.add(
            "image_size",
            "Image size",
            spin(AUTOMATIC_SIZE, 2048, step=8, special="automatic", suffix=" px"),
            "Folders: the square size images are resized to. 'automatic' uses the typical size of the images, "
            "shrunk to at most 224 px. Built-in datasets keep their own size.",
        )
        self.form.add(
            "color_mode",
            "Colour",
            combo([("automatic", "auto"), ("grayscale", "grayscale"), ("RGB colour", "rgb")]),
            "Folders: 'automatic' trains in grayscale when every image is grey, else in colour. Built-in "
            "datasets keep their own channels.",
        )
        self.form.add(
            "validation_split",
            "Validation",
            spin(0, 80, step=5, suffix=" %"),
            "Share of the training images held back to validate after each epoch (picked per class with "
            "the seed). 0 turns validation off; the best model is then chosen by training accuracy.",
        )
        self.form.add(
            "test_split",
            "Test",
            spin(0, 80, step=5, suffix=" %"),
            "Folders without a test/ sub-folder: share of the images kept aside for the final test. "
            "The bundled sample and the Keras built-ins have a fixed test set of their own.",
        )
        self.form.add(
            "limit",
            "Use at most",
            spin(0, 10_000_000, step=500, special="all training images", suffix=" images"),
            "For quick experiments: train on at most this many images, every class in proportion. "
            "Validation and test sets stay whole.",
        )
        self.form.changed.connect(lambda: self.fields_changed.emit(self.values()))

        preview_box = QGroupBox("Preview")
        self.preview = DatasetPreview()
        QVBoxLayout(preview_box).addWidget(self.preview)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 4, 0)
        layout.addWidget(self.choose_box)
        layout.addWidget(self.form)
        layout.addWidget(preview_box, 1)

    # -- the list of datasets ------------------------------------------------------------------
    def fill(self, datasets: dict[str, dict], folders: list[str], select: str | None) -> None:
        """List the built-ins, the recent folders (``select`` too, if it is a folder) and "Open folder ..."."""
        combo_ = self.combo
        combo_.blockSignals(True)
        combo_.clear()
        for name, info in datasets.items():
            combo_.addItem(info["title"], ("builtin", name))
            combo_.setItemData(combo_.count() - 1, info["description"], Qt.ItemDataRole.ToolTipRole)
        if select and select not in datasets and select not in folders:
            folders = [select, *folders]
        if folders:
            combo_.insertSeparator(combo_.count())
            for folder in folders:
                combo_.addItem(f"Folder: {Path(folder).name or folder}", ("folder", folder))
                combo_.setItemData(combo_.count() - 1, folder, Qt.ItemDataRole.ToolTipRole)
        combo_.insertSeparator(combo_.count())
        combo_.addItem("Open folder ...", (OPEN_FOLDER, None))
        combo_.setItemData(
            combo_.count() - 1, "Choose a folder with one sub-folder of images per class.", Qt.ItemDataRole.ToolTipRole
        )
        index = -1
        for i in range(combo_.count()):
            data = combo_.itemData(i)
            if isinstance(data, tuple) and data[1] == select:
                index = i
        combo_.setCurrentIndex(max(0, index))
        combo_.blockSignals(False)
        self._previous_index = combo_.currentIndex()

    def current(self) -> str | None:
        """The chosen built-in dataset's name or folder's path (None while nothing is listed)."""
        data = self.combo.currentData()
        if isinstance(data, tuple) and data[0] in ("builtin", "folder"):
            return data[1]
        return None

    def _on_activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if isinstance(data, tuple) and data[0] == OPEN_FOLDER:
            # Go back to what was chosen before; a folder picked in the dialog is selected then.
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(self._previous_index)
            self.combo.blockSignals(False)
            QTimer.singleShot(0, self.open_folder_requested.emit)

    def _on_index_changed(self, *args) -> None:
        data = self.combo.currentData()
        if isinstance(data, tuple) and data[0] == OPEN_FOLDER:
            return
        self._previous_index = self.combo.currentIndex()
        name = self.current()
        if name:
            self.dataset_chosen.emit(name)

    def describe(self, name: str | None, info: dict | None) -> None:
        """Say what the chosen dataset is (``info`` for a built-in, None for a folder)."""
        if info:
            h, w, c = info["image_shape"]
            where = (
                "available offline"
                if info["available_offline"]
                else f"downloaded when first used, into {info['cache_path']} (needs internet)"
            )
            self.description.setText(
                f"{info['description']}<br><span style='color:gray'>{info['classes']} classes, {w}×{h}×{c}; "
                f"{info['train_size']:,} images for training and validation, {info['test_size']:,} for the "
                f"test; {where}.</span>"
            )
        elif name:
            self.description.setText(f"Image folder <code>{name}</code>")
        for field in ("image_size", "color_mode", "test_split"):
            self.form.set_row_enabled(field, info is None)

    # -- the form ------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The form's fields as ``TrainConfig`` has them (fractions, None for automatic/all)."""
        form = self.form.values()
        return {
            "image_size": None if form["image_size"] <= AUTOMATIC_SIZE else int(form["image_size"]),
            "color_mode": form["color_mode"],
            "validation_split": round(form["validation_split"] / 100, 4),
            "test_split": round(form["test_split"] / 100, 4),
            "limit": int(form["limit"]) or None,
        }

    def set_values(self, config: TrainConfig) -> None:
        """Show ``config``'s dataset fields (no ``fields_changed`` is emitted)."""
        self.form.blockSignals(True)
        try:
            self.form.set_values(
                {
                    "image_size": config.image_size or AUTOMATIC_SIZE,
                    "color_mode": config.color_mode,
                    "validation_split": round(config.validation_split * 100),
                    "test_split": round(config.test_split * 100),
                    "limit": config.limit or 0,
                }
            )
        finally:
            self.form.blockSignals(False)

    def set_editable(self, editable: bool) -> None:
        """Lock what would change a run under it; the preview stays readable."""
        self.choose_box.setEnabled(editable)
        self.form.setEnabled(editable)
