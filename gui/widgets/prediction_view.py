"""One image and what a model thinks of it: the single-image view of Predict (and the Gallery).

Left, the image large with the Grad-CAM heat map over it, and under it the Grad-CAM controls:
on/off, opacity, the class it explains (default: the prediction) and the layer it reads (default:
the last convolutional map). Right, the predicted class large with its probability, what the model
actually sees after preprocessing (small: a photo for an MNIST model becomes a 28x28 grey digit),
the top-k bar chart and, for an ensemble, each member's vote beside the ensemble's.

Grad-CAM (:class:`~gui.widgets.gradcam_panel.GradCamPanel`: its controls, its task and its cache)
runs on the view's own :class:`~gui.workers.JobRunner` (tens of milliseconds for small models,
hundreds for big backbones) and is drawn when ready; maps are cached per (image, model, class,
layer), so switching back and forth costs nothing. The heat map is a separate layer painted with
the slider's opacity: moving the slider does no image arithmetic. Images and the canvas are in
:mod:`gui.widgets.image_canvas` (``to_qimage`` and ``view_array`` are also importable from here).

Owners call :meth:`PredictionView.shutdown` before the window closes (no thread is left running).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.ensemble import member_labels
from gui.widgets.gradcam_panel import GradCamPanel, percent_text
from gui.widgets.image_canvas import ImageCanvas, to_qimage, view_array
from gui.widgets.topk_chart import PREDICTED, TRUE, WRONG, TopKChart
from gui.workers import JobRunner

if TYPE_CHECKING:  # pragma: no cover
    from core.inference import LoadedModel

__all__ = ["ImageCanvas", "PredictionView", "to_qimage", "view_array"]


def _fingerprint(array: np.ndarray) -> str:
    arr = np.ascontiguousarray(array)
    digest = hashlib.blake2b(arr.tobytes(), digest_size=12)
    digest.update(str(arr.shape).encode())
    return digest.hexdigest()


class PredictionView(QWidget):
    """Image large + what the model sees (small) + predicted class large + top-k bar chart + Grad-CAM
    overlay with opacity slider, target-class and layer selectors.

    ``set_model(loaded)`` first (a :class:`~core.inference.LoadedModel`, or a list of them for an
    ensemble), then ``show_prediction(...)`` for each image; ``clear(message)`` empties it.
    """

    gradcam_ready = Signal()  # a Grad-CAM map was drawn (or found not to apply); for tests and owners
    #: "Show activations": (what the model sees, uint8 H x W x C; its LoadedModel; the image's title)
    activations_requested = Signal(object, object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self)
        self._members: list[LoadedModel] = []
        self._member_labels: list[str] = []  # core.ensemble.member_labels: distinct names for the votes
        self._view: np.ndarray | None = None  # the shown image (RGB, at most image_canvas.MAX_VIEW_SIDE)
        self._inputs: list[np.ndarray] = []  # per member
        self._input_keys: list[str] = []
        self._probs: np.ndarray | None = None
        self._member_probs: np.ndarray | None = None
        self._true_index: int | None = None
        self._build()
        self.clear()

    # ==========================================================================================
    # Construction

    def _build(self) -> None:
        self.title = QLabel("")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)

        self.reading_note = QLabel("")  # how the image was read: first frame, transparency filled
        self.reading_note.setWordWrap(True)
        self.reading_note.setStyleSheet("color: palette(placeholder-text); font-style: italic")
        self.reading_note.setToolTip("How the file was turned into the model's input.")
        self.reading_note.hide()

        self.canvas = ImageCanvas(minimum=150)
        self.canvas.setToolTip(
            "The image, with the Grad-CAM heat map over it: red where the evidence for the class is."
        )

        # Grad-CAM controls, its task and its cache (gui/widgets/gradcam_panel.py)
        self.gradcam = GradCamPanel(self.canvas, self.jobs)
        self.gradcam.ready.connect(self.gradcam_ready)
        self.gradcam.member_changed.connect(lambda _i: self._show_model_input())
        g = self.gradcam
        self.gradcam_check, self.opacity, self.gradcam_status = g.check, g.opacity, g.status
        self.class_combo, self.layer_combo = g.class_combo, g.layer_combo
        self.member_combo, self.member_label = g.member_combo, g.member_label

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.title)
        left.addWidget(self.reading_note)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.gradcam)

        # Right: verdict, what the model sees, chart, votes
        self.predicted = QLabel("")
        big = QFont(self.font())
        big.setPointSizeF(max(20.0, big.pointSizeF() * 2.4))
        big.setBold(True)
        self.predicted.setFont(big)
        self.predicted.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.predicted.setToolTip("The predicted class: the most probable one.")
        self.predicted.setWordWrap(True)
        self.confidence = QLabel("")
        self.confidence.setToolTip("The model's probability for the predicted class.")
        self.truth = QLabel("")
        self.truth.setToolTip("The class this image really belongs to (from the dataset's labels).")

        self.model_sees = ImageCanvas(minimum=64)
        self.model_sees.setFixedSize(72, 72)
        self.model_sees.setToolTip(
            "What the model actually sees: the image after conversion to the model's colour mode and "
            "resizing to its input size."
        )
        self.model_sees_caption = QLabel("")
        self.model_sees_caption.setToolTip(self.model_sees.toolTip())
        sees_title = QLabel("The model sees")
        sees_title.setStyleSheet("font-weight: bold")
        sees_title.setToolTip(self.model_sees.toolTip())
        for label in (self.confidence, self.truth):
            label.setWordWrap(True)
        # The verdict beside what the model sees: the view fits the Gallery's panel at 1280 x 800.
        verdict = QVBoxLayout()
        verdict.addWidget(self.predicted)
        verdict.addWidget(self.confidence)
        verdict.addWidget(self.truth)
        verdict.addStretch(1)
        self.activations_button = QPushButton("Show activations")
        self.activations_button.setToolTip(
            "Open this image in the Inside tab: what each layer of the model makes of it (its feature maps)."
        )
        self.activations_button.clicked.connect(self._request_activations)
        verdict.addWidget(self.activations_button, 0, Qt.AlignmentFlag.AlignLeft)
        sees = QVBoxLayout()
        for widget in (sees_title, self.model_sees, self.model_sees_caption):
            sees.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        head = QHBoxLayout()
        head.addLayout(verdict, 1)
        head.addLayout(sees)

        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 20)
        self.k_spin.setValue(5)
        self.k_spin.setPrefix("top ")
        self.k_spin.setToolTip("How many of the most probable classes the chart shows.")
        self.k_spin.setAccessibleName("Number of classes in the chart")
        chart_head = QHBoxLayout()
        chart_title = QLabel("Most probable classes")
        chart_title.setStyleSheet("font-weight: bold")
        chart_head.addWidget(chart_title)
        chart_head.addStretch(1)
        chart_head.addWidget(self.k_spin)
        self.chart = TopKChart()

        self.votes = QTableWidget(0, 3)
        self.votes.setHorizontalHeaderLabels(["Model", "Vote", "P(ensemble's class)"])
        self.votes.verticalHeader().hide()
        self.votes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.votes.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.votes.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.votes.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.votes.setToolTip(
            "The ensemble's answer (mean of the members' probabilities) and each member's own vote with its "
            "probability, and the probability each member gives the ensemble's class."
        )
        self.votes_title = QLabel("Votes")
        self.votes_title.setStyleSheet("font-weight: bold")

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addLayout(head)
        right.addLayout(chart_head)
        right.addWidget(self.chart, 2)
        right.addWidget(self.votes_title)
        right.addWidget(self.votes, 1)

        right_box = QWidget()
        right_box.setLayout(right)
        right_box.setMaximumWidth(520)

        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        left_box = QWidget()
        left_box.setLayout(left)
        body.addWidget(left_box, 3)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        body.addWidget(line)
        body.addWidget(right_box, 2)
        self.body = QWidget()
        self.body.setLayout(body)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.body, 1)

        self.toggle_action = QAction("Show Grad-CAM", self)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+G"))
        self.toggle_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.toggle_action.triggered.connect(self.gradcam_check.toggle)
        self.addAction(self.toggle_action)

        self.k_spin.valueChanged.connect(lambda _v: self._draw_chart())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self.chart._plot is None:
            QTimer.singleShot(0, self.chart.prepare)

    # ==========================================================================================
    # Public API

    def set_model(self, loaded: LoadedModel | Sequence[LoadedModel]) -> None:
        """The model (or the members of an ensemble, first one first) whose predictions will be shown.

        Resets the Grad-CAM layer choices to each model's default and clears the cache.
        """
        members = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
        self._members = members
        self._member_labels = member_labels(members) if len(members) > 1 else [m.title for m in members]
        self.gradcam.set_members(members)
        self.clear()

    def show_prediction(
        self,
        display_image: np.ndarray | Image.Image,
        model_input: np.ndarray,
        probs: np.ndarray,
        *,
        true_index: int | None = None,
        title: str = "",
        member_probs: np.ndarray | None = None,
        member_inputs: Sequence[np.ndarray] | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        """Show one image and its prediction; Grad-CAM follows when ready.

        ``notes`` say how the file was read (:func:`core.images.reading_notes`: an animation's first
        frame, transparency filled and with which colour); shown under the title.

        ``model_input`` is what the (first) model saw, uint8 ``(H, W, C)``; ``probs`` the
        probabilities (the ensemble's mean for an ensemble). ``true_index``, when known (gallery),
        shows "true: X" and colours the predicted class blue if right, red if wrong. For an
        ensemble, ``member_probs`` ``(M, classes)`` shows each member's vote and ``member_inputs``
        (one per member) what each member saw.
        """
        if not self._members:
            raise RuntimeError("PredictionView.show_prediction before set_model")
        self._view = view_array(display_image)
        inputs = list(member_inputs) if member_inputs is not None else [np.asarray(model_input)]
        if len(inputs) < len(self._members):
            inputs += [np.asarray(model_input)] * (len(self._members) - len(inputs))
        self._inputs = [np.asarray(x) for x in inputs]
        self._input_keys = [_fingerprint(x) for x in self._inputs]
        self._probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        self._member_probs = None if member_probs is None else np.asarray(member_probs, dtype=np.float64)
        self._true_index = None if true_index is None else int(true_index)
        names = self.class_names
        if len(self._probs) != len(names):
            raise ValueError(f"{len(self._probs)} probabilities for a model of {len(names)} classes")

        self.message.hide()
        self.body.show()
        self.title.setText(title)
        self.title.setToolTip(title)
        note = "; ".join(notes)
        self.reading_note.setText(note[:1].upper() + note[1:] + "." if note else "")
        self.reading_note.setVisible(bool(note))
        self.canvas.set_image(to_qimage(self._view))
        top = int(np.argmax(self._probs))
        self.predicted.setText(names[top])
        color = PREDICTED
        if self._true_index is not None:
            color = PREDICTED if top == self._true_index else WRONG
            right = top == self._true_index
            self.truth.setText(
                f"true: <b>{names[self._true_index]}</b> "
                + (f"<span style='color:{TRUE.name()}'>(right)</span>" if right else "(wrong)")
            )
            self.truth.show()
        else:
            self.truth.hide()
        self.predicted.setStyleSheet(f"color: {color.name()}")
        what = "ensemble probability" if len(self._members) > 1 else "probability"
        self.confidence.setText(f"{percent_text(self._probs[top])} {what}")
        self._show_model_input()
        self._draw_chart()
        self._fill_votes()
        self.gradcam.show_image(self._view, self._inputs, self._input_keys, self._probs, names)
        self.activations_button.setEnabled(True)

    def clear(self, message: str = "") -> None:
        """Empty the view; ``message`` (if any) says why, in its place."""
        self._view = None
        self._inputs, self._input_keys = [], []
        self._probs = self._member_probs = None
        self._true_index = None
        self.gradcam.clear()
        self.title.setText("")
        self.reading_note.setText("")
        self.reading_note.hide()
        self.canvas.set_image(None)
        self.model_sees.set_image(None)
        self.model_sees_caption.setText("")
        self.predicted.setText("")
        self.confidence.setText("")
        self.truth.hide()
        self.chart.clear()
        self.votes.setRowCount(0)
        self.votes.hide()
        self.votes_title.hide()
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.body.setVisible(not message)
        self.activations_button.setEnabled(False)

    def hold_gradcam(self, hold: bool) -> None:
        """Postpone Grad-CAM work while ``hold`` (an owner busy with a batch on the same CPU); the map
        for the image shown is computed when released."""
        self.gradcam.hold(hold)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop Grad-CAM work and wait for its thread (call before the window closes)."""
        return self.jobs.shutdown(timeout_ms)

    # -- read-only state (tests, owners) --------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(self._members[0].class_names) if self._members else []

    @property
    def current_layer(self) -> str | None:
        return self.gradcam.current_layer

    @property
    def current_class(self) -> int | None:
        return self.gradcam.current_class

    @property
    def member_index(self) -> int:
        return self.gradcam.member_index

    @property
    def showing_gradcam(self) -> bool:
        return self.canvas.has_overlay

    # ==========================================================================================
    # Drawing

    def _request_activations(self) -> None:
        """The image shown, as the model in view (an ensemble's chosen member) sees it, to the Inside tab."""
        i = self.member_index
        if i < len(self._inputs) and i < len(self._members):
            title = self.title.text() or "image"
            self.activations_requested.emit(self._inputs[i], self._members[i], title)

    def _show_model_input(self) -> None:
        i = self.member_index
        if not self._inputs or i >= len(self._inputs):
            return
        x = self._inputs[i]
        self.model_sees.set_image(to_qimage(x))
        h, w = x.shape[:2]
        mode = "grey" if (x.ndim == 2 or x.shape[2] == 1) else "colour"
        self.model_sees_caption.setText(f"{w} × {h} pixels, {mode}")

    def _draw_chart(self) -> None:
        if self._probs is None:
            return
        self.chart.show_probs(
            self._probs,
            self.class_names,
            k=self.k_spin.value(),
            true_index=self._true_index,
            member_probs=self._member_probs if len(self._members) > 1 else None,
        )

    def _fill_votes(self) -> None:
        mp = self._member_probs
        if mp is None or len(self._members) < 2 or mp.ndim != 2 or len(mp) != len(self._members):
            self.votes.setRowCount(0)
            self.votes.hide()
            self.votes_title.hide()
            return
        names = self.class_names
        top = int(np.argmax(self._probs))
        rows = [("Ensemble (mean)", self._probs)] + [(t, mp[i]) for i, t in enumerate(self._member_labels)]
        self.votes.setRowCount(len(rows))
        for r, (label, p) in enumerate(rows):
            vote = int(np.argmax(p))
            cells = [label, f"{names[vote]}  {percent_text(p[vote])}", percent_text(p[top])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if r == 0:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                elif c == 1 and vote != top:
                    item.setForeground(WRONG)
                if c == 0 and r > 0:
                    item.setToolTip(f"{label}\n{self._members[r - 1].path}")
                self.votes.setItem(r, c, item)
        self.votes.resizeRowsToContents()
        agree = sum(1 for i in range(len(self._members)) if int(np.argmax(mp[i])) == top)
        self.votes_title.setText(f"Votes: {agree} of {len(self._members)} models agree with the ensemble")
        self.votes.show()
        self.votes_title.show()
