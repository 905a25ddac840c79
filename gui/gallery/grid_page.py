"""The grid of test images (``gui/widgets/gallery_view``: a model, a delegate, a list view), or a page
that says why there is nothing to show, and the row below it: the count, the thumbnail size and export.

The grid shows an index array of evaluation rows that the tab hands over (:meth:`GridPage.show_rows`);
thumbnails come from the tab's :class:`~gui.thumbnails.ThumbnailLoader`, made off the GUI thread.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.gallery import GalleryData
from gui.gallery.source_bar import EVALUATE_TIP
from gui.thumbnails import ThumbnailLoader
from gui.widgets.elided_label import ElidedLabel
from gui.widgets.gallery_view import DEFAULT_THUMB, MAX_EXPORT_IMAGES, MAX_THUMB, MIN_THUMB, GalleryModel, GalleryView


class GridPage(QWidget):
    row_chosen = Signal(int)  # a row of the evaluation: the current image changed, or one was clicked
    zoom_requested = Signal(int)  # +1 bigger, -1 smaller (Ctrl+wheel)
    thumb_size_requested = Signal(int)  # the size slider
    evaluate_requested = Signal()
    shipped_requested = Signal()
    export_csv_requested = Signal()
    export_png_requested = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = GalleryModel(loader, self)
        self.view = GalleryView(thumb=DEFAULT_THUMB)
        self.view.setModel(self.model)
        self.view.setToolTip("")
        self.view.selectionModel().currentChanged.connect(lambda current, _prev: self._choose(current))
        self.view.clicked.connect(self._choose)
        self.view.activated.connect(self._choose)
        self.view.zoom_requested.connect(self.zoom_requested)

        self.empty_label = QLabel("")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_evaluate = QPushButton("Evaluate this run now")
        self.empty_evaluate.setToolTip(EVALUATE_TIP)
        self.empty_evaluate.clicked.connect(self.evaluate_requested)
        self.empty_shipped = QPushButton("Show the shipped model")
        self.empty_shipped.setToolTip("Evaluate the model that comes with the app on its dataset and show it.")
        self.empty_shipped.clicked.connect(self.shipped_requested)
        empty = QWidget()
        el = QVBoxLayout(empty)
        el.addStretch(1)
        el.addWidget(self.empty_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.empty_evaluate)
        buttons.addWidget(self.empty_shipped)
        buttons.addStretch(1)
        el.addLayout(buttons)
        el.addStretch(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(empty)
        self.stack.addWidget(self.view)

        # Long filters make a long count: it ends in "…" and its tooltip has the whole line.
        self.count_label = ElidedLabel(tip="How many images the grid shows, of all test images.")
        self.count_label.setMinimumWidth(120)
        font = self.count_label.font()
        font.setBold(True)
        self.count_label.setFont(font)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_THUMB, MAX_THUMB)
        self.size_slider.setValue(DEFAULT_THUMB)
        self.size_slider.setMaximumWidth(160)
        self.size_slider.setToolTip("Thumbnail size in pixels (Ctrl+= bigger, Ctrl+- smaller, or Ctrl+wheel).")
        self.size_slider.valueChanged.connect(self.thumb_size_requested)
        self.size_value = QLabel("")
        self.size_value.setMinimumWidth(44)
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setToolTip(
            "Save the list of the images shown, in the order shown, with classes, confidence, loss and every "
            "probability (Ctrl+E)."
        )
        self.csv_button.clicked.connect(self.export_csv_requested)
        self.png_button = QPushButton("Export PNG...")
        self.png_button.setToolTip(
            f"Save the shown images as one picture, captioned in blue and red like the grid (Ctrl+Shift+E; "
            f"at most {MAX_EXPORT_IMAGES:,} images)."
        )
        self.png_button.clicked.connect(self.export_png_requested)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        size_label = QLabel("Si&ze:")
        size_label.setBuddy(self.size_slider)
        bottom.addWidget(size_label)
        bottom.addWidget(self.size_slider)
        bottom.addWidget(self.size_value)
        bottom.addSpacing(12)
        bottom.addWidget(self.csv_button)
        bottom.addWidget(self.png_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)

    def _choose(self, index: QModelIndex) -> None:
        row = self.model.row_at(index)
        if row is not None:
            self.row_chosen.emit(row)

    # -- content -----------------------------------------------------------------------------------
    def set_gallery(self, data: GalleryData | None, rows: np.ndarray) -> None:
        """New data (or none): the grid starts again with ``rows``."""
        self.model.set_gallery(data, rows if data is not None else None)
        if data is not None:
            self.stack.setCurrentWidget(self.view)

    def show_rows(self, rows: np.ndarray, keep: int | None) -> None:
        """Show these evaluation rows; image ``keep`` stays selected and in view when it is among them."""
        self.model.set_rows(rows)
        index = self.model.index_of_row(keep) if keep is not None else QModelIndex()
        if index.isValid():
            self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        else:
            self.view.scrollToTop()

    def select_row(self, row: int) -> bool:
        """Make image ``row`` (a row of the evaluation) the selected cell, in view; False when the
        grid does not show it (filtered out)."""
        index = self.model.index_of_row(row)
        if not index.isValid():
            return False
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def show_empty(self, html: str, *, can_evaluate: bool, can_show_shipped: bool) -> None:
        self.empty_label.setText(html)
        self.empty_evaluate.setVisible(can_evaluate)
        self.empty_shipped.setVisible(can_show_shipped)
        self.stack.setCurrentIndex(0)

    def set_count(self, text: str) -> None:
        self.count_label.setText(text)

    def set_exportable(self, exportable: bool) -> None:
        for w in (self.csv_button, self.png_button):
            w.setEnabled(exportable)

    def set_thumb_size(self, size: int) -> None:
        """Draw ``size`` (already within range): grid, slider and its label."""
        self.view.set_thumb_size(size)
        if self.size_slider.value() != size:
            self.size_slider.blockSignals(True)
            self.size_slider.setValue(size)
            self.size_slider.blockSignals(False)
        self.size_value.setText(f"{size} px")
