"""The Model page's "Auto" panel: what auto chose for the previewed data and why, and, when
classes are very small, the advice to use transfer learning with a button that selects it.

It only draws and forwards (``transfer_requested``); the choices come from
``TrainState.auto_choices`` and ``TrainState.transfer_advice`` (core/auto.py).
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget


def choices_html(choices) -> str:
    """Auto's choices as short paragraphs: the choice in bold, then its reason."""
    return "".join(
        f"<p style='margin:2px 0'><b>{escape(c.what)}: {escape(c.value)}.</b> {escape(c.why)}</p>" for c in choices
    )


class AutoPanel(QGroupBox):
    transfer_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Auto's choices", parent)
        self.setToolTip("What Auto chose from your images, and why. The same sentences go into the log and the card.")
        self.reasons = QLabel("")
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.reasons.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.advice = QLabel("")
        self.advice.setWordWrap(True)
        self.advice.setStyleSheet("color: #8a5300;")
        self.transfer_button = QPushButton("Use transfer learning (MobileNetV2, ImageNet weights)")
        self.transfer_button.setToolTip(
            "Choose MobileNetV2 with weights pre-trained on ImageNet and the auto recipe. The weights "
            "(about 9 MB) are downloaded once when training starts; offline, the run says so and learns "
            "from scratch."
        )
        self.transfer_button.clicked.connect(self.transfer_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(self.reasons)
        layout.addWidget(self.advice)
        layout.addWidget(self.transfer_button)

    def show_choices(self, choices, advice: str | None) -> None:
        """``choices``: a list of core.auto.Choice ([]: nothing is auto; None: not previewed yet)."""
        if choices is None:
            self.reasons.setText("<i>Auto's choices appear once the dataset's preview has loaded.</i>")
        else:
            self.reasons.setText(choices_html(choices))
        self.reasons.setVisible(choices != [])
        self.advice.setText(advice or "")
        self.advice.setVisible(bool(advice))
        self.transfer_button.setVisible(bool(advice))
        self.setVisible(choices != [] or bool(advice))
