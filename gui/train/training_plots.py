"""Live training plots (pyqtgraph): loss, accuracy and learning rate.

Curves are created once and fed with ``setData`` from a frame timer only when new points arrived;
adding points (``add_batches``, ``add_epoch``) just appends to growable numpy arrays. Each frame
does one piece of work: it draws one plot, the next one with new points in turn, or runs one of
the owner's frame tasks (the progress bars), so each plot is refreshed about 8 times a second
while no single frame keeps the window busy for long (see :meth:`TrainingPlots.add_frame_task`).
The x axis is in epochs: the batch of step ``s`` (0-based) in epoch ``e`` sits at ``e + (s+1)/steps``,
so epoch ``k`` ends at ``x = k`` where its validation point and the best-epoch marker are drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from core import runs

FRAME_HZ = 20  # frames per second during a run; each draws one plot or runs one frame task
PARTS = ("loss", "accuracy", "lr")  # the plots a frame can draw
WHOLE_RUN_EPOCHS = 20  # a live run this short shows its whole length on the x axis from the start

TRAIN_RAW = QColor(31, 119, 180, 70)
TRAIN = QColor(31, 119, 180)
VAL = QColor(255, 127, 14)
BEST = QColor(44, 160, 44)
LR = QColor(148, 103, 189)


class _Series:
    """A growable pair of float arrays (amortised O(1) append, views without copies)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def extend(self, xs, ys) -> None:
        k = len(xs)
        if self.n + k > len(self._x):
            size = max(2 * len(self._x), self.n + k)
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n : self.n + k] = xs
        self._y[self.n : self.n + k] = ys
        self.n += k

    def append(self, x: float, y: float) -> None:
        self.extend((x,), (y,))

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


class _Smoother:
    """Exponential moving average with bias correction (like TensorBoard's smoothing)."""

    def __init__(self, window: float = 10.0) -> None:
        self.set_window(window)
        self.reset()

    def set_window(self, window: float) -> None:
        self.alpha = 1.0 - 1.0 / max(1.0, window)

    def reset(self) -> None:
        self._ema = 0.0
        self._weight = 0.0

    def __call__(self, values) -> list[float]:
        out = []
        a = self.alpha
        for v in values:
            if not math.isfinite(v):
                out.append(float("nan"))
                continue
            self._ema = a * self._ema + (1 - a) * v
            self._weight = a * self._weight + (1 - a)
            out.append(self._ema / self._weight)
        return out


class _MetricPlot:
    """One metric (loss or accuracy): raw and smoothed training per batch, validation per epoch."""

    def __init__(self, plot: pg.PlotItem, name: str, ceiling: float | None = None) -> None:
        self.plot = plot
        self.name = name
        self.ceiling = ceiling  # the highest value the metric can take (accuracy: 1)
        plot.setLabel("bottom", "epoch")
        plot.setClipToView(True)
        plot.setLimits(xMin=0)
        plot.disableAutoRange()
        plot.setMouseEnabled(x=True, y=True)
        # The raw per-batch line is thin and many-pointed: no antialiasing, peak downsampling.
        self.raw = plot.plot(pen=pg.mkPen(TRAIN_RAW, width=1), connect="finite", antialias=False)
        self.raw.setDownsampling(auto=True, method="peak")
        self.smooth = plot.plot(pen=pg.mkPen(TRAIN, width=2), connect="finite")
        self.val = plot.plot(
            pen=pg.mkPen(VAL, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=VAL,
            symbolPen=pg.mkPen(VAL),
        )
        self.best_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(BEST, width=1.5, style=Qt.PenStyle.DashLine),
        )
        self.best_line.setZValue(-5)
        self.best_line.hide()
        plot.addItem(self.best_line, ignoreBounds=True)
        self.best_point = plot.plot(pen=None, symbol="star", symbolSize=14, symbolBrush=BEST, symbolPen=pg.mkPen(BEST))
        for item in (self.val, self.best_line, self.best_point):
            cache_painting(item)
        self.y_range: tuple[float, float] | None = None

    def set_mode(self, mode: str) -> None:
        """``live``: per-batch raw + smoothed lines; ``history``: per-epoch training line with dots."""
        if mode == "live":
            self.smooth.setSymbol(None)
        else:
            self.smooth.setSymbol("o")
            self.smooth.setSymbolSize(5)
            self.smooth.setSymbolBrush(pg.mkBrush(TRAIN))
            self.smooth.setSymbolPen(pg.mkPen(TRAIN))

    def follow_y(self, series: list[_Series], force: bool = False) -> None:
        """Fit the y range to the data, changing it only when the data leaves it or shrinks a lot.

        Every range change repaints the axes (the costliest part of a frame, 15-25 ms against
        ~5 ms for new points), so the range is snapped outward to round numbers and kept while the
        data stays inside it, instead of being refitted on every update as pyqtgraph's autorange
        would do.
        """
        values = [s.y for s in series if s.n]
        if not values:
            return
        data = np.concatenate(values)
        data = data[np.isfinite(data)]
        if not len(data):
            return
        lo, hi = float(data.min()), float(data.max())
        span = hi - lo if hi > lo else max(abs(hi) * 0.1, 1e-3)
        if self.y_range is not None and not force:
            cur_lo, cur_hi = self.y_range
            if cur_lo <= lo and hi <= cur_hi and (cur_hi - cur_lo) <= 3 * span:
                return
        step = _nice_step(span / 4)
        new_lo = math.floor((lo - 0.02 * span) / step) * step
        new_hi = math.ceil((hi + 0.02 * span) / step) * step
        if lo >= 0 > new_lo:  # losses and accuracies are never negative
            new_lo = 0.0
        if self.ceiling is not None and hi <= self.ceiling < new_hi:  # an accuracy never passes 1
            new_hi = self.ceiling
        self.y_range = (new_lo, new_hi)
        self.plot.setYRange(new_lo, new_hi, padding=0.02)


def cache_painting(item: pg.GraphicsObject) -> None:
    """Let Qt keep what ``item`` painted as a pixmap and reuse it until the item changes.

    For the items that change once an epoch at most (validation points, best-epoch marker,
    learning rate): during a run they sit under the per-batch lines and were painted again, in
    Python, on every frame; cached, a frame only copies their pixels (measured: a full repaint of
    the plots 2.7-3.8 ms -> 1.2-1.8 ms, pixel for pixel the same picture). Qt paints them again
    after ``setData`` (which calls ``update``) or a zoom.
    """
    cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
    if isinstance(item, pg.PlotDataItem):
        item.curve.setCacheMode(cache)
        item.scatter.setCacheMode(cache)
    else:
        item.setCacheMode(cache)


def _nice_step(raw: float) -> float:
    """The 1-2-5 x 10^k value at or above ``raw``."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    base = 10 ** math.floor(math.log10(raw))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= raw * (1 - 1e-9))


AXIS_WIDTH = 48


class _RateAxis(pg.AxisItem):
    """Learning rates read best as 1e-3 and 5e-4, not 0.001 and 0.0005 (or 1 m and 500 u)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        out = []
        for v in values:
            if v == 0:
                out.append("0")
            else:
                mantissa, exp = f"{v:.1e}".split("e")
                mantissa = mantissa.rstrip("0").rstrip(".")
                out.append(f"{mantissa}e{int(exp)}")
        return out


def _legend_html(mode: str) -> str:
    def swatch(color: QColor, text: str, glyph: str = "——") -> str:
        return f"<span style='color:{color.name()}; font-weight:bold'>{glyph}</span>&nbsp;{text}"

    raw = QColor(TRAIN_RAW)
    raw.setAlpha(255)
    raw = raw.lighter(150)
    items = (
        [swatch(raw, "training, per batch"), swatch(TRAIN, "training, smoothed")]
        if mode == "live"
        else [swatch(TRAIN, "training, per epoch", "—●—")]
    )
    items += [
        swatch(VAL, "validation, per epoch", "—●—"),
        swatch(BEST, "best epoch", "┆★"),
        swatch(LR, "learning rate", "—■—"),
    ]
    return "&nbsp;&nbsp;&nbsp;&nbsp;".join(items)


class TrainingPlots(QWidget):
    """Loss and accuracy side by side, the learning rate below; redraws itself from a timer.

    During a run a frame timer (``FRAME_HZ``) does one piece of work per tick, in turn: draw the
    loss plot, the accuracy plot, the learning-rate plot (each only when it has new points), or
    one of the owner's frame tasks (:meth:`add_frame_task`). Measured while training, the window's
    worst reactions were frames that drew both metrics and refreshed the progress bars at once
    (redraw 1-7 ms, then a repaint of 6-11 ms, plus 2-5 ms for the progress bars).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        pal = self.palette()
        self.view = pg.GraphicsLayoutWidget(parent=self)
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        fg = pal.color(QPalette.ColorRole.Text)
        self.view.ci.layout.setContentsMargins(4, 4, 4, 4)
        self.view.setToolTip(
            "Drag to pan, wheel to zoom, right-click for options; the small 'A' button in a corner "
            "makes the axes follow the run again."
        )

        loss = self.view.addPlot(row=0, col=0)
        acc = self.view.addPlot(row=0, col=1)
        lr = self.view.addPlot(row=1, col=0, colspan=2, axisItems={"left": _RateAxis("left")})
        for p, title in ((loss, "Loss"), (acc, "Accuracy"), (lr, "Learning rate")):
            p.setTitle(title, color=fg, size="10pt")
            for axis in ("left", "bottom"):
                p.getAxis(axis).setTextPen(fg)
                p.getAxis(axis).setPen(pg.mkPen(fg.lighter(160) if fg.lightness() < 128 else fg.darker(160)))
        self.loss = _MetricPlot(loss, "loss")
        self.accuracy = _MetricPlot(acc, "accuracy", ceiling=1.0)
        acc.setXLink(loss)
        for metric in (self.loss, self.accuracy):
            # Panning or zooming by hand stops following; the plot's 'A' button resumes it.
            metric.plot.getViewBox().sigRangeChangedManually.connect(self._stop_following)
            metric.plot.autoBtn.clicked.connect(self._resume_following)

        self.lr_plot = lr
        lr.setLabel("bottom", "epoch")
        lr.setLimits(xMin=0)
        lr.enableAutoRange(x=False, y=False)
        lr.setYRange(0, 1e-3, padding=0)
        for plot in (loss, acc, lr):
            plot.getAxis("left").setWidth(AXIS_WIDTH)  # aligned plots, room for '3e-4'
        # pyqtgraph links views of different widths by pixel position; follow the numbers instead.
        loss.getViewBox().sigXRangeChanged.connect(lambda _vb, rng: lr.setXRange(*rng, padding=0))
        self.lr_curve = lr.plot(
            pen=pg.mkPen(LR, width=2), symbol="s", symbolSize=5, symbolBrush=LR, symbolPen=pg.mkPen(LR)
        )
        cache_painting(self.lr_curve)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 1)

        self.legend = QLabel(_legend_html("live"))
        self.legend.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)  # on a narrow window it takes two lines instead of widening it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)

        self._batch_loss = _Series()
        self._batch_acc = _Series()
        self._smooth_loss = _Series()
        self._smooth_acc = _Series()
        self._val_loss = _Series(64)
        self._val_acc = _Series(64)
        self._train_loss_epoch = _Series(64)
        self._train_acc_epoch = _Series(64)
        self._lr = _Series(64)
        self._smoother_loss = _Smoother()
        self._smoother_acc = _Smoother()
        self.best_epoch: int | None = None
        self._epoch_rows: list[dict[str, float]] = []  # what add_epoch was given, for the best-epoch rule
        self.best_score = -math.inf
        self._mode = "live"
        self._dirty: set[str] = set()  # parts with new batch points ("loss", "accuracy")
        self._dirty_epochs: set[str] = set()  # parts with new epoch points (validation, lr, best)
        self._frame_tasks: list[Callable[[], bool]] = []
        self._turn = -1  # the index of the last frame's work in ``PARTS + frame tasks``
        self.following = True
        self._planned_epochs: int | None = None
        self._x_max = 0.0

        self._timer = QTimer(self)
        self._timer.setInterval(round(1000 / FRAME_HZ))
        self._timer.timeout.connect(self._on_frame)
        self.redraws = 0  # how many redraws actually drew (tests, benchmarks)

    # -- feeding --------------------------------------------------------------------------
    def start_run(self, steps_per_epoch: int, epochs: int | None = None) -> None:
        """Clear and prepare for a live run (``steps_per_epoch`` sets the smoothing window)."""
        self.clear()
        self._planned_epochs = epochs
        window = min(50.0, max(5.0, steps_per_epoch / 4))
        self._smoother_loss.set_window(window)
        self._smoother_acc.set_window(window)
        self._follow(force=True)  # the x axis for the planned run, before its first point
        self._timer.start()

    def add_frame_task(self, task: Callable[[], bool]) -> None:
        """Run ``task`` in a frame of its own during a run, taking turns with the plots.

        ``task()`` does its work only if it has some and returns whether it did; a frame that
        offers a task its turn moves on to the next piece of work when it returns False.
        """
        self._frame_tasks.append(task)

    def _on_frame(self) -> None:
        """Do the next piece of work that has something to do, after the last one done."""
        count = len(PARTS) + len(self._frame_tasks)
        for i in range(1, count + 1):
            turn = (self._turn + i) % count
            if turn < len(PARTS):
                part = PARTS[turn]
                done = part in self._dirty or part in self._dirty_epochs
                if done:
                    self.redraw(part)
            else:
                done = bool(self._frame_tasks[turn - len(PARTS)]())
            if done:
                self._turn = turn
                return

    def stop_run(self) -> None:
        self._timer.stop()
        self.redraw()

    @property
    def live(self) -> bool:
        return self._timer.isActive()

    def clear(self) -> None:
        for s in (
            self._batch_loss,
            self._batch_acc,
            self._smooth_loss,
            self._smooth_acc,
            self._val_loss,
            self._val_acc,
            self._train_loss_epoch,
            self._train_acc_epoch,
            self._lr,
        ):
            s.clear()
        self._smoother_loss.reset()
        self._smoother_acc.reset()
        self.best_epoch, self.best_score = None, -math.inf
        self._epoch_rows = []
        self._set_mode("live")
        self._planned_epochs = None
        self._x_max = 0.0
        self.following = True
        for metric in (self.loss, self.accuracy):
            metric.y_range = None
        self._dirty, self._dirty_epochs = set(PARTS), set(PARTS)
        self.redraw()

    def add_batches(self, x, loss, accuracy) -> None:
        if not len(x):
            return
        self._batch_loss.extend(x, loss)
        self._batch_acc.extend(x, accuracy)
        self._smooth_loss.extend(x, self._smoother_loss(loss))
        self._smooth_acc.extend(x, self._smoother_acc(accuracy))
        self._dirty.update(("loss", "accuracy"))

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """``epoch`` is 1-based; logs as core reports them (loss, accuracy, val_*, lr)."""
        x = float(epoch)
        if "val_loss" in logs:
            self._val_loss.append(x, logs["val_loss"])
        if "val_accuracy" in logs:
            self._val_acc.append(x, logs["val_accuracy"])
        if "loss" in logs:
            self._train_loss_epoch.append(x, logs["loss"])
        if "accuracy" in logs:
            self._train_acc_epoch.append(x, logs["accuracy"])
        lr = logs.get("lr")
        if lr is not None and math.isfinite(lr):  # a rate of 0 (the end of a cosine schedule) too
            self._lr.append(x, lr)
        # The star marks the epoch the run keeps: the one best-epoch rule of core.runs.
        self._epoch_rows.append({"epoch": epoch, **logs})
        best = runs.best_epoch(self._epoch_rows)
        if best is not None:
            self.best_score, self.best_epoch = best.value, best.epoch
        self._dirty_epochs.update(PARTS)

    def add_restored_epochs(self, rows: list[dict[str, float]]) -> None:
        """A resumed run's earlier epochs (``epoch`` 1-based, as history.csv has them).

        Their validation points and the best-epoch star sit at their own epochs, and their
        training values (per epoch: no per-batch points are kept on disk) start the training line
        that the new batches continue, so the curves go on without a gap.
        """
        for row in rows:
            epoch = int(row.get("epoch", 0))
            self.add_epoch(epoch, row)
            if "loss" in row:
                self._smooth_loss.append(float(epoch), row["loss"])
            if "accuracy" in row:
                self._smooth_acc.append(float(epoch), row["accuracy"])
        self._dirty.update(("loss", "accuracy"))

    def load_history(self, rows: list[dict[str, float]], best_epoch: int | None = None) -> None:
        """Show a finished run's per-epoch history (no per-batch points are kept on disk)."""
        self.clear()
        self._set_mode("history")
        for row in rows:
            self.add_epoch(int(row.get("epoch", 0)), row)
        if best_epoch:
            self.best_epoch = int(best_epoch)
        self._dirty, self._dirty_epochs = set(PARTS), set(PARTS)
        self.redraw()

    def _set_mode(self, mode: str) -> None:
        if mode != self._mode:
            self._mode = mode
            self.loss.set_mode(mode)
            self.accuracy.set_mode(mode)
            self.legend.setText(_legend_html(mode))

    # -- drawing ----------------------------------------------------------------------------
    def redraw(self, part: str | None = None) -> None:
        """Push new points to the curves (only those that changed) and let the axes follow.

        ``part`` (one of ``PARTS``) draws only that plot; ``None`` draws every plot with news.
        During a run the frame timer draws one part per frame: a frame's work (``setData`` and
        the repaint of the plot's area that follows) is then about half of drawing both metrics.
        """
        parts = [p for p in PARTS if part in (None, p) and (p in self._dirty or p in self._dirty_epochs)]
        if not parts:
            return
        self.redraws += 1
        history = self._mode == "history"
        follow_x = self.following
        for name in parts:
            batches, epochs = name in self._dirty, name in self._dirty_epochs
            self._dirty.discard(name)
            self._dirty_epochs.discard(name)
            if name == "lr":
                self._draw_lr()
                continue
            metric, raw, smooth, val, epoch_train = self._metric_series(name)
            if batches or history:
                metric.raw.setData(raw.x, raw.y)
                line = epoch_train if history else smooth
                metric.smooth.setData(line.x, line.y)
            if epochs:
                metric.val.setData(val.x, val.y)
                self._draw_best(metric, val if val.n else epoch_train)
            if self.following:
                if follow_x:
                    self._follow_x()
                    follow_x = False
                self._follow_y(name)

    def _metric_series(self, name: str) -> tuple[_MetricPlot, _Series, _Series, _Series, _Series]:
        """The plot of ``name`` and its series: raw and smoothed per batch, validation, training per epoch."""
        if name == "loss":
            return self.loss, self._batch_loss, self._smooth_loss, self._val_loss, self._train_loss_epoch
        return self.accuracy, self._batch_acc, self._smooth_acc, self._val_acc, self._train_acc_epoch

    def _draw_lr(self) -> None:
        self.lr_curve.setData(self._lr.x, self._lr.y)
        if self._lr.n:
            # A constant rate would make autorange zoom into nothing; show it from 0 up.
            top = float(np.nanmax(self._lr.y))
            if top > 0:
                self.lr_plot.setYRange(0, top * 1.15, padding=0)

    def _follow(self, force: bool = False) -> None:
        """Keep all points in view: the x axis shows the run ahead, y fits the data."""
        self._follow_x(force)
        for name in ("loss", "accuracy"):
            self._follow_y(name, force)

    def _follow_x(self, force: bool = False) -> None:
        """The x axis shows the run ahead.

        A change of range makes every axis lay out its ticks again, the costliest frame there is
        (measured during training: 10 ms of the window's time against ~1.5 ms for new points). So
        a short run (up to ``WHOLE_RUN_EPOCHS``) gets its whole length at once, and a longer one a
        range that doubles, up to the planned epochs: a handful of changes per run.
        """
        last = max(
            [s.x[-1] for s in (self._batch_loss, self._val_loss, self._train_loss_epoch, self._lr) if s.n],
            default=0.0,
        )
        if force or last > self._x_max or self._x_max == 0.0:
            planned = self._planned_epochs if self._mode == "live" else None
            if planned and planned <= WHOLE_RUN_EPOCHS:
                new = float(max(planned, math.ceil(last)))
            else:
                new = float(max(1, math.ceil(last * 2 if self._mode == "live" else last)))
                if planned:
                    new = max(min(new, planned), math.ceil(last))
            if force or new != self._x_max:
                self._x_max = new
                self.loss.plot.setXRange(0, new, padding=0.02)

    def _follow_y(self, name: str, force: bool = False) -> None:
        """The y axis of one metric fits its data."""
        metric, raw, smooth, val, epoch_train = self._metric_series(name)
        metric.follow_y([epoch_train if self._mode == "history" else raw, smooth, val], force)

    def _stop_following(self, *args) -> None:
        self.following = False

    def _resume_following(self) -> None:
        self.following = True
        for metric in (self.loss, self.accuracy):
            metric.plot.disableAutoRange()
        self._follow(force=True)

    def _draw_best(self, metric: _MetricPlot, series: _Series) -> None:
        if self.best_epoch is None:
            metric.best_line.hide()
            metric.best_point.setData([], [])
            return
        metric.best_line.setValue(self.best_epoch)
        metric.best_line.show()
        hit = np.flatnonzero(series.x == self.best_epoch)
        if len(hit):
            metric.best_point.setData([self.best_epoch], [series.y[hit[-1]]])
        else:
            metric.best_point.setData([], [])

    # -- for tests and the screenshot ------------------------------------------------------
    def curve_points(self) -> dict[str, int]:
        """How many points each curve holds right now (after the last redraw)."""

        def count(item) -> int:
            x, _ = item.getData()
            return 0 if x is None else len(x)

        return {
            "loss_batch": count(self.loss.raw),
            "loss_smooth": count(self.loss.smooth),
            "loss_val": count(self.loss.val),
            "accuracy_batch": count(self.accuracy.raw),
            "accuracy_smooth": count(self.accuracy.smooth),
            "accuracy_val": count(self.accuracy.val),
            "lr": count(self.lr_curve),
        }
