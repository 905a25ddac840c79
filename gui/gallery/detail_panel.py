"""The image clicked in the grid, large: its top-k probabilities and Grad-CAM (the Predict tab's
:class:`~gui.widgets.prediction_view.PredictionView`, reused), or a line saying why it cannot be shown.

The tab decodes the image and loads the model (its tasks); this panel only draws what it is given.
Grad-CAM itself runs on the view's own runner.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.widgets.prediction_view import PredictionView

DETAIL_HINT = "Click an image (or move with the arrow keys) to see it large, with its probabilities and Grad-CAM."


class _FitLayout(QVBoxLayout):
    """A layout that tells the scroll area it has no height-for-width: otherwise the area sizes the
    pane to its *preferred* height for the width (the image's 360 px hint, wrapped lines), and the
    panel scrolls even where everything fits at its minimum."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return False


class DetailPanel(QScrollArea):
    """In a scroll area, for small windows only: the view fits the panel from 1280 x 800 up (its
    minimum is about 500 x 310 px) without scrolling, Grad-CAM controls in view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(DETAIL_HINT)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = PredictionView()
        pane = QWidget()
        layout = _FitLayout(pane)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(pane)
        self.setMinimumWidth(320)

    def show_hint(self) -> None:
        """Nothing chosen yet."""
        self.view.clear("")
        self.title.setText(DETAIL_HINT)
        self.title.show()

    def show_message(self, title: str, message: str) -> None:
        """The image's line above, and why it is not shown (yet) in the view."""
        self.title.setText(title)
        self.title.show()
        self.view.clear(message)

    def show_prediction(
        self, display: np.ndarray, model_input: np.ndarray, probs: np.ndarray, *, true_index: int, title: str
    ) -> None:
        """The image large with its probabilities; the view writes the classes, its title the rest."""
        self.title.hide()
        self.view.show_prediction(display, model_input, probs, true_index=true_index, title=title)
