"""The Gallery at scale: 10,000 and 50,000 test images against a bare QListView in the same run.

For each size, a synthetic CIFAR-like evaluation (32x32 RGB images, 10 classes, random
probabilities) is shown in

* the baseline: a bare ``QListView`` in icon mode over a ``QStringListModel`` of the same number of
  captions, uniform item sizes, the same cell size (what Qt itself costs);
* the gallery grid: ``GalleryModel`` + ``GalleryDelegate`` + ``GalleryView`` with thumbnails made by the
  ``ThumbnailLoader`` off the GUI thread;
* the whole Gallery tab (``GalleryTab.set_data``: grid, confusion matrix, report, filters).

Timed, REPEATS times each, medians printed with the ratio to the baseline:

* shown: from handing over the data to the first screen painted with every visible thumbnail;
* scrolled to the end: from ``scrollToBottom()`` to the last screen painted with its thumbnails;
* memory growth: resident memory after showing and then scrolling through every image (so the
  thumbnail cache fills up to its bound), minus before the view existed (the image arrays
  themselves are made before and not counted).

Targets (issue 5): 10,000 shown within 0.5 s, scrolled to the end within 0.1 s, memory growth at
most 150 MB; 50,000 shown within 1 s.

    python -m bench.bench_gallery [--sizes 10000 50000] [--repeats 5] [--no-tab]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VIEW_W, VIEW_H = 1000, 720


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(n: int, seed: int = 0):
    import numpy as np

    from core.evaluation import Evaluation
    from core.gallery import ArrayImages, GalleryData

    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(10) * 0.3, size=n).astype(np.float32)
    y_true = np.where(rng.random(n) < 0.8, probs.argmax(1), rng.integers(0, 10, n)).astype(np.int32)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    ev = Evaluation(y_true=y_true, probs=probs, class_names=names, indices=np.arange(n))
    return GalleryData(ev, ArrayImages(images, ev.indices), f"synthetic {n:,}")


def settle(app, loader=None, timeout: float = 20.0) -> None:
    """Let queued events run; with a loader, until every requested thumbnail has arrived."""
    deadline = time.perf_counter() + timeout
    app.processEvents()
    while loader is not None and loader.pending() and time.perf_counter() < deadline:
        time.sleep(0.0005)
        app.processEvents()
    app.processEvents()


def paint(view) -> None:
    view.viewport().repaint()  # synchronous paint of what is on screen


def bench_baseline(app, n: int, cell) -> tuple[float, float]:
    from PySide6.QtCore import QStringListModel
    from PySide6.QtWidgets import QListView

    captions = [f"class {i % 10} {i % 100}%" for i in range(n)]
    view = QListView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setMovement(QListView.Movement.Static)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setUniformItemSizes(True)
    view.setGridSize(cell)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    settle(app)
    t0 = time.perf_counter()
    view.setModel(QStringListModel(captions))
    app.processEvents()
    paint(view)
    shown = time.perf_counter() - t0
    t0 = time.perf_counter()
    view.scrollToBottom()
    app.processEvents()
    paint(view)
    scrolled = time.perf_counter() - t0
    view.close()
    view.deleteLater()
    settle(app)
    return shown, scrolled


def bench_grid(app, data) -> tuple[float, float, float, object]:
    from gui.thumbnails import ThumbnailLoader
    from gui.widgets.gallery_view import GalleryModel, GalleryView

    loader = ThumbnailLoader()
    model = GalleryModel(loader)
    view = GalleryView()
    view.setModel(model)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    settle(app)
    t0 = time.perf_counter()
    model.set_gallery(data)
    app.processEvents()
    paint(view)  # placeholders; thumbnails requested
    first = time.perf_counter() - t0
    settle(app, loader)
    paint(view)
    shown = time.perf_counter() - t0
    t0 = time.perf_counter()
    view.scrollToBottom()
    app.processEvents()
    paint(view)
    settle(app, loader)
    paint(view)
    scrolled = time.perf_counter() - t0
    return first, shown, scrolled, (view, model, loader)


def scroll_through(app, view, loader) -> None:
    """Every screen from top to bottom, each painted with its thumbnails (fills the cache)."""
    bar = view.verticalScrollBar()
    bar.setValue(0)
    step = max(1, view.viewport().height())
    value = 0
    while True:
        bar.setValue(value)
        app.processEvents()
        paint(view)
        settle(app, loader)
        if value >= bar.maximum():
            break
        value = min(bar.maximum(), value + step)
    paint(view)


def bench_tab(app, data) -> tuple[float, float, object]:
    from gui.gallery import GalleryTab
    from gui.settings import AppSettings
    from gui.workers import JobRunner

    jobs = JobRunner()
    tab = GalleryTab(jobs, AppSettings())
    tab._first_show = False  # show only what is handed over (no run list default)
    tab.resize(VIEW_W + 600, VIEW_H + 150)
    tab.show()
    settle(app)
    t0 = time.perf_counter()
    tab.set_data(data)
    app.processEvents()
    paint(tab.view)
    settle(app, tab.loader)
    tab.repaint()
    shown = time.perf_counter() - t0
    t0 = time.perf_counter()
    tab.view.scrollToBottom()
    app.processEvents()
    paint(tab.view)
    settle(app, tab.loader)
    paint(tab.view)
    scrolled = time.perf_counter() - t0
    return shown, scrolled, (tab, jobs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-tab", action="store_true", help="skip the whole-tab measurement")
    args = ap.parse_args(argv)

    import tempfile

    tmp = tempfile.mkdtemp(prefix="bench-gallery-")
    os.environ["CNN_WORKBENCH_SETTINGS"] = os.path.join(tmp, "settings.ini")
    os.environ["CNN_WORKBENCH_HOME"] = os.path.join(tmp, "workspace")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.widgets.gallery_view import GalleryView

    cell = GalleryView().cell_size()
    print(f"gallery benchmark: {VIEW_W}x{VIEW_H} view, cells {cell.width()}x{cell.height()}, {args.repeats} repeats")
    targets = {10_000: (0.5, 0.1, 150.0), 50_000: (1.0, None, None)}
    ok = True
    for n in args.sizes:
        t0 = time.perf_counter()
        data = make_data(n)
        prep = time.perf_counter() - t0
        # warm up both paths once (imports, fonts, first thread start)
        bench_baseline(app, min(n, 1000), cell)
        w = bench_grid(app, make_data(1000, seed=1))
        w[3][2].shutdown()
        w[3][0].deleteLater()
        settle(app)

        base_shown, base_scroll, first, shown, scroll = [], [], [], [], []
        for _ in range(args.repeats):
            s, c = bench_baseline(app, n, cell)
            base_shown.append(s)
            base_scroll.append(c)
            f, s, c, keep = bench_grid(app, data)
            first.append(f)
            shown.append(s)
            scroll.append(c)
            view, model, loader = keep
            loader.shutdown()
            view.close()
            view.deleteLater()
            settle(app)

        # Memory: a fresh grid, shown and scrolled through every image.
        import gc

        gc.collect()
        settle(app)
        before = rss_mb()
        _f, _s, _c, keep = bench_grid(app, data)
        view, model, loader = keep
        scroll_through(app, view, loader)
        after = rss_mb()
        cached, cache_mb = len(loader.cache), loader.cache.bytes / 2**20
        loader.shutdown()
        view.close()
        view.deleteLater()
        settle(app)

        med = statistics.median
        print(f"\n{n:,} images (synthetic data prepared in {prep:.2f} s, in a worker in the app)")
        print(
            f"  bare QListView (baseline)     shown {med(base_shown) * 1000:7.1f} ms   "
            f"scrolled to end {med(base_scroll) * 1000:6.1f} ms"
        )
        print(
            f"  gallery grid, placeholders    shown {med(first) * 1000:7.1f} ms   "
            f"(ratio {med(first) / med(base_shown):.2f}x baseline)"
        )
        print(
            f"  gallery grid, with thumbnails shown {med(shown) * 1000:7.1f} ms   "
            f"scrolled to end {med(scroll) * 1000:6.1f} ms   "
            f"(ratios {med(shown) / med(base_shown):.2f}x, {med(scroll) / med(base_scroll):.2f}x baseline)"
        )
        print(
            f"  memory growth after scrolling through all {n:,}: {after - before:.0f} MB "
            f"(thumbnail cache {cached:,} images, {cache_mb:.0f} MB, bounded)"
        )
        if not args.no_tab:
            tab_shown, tab_scroll = [], []
            for _ in range(max(1, args.repeats // 2)):
                s, c, (tab, jobs) = bench_tab(app, data)
                tab_shown.append(s)
                tab_scroll.append(c)
                jobs.shutdown()
                tab.shutdown()
                tab.close()
                tab.deleteLater()
                settle(app)
            print(
                f"  whole Gallery tab (grid, matrix, report) shown {med(tab_shown) * 1000:7.1f} ms   "
                f"scrolled to end {med(tab_scroll) * 1000:6.1f} ms"
            )
        target = targets.get(n)
        if target:
            t_shown, t_scroll, t_mem = target
            verdict = [f"shown {'ok' if med(shown) <= t_shown else 'SLOW'} (target {t_shown} s)"]
            ok &= med(shown) <= t_shown
            if t_scroll is not None:
                verdict.append(f"scroll {'ok' if med(scroll) <= t_scroll else 'SLOW'} (target {t_scroll} s)")
                ok &= med(scroll) <= t_scroll
            if t_mem is not None:
                verdict.append(f"memory {'ok' if after - before <= t_mem else 'HIGH'} (target {t_mem:.0f} MB)")
                ok &= after - before <= t_mem
            print("  " + ", ".join(verdict))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
