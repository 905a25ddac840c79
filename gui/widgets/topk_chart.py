"""The top-k classes of a prediction as a horizontal bar chart (pyqtgraph).

The most probable class is the top bar, in blue (red when a known true class says it is wrong);
the true class, when known and shown, is green. Each bar carries its probability in per cent.
For an ensemble each member's probability of the class is a small dark tick on the bar, so the
spread of the votes is visible at a glance; a legend under the chart says so.

The plot items are made once and updated with ``setOpts``/``setData``; pyqtgraph itself is imported
only when the chart is first shown or filled (it costs start-up time otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

PREDICTED = QColor(31, 119, 180)
WRONG = QColor(214, 39, 40)
TRUE = QColor(44, 160, 44)
OTHER = QColor(154, 165, 177)
MEMBER = QColor(40, 40, 40)
ROW_HEIGHT = 26


class TopKChart(QWidget):
    """Horizontal bars: class names on the left, probability 0-100 % along the bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plot = None  # pyqtgraph.PlotWidget, made on first use
        self._bars = None
        self._labels: list = []
        self._members = None
        self._pending: tuple | None = None
        self.names: list[str] = []  # the classes shown, top first (for tests and accessibility)
        self.values: list[float] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._empty)
        self.legend = QLabel("")  # what the ensemble's ticks are (shown with them)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("color: palette(placeholder-text)")
        self.legend.hide()
        self._layout.addWidget(self.legend)
        self.setMinimumHeight(4 * ROW_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("The most probable classes and their probabilities.")

    # -- lazy pyqtgraph ----------------------------------------------------------------------

    def _ensure_plot(self) -> None:
        if self._plot is not None:
            return
        import pyqtgraph as pg

        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        plot = pg.PlotWidget(parent=self, background=pal.color(QPalette.ColorRole.Base))
        plot.setAcceptDrops(False)  # let drops reach the tab (pyqtgraph's view would swallow them)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        item = plot.getPlotItem()
        item.setXRange(0, 1.04, padding=0)
        item.showGrid(x=True, y=False, alpha=0.2)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTextPen(fg)
            axis.setPen(pg.mkPen(fg.lighter(160) if fg.lightness() < 128 else fg.darker(160)))
        item.getAxis("bottom").setTicks([[(v, f"{int(v * 100)} %") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        item.getAxis("left").setStyle(tickLength=0)
        self._bars = pg.BarGraphItem(x0=[0], y=[0], height=[0.7], width=[0], brushes=[OTHER], pen=pg.mkPen(None))
        item.addItem(self._bars)
        self._members = pg.ScatterPlotItem(symbol="|", size=16, pen=pg.mkPen(MEMBER, width=2), brush=pg.mkBrush(MEMBER))
        self._members.setZValue(5)
        item.addItem(self._members)
        self._layout.removeWidget(self._empty)
        self._empty.hide()
        self._layout.insertWidget(0, plot, 1)
        self._plot = plot
        self._text_color = fg

    def prepare(self) -> None:
        """Make the plot now (a tenth of a second or more), before it is needed: owners call it when
        idle, so the first prediction does not pay for it while a batch is running."""
        self._ensure_plot()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._pending is not None:
            self._draw(*self._pending)
            self._pending = None

    # -- data -----------------------------------------------------------------------------------

    def show_probs(
        self,
        probs: np.ndarray,
        class_names: Sequence[str],
        *,
        k: int = 5,
        true_index: int | None = None,
        member_probs: np.ndarray | None = None,
    ) -> None:
        """Show the ``k`` most probable classes of ``probs``; ``member_probs`` ``(M, classes)`` adds ticks."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        order = np.argsort(-p, kind="stable")[: max(1, int(k))]
        args = (p, list(class_names), order, true_index, None if member_probs is None else np.asarray(member_probs))
        self.names = [str(class_names[i]) for i in order]
        self.values = [float(p[i]) for i in order]
        if not self.isVisible() and self._plot is None:
            self._pending = args  # drawn when first shown: no pyqtgraph import before it is needed
            return
        self._draw(*args)

    def clear(self) -> None:
        self.names, self.values = [], []
        self._pending = None
        if self._plot is None:
            return
        self._bars.setOpts(x0=[], y=[], height=[], width=[], brushes=[])
        self._members.setData([], [])
        self.legend.hide()
        for label in self._labels:
            label.hide()
        self._plot.getPlotItem().getAxis("left").setTicks([[]])

    def _draw(self, p, names, order, true_index, member_probs) -> None:
        import pyqtgraph as pg

        self._ensure_plot()
        n = len(order)
        ys = -np.arange(n, dtype=float)  # the most probable on top
        top = int(order[0])
        wrong = true_index is not None and top != int(true_index)
        brushes = []
        for i in order:
            if i == top:
                color = WRONG if wrong else PREDICTED
            elif true_index is not None and int(i) == int(true_index):
                color = TRUE
            else:
                color = OTHER
            brushes.append(pg.mkBrush(color))
        widths = [float(p[i]) for i in order]
        self._bars.setOpts(x0=np.zeros(n), y=ys, height=np.full(n, 0.7), width=widths, brushes=brushes)

        def tick_label(i: int) -> str:
            name = names[i]
            name = name if len(name) <= 24 else name[:23] + "…"
            return f"{name} (true)" if true_index is not None and int(i) == int(true_index) and wrong else name

        item = self._plot.getPlotItem()
        item.getAxis("left").setTicks([[(float(y), tick_label(int(i))) for y, i in zip(ys, order, strict=True)]])
        item.setYRange(-n + 0.5, 0.5, padding=0.02)
        item.setXRange(0, 1.04, padding=0)

        while len(self._labels) < n:
            label = pg.TextItem(color=self._text_color, anchor=(0, 0.5))
            item.addItem(label)
            self._labels.append(label)
        ticks = member_probs is not None and member_probs.ndim == 2 and len(member_probs) > 1
        for j, label in enumerate(self._labels):
            if j >= n:
                label.hide()
                continue
            value = widths[j]
            # After the bar, or after the members' ticks just beyond it, so that no tick crosses the text.
            near = [float(t) for t in member_probs[:, order[j]] if value - 0.005 <= t <= value + 0.16] if ticks else []
            x = max(near) + 0.015 if near and max(near) + 0.17 < 1.04 else value + 0.01
            label.setText(_percent(value))
            # Inside the bar, right-aligned, when the bar is long; after it otherwise.
            if value > 0.78:
                label.setAnchor((1, 0.5))
                label.setColor(QColor(255, 255, 255))
                label.setPos(value - 0.01, float(ys[j]))
            else:
                label.setAnchor((0, 0.5))
                label.setColor(self._text_color)
                label.setPos(x, float(ys[j]))
            label.show()

        if ticks:
            xs = np.concatenate([member_probs[:, i] for i in order])
            yy = np.concatenate([np.full(len(member_probs), y) for y in ys])
            self._members.setData(xs, yy)
            self._members.setToolTip("Each tick: one member model's probability of the class.")
            self.legend.setText(
                f"<b>|</b> each tick: one of the {len(member_probs)} member models' probability of the class; "
                "the bar: their mean"
            )
            self.legend.show()
        else:
            self._members.setData([], [])
            self.legend.hide()
        self.setMinimumHeight(max(4, n + 1) * ROW_HEIGHT)


def _percent(value: float) -> str:
    pct = 100.0 * float(value)
    if pct >= 99.95 and value < 1.0:
        return "99.9+ %"
    if 0 < pct < 0.05:
        return "<0.1 %"
    return f"{pct:.1f} %"
