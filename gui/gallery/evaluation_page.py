"""The evaluation beside the grid: the confusion matrix and the classification report, as two tabs.

A click on a cell, a header or a number asks for the images behind it (``filter_requested`` with a
:class:`~core.gallery.GalleryFilter`); the tab applies it to the grid.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from core.gallery import GalleryData, GalleryFilter
from gui.gallery.confusion_matrix import ConfusionMatrixView
from gui.gallery.report_table import ReportTable


class EvaluationPage(QTabWidget):
    filter_requested = Signal(object)  # the GalleryFilter of the images behind what was clicked
    percent_changed = Signal(bool)  # the matrix shows row percentages (True) or counts

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix = ConfusionMatrixView()
        self.matrix.cell_clicked.connect(lambda t, p: self.filter_requested.emit(GalleryFilter.cell(t, p)))
        self.matrix.true_class_clicked.connect(lambda c: self.filter_requested.emit(GalleryFilter(true_class=c)))
        self.matrix.predicted_class_clicked.connect(lambda c: self.filter_requested.emit(GalleryFilter(pred_class=c)))
        self.matrix.percent_box.toggled.connect(self.percent_changed)
        self.report = ReportTable()
        self.report.true_class_requested.connect(lambda c: self.filter_requested.emit(GalleryFilter(true_class=c)))
        self.report.predicted_class_requested.connect(lambda c: self.filter_requested.emit(GalleryFilter(pred_class=c)))
        self.report.correct_requested.connect(lambda: self.filter_requested.emit(GalleryFilter(outcome="correct")))
        self.report.all_requested.connect(lambda: self.filter_requested.emit(GalleryFilter()))
        self.setDocumentMode(True)
        self.addTab(self.matrix, "Confusion matrix")
        self.addTab(self.report, "Classification report")
        self.setTabToolTip(0, "Counts of true against predicted classes; click a cell to see its images.")
        self.setTabToolTip(1, "Precision, recall, F1 and support per class; click a number for its images.")

    def set_data(self, data: GalleryData | None) -> None:
        if data is None:
            self.matrix.set_matrix(np.zeros((0, 0), np.int64), [])
            self.report.set_report({}, [])
        else:
            self.matrix.set_matrix(data.confusion, data.class_names)
            self.report.set_report(data.report, data.class_names)

    def set_percent(self, on: bool) -> None:
        self.matrix.set_percent(on)

    def select_cell(self, true_class: int | None, pred_class: int | None) -> None:
        self.matrix.select_cell(true_class, pred_class)
