"""One image and what a model thinks of it: the single-image view of Predict (and the Gallery).

Left, the image large with the Grad-CAM heat map over it, and under it the Grad-CAM controls:
on/off, opacity, the class it explains (default: the prediction) and the layer it reads (default:
the last convolutional map). Right, the predicted class large with its probability, what the model
actually sees after preprocessing (small: a photo for an MNIST model becomes a 28x28 grey digit),
the top-k bar chart and, for an ensemble, each member's vote beside the ensemble's.

Grad-CAM runs in a worker on the view's own :class:`~gui.workers.JobRunner` (tens of milliseconds
for small models, hundreds for big backbones) and is drawn when ready; maps are cached per
(image, model, class, layer), so switching back and forth costs nothing. The heat map is a
separate layer painted with the slider's opacity: moving the slider does no image arithmetic.

Owners call :meth:`PredictionView.shutdown` before the window closes (no thread is left running).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QImage, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.topk_chart import PREDICTED, TRUE, WRONG, TopKChart
from gui.workers import JobRunner, run_in_thread

if TYPE_CHECKING:  # pragma: no cover
    from core.inference import LoadedModel

MAX_VIEW_SIDE = 640  # the shown image is at most this big (Grad-CAM is computed at this size)
CACHE_SIZE = 48
DEFAULT_OPACITY = 45


# --------------------------------------------------------------------------------------------------
# Images


def to_qimage(array: np.ndarray) -> QImage:
    """A deep-copied QImage of a uint8 ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` array."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        fmt, line = QImage.Format.Format_Grayscale8, w
    elif arr.shape[2] == 3:
        fmt, line = QImage.Format.Format_RGB888, 3 * w
    elif arr.shape[2] == 4:
        fmt, line = QImage.Format.Format_RGBA8888, 4 * w
    else:
        raise ValueError(f"cannot show an image of shape {arr.shape}")
    return QImage(arr.data, w, h, line, fmt).copy()


def view_array(image: np.ndarray | Image.Image, max_side: int = MAX_VIEW_SIDE) -> np.ndarray:
    """The image as uint8 RGB ``(H, W, 3)``, shrunk to at most ``max_side`` pixels on its long side."""
    if isinstance(image, Image.Image):
        img = image if image.mode == "RGB" else image.convert("RGB")
    else:
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        img = Image.fromarray(arr).convert("RGB")
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


class ImageCanvas(QWidget):
    """Paints an image scaled to fit (aspect kept), optionally a heat map over it with an opacity.

    Small images are enlarged without smoothing, so the pixels the model works with stay visible.
    """

    def __init__(self, parent: QWidget | None = None, *, minimum: int = 120) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._opacity = DEFAULT_OPACITY / 100
        self._text = ""
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self._overlay = None
        self.update()

    def set_overlay(self, overlay: QImage | None) -> None:
        self._overlay = overlay
        self.update()

    def set_opacity(self, value: float) -> None:
        self._opacity = max(0.0, min(1.0, float(value)))
        self.update()

    def set_text(self, text: str) -> None:
        self._text = text
        self.update()

    @property
    def has_overlay(self) -> bool:
        return self._overlay is not None

    def image_rect(self) -> QRectF:
        if self._image is None or self._image.isNull():
            return QRectF()
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(360, 360)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self._image is None or self._image.isNull():
            if self._text:
                painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
                flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
                painter.drawText(self.rect().adjusted(8, 8, -8, -8), flags, self._text)
            return
        target = self.image_rect()
        enlarging = target.width() >= 2.5 * self._image.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not enlarging)
        painter.drawImage(target, self._image)
        if self._overlay is not None and self._opacity > 0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.setOpacity(self._opacity)
            painter.drawImage(target, self._overlay)


# --------------------------------------------------------------------------------------------------
# The view


def _fingerprint(array: np.ndarray) -> str:
    arr = np.ascontiguousarray(array)
    digest = hashlib.blake2b(arr.tobytes(), digest_size=12)
    digest.update(str(arr.shape).encode())
    return digest.hexdigest()


def _percent(p: float) -> str:
    pct = 100.0 * float(p)
    if pct >= 99.95 and p < 1.0:
        return "99.9+ %"
    return f"{pct:.1f} %"


class PredictionView(QWidget):
    """Image large + what the model sees (small) + predicted class large + top-k bar chart + Grad-CAM
    overlay with opacity slider, target-class and layer selectors.

    ``set_model(loaded)`` first (a :class:`~core.inference.LoadedModel`, or a list of them for an
    ensemble), then ``show_prediction(...)`` for each image; ``clear(message)`` empties it.
    """

    gradcam_ready = Signal()  # a Grad-CAM map was drawn (or found not to apply); for tests and owners

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self)
        self._members: list[LoadedModel] = []
        self._layers: dict[int, list[str]] = {}  # member index -> Grad-CAM layer names
        self._chosen_layer: dict[int, str] = {}
        self._cache: OrderedDict[tuple, QImage] = OrderedDict()
        self._errors: dict[tuple, str] = {}
        self._view: np.ndarray | None = None  # the shown image (RGB, at most MAX_VIEW_SIDE)
        self._inputs: list[np.ndarray] = []  # per member
        self._input_keys: list[str] = []
        self._probs: np.ndarray | None = None
        self._member_probs: np.ndarray | None = None
        self._true_index: int | None = None
        self._wanted: tuple | None = None
        self._in_flight: tuple | None = None
        self._held = False
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

        self.canvas = ImageCanvas(minimum=200)
        self.canvas.setToolTip(
            "The image, with the Grad-CAM heat map over it: red where the evidence for the class is."
        )

        # Grad-CAM controls
        self.gradcam_check = QCheckBox("&Grad-CAM")
        self.gradcam_check.setChecked(True)
        self.gradcam_check.setToolTip(
            "Show where the model found the evidence for the chosen class (Ctrl+G): a heat map from the "
            "gradients of the class score at a convolutional layer (Selvaraju et al. 2017)."
        )
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(DEFAULT_OPACITY)
        self.opacity.setToolTip("Opacity of the heat map: 0 shows only the image, 100 only the heat map.")
        self.opacity.setAccessibleName("Heat map opacity")
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class Grad-CAM explains (default: the predicted class).")
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_combo.setMinimumContentsLength(12)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip(
            "The convolutional layer Grad-CAM reads (default: the last one, which sees the most but in the "
            "coarsest grid). Earlier layers give finer but less specific maps."
        )
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setMinimumContentsLength(12)
        self.member_combo = QComboBox()
        self.member_combo.setToolTip("Which member of the ensemble Grad-CAM and 'What the model sees' show.")
        self.member_label = QLabel("&Model")
        self.member_label.setBuddy(self.member_combo)
        self.gradcam_status = QLabel("")
        self.gradcam_status.setWordWrap(True)
        self.gradcam_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        controls = QGridLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.gradcam_check, 0, 0)
        op_label = QLabel("&Opacity")
        op_label.setBuddy(self.opacity)
        row = QHBoxLayout()
        row.addWidget(op_label)
        row.addWidget(self.opacity, 1)
        controls.addLayout(row, 0, 1, 1, 3)
        class_label = QLabel("&Class")
        class_label.setBuddy(self.class_combo)
        layer_label = QLabel("&Layer")
        layer_label.setBuddy(self.layer_combo)
        controls.addWidget(class_label, 1, 0)
        controls.addWidget(self.class_combo, 1, 1)
        controls.addWidget(layer_label, 1, 2)
        controls.addWidget(self.layer_combo, 1, 3)
        controls.addWidget(self.member_label, 2, 0)
        controls.addWidget(self.member_combo, 2, 1, 1, 3)
        controls.addWidget(self.gradcam_status, 3, 0, 1, 4)
        controls.setColumnStretch(1, 1)
        controls.setColumnStretch(3, 1)

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.title)
        left.addWidget(self.canvas, 1)
        left.addLayout(controls)

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

        self.model_sees = ImageCanvas(minimum=84)
        self.model_sees.setFixedSize(96, 96)
        self.model_sees.setToolTip(
            "What the model actually sees: the image after conversion to the model's colour mode and "
            "resizing to its input size."
        )
        self.model_sees_caption = QLabel("")
        self.model_sees_caption.setWordWrap(True)
        sees = QHBoxLayout()
        sees.addWidget(self.model_sees)
        sees_text = QVBoxLayout()
        sees_title = QLabel("What the model sees")
        sees_title.setStyleSheet("font-weight: bold")
        sees_text.addWidget(sees_title)
        sees_text.addWidget(self.model_sees_caption)
        sees_text.addStretch(1)
        sees.addLayout(sees_text, 1)

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
        right.addWidget(self.predicted)
        right.addWidget(self.confidence)
        right.addWidget(self.truth)
        right.addLayout(sees)
        right.addLayout(chart_head)
        right.addWidget(self.chart, 2)
        right.addWidget(self.votes_title)
        right.addWidget(self.votes, 1)

        right_box = QWidget()
        right_box.setLayout(right)
        right_box.setMinimumWidth(260)
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

        self.gradcam_check.toggled.connect(self._on_gradcam_toggled)
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        self.class_combo.currentIndexChanged.connect(lambda _i: self._request_gradcam())
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.member_combo.currentIndexChanged.connect(self._on_member_changed)
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
        from core import gradcam

        self._members = members
        self._layers = {}
        self._chosen_layer = {}
        for i, m in enumerate(members):
            try:
                self._layers[i] = gradcam.conv_layers(m.model)
                default = gradcam.default_layer(m.model)
            except Exception:  # noqa: BLE001 - an odd model must not break the view; Grad-CAM says no
                self._layers[i], default = [], None
            if default:
                self._chosen_layer[i] = default
        self._cache.clear()
        self._errors.clear()
        self.member_combo.blockSignals(True)
        self.member_combo.clear()
        for m in members:
            self.member_combo.addItem(m.title, str(m.path))
            self.member_combo.setItemData(self.member_combo.count() - 1, str(m.path), Qt.ItemDataRole.ToolTipRole)
        self.member_combo.setCurrentIndex(0)
        self.member_combo.blockSignals(False)
        ensemble = len(members) > 1
        self.member_combo.setVisible(ensemble)
        self.member_label.setVisible(ensemble)
        self._fill_layers()
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
    ) -> None:
        """Show one image and its prediction; Grad-CAM follows when ready.

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
        self.confidence.setText(f"{_percent(self._probs[top])} {what}")
        self._show_model_input()
        self._draw_chart()
        self._fill_votes()
        self._fill_classes()
        self._request_gradcam()

    def clear(self, message: str = "") -> None:
        """Empty the view; ``message`` (if any) says why, in its place."""
        self._view = None
        self._inputs, self._input_keys = [], []
        self._probs = self._member_probs = None
        self._true_index = None
        self._wanted = None
        self.title.setText("")
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
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.blockSignals(False)
        self.gradcam_status.setText("")
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.body.setVisible(not message)

    def hold_gradcam(self, hold: bool) -> None:
        """Postpone Grad-CAM work while ``hold`` (an owner busy with a batch on the same CPU); the map
        for the image shown is computed when released."""
        if hold == self._held:
            return
        self._held = hold
        if not hold:
            self._request_gradcam()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop Grad-CAM work and wait for its thread (call before the window closes)."""
        return self.jobs.shutdown(timeout_ms)

    # -- read-only state (tests, owners) --------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(self._members[0].class_names) if self._members else []

    @property
    def current_layer(self) -> str | None:
        data = self.layer_combo.currentData()
        return str(data) if data else None

    @property
    def current_class(self) -> int | None:
        data = self.class_combo.currentData()
        return None if data is None else int(data)

    @property
    def member_index(self) -> int:
        return max(0, self.member_combo.currentIndex())

    @property
    def showing_gradcam(self) -> bool:
        return self.canvas.has_overlay

    # ==========================================================================================
    # Drawing

    def _show_model_input(self) -> None:
        i = self.member_index
        if not self._inputs or i >= len(self._inputs):
            return
        x = self._inputs[i]
        self.model_sees.set_image(to_qimage(x))
        h, w = x.shape[:2]
        mode = "grey" if (x.ndim == 2 or x.shape[2] == 1) else "colour"
        self.model_sees_caption.setText(f"{w} × {h} pixels, {mode}: the image after conversion and resizing.")

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
        rows = [("Ensemble (mean)", self._probs)] + [(m.title, mp[i]) for i, m in enumerate(self._members)]
        self.votes.setRowCount(len(rows))
        for r, (label, p) in enumerate(rows):
            vote = int(np.argmax(p))
            cells = [label, f"{names[vote]}  {_percent(p[vote])}", _percent(p[top])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if r == 0:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                elif c == 1 and vote != top:
                    item.setForeground(WRONG)
                if c == 0 and r > 0:
                    item.setToolTip(str(self._members[r - 1].path))
                self.votes.setItem(r, c, item)
        self.votes.resizeRowsToContents()
        agree = sum(1 for i in range(len(self._members)) if int(np.argmax(mp[i])) == top)
        self.votes_title.setText(f"Votes: {agree} of {len(self._members)} models agree with the ensemble")
        self.votes.show()
        self.votes_title.show()

    def _fill_classes(self) -> None:
        names = self.class_names
        order = np.argsort(-self._probs, kind="stable")
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for rank, i in enumerate(order):
            label = f"{names[i]}  ({_percent(self._probs[i])})"
            if rank == 0:
                label += "  predicted"
            self.class_combo.addItem(label, int(i))
        self.class_combo.setCurrentIndex(0)
        self.class_combo.blockSignals(False)

    def _fill_layers(self) -> None:
        from core import gradcam

        i = self.member_index
        layers = self._layers.get(i, [])
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        model = self._members[i].model if i < len(self._members) else None
        for name in layers:
            size = gradcam.layer_map_size(model, name) if model is not None else None
            text = name if size is None else f"{name}  ({size[0]}×{size[1]})"
            self.layer_combo.addItem(text, name)
            tip = "a feature map of %s cells" % (f"{size[0]}×{size[1]}" if size else "unknown")
            self.layer_combo.setItemData(self.layer_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        chosen = self._chosen_layer.get(i)
        if chosen in layers:
            self.layer_combo.setCurrentIndex(layers.index(chosen))
        self.layer_combo.blockSignals(False)
        applies = bool(layers)
        for w in (self.opacity, self.class_combo, self.layer_combo):
            w.setEnabled(applies)
        self.gradcam_check.setEnabled(applies)

    # ==========================================================================================
    # Grad-CAM

    def _on_gradcam_toggled(self, on: bool) -> None:
        if not on:
            self.canvas.set_overlay(None)
            self.gradcam_status.setText("")
            return
        self._request_gradcam()

    def _on_layer_changed(self, _index: int) -> None:
        layer = self.current_layer
        if layer:
            self._chosen_layer[self.member_index] = layer
        self._request_gradcam()

    def _on_member_changed(self, _index: int) -> None:
        self._fill_layers()
        self._show_model_input()
        self._request_gradcam()

    def _gradcam_key(self) -> tuple | None:
        i = self.member_index
        if self._view is None or i >= len(self._input_keys):
            return None
        cls, layer = self.current_class, self.current_layer
        if cls is None or layer is None:
            return None
        member = self._members[i]
        return (self._input_keys[i], str(member.path), id(member.model), cls, layer, self._view.shape)

    def _request_gradcam(self) -> None:
        from core.gradcam import NO_CONV_MESSAGE

        if self._view is None:
            return
        i = self.member_index
        if not self._layers.get(i):
            self.canvas.set_overlay(None)
            self._wanted = None
            self.gradcam_status.setText(f"{NO_CONV_MESSAGE}, so there is no heat map for it.")
            self.gradcam_ready.emit()
            return
        if not self.gradcam_check.isChecked():
            self.canvas.set_overlay(None)
            return
        key = self._gradcam_key()
        if key is None:
            return
        self._wanted = key
        if key in self._cache:
            self._cache.move_to_end(key)
            self.canvas.set_overlay(self._cache[key])
            self._say_layer(key)
            self.gradcam_ready.emit()
            return
        if key in self._errors:
            self.canvas.set_overlay(None)
            self.gradcam_status.setText(self._errors[key])
            self.gradcam_ready.emit()
            return
        if self._in_flight is not None:
            return  # the job running now asks again for the newest request when it ends
        if self._held:
            self.canvas.set_overlay(None)
            self.gradcam_status.setText("Grad-CAM follows when the predictions are done.")
            return
        self._start(key)

    def _start(self, key: tuple) -> None:
        i = self.member_index
        model = self._members[i].model
        image = self._inputs[i]
        cls, layer = key[3], key[4]
        size = self._view.shape[:2]
        self._in_flight = key
        self.gradcam_status.setText("Computing Grad-CAM ...")

        def job(reporter, cancel):
            from core.gradcam import colorize, gradcam

            heat = gradcam(model, image, cls, layer, size=size)
            rgb = colorize(heat)
            return heat, to_qimage(rgb)  # QImage may be made off the GUI thread (QPixmap may not)

        run_in_thread(
            self.jobs,
            job,
            name="Grad-CAM",
            key="gradcam",
            context=self,
            on_finished=lambda result: self._on_gradcam_done(key, result, None),
            on_failed=lambda message, detail: self._on_gradcam_done(key, None, message),
            on_cancelled=lambda _r: self._on_gradcam_done(key, None, ""),
        )

    def _on_gradcam_done(self, key: tuple, result: Any, error: str | None) -> None:
        self._in_flight = None
        if result is not None:
            heat, image = result
            self._cache[key] = image
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            if not float(np.max(heat)) > 0:
                self._errors[key] = "Nothing in this image speaks for this class at this layer (the map is empty)."
        elif error:
            self._errors[key] = f"Grad-CAM is not available here: {error}"
        if key == self._wanted:
            if result is not None:
                self.canvas.set_overlay(self._cache[key])
                self._say_layer(key)
            else:
                self.canvas.set_overlay(None)
                self.gradcam_status.setText(self._errors.get(key, ""))
            self.gradcam_ready.emit()
        elif self._wanted is not None:
            self._request_gradcam()

    def _say_layer(self, key: tuple) -> None:
        from core.gradcam import layer_map_size

        note = self._errors.get(key)
        if note:
            self.gradcam_status.setText(note)
            return
        i = self.member_index
        size = layer_map_size(self._members[i].model, key[4]) if i < len(self._members) else None
        names = self.class_names
        where = f"the {size[0]}×{size[1]} map of layer {key[4]}" if size else f"layer {key[4]}"
        coarse = " This map is 1 cell: it cannot show where; try an earlier layer." if size and min(size) < 2 else ""
        self.gradcam_status.setText(f"Evidence for '{names[key[3]]}' from {where}.{coarse}")
