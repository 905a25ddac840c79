"""The study's plots (pyqtgraph): the objective by trial with the best-so-far line, parallel coordinates
of the factors against the objective, and Optuna's parameter importance. Data come from the tab's
state (:meth:`ExperimentsState.objective_series`, :meth:`~ExperimentsState.parallel`, ``importance``)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.experiments.state import ExperimentsState
from gui.widgets.palette import TAB10
from gui.widgets.run_format import setting_label


def _gradient(t: float) -> QColor:
    """Low objective (0) blue to high (1) red, through grey."""
    t = 0.5 if not math.isfinite(t) else min(1.0, max(0.0, t))
    low, high = QColor("#1f77b4"), QColor("#d62728")
    return QColor(
        int(low.red() + (high.red() - low.red()) * t),
        int(low.green() + (high.green() - low.green()) * t),
        int(low.blue() + (high.blue() - low.blue()) * t),
        200,
    )


RIGHT_MARGIN = 1.0  # room right of the parallel plot's last axis (the objective's labels), in axis spacings


def _cut(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, the last one an ellipsis where it was longer."""
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


class TrialAxis(pg.AxisItem):
    """An axis of trial numbers: ticks at whole numbers only (no trial 1.5)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph override
        return [
            (spacing, [v for v in values if float(v).is_integer()])
            for spacing, values in super().tickValues(minVal, maxVal, size)
        ]


class StudyPlots(QWidget):
    """Three plots side by side and a line under them saying what importance shows (or why not)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        pal = self.palette()
        self.fg = pal.color(QPalette.ColorRole.Text)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.view.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.view.setMinimumHeight(200)
        self.view.setToolTip("Drag to pan, wheel to zoom, right-click for options; the 'A' button fits all.")
        self.objective_plot = self._plot(0, "Objective by trial", axisItems={"bottom": TrialAxis("bottom")})
        self.objective_plot.setLabel("bottom", "trial")
        self.parallel_plot = self._plot(1, "Factors against the objective")
        self.parallel_plot.hideAxis("left")
        self.importance_plot = self._plot(2, "Parameter importance")
        self.importance_plot.setLabel("bottom", "share of the variance")
        self.view.ci.layout.setColumnStretchFactor(0, 3)
        self.view.ci.layout.setColumnStretchFactor(1, 4)
        self.view.ci.layout.setColumnStretchFactor(2, 3)

        self.points = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(TAB10[0]), pen=pg.mkPen(None))
        self.best_line = pg.PlotDataItem(pen=pg.mkPen(TAB10[3], width=2), stepMode=None)
        self.objective_plot.addItem(self.points)
        self.objective_plot.addItem(self.best_line)
        self.objective_plot.getAxis("left").enableAutoSIPrefix(False)
        # Translucent, so a trial's point under it still shows.
        legend_bg = QColor(pal.color(QPalette.ColorRole.Base))
        legend_bg.setAlpha(170)
        self.objective_legend = self.objective_plot.addLegend(
            offset=(-4, -4), labelTextColor=self.fg, brush=pg.mkBrush(legend_bg)
        )
        self.objective_legend.addItem(self.points, "completed trial")
        self.objective_legend.addItem(self.best_line, "best so far")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=pg.mkBrush(TAB10[0]))
        self.importance_plot.addItem(self.bars)
        self.importance_plot.invertY(True)
        self.importance_plot.setXRange(0, 1, padding=0.02)
        self._parallel_items: list = []
        self._parallel_axes = 0
        self._parallel_chars = 0  # how many characters an axis's value labels were cut to
        self._state: ExperimentsState | None = None
        self.trial_lines = 0
        self.parallel_plot.vb.sigResized.connect(self._parallel_resized)

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.note)
        self.objective_name = "val_accuracy"

    def _plot(self, col: int, title: str, **kwargs) -> pg.PlotItem:
        plot = self.view.addPlot(row=0, col=col, **kwargs)
        plot.setTitle(title, color=self.fg, size="10pt")
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMenuEnabled(True)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(self.fg)
        return plot

    # -- drawing ----------------------------------------------------------------------------------
    def show_state(self, state: ExperimentsState) -> None:
        self._state = state
        self.objective_name = state.shown.objective if state.shown else "val_accuracy"
        self.objective_plot.setLabel("left", self.objective_name)
        xs, ys, best = state.objective_series()
        self.points.setData(xs, ys)
        self.best_line.setData(xs, best)
        self._draw_parallel(state)
        self._draw_importance(state)

    def _draw_parallel(self, state: ExperimentsState) -> None:
        for item in self._parallel_items:
            self.parallel_plot.removeItem(item)
        self._parallel_items = []
        axes, ticks, lines = state.parallel()
        self.trial_lines = len(lines)
        self._parallel_axes = len(axes)
        if not axes:
            return
        add = self._parallel_items.append
        chars = self._label_chars(len(axes))
        self._parallel_chars = chars
        for i, (name, labels) in enumerate(zip(axes, ticks, strict=True)):
            axis_line = pg.PlotDataItem([i, i], [0, 1], pen=pg.mkPen(self.fg, width=1))
            add(axis_line)
            # The table's column titles; the last axis is the objective. Titles alternate between two
            # rows, so each has about two axes' room.
            text = setting_label(name) if i < len(axes) - 1 else name
            first = i == 0  # centred, the first title would stick out left of the plot
            title = pg.TextItem(_cut(text, 2 * chars), color=self.fg, anchor=(0 if first else 0.5, 0))
            title.setToolTip(text)
            title.setPos(-0.4 if first else i, -0.03 if i % 2 == 0 else -0.1)
            add(title)
            n = len(labels)
            for j, text in enumerate(labels):
                y = j / (n - 1) if n > 1 else 0.5
                label = pg.TextItem(_cut(text, chars), color=self.fg.lighter(130), anchor=(0, 0.5))
                label.setPos(i + 0.03, y)
                add(label)
        for ys, _value in lines:
            t = ys[-1]
            x = np.arange(len(ys), dtype=float)
            add(pg.PlotDataItem(x, np.array(ys, dtype=float), pen=pg.mkPen(_gradient(t), width=2), connect="finite"))
        for item in self._parallel_items:
            self.parallel_plot.addItem(item)
        self.parallel_plot.getAxis("bottom").setTicks([[(i, "") for i in range(len(axes))]])
        self.parallel_plot.setXRange(-0.45, len(axes) - 1 + RIGHT_MARGIN, padding=0)  # the last axis's labels
        self.parallel_plot.setYRange(-0.2, 1.05, padding=0)

    def _label_chars(self, n_axes: int) -> int:
        """How many characters of a value fit between two axes of the parallel plot as wide as it is now
        (the labels sit right of their axis); between 3 and 12."""
        span = n_axes - 1 + RIGHT_MARGIN + 0.45  # the x range set above
        per_axis = self.parallel_plot.vb.width() / span if span > 0 else 0
        char = QFontMetrics(self.font()).averageCharWidth() or 7
        return int(min(12, max(3, (per_axis * 0.92 - 4) // char)))

    def _parallel_resized(self) -> None:
        """Cut the value labels to the new width (they are text in the scene, not axis ticks)."""
        if self._state is not None and self._parallel_axes:
            if self._label_chars(self._parallel_axes) != self._parallel_chars:
                self._draw_parallel(self._state)

    def _draw_importance(self, state: ExperimentsState) -> None:
        values = state.importance.values
        names = sorted(values, key=lambda k: -values[k])
        widths = [values[k] for k in names]
        self.bars.setOpts(x0=[0] * len(names), y=list(range(len(names))), width=widths, height=0.6)
        self.importance_plot.getAxis("left").setTicks([[(i, setting_label(n)) for i, n in enumerate(names)]])
        if names:
            self.importance_plot.setYRange(-0.6, len(names) - 0.4, padding=0)
        self.note.setText(state.importance.message)

    # -- for tests and the screenshot ---------------------------------------------------------------
    def drawn(self) -> dict[str, int]:
        """How much each plot shows: objective points, parallel lines, importance bars."""
        x, _ = self.points.getData()
        return {
            "objective": 0 if x is None else len(x),
            "parallel": self.trial_lines,
            "importance": len(self.bars.opts.get("width") or []),
        }
