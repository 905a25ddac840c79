"""The filters above the grid: all / correct / wrong, true class, predicted class, sort, reset.

It draws a :class:`~core.gallery.GalleryFilter` and sends the one its controls describe when a
person changes one (``filter_changed``); :meth:`FilterBar.show_filter` writes a filter decided
elsewhere (a confusion-matrix cell, Reset) without sending anything back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.gallery import OUTCOMES, GalleryFilter
from gui.gallery.state import SORT_TIPS, SORTS, sort_index


class FilterBar(QWidget):
    filter_changed = Signal(object)  # the GalleryFilter the controls now describe
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        self.outcome_buttons = QButtonGroup(self)
        outcome_row = QHBoxLayout()
        outcome_row.addWidget(QLabel("Show:"))
        for i, (text, tip) in enumerate(
            (
                ("&All", "Every test image (Alt+A)."),
                ("Corr&ect", "Only the images predicted correctly: blue captions (Alt+E)."),
                ("&Wrong", "Only the mistakes: red captions (Alt+W)."),
            )
        ):
            b = QRadioButton(text)
            b.setToolTip(tip)
            self.outcome_buttons.addButton(b, i)
            outcome_row.addWidget(b)
        self.outcome_buttons.button(0).setChecked(True)
        self.outcome_buttons.idToggled.connect(lambda _id, on: on and self._changed())
        self.true_combo = QComboBox()
        self.true_combo.setToolTip("Only images whose true class is this one.")
        self.pred_combo = QComboBox()
        self.pred_combo.setToolTip("Only images the model predicted as this class.")
        for combo in (self.true_combo, self.pred_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(9)
            combo.currentIndexChanged.connect(self._changed)
        self.sort_combo = QComboBox()
        for text, key, _desc in SORTS:
            self.sort_combo.addItem(text)
            self.sort_combo.setItemData(self.sort_combo.count() - 1, SORT_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.sort_combo.setToolTip("Order of the images: test-set order, by confidence, or by loss.")
        self.sort_combo.currentIndexChanged.connect(self._changed)
        self.reset_button = QPushButton("Reset filters")
        self.reset_button.setToolTip("Show every test image again in test-set order (Ctrl+R).")
        self.reset_button.clicked.connect(self.reset_requested)
        true_label = QLabel("&True:")
        true_label.setBuddy(self.true_combo)
        pred_label = QLabel("Pre&dicted:")
        pred_label.setBuddy(self.pred_combo)
        sort_label = QLabel("Sort &by:")
        sort_label.setBuddy(self.sort_combo)
        outcome_row.addSpacing(12)
        outcome_row.addWidget(sort_label)
        outcome_row.addWidget(self.sort_combo)
        outcome_row.addStretch(1)
        outcome_row.addWidget(self.reset_button)
        class_row = QHBoxLayout()
        for w in (true_label, self.true_combo, pred_label, self.pred_combo):
            class_row.addWidget(w)
        class_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(outcome_row)
        layout.addLayout(class_row)

    def current_filter(self) -> GalleryFilter:
        _text, key, desc = SORTS[max(0, self.sort_combo.currentIndex())]
        return GalleryFilter(
            outcome=OUTCOMES[max(0, self.outcome_buttons.checkedId())],
            true_class=self.true_combo.currentData(),
            pred_class=self.pred_combo.currentData(),
            sort=key,
            descending=desc,
        )

    def _changed(self, *_args) -> None:
        if not self._updating:
            self.filter_changed.emit(self.current_filter())

    def set_classes(self, class_names: list[str]) -> None:
        """The class lists ("any class" first) for new data."""
        self._updating = True
        try:
            for combo in (self.true_combo, self.pred_combo):
                combo.clear()
                combo.addItem("any class", None)
                for i, name in enumerate(class_names):
                    combo.addItem(name, i)
        finally:
            self._updating = False

    def show_filter(self, flt: GalleryFilter) -> None:
        """Show ``flt`` in the controls (sends nothing)."""
        self._updating = True
        try:
            self.outcome_buttons.button(OUTCOMES.index(flt.outcome)).setChecked(True)
            self.true_combo.setCurrentIndex(0 if flt.true_class is None else flt.true_class + 1)
            self.pred_combo.setCurrentIndex(0 if flt.pred_class is None else flt.pred_class + 1)
            self.sort_combo.setCurrentIndex(sort_index(flt))
        finally:
            self._updating = False

    def set_active(self, active: bool) -> None:
        """Filters apply only when there is data."""
        for w in (
            self.true_combo,
            self.pred_combo,
            self.sort_combo,
            self.reset_button,
            *self.outcome_buttons.buttons(),
        ):
            w.setEnabled(active)
