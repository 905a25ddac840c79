"""The left side of the Predict tab: the model list and what the model in use is.

Only draws and forwards: the picker's choice, "Model card..." and "Name classes..." go out as
signals; the tab decides, then asks :meth:`ModelPanel.show_card` to open a card.
:meth:`ModelPanel.show_models` writes what the models in use are.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from core.ensemble import member_labels
from core.errors import WorkbenchError
from gui import dialogs
from gui.predict.model_picker import ModelPicker


class ModelPanel(QGroupBox):
    """The "Model" box: :class:`ModelPicker`, the model in use, its card and class names buttons."""

    card_requested = Signal(object)  # Path: show this model's card
    rename_requested = Signal()  # "Name classes..." for the card-less models in use
    status_message = Signal(str, int)

    def __init__(self, settings, *, workspace: Path | None = None) -> None:
        super().__init__("Model")
        self.picker = ModelPicker(settings, workspace=workspace)
        self.picker.card_requested.connect(self.card_requested)
        self._first: Path | None = None  # the model in use (the first member of an ensemble)

        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setTextFormat(Qt.TextFormat.RichText)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.name_classes_button = QPushButton("Name classes…")
        self.name_classes_button.setToolTip("Give the classes of this card-less model their names.")
        self.name_classes_button.clicked.connect(self.rename_requested)
        self.card_button = QPushButton("Model card…")
        self.card_button.setToolTip("Everything the model's card says: classes, input, dataset, training, metrics.")
        self.card_button.clicked.connect(lambda: self._first is not None and self.card_requested.emit(self._first))
        info_buttons = QHBoxLayout()
        info_buttons.addWidget(self.card_button)
        info_buttons.addWidget(self.name_classes_button)
        info_buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker, 3)
        in_use = QLabel("In use")
        in_use.setStyleSheet("font-weight: bold")
        layout.addWidget(in_use)
        layout.addWidget(self.model_info, 1)
        layout.addLayout(info_buttons)

    def show_models(self, members: list, problem: str | None, tf_ready: bool) -> None:
        """What the models in use are (``members``: LoadedModel), or why there is none."""
        self._first = members[0].path if members else None
        if not members:
            waiting = "No model loaded yet." if tf_ready else "Waiting for TensorFlow to load …"
            text = html.escape(problem or waiting)
            self.model_info.setText(f"<span style='color:#b00020'>{text}</span>" if problem else text)
            self.name_classes_button.hide()
            self.card_button.setEnabled(False)
            return
        self.model_info.setText("<br>".join(_describe(members)))
        self.name_classes_button.setVisible(any(member.card is None for member in members))
        self.card_button.setEnabled(True)

    def show_card(self, path: Path, inferred: dict | None) -> None:
        """The model card dialog of ``path`` (``inferred``: what the loaded model says of itself)."""
        from core import cards

        try:
            card = cards.read_card(path)
        except WorkbenchError as exc:
            card = None
            self.status_message.emit(str(exc), 6000)
        if card is None and inferred is None:
            self.status_message.emit(f"{path.name} has no card; use it once to see what it takes.", 6000)
            return
        self.card_dialog = dialogs.ModelCardDialog(self, path, card, inferred)
        self.card_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.card_dialog.open()


def _describe(members: list) -> list[str]:
    m = members[0]
    names = m.class_names
    shown = ", ".join(html.escape(n) for n in names[:8]) + (", …" if len(names) > 8 else "")
    h, w, c = m.input_shape
    lines = []
    if len(members) > 1:
        lines.append(f"<b>Ensemble of {len(members)} models</b> (mean of their probabilities)")
        for member, label in zip(members, member_labels(members), strict=True):
            mh, mw, mc = member.input_shape
            lines.append(f"&nbsp;• {html.escape(label)} ({mh}×{mw} {'grey' if mc == 1 else 'colour'})")
    else:
        lines.append(f"<b>{html.escape(m.title)}</b>")
        lines.append(f"input {h} × {w} {'grey' if c == 1 else 'colour'}")
    lines.append(f"{len(names)} classes: {shown}")
    acc = ((m.card or {}).get("metrics") or {}).get("test_accuracy") if len(members) == 1 else None
    if isinstance(acc, int | float):
        lines.append(f"test accuracy {100 * acc:.1f} %")
    for member in members:
        if member.card is None:
            lines.append(f"<i>{html.escape(member.path.name)} has no card: class names are yours.</i>")
        if member.card_error:
            lines.append(f"<span style='color:#b00020'>{html.escape(member.card_error)}</span>")
    return lines
