"""A feature-space scatter (pyqtgraph): one point per test image, coloured by true class.

One ``ScatterPlotItem`` holds every point (10,000 stay fluid: pixel-mode symbols are drawn from a
cached atlas, one small pixmap per class colour and symbol, so a pan or zoom repaints a few
thousand pixmap fragments and recomputes nothing; see bench/bench_scatter.py). Misclassified
images are drawn as a cross in their true class's colour with a dark outline, on top of the dots.

Hover and click find the nearest point in screen pixels with numpy (about 0.1 ms for 10,000
points), rate-limited to 60 Hz, instead of pyqtgraph's per-point hover machinery. Hovering shows a
small card with the image's thumbnail, true and predicted class; a click emits
:attr:`FeatureScatter.point_clicked`. :meth:`FeatureScatter.highlight` rings a point, so two scatters
of the same test set can show the same image side by side.

:class:`FeatureScatter3D` (pyqtgraph.opengl) is offered only where :func:`opengl_status` says the
platform can draw it; the 2-D scatter works everywhere, offscreen included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.widgets.palette import TAB10

# tab10 (gui/widgets/palette.py), then tab20's lighter half.
TAB20_EXTRA = (
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)
POINT_SIZE = 6
WRONG_SIZE = 10
HOVER_PIXELS = 8  # a point this close to the pointer (in screen pixels) is under it
MAX_LEGEND = 30  # more classes than this get no legend (it would not fit beside the plot)

log = logging.getLogger(__name__)


def class_colors(count: int) -> list[QColor]:
    """One distinct colour per class: tab10 up to 10 classes, tab20 up to 20, then evenly spaced hues."""
    if count <= len(TAB10):
        return [QColor(c) for c in TAB10[:count]]
    if count <= len(TAB10) + len(TAB20_EXTRA):
        return [QColor(c) for c in (TAB10 + TAB20_EXTRA)[:count]]
    return [pg.intColor(i, hues=count, values=1, maxValue=230, minValue=150) for i in range(count)]


def nearest_point(
    coords: np.ndarray, x: float, y: float, pixel: tuple[float, float], max_pixels: float = HOVER_PIXELS
) -> int | None:
    """Row of the point nearest to (``x``, ``y``) in screen pixels, if within ``max_pixels``.

    ``pixel`` is the size of one screen pixel in data units (``ViewBox.viewPixelSize()``).
    """
    if coords is None or len(coords) == 0:
        return None
    px, py = max(abs(pixel[0]), 1e-30), max(abs(pixel[1]), 1e-30)
    dx = (coords[:, 0] - x) / px
    dy = (coords[:, 1] - y) / py
    d2 = dx * dx + dy * dy
    i = int(np.argmin(d2))
    return i if d2[i] <= max_pixels * max_pixels else None


class HoverCard(QFrame):
    """The thumbnail and a few words about the point under the pointer (a child of the plot)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, pal.color(QPalette.ColorRole.ToolTipBase))
        pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.ToolTipText))
        self.setPalette(pal)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.image)
        layout.addWidget(self.text)
        self.hide()

    def show_at(self, pos: QPointF, pixmap: QPixmap | None, html: str) -> None:
        self.image.setVisible(pixmap is not None)
        if pixmap is not None:
            self.image.setPixmap(pixmap)
        self.text.setText(html)
        self.adjustSize()
        parent = self.parentWidget()
        x, y = int(pos.x()) + 16, int(pos.y()) + 16
        if parent is not None:
            if x + self.width() > parent.width():
                x = int(pos.x()) - self.width() - 12
            if y + self.height() > parent.height():
                y = int(pos.y()) - self.height() - 12
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()


class FeatureScatter(QWidget):
    """A 2-D embedding of a test set: points coloured by true class, mistakes marked, hover and click."""

    point_clicked = Signal(int)  # row of the evaluation
    point_hovered = Signal(int)  # row, or -1 when the pointer left every point

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pal = self.palette()
        self._fg = pal.color(QPalette.ColorRole.Text)
        self.title = QLabel("")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.view = pg.GraphicsLayoutWidget(parent=self)
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.view.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(self._fg)
            self.plot.getAxis(axis).setPen(pg.mkPen(self._fg.lighter(200) if self._fg.lightness() < 128 else self._fg))
        self.scatter = pg.ScatterPlotItem(pxMode=True, size=POINT_SIZE, pen=None)
        self.wrong = pg.ScatterPlotItem(pxMode=True, size=WRONG_SIZE, symbol="x")
        self.ring = pg.ScatterPlotItem(pxMode=True, size=16, symbol="o", brush=None, pen=pg.mkPen(self._fg, width=2.5))
        self.ring.setZValue(10)
        self.hover_ring = pg.ScatterPlotItem(
            pxMode=True, size=13, symbol="o", brush=None, pen=pg.mkPen(self._fg, width=1.5)
        )
        self.hover_ring.setZValue(9)
        self.wrong.setZValue(5)
        for item in (self.scatter, self.wrong, self.ring, self.hover_ring):
            self.plot.addItem(item)
        # The legend sits beside the plot, not over it: clusters often live in the corners.
        self.legend = pg.LegendItem(labelTextColor=self._fg, labelTextSize="8pt", verSpacing=-4)
        self.legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        side = self.view.ci.addLayout(row=0, col=1)
        side.addItem(self.legend, row=0, col=0)
        spacer = pg.GraphicsWidget()  # takes the height the legend does not need
        spacer.setPreferredSize(0, 0)
        spacer.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)
        side.addItem(spacer, row=1, col=0)
        side.layout.setRowStretchFactor(1, 1)
        side.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.view.ci.layout.setColumnStretchFactor(0, 1)
        self.placeholder = pg.TextItem("", color=self._fg, anchor=(0.5, 0.5))
        self.plot.addItem(self.placeholder)
        self.card = HoverCard(self.view)
        self.view.setToolTip("")
        self._proxy = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=60, slot=self._on_mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

        self.coords = np.zeros((0, 2), np.float32)
        self.y_true = np.zeros(0, np.int64)
        self.y_pred = np.zeros(0, np.int64)
        self.class_names: list[str] = []
        self.colors: list[QColor] = []
        self._brushes: list[QBrush] = []
        self.highlighted: int | None = None
        self.hovered: int | None = None
        self.thumbnail: Callable[[int], np.ndarray | None] | None = None
        self.describe: Callable[[int], str] | None = None
        self.set_message("Nothing computed yet.")

    # -- data -------------------------------------------------------------------------------
    def set_message(self, text: str) -> None:
        """A sentence in the middle of an empty plot (what to do, or why there is nothing)."""
        self.clear()
        self.placeholder.setText(text)
        self.placeholder.setPos(0, 0)
        self.placeholder.setVisible(bool(text))
        self.plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)

    def clear(self) -> None:
        self.coords = np.zeros((0, 2), np.float32)
        self.y_true = self.y_pred = np.zeros(0, np.int64)
        self.scatter.clear()
        self.wrong.clear()
        self.ring.clear()
        self.hover_ring.clear()
        self.legend.clear()
        self.highlighted = self.hovered = None
        self.card.hide()
        self.title.setText("")

    def set_data(
        self,
        coords: np.ndarray,
        y_true: Sequence[int],
        y_pred: Sequence[int],
        class_names: Sequence[str],
        title: str = "",
    ) -> None:
        """Draw ``coords`` (N, 2): point ``i`` in the colour of class ``y_true[i]``, crossed if
        ``y_pred[i]`` differs."""
        coords = np.asarray(coords, dtype=np.float64)[:, :2]
        y_true = np.asarray(y_true, dtype=np.int64)
        y_pred = np.asarray(y_pred, dtype=np.int64)
        if not (len(coords) == len(y_true) == len(y_pred)):
            raise ValueError(f"{len(coords)} points but {len(y_true)} labels and {len(y_pred)} predictions")
        self.clear()
        self.placeholder.setVisible(False)
        self.coords, self.y_true, self.y_pred = coords, y_true, y_pred
        self.class_names = [str(c) for c in class_names]
        self.colors = class_colors(len(self.class_names))
        self._brushes = [QBrush(c) for c in self.colors]
        outline = QColor(30, 30, 30) if self._fg.lightness() < 128 else QColor(240, 240, 240)
        wrong_pens = [pg.mkPen(outline, width=1.0) for _ in self.colors]
        right = np.flatnonzero(y_true == y_pred)
        wrong = np.flatnonzero(y_true != y_pred)
        # Same QBrush objects per class: pyqtgraph keys its symbol atlas on them (few pixmaps).
        self.scatter.setData(
            x=coords[right, 0],
            y=coords[right, 1],
            brush=[self._brushes[c] for c in y_true[right]],
            data=right,
            pen=None,
            size=POINT_SIZE,
        )
        self.wrong.setData(
            x=coords[wrong, 0],
            y=coords[wrong, 1],
            brush=[self._brushes[c] for c in y_true[wrong]],
            pen=[wrong_pens[c] for c in y_true[wrong]],
            data=wrong,
            symbol="x",
            size=WRONG_SIZE,
        )
        if len(self.class_names) <= MAX_LEGEND:
            for k, name in enumerate(self.class_names):
                sample = pg.ScatterPlotItem(size=8, brush=self._brushes[k], pen=None, symbol="o")
                self.legend.addItem(sample, name)
            if len(wrong):
                sample = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(self._fg), pen=None, symbol="x")
                self.legend.addItem(sample, f"wrong ({len(wrong):,})")
        self.title.setText(title)
        self.plot.autoRange(padding=0.04)

    def point_colors(self) -> list[QColor]:
        """The fill colour of every point, by row (what the tests check against the classes)."""
        out: list[QColor] = [QColor()] * len(self.coords)
        for item in (self.scatter, self.wrong):
            rows = item.data["data"]
            brushes = item.data["brush"]
            for row, brush in zip(rows, brushes, strict=True):
                out[int(row)] = QBrush(brush).color()
        return out

    def wrong_rows(self) -> np.ndarray:
        return np.asarray(self.wrong.data["data"], dtype=np.int64) if len(self.wrong.data) else np.zeros(0, np.int64)

    # -- pointing ---------------------------------------------------------------------------
    def row_at_scene(self, scene_pos: QPointF) -> int | None:
        vb = self.plot.getViewBox()
        if len(self.coords) == 0 or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        return nearest_point(self.coords, p.x(), p.y(), vb.viewPixelSize())

    def highlight(self, row: int | None) -> None:
        """Ring point ``row`` (None: no ring)."""
        self.highlighted = row
        if row is None or not (0 <= row < len(self.coords)):
            self.ring.clear()
            return
        self.ring.setData(x=[self.coords[row, 0]], y=[self.coords[row, 1]])

    def _on_mouse_moved(self, args) -> None:
        scene_pos = args[0]
        row = self.row_at_scene(scene_pos)
        if row == self.hovered:
            if row is not None:
                self._show_card(row, self.view.mapFromScene(scene_pos))
            return
        self.hovered = row
        if row is None:
            self.hover_ring.clear()
            self.card.hide()
            self.point_hovered.emit(-1)
            return
        self.hover_ring.setData(x=[self.coords[row, 0]], y=[self.coords[row, 1]])
        self._show_card(row, self.view.mapFromScene(scene_pos))
        self.point_hovered.emit(row)

    def hover_row(self, row: int) -> None:
        """Show the hover card for ``row`` as if the pointer were on it (tests, keyboard)."""
        vb = self.plot.getViewBox()
        scene = vb.mapViewToScene(QPointF(float(self.coords[row, 0]), float(self.coords[row, 1])))
        self._on_mouse_moved((scene,))

    def _show_card(self, row: int, pos) -> None:
        pixmap = None
        if self.thumbnail is not None:
            try:
                arr = self.thumbnail(row)
            except Exception:  # noqa: BLE001 - an unreadable image must not break hovering
                log.debug("no thumbnail for row %s", row, exc_info=True)
                arr = None
            if arr is not None:
                pixmap = array_pixmap(arr, 96)
        true_name = self.class_names[self.y_true[row]] if self.class_names else str(self.y_true[row])
        pred_name = self.class_names[self.y_pred[row]] if self.class_names else str(self.y_pred[row])
        ok = self.y_true[row] == self.y_pred[row]
        colour = "#1f5fbf" if ok else "#c62828"
        extra = self.describe(row) if self.describe is not None else ""
        html = (
            f"<b>true</b> {_esc(true_name)}<br><b>predicted</b> "
            f"<span style='color:{colour}'>{_esc(pred_name)}</span>"
            + (f"<br><small>{_esc(extra)}</small>" if extra else "")
            + "<br><small>click: details</small>"
        )
        self.card.show_at(QPointF(pos), pixmap, html)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row = self.row_at_scene(event.scenePos())
        if row is not None:
            self.highlight(row)
            self.point_clicked.emit(row)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.card.hide()
        self.hover_ring.clear()
        if self.hovered is not None:
            self.hovered = None
            self.point_hovered.emit(-1)
        super().leaveEvent(event)


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))


def array_pixmap(arr: np.ndarray, side: int) -> QPixmap:
    """A uint8 image (H x W or H x W x C) as a pixmap about ``side`` pixels, small images enlarged crisply."""
    from gui.thumbnails import array_to_qimage

    image = array_to_qimage(np.asarray(arr))
    w, h = image.width(), image.height()
    scale = side / max(w, h, 1)
    mode = Qt.TransformationMode.FastTransformation if scale >= 2 else Qt.TransformationMode.SmoothTransformation
    image = image.scaled(max(1, round(w * scale)), max(1, round(h * scale)), Qt.AspectRatioMode.KeepAspectRatio, mode)
    return QPixmap.fromImage(image)


# --------------------------------------------------------------------------------------------------
# 3-D


def opengl_status() -> tuple[bool, str]:
    """Whether a 3-D scatter can be drawn here, and if not, why (for the tooltip)."""
    from PySide6.QtGui import QGuiApplication

    platform = QGuiApplication.platformName() if QGuiApplication.instance() is not None else ""
    if platform in ("offscreen", "minimal"):
        return False, f"The 3-D view needs OpenGL, which the '{platform}' display platform does not provide."
    try:
        import OpenGL.GL  # noqa: F401
    except Exception:  # noqa: BLE001 - ImportError, or a broken OpenGL library
        log.info("PyOpenGL cannot be imported", exc_info=True)
        return False, "The 3-D view needs PyOpenGL, which is not installed (pip install PyOpenGL)."
    try:
        import pyqtgraph.opengl  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any OpenGL failure: the 3-D view is offered off, with why
        log.info("pyqtgraph.opengl cannot be imported", exc_info=True)
        return False, f"The 3-D view cannot start OpenGL here: {exc}"
    return True, "Show the embedding in 3-D (drag to rotate, wheel to zoom)."


class FeatureScatter3D(QWidget):
    """A 3-D embedding in a GLViewWidget (only made when :func:`opengl_status` says it can be)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph.opengl as gl

        self._gl = gl
        self.title = QLabel("")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(self.palette().color(QPalette.ColorRole.Base))
        self.points = gl.GLScatterPlotItem(pxMode=True, size=POINT_SIZE)
        self.view.addItem(self.points)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def set_data(self, coords, y_true, y_pred, class_names, title: str = "") -> None:
        coords = np.asarray(coords, dtype=np.float32)[:, :3]
        centre = coords.mean(axis=0) if len(coords) else np.zeros(3, np.float32)
        scale = float(np.abs(coords - centre).max()) if len(coords) else 1.0
        pos = (coords - centre) / max(scale, 1e-9) * 10.0
        colors = np.array([c.getRgbF() for c in class_colors(len(class_names))], np.float32)
        rgba = colors[np.asarray(y_true, dtype=np.int64)]
        size = np.where(np.asarray(y_true) == np.asarray(y_pred), POINT_SIZE, WRONG_SIZE).astype(np.float32)
        self.points.setData(pos=pos, color=rgba, size=size)
        self.view.setCameraPosition(distance=30)
        self.title.setText(title)


__all__ = [
    "FeatureScatter",
    "FeatureScatter3D",
    "HoverCard",
    "array_pixmap",
    "class_colors",
    "nearest_point",
    "opengl_status",
]
