"""The Inside tab's feature-space page: layer, method, 3-D, compare, Compute / Stop, and the scatters.

It only draws and forwards input: the choices go out as signals, and the tab tells it what to draw
(:meth:`EmbeddingPanel.draw`, :meth:`EmbeddingPanel.show_hint`) and which controls can be used.
Side 0 is the open run's plot, side 1 the compared run's, beside it when a run is chosen to
compare with. Each side holds the 2-D scatter and, made when first needed, a 3-D one (OpenGL only).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.inside.feature_scatter import FeatureScatter, opengl_status
from gui.inside.state import METHOD_ITEMS, Controls, Opened, Source

NO_COMPARE = "(none)"


class EmbeddingPanel(QWidget):
    """Controls and the one or two feature-space scatters (see the module docstring)."""

    choice_changed = Signal()  # the layer, the method or 3-D (read them with choice())
    compare_chosen = Signal(object)  # the path (str) of the run to compare with, or None
    compute_clicked = Signal()
    stop_clicked = Signal()
    point_clicked = Signal(int, int)  # side, row
    point_hovered = Signal(int, int)  # side, row (-1: none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: Text put before the elapsed time while another tab's job holds the runner (set by the tab).
        self.waiting_prefix: Callable[[], str] = lambda: ""
        self._elapsed = QElapsedTimer()
        self._phase = ""
        self._ticker = QTimer(self)
        self._ticker.setInterval(200)
        self._ticker.timeout.connect(self._tick)

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip(
            "The layer whose output is embedded. 'features' is the last layer before the classifier "
            "(the penultimate dense layer, or the global-pooling output)."
        )
        self.layer_combo.currentIndexChanged.connect(lambda _i: self.choice_changed.emit())
        self.method_combo = QComboBox()
        for text, value in METHOD_ITEMS:
            self.method_combo.addItem(text, value)
        self.method_combo.setToolTip(
            "t-SNE keeps neighbours together and shows clusters best (about 10 s for 1,000 points, a minute "
            "or more for 10,000 on a small computer). PCA is the straight projection: instant, but clusters overlap."
        )
        self.method_combo.currentIndexChanged.connect(lambda _i: self.choice_changed.emit())
        self.three_d = QCheckBox("3-D")
        ok, why = opengl_status()
        self.three_d.setEnabled(ok)
        self.three_d.setToolTip(why)
        self.three_d.toggled.connect(lambda _on: self.choice_changed.emit())
        self.three_d_note = QLabel("3-D: unavailable")
        self.three_d_note.setToolTip(why)
        self.three_d_note.setEnabled(False)
        # Only hide: showing a widget that has no parent yet opens it as a window of its own.
        (self.three_d_note if ok else self.three_d).hide()
        self.compare_combo = QComboBox()
        self.compare_combo.setMinimumContentsLength(24)
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setToolTip(
            "Put a second run's embedding of the same layer beside this one (for instance the same model "
            "trained with and without the clustering loss). Pointing at an image rings it in both."
        )
        self.compare_combo.activated.connect(lambda _i: self.compare_chosen.emit(self.compare_combo.currentData()))
        self.compute_button = QPushButton("Compute")
        self.compute_button.setToolTip("Extract the layer's features for every test image and embed them.")
        self.compute_button.clicked.connect(self.compute_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop computing: feature extraction stops within a batch, and t-SNE (in its own process) at once."
        )
        self.stop_button.clicked.connect(self.stop_clicked)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer:"))
        controls.addWidget(self.layer_combo, 1)
        controls.addWidget(QLabel("Method:"))
        controls.addWidget(self.method_combo)
        controls.addWidget(self.three_d)
        controls.addWidget(self.three_d_note)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Compare with:"))
        controls.addWidget(self.compare_combo, 1)
        controls.addWidget(self.compute_button)
        controls.addWidget(self.stop_button)

        self.scatters = (FeatureScatter(), FeatureScatter())
        self.stacks = (QStackedWidget(), QStackedWidget())
        self._views3d: dict[int, Any] = {}
        for side, (scatter, stack) in enumerate(zip(self.scatters, self.stacks, strict=True)):
            stack.addWidget(scatter)
            scatter.point_clicked.connect(lambda row, side=side: self.point_clicked.emit(side, row))
            scatter.point_hovered.connect(lambda row, side=side: self.point_hovered.emit(side, row))
        self.scatters[1].setVisible(True)
        self.stacks[1].setVisible(False)
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.addWidget(self.stacks[0])
        self.plots.addWidget(self.stacks[1])
        self.plots.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)

    # -- choices ---------------------------------------------------------------------------------
    def set_layers(self, names: Sequence[str], current: str | None) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for name in names:
            self.layer_combo.addItem(name, name)
        i = self.layer_combo.findData(current) if current else -1
        self.layer_combo.setCurrentIndex(i if i >= 0 else 0)
        self.layer_combo.blockSignals(False)

    def choice(self) -> tuple[str | None, str, bool]:
        """The layer, the method and whether 3-D is ticked."""
        method = self.method_combo.currentData() or METHOD_ITEMS[0][1]
        return self.layer_combo.currentData(), method, self.three_d.isChecked()

    def choose_layer(self, layer: str) -> None:
        """Select ``layer`` as if the user had (emits :attr:`choice_changed` when it changes)."""
        i = self.layer_combo.findData(layer)
        if i >= 0:
            self.layer_combo.setCurrentIndex(i)

    def choose_method(self, method: str) -> None:
        """Select ``method`` as if the user had (emits :attr:`choice_changed` when it changes)."""
        i = self.method_combo.findData(method)
        if i >= 0:
            self.method_combo.setCurrentIndex(i)

    def show_choice(self, method: str, three_d: bool) -> None:
        """Show remembered choices without emitting anything."""
        for widget in (self.method_combo, self.three_d):
            widget.blockSignals(True)
        i = self.method_combo.findData(method)
        if i >= 0:
            self.method_combo.setCurrentIndex(i)
        self.three_d.setChecked(three_d and self.three_d.isEnabled())
        for widget in (self.method_combo, self.three_d):
            widget.blockSignals(False)

    def set_compare_sources(self, sources: Sequence[Source], current: str | None) -> None:
        combo = self.compare_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(NO_COMPARE, None)
        for s in sources:
            combo.addItem(s.label, str(s.path))
        i = combo.findData(current) if current else 0
        combo.setCurrentIndex(max(0, i))
        combo.blockSignals(False)

    def add_compare_source(self, source: Source) -> None:
        self.compare_combo.addItem(source.label, str(source.path))

    def set_controls(self, controls: Controls) -> None:
        self.compute_button.setEnabled(controls.compute)
        self.stop_button.setEnabled(controls.stop)
        self.layer_combo.setEnabled(controls.layer)
        self.method_combo.setEnabled(controls.method)
        self.compare_combo.setEnabled(controls.compare)

    # -- drawing ---------------------------------------------------------------------------------
    def set_compare_visible(self, visible: bool) -> None:
        """Show or hide the compared run's plot; shown, the two plots start at equal widths."""
        if visible and self.stacks[1].isHidden():
            self.stacks[1].setVisible(True)
            self.plots.setSizes([10_000, 10_000])  # scaled to the splitter's width: half each
            return
        self.stacks[1].setVisible(visible)

    def draw(self, side: int, opened: Opened, emb) -> None:
        """Draw embedding ``emb`` of ``opened`` on ``side``: coloured by true class, mistakes crossed."""
        data = opened.data
        title = (
            f"<b>{html.escape(opened.source.label)}</b><br>{html.escape(emb.title)} · {opened.loss_text} · "
            f"accuracy {100 * data.accuracy:.2f} % · {data.wrong_count:,} wrong (crosses)"
        )
        stack, scatter = self.stacks[side], self.scatters[side]
        if emb.dims == 3 and self.three_d.isEnabled():
            view = self._views3d.get(side)
            if view is None:
                from gui.inside.feature_scatter import FeatureScatter3D

                view = self._views3d[side] = FeatureScatter3D()
                stack.addWidget(view)
            view.set_data(emb.coords, data.y_true, data.y_pred, data.class_names, title)
            stack.setCurrentWidget(view)
            return
        stack.setCurrentWidget(scatter)
        scatter.set_data(emb.coords[:, :2], data.y_true, data.y_pred, data.class_names, title)

    def show_hint(self, side: int, message: str, title: str | None = None) -> None:
        """Put the 2-D scatter of ``side`` in front with ``message`` in it (and ``title``, plain text)."""
        scatter = self.scatters[side]
        self.stacks[side].setCurrentWidget(scatter)
        scatter.set_message(message)
        if title is not None:
            scatter.title.setText(html.escape(title))

    def show_summary(self, embeddings: Sequence[Any], seconds: float) -> str:
        """Say what was computed (or found in the cache) and how long it took; returns the first line."""
        lines = []
        for emb in embeddings:
            how = "from the cache" if emb.cached else f"in {emb.seconds:.1f} s"
            lines.append(f"{emb.title} of {len(emb.coords):,} images {how}")
        self.status.setText("; ".join(lines) + f". Total {seconds:.1f} s.")
        return lines[0] if lines else ""

    def ring(self, side: int, row: int) -> None:
        """Ring image ``row`` on ``side`` (when that plot is shown and drawn); ``-1``: keep the ring."""
        scatter = self.scatters[side]
        if not scatter.isVisible() or not len(scatter.coords):
            return
        scatter.highlight(row if row >= 0 else scatter.highlighted)

    # -- progress --------------------------------------------------------------------------------
    def start_progress(self, what: str) -> None:
        self._phase = what
        self._elapsed.start()
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._ticker.start()
        self._tick()

    def hide_progress(self) -> None:
        self._ticker.stop()
        self.progress.setVisible(False)
        self._phase = ""

    def elapsed_seconds(self) -> float:
        return self._elapsed.elapsed() / 1000 if self._elapsed.isValid() else 0.0

    def on_progress(self, done: int, total: int, what: str) -> None:
        if not self._elapsed.isValid() or not self._ticker.isActive():
            self.start_progress(what)
        self._phase = what
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)
        self._tick()

    def _tick(self) -> None:
        self.status.setText(f"{self.waiting_prefix()}{html.escape(self._phase)} · {self.elapsed_seconds():.1f} s")
