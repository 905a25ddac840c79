"""A layer's activations for one image: feature maps as a grid with one colour scale, or a bar strip.

Convolutional output ``(H, W, C)`` becomes one mosaic image (``C`` tiles with 1-pixel gaps, see
:func:`core.activations.mosaic`) drawn by a single ``ImageItem``: hundreds of maps cost one texture,
not hundreds of items, and sharing a colour scale is simply one set of levels (shown by the colour
bar, which drives the mosaic and the enlarged map together). Clicking a tile selects it: it is
outlined and shown enlarged beside the grid. A vector ``(D,)`` (a dense layer) is drawn as a bar
strip; for the output layer the bars are labelled with the class names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.activations import format_shape, grid_shape, mosaic, shared_levels, tile_at

GAP = 1
COLORMAP = "viridis"


class ActivationGrid(QWidget):
    """Feature maps of one layer (grid + enlarged selection) or a dense layer's values (bars)."""

    map_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        self._fg = fg
        self.header = QLabel("")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()

        # Page 0: feature maps.
        self.maps_view = pg.GraphicsLayoutWidget()
        self.maps_view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.grid_box = self.maps_view.addViewBox(row=0, col=0)
        self.grid_box.setAspectLocked(True)
        self.grid_box.invertY(True)
        self.grid_box.setMenuEnabled(False)
        self.grid_image = pg.ImageItem(axisOrder="row-major")
        self.grid_box.addItem(self.grid_image)
        self.outline = QGraphicsRectItem()
        self.outline.setPen(pg.mkPen(QColor(230, 40, 40), width=2, cosmetic=True))
        self.outline.setZValue(10)
        self.outline.hide()
        self.grid_box.addItem(self.outline, ignoreBounds=True)
        self.cmap = pg.colormap.get(COLORMAP)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, width=14)
        self.maps_view.addItem(self.colorbar, row=0, col=1)
        self.zoom_box = self.maps_view.addViewBox(row=0, col=2)
        self.zoom_box.setAspectLocked(True)
        self.zoom_box.invertY(True)
        self.zoom_box.setMenuEnabled(False)
        self.zoom_image = pg.ImageItem(axisOrder="row-major")
        self.zoom_box.addItem(self.zoom_image)
        self.zoom_label = pg.LabelItem("", color=fg, size="9pt")
        self.maps_view.addItem(self.zoom_label, row=1, col=2)
        self.grid_label = pg.LabelItem("click a map to enlarge it", color=fg, size="9pt")
        self.maps_view.addItem(self.grid_label, row=1, col=0)
        layout = self.maps_view.ci.layout
        layout.setColumnStretchFactor(0, 3)
        layout.setColumnStretchFactor(2, 2)
        self.colorbar.setImageItem([self.grid_image, self.zoom_image])
        self.maps_view.scene().sigMouseClicked.connect(self._on_click)
        self.stack.addWidget(self.maps_view)

        # Page 1: a vector.
        self.bars_view = pg.PlotWidget()
        self.bars_view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.bars_view.setMenuEnabled(False)
        self.bars_view.hideButtons()
        for axis in ("left", "bottom"):
            self.bars_view.getAxis(axis).setTextPen(fg)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.85, brush=pg.mkBrush(31, 119, 180), pen=None)
        self.bars_view.addItem(self.bars)
        self.stack.addWidget(self.bars_view)

        # Page 2: a message.
        self.message = QLabel("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack.addWidget(self.message)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.header)
        outer.addWidget(self.stack, 1)

        self.values: np.ndarray | None = None
        self.layer = ""
        self.cols = 0
        self.levels = (0.0, 1.0)
        self.selected: int | None = None
        self.set_message("Choose an image and a layer.")

    # -- content ------------------------------------------------------------------------------
    @property
    def map_count(self) -> int:
        return int(self.values.shape[2]) if self.values is not None and self.values.ndim == 3 else 0

    @property
    def map_shape(self) -> tuple[int, int]:
        return tuple(self.values.shape[:2]) if self.values is not None and self.values.ndim == 3 else (0, 0)

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns) of tiles in the grid."""
        if not self.map_count:
            return (0, 0)
        return (-(-self.map_count // self.cols), self.cols)

    def set_message(self, text: str) -> None:
        self.values = None
        self.selected = None
        self.header.setText("")
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def set_activations(
        self, values: np.ndarray, layer: str, class_name: str = "", labels: Sequence[str] | None = None
    ) -> None:
        """Show ``values``: ``(H, W, C)`` maps as a grid, ``(D,)`` as bars (``labels`` names them)."""
        values = np.asarray(values, dtype=np.float32)
        self.layer = layer
        what = f" ({class_name})" if class_name else ""
        finite = values[np.isfinite(values)]
        vmin = float(finite.min()) if finite.size else 0.0
        vmax = float(finite.max()) if finite.size else 0.0
        if values.ndim == 3:
            self._set_maps(values)
            self.header.setText(
                f"<b>{layer}</b>{what} · output {format_shape(values.shape)} · {values.shape[2]} maps of "
                f"{values.shape[0]}x{values.shape[1]} · one colour scale for all: {vmin:.3g} to {vmax:.3g}"
            )
        elif values.ndim == 1:
            self._set_vector(values, labels)
            active = int(np.count_nonzero(values > 0))
            self.header.setText(
                f"<b>{layer}</b>{what} · output {values.shape[0]} values · {active} above zero · "
                f"range {vmin:.3g} to {vmax:.3g}"
            )
        else:
            self.set_message(f"The layer {layer} gives output of shape {values.shape}, which cannot be drawn here.")

    def _set_maps(self, maps: np.ndarray) -> None:
        self.values = maps
        h, w, c = maps.shape
        # Wider than tall areas get more columns; tiles of tall maps fewer.
        _rows, self.cols = grid_shape(c, aspect=1.4 * h / max(w, 1))
        image = mosaic(maps, self.cols, GAP)
        self.levels = shared_levels(maps)
        self.grid_image.setImage(image, autoLevels=False)
        self.colorbar.setLevels(self.levels)
        self.grid_box.autoRange(padding=0.01)
        self.stack.setCurrentWidget(self.maps_view)
        self.select_map(0 if self.selected is None or self.selected >= c else self.selected)

    def _set_vector(self, values: np.ndarray, labels: Sequence[str] | None) -> None:
        self.values = values
        self.selected = None
        n = len(values)
        colors = [pg.mkBrush(31, 119, 180) if v >= 0 else pg.mkBrush(214, 39, 40) for v in values]
        self.bars.setOpts(x=np.arange(n), height=values, width=0.85, brushes=colors)
        axis = self.bars_view.getAxis("bottom")
        if labels is not None and len(labels) == n and n <= 40:
            axis.setTicks([[(i, str(s)) for i, s in enumerate(labels)]])
        else:
            axis.setTicks(None)
        self.bars_view.setLabel("bottom", "unit" if labels is None else "class")
        self.bars_view.autoRange(padding=0.02)
        self.stack.setCurrentWidget(self.bars_view)

    # -- selection ----------------------------------------------------------------------------
    def select_map(self, index: int) -> None:
        """Outline map ``index`` in the grid and show it enlarged."""
        if not self.map_count or not (0 <= index < self.map_count):
            return
        self.selected = int(index)
        h, w = self.map_shape
        r, q = divmod(self.selected, self.cols)
        self.outline.setRect(QRectF(q * (w + GAP) - 0.5, r * (h + GAP) - 0.5, w + 1, h + 1))
        self.outline.show()
        m = self.values[..., self.selected]
        self.zoom_image.setImage(m, autoLevels=False)
        self.colorbar.setLevels(self.levels)
        self.zoom_box.autoRange(padding=0.02)
        finite = m[np.isfinite(m)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        self.zoom_label.setText(f"map {self.selected} of {self.map_count}: {lo:.3g} to {hi:.3g}")
        self.map_selected.emit(self.selected)

    def tile_at_scene(self, scene_pos) -> int | None:
        if not self.map_count or not self.grid_box.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.grid_image.mapFromScene(scene_pos)
        col, row = int(np.floor(p.x())), int(np.floor(p.y()))
        return tile_at(row, col, self.map_shape, self.map_count, self.cols, GAP)

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.stack.currentWidget() is not self.maps_view:
            return
        k = self.tile_at_scene(event.scenePos())
        if k is not None:
            self.select_map(k)
