"""Does a 10,000-point feature scatter stay fluid? Repaint time of pan and zoom steps.

The Inside tab's :class:`~gui.inside.feature_scatter.FeatureScatter` (one point per test image,
coloured by class from shared brushes, mistakes as crosses in a second item, a legend) against a
baseline of the plainest pyqtgraph scatter of the same points (one item, one brush, antialiasing
off). A third row shows what shared brushes save: the same colours, but a new QBrush per point.
Each frame moves or zooms the view and repaints the widget synchronously (offscreen), so the time
is what a user would wait for per mouse-move or wheel step. Also: the nearest-point search that
hovering runs (numpy over all points).

Target: median frame <= 16 ms (60 Hz) and within 2x the baseline.

    python -m bench.bench_scatter [--points 10000] [--frames 80]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def blobs(n: int, classes: int = 10, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, 2)) * 30
    coords = (centres[y] + rng.normal(size=(n, 2)) * 6).astype(np.float32)
    pred = np.where(rng.random(n) < 0.04, (y + 1) % classes, y)  # 4 % mistakes
    return coords, y, pred, [str(k) for k in range(classes)]


def frames(widget, view_box, count: int) -> list[float]:
    """Pan for half the frames, zoom in and out for the rest; ms per synchronous repaint."""
    from PySide6.QtWidgets import QApplication

    (x0, x1), (y0, y1) = view_box.viewRange()
    w, h = x1 - x0, y1 - y0
    times = []
    for i in range(count):
        if i < count // 2:
            dx = 0.01 * w * i
            view_box.setRange(xRange=(x0 + dx, x1 + dx), yRange=(y0, y1), padding=0)
        else:
            f = 1.0 + 0.5 * abs(((i - count // 2) % 20) - 10) / 10
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            view_box.setRange(
                xRange=(cx - w / f / 2, cx + w / f / 2), yRange=(cy - h / f / 2, cy + h / f / 2), padding=0
            )
        QApplication.processEvents()
        t = time.perf_counter()
        widget.viewport().repaint()
        times.append((time.perf_counter() - t) * 1000)
    return times[3:]  # the first frames build the symbol atlas


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=80)
    args = parser.parse_args(argv)

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from gui.inside.feature_scatter import FeatureScatter, class_colors, nearest_point

    coords, y, pred, names = blobs(args.points)
    results = {}

    # Baseline: one item, one brush, no antialiasing.
    base = pg.PlotWidget()
    base.resize(1100, 750)
    base.show()
    item = pg.ScatterPlotItem(
        x=coords[:, 0], y=coords[:, 1], size=6, pen=None, brush=pg.mkBrush("#1f77b4"), antialias=False
    )
    base.addItem(item)
    app.processEvents()
    results["baseline (1 brush, no AA)"] = frames(base, base.getViewBox(), args.frames)

    # Ours.
    ours = FeatureScatter()
    ours.resize(1100, 780)
    ours.show()
    t = time.perf_counter()
    ours.set_data(coords, y, pred, names, "bench")
    set_ms = (time.perf_counter() - t) * 1000
    app.processEvents()
    results["FeatureScatter (classes, crosses)"] = frames(ours.view, ours.plot.getViewBox(), args.frames)

    # Naive: the same colours, a new QBrush per point.
    naive = pg.PlotWidget()
    naive.resize(1100, 750)
    naive.show()
    colours = class_colors(len(names))
    naive.addItem(
        pg.ScatterPlotItem(x=coords[:, 0], y=coords[:, 1], size=6, pen=None, brush=[pg.mkBrush(colours[k]) for k in y])
    )
    app.processEvents()
    results["per-point new brushes"] = frames(naive, naive.getViewBox(), args.frames)

    vb = ours.plot.getViewBox()
    px = vb.viewPixelSize()
    hover = []
    for i in range(200):
        t = time.perf_counter()
        nearest_point(ours.coords, float(coords[i, 0]), float(coords[i, 1]), px)
        hover.append((time.perf_counter() - t) * 1000)

    print(f"{args.points:,} points, {args.frames} pan/zoom frames each, offscreen, synchronous repaint")
    base_median = statistics.median(results["baseline (1 brush, no AA)"])
    for name, times in results.items():
        med = statistics.median(times)
        print(
            f"{name:<36} median {med:6.2f} ms  p90 {percentile(times, 90):6.2f} ms  max {max(times):6.2f} ms  "
            f"ratio to baseline {med / base_median:4.2f}"
        )
    print(
        f"set_data (10 classes, legend): {set_ms:.0f} ms once; hover nearest-point median "
        f"{statistics.median(hover):.3f} ms"
    )
    for w in (base, ours, naive):
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
