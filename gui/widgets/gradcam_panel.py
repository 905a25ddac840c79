"""The Grad-CAM part of the single-image view: its controls, its task and its cache of maps.

Controls: on/off, opacity, the class it explains (default: the prediction), the layer it reads
(default: the last convolutional map) and, for an ensemble, which member. The map is computed in a
task of a :class:`~gui.tasks.TaskSlot` (tens of milliseconds for small models, hundreds for big
backbones): a new request supersedes the one computing, whose map still goes into the cache, so
nothing computed is wasted and only the newest request is drawn. Maps are cached per (image,
model, class, layer), so switching back and forth costs nothing. The heat map is a separate layer
of the :class:`~gui.widgets.image_canvas.ImageCanvas`, painted with the slider's opacity.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider, QWidget

from core.ensemble import member_labels
from gui.tasks import TaskFailure, TaskSlot
from gui.widgets.image_canvas import DEFAULT_OPACITY, ImageCanvas, to_qimage
from gui.workers import JobRunner

if TYPE_CHECKING:  # pragma: no cover
    from core.inference import LoadedModel

log = logging.getLogger(__name__)

CACHE_SIZE = 48
EMPTY_MAP = (
    "Nothing in this image speaks for this class at this layer, nor at the convolutional layers before it "
    "(their maps are empty)."
)


def _map_note(heat: np.ndarray, asked: str, used: str, class_name: str) -> str | None:
    """What to say instead of the usual description: an empty map, or the earlier layer it came from."""
    if float(np.max(heat, initial=0.0)) <= 0:
        return EMPTY_MAP
    if used == asked:
        return None
    return (
        f"Evidence for '{class_name}' from layer {used}: at layer {asked} nothing speaks for it (that map is "
        f"empty), so this is the map of the convolutional layer before it."
    )


def percent_text(p: float) -> str:
    """A probability as the view writes it: "93.4 %", never "100.0 %" for less than 1."""
    pct = 100.0 * float(p)
    if pct >= 99.95 and p < 1.0:
        return "99.9+ %"
    return f"{pct:.1f} %"


class _Maps:
    """Computed maps and the notes about them; written by the Grad-CAM thread, read by the GUI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.images: OrderedDict[tuple, QImage] = OrderedDict()
        self.notes: dict[tuple, str] = {}  # why a key has no map (or an empty one)

    def get(self, key: tuple) -> QImage | None:
        with self._lock:
            image = self.images.get(key)
            if image is not None:
                self.images.move_to_end(key)
            return image

    def note(self, key: tuple) -> str | None:
        with self._lock:
            return self.notes.get(key)

    def put(self, key: tuple, image: QImage | None, note: str | None) -> None:
        with self._lock:
            if image is not None:
                self.images[key] = image
                self.images.move_to_end(key)
                while len(self.images) > CACHE_SIZE:
                    self.images.popitem(last=False)
            if note:
                self.notes[key] = note

    def clear(self) -> None:
        with self._lock:
            self.images.clear()
            self.notes.clear()


class GradCamPanel(QWidget):
    """Grad-CAM controls drawing into ``canvas``; ``set_members`` first, then ``show_image(...)`` per image."""

    ready = Signal()  # a map was drawn (or found not to apply)
    member_changed = Signal(int)  # another member of the ensemble was chosen

    def __init__(self, canvas: ImageCanvas, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.task = TaskSlot(runner, "Grad-CAM", parent=self)
        self._maps = _Maps()
        self._members: list[LoadedModel] = []
        self._layers: dict[int, list[str]] = {}  # member index -> Grad-CAM layer names
        self._chosen_layer: dict[int, str] = {}
        self._view: np.ndarray | None = None  # the shown image (the map is computed at its size)
        self._inputs: list[np.ndarray] = []  # what each member saw
        self._input_keys: list[str] = []
        self._wanted: tuple | None = None  # the map the view shows or waits for
        self._computing: tuple | None = None  # the map the current task computes
        self._held = False
        self._build()

    def _build(self) -> None:
        self.check = QCheckBox("&Grad-CAM")
        self.check.setChecked(True)
        self.check.setToolTip(
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
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.check, 0, 0)
        op_label = QLabel("&Opacity")
        op_label.setBuddy(self.opacity)
        row = QHBoxLayout()
        row.addWidget(op_label)
        row.addWidget(self.opacity, 1)
        grid.addLayout(row, 0, 1, 1, 3)
        class_label = QLabel("&Class")
        class_label.setBuddy(self.class_combo)
        layer_label = QLabel("&Layer")
        layer_label.setBuddy(self.layer_combo)
        # One control a row: narrow panels show each choice whole (class names and percentages).
        grid.addWidget(class_label, 1, 0)
        grid.addWidget(self.class_combo, 1, 1, 1, 3)
        grid.addWidget(layer_label, 2, 0)
        grid.addWidget(self.layer_combo, 2, 1, 1, 3)
        grid.addWidget(self.member_label, 3, 0)
        grid.addWidget(self.member_combo, 3, 1, 1, 3)
        grid.addWidget(self.status, 4, 0, 1, 4)
        grid.setColumnStretch(1, 1)

        self.check.toggled.connect(self._on_toggled)
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        self.class_combo.currentIndexChanged.connect(lambda _i: self.request())
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.member_combo.currentIndexChanged.connect(self._on_member_changed)

    # ==========================================================================================
    # What the view gives it

    def set_members(self, members: list[LoadedModel]) -> None:
        """The models whose maps are shown: each one's layers, its default layer; the cache is emptied."""
        from core import gradcam

        self._members = list(members)
        self._layers, self._chosen_layer = {}, {}
        for i, m in enumerate(self._members):
            try:
                self._layers[i] = gradcam.conv_layers(m.model)
                default = gradcam.default_layer(m.model)
            except Exception:  # noqa: BLE001 - an odd model must not break the view; Grad-CAM says no
                log.warning("no Grad-CAM layers for %s", m.path, exc_info=True)
                self._layers[i], default = [], None
            if default:
                self._chosen_layer[i] = default
        self._maps.clear()
        self.member_combo.blockSignals(True)
        self.member_combo.clear()
        names = member_labels(self._members) if len(self._members) > 1 else [m.title for m in self._members]
        for m, name in zip(self._members, names, strict=True):
            self.member_combo.addItem(name, str(m.path))
            self.member_combo.setItemData(self.member_combo.count() - 1, str(m.path), Qt.ItemDataRole.ToolTipRole)
        self.member_combo.setCurrentIndex(0)
        self.member_combo.blockSignals(False)
        ensemble = len(self._members) > 1
        self.member_combo.setVisible(ensemble)
        self.member_label.setVisible(ensemble)
        self._fill_layers()

    def show_image(self, view: np.ndarray, inputs: list[np.ndarray], input_keys: list[str], probs, names) -> None:
        """A new image: the classes by probability (the prediction first), then its map."""
        self._view, self._inputs, self._input_keys = view, inputs, input_keys
        order = np.argsort(-probs, kind="stable")
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for rank, i in enumerate(order):
            label = f"{names[i]}  ({percent_text(probs[i])})" + ("  predicted" if rank == 0 else "")
            self.class_combo.addItem(label, int(i))
        self.class_combo.setCurrentIndex(0)
        self.class_combo.blockSignals(False)
        self.request()

    def clear(self) -> None:
        self._view, self._inputs, self._input_keys = None, [], []
        self._wanted = None
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.blockSignals(False)
        self.status.setText("")

    def hold(self, hold: bool) -> None:
        """Postpone Grad-CAM work while ``hold``; the map for the image shown is computed when released."""
        if hold == self._held:
            return
        self._held = hold
        if not hold:
            self.request()

    # -- read-only state ----------------------------------------------------------------------

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

    # ==========================================================================================
    # Controls

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
        self.check.setEnabled(applies)

    def _on_toggled(self, on: bool) -> None:
        if not on:
            self.canvas.set_overlay(None)
            self.status.setText("")
            return
        self.request()

    def _on_layer_changed(self, _index: int) -> None:
        layer = self.current_layer
        if layer:
            self._chosen_layer[self.member_index] = layer
        self.request()

    def _on_member_changed(self, index: int) -> None:
        self._fill_layers()
        self.member_changed.emit(max(0, index))
        self.request()

    # ==========================================================================================
    # Maps

    def _key(self) -> tuple | None:
        i = self.member_index
        if self._view is None or i >= len(self._input_keys):
            return None
        cls, layer = self.current_class, self.current_layer
        if cls is None or layer is None:
            return None
        member = self._members[i]
        return (self._input_keys[i], str(member.path), id(member.model), cls, layer, self._view.shape)

    def request(self) -> None:
        """Draw the map the controls ask for: from the cache, or computed (unless held)."""
        from core.gradcam import NO_CONV_MESSAGE

        if self._view is None:
            return
        if not self._layers.get(self.member_index):
            self.canvas.set_overlay(None)
            self._wanted = None
            self.status.setText(f"{NO_CONV_MESSAGE}, so there is no heat map for it.")
            self.ready.emit()
            return
        if not self.check.isChecked():
            self.canvas.set_overlay(None)
            return
        key = self._key()
        if key is None:
            return
        self._wanted = key
        image, note = self._maps.get(key), self._maps.note(key)
        if image is not None or note is not None:
            self._draw(key, image)
            return
        if self.task.running and self._computing == key:
            return  # already being computed
        if self._held:
            self.canvas.set_overlay(None)
            self.status.setText("Grad-CAM follows when the predictions are done.")
            return
        self._start(key)

    def _start(self, key: tuple) -> None:
        i = self.member_index
        model, image = self._members[i].model, self._inputs[i]
        cls, layer = key[3], key[4]
        size = self._view.shape[:2]
        maps = self._maps
        self._computing = key
        self.status.setText("Computing Grad-CAM ...")

        names = list(self._members[0].class_names) if self._members else []
        class_name = names[cls] if 0 <= cls < len(names) else str(cls)

        def job(reporter, cancel):
            from core.gradcam import colorize, gradcam_with_fallback

            heat, used = gradcam_with_fallback(model, image, cls, layer, size=size)
            # Kept even when a newer request superseded this one: switching back costs nothing.
            # (A QImage may be made off the GUI thread; a QPixmap may not.)
            maps.put(key, to_qimage(colorize(heat)), _map_note(heat, layer, used, class_name))
            return key

        # A new request supersedes this one: its end never reaches the view (the slot cuts it off).
        self.task.start(job, on_done=self._on_done, on_failed=lambda f: self._on_failed(key, f))

    def _on_done(self, key: tuple) -> None:
        self._computing = None
        if key == self._wanted:
            self._draw(key, self._maps.get(key))
        elif self._wanted is not None:
            self.request()

    def _on_failed(self, key: tuple, failure: TaskFailure) -> None:
        self._computing = None
        self._maps.put(key, None, f"Grad-CAM is not available here: {failure.message}")
        if key == self._wanted:
            self._draw(key, None)
        elif self._wanted is not None:
            self.request()

    def _draw(self, key: tuple, image: QImage | None) -> None:
        self.canvas.set_overlay(image)
        note = self._maps.note(key)
        if image is None or note:
            self.status.setText(note or "")
        else:
            self.status.setText(self._describe(key))
        self.ready.emit()

    def _describe(self, key: tuple) -> str:
        from core.gradcam import layer_map_size

        i = self.member_index
        size = layer_map_size(self._members[i].model, key[4]) if i < len(self._members) else None
        names = list(self._members[0].class_names) if self._members else []
        where = f"the {size[0]}×{size[1]} map of layer {key[4]}" if size else f"layer {key[4]}"
        coarse = " This map is 1 cell: it cannot show where; try an earlier layer." if size and min(size) < 2 else ""
        return f"Evidence for '{names[key[3]]}' from {where}.{coarse}"

    def cached(self, key: Any) -> QImage | None:
        """A map from the cache (tests)."""
        return self._maps.get(key)
