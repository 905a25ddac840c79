"""Prediction speed: one image, and 1,000 dropped files, against the raw model call in the same run.

One image (the shipped MNIST model, after warm-up): ``model.predict``, ``predict_on_batch``, the
raw compiled call (the baseline) and the app's :class:`core.inference.Predictor`; target: at most
2 ms of model time.

1,000 image files, per model (the shipped MNIST model, and ResNet-20 on 32x32 colour images, where
the model rather than reading the files is the larger cost):

* raw batched model throughput: the compiled call on preloaded arrays, batches of 64 (baseline);
* the model's time inside the app's pipeline (:func:`core.ensemble.predict_sources`): the app's
  batching must not slow the model (target: throughput ratio at least 0.9);
* reading and preparing the files alone (decode, convert, resize, thumbnail), one thread;
* end to end through the core pipeline, with the ratios it would have if reading and predicting
  did not overlap at all, and if they overlapped perfectly (the pipeline reads the next batch while
  the model works only on machines with 4 cores or more: on 2 cores both want both cores);
* end to end through the Predict tab (drop of the folder -> last row in the table), with the
  longest time the GUI thread did not answer (the window stays responsive; watched until the first
  image is drawn in the single view, which the tab does when the batch ends; a full garbage
  collection of Python's objects that falls in a run is reported apart) and how many times the
  table was updated (progressive filling).

Ratios are throughput ratios (raw time / app time). Medians of ``--repeats`` alternating runs.

    python -m bench.bench_predict [--images 1000] [--repeats 3] [--models mnist,resnet-20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

BATCH = 64


class TimedPredictor:
    """A Predictor that adds up the time spent in its ``predict`` calls."""

    def __init__(self, predictor) -> None:
        self.inner = predictor
        self.seconds = 0.0

    @property
    def input_shape(self):
        return self.inner.input_shape

    @property
    def class_names(self):
        return self.inner.class_names

    def predict(self, images):
        start = time.perf_counter()
        out = self.inner.predict(images)
        self.seconds += time.perf_counter() - start
        return out


def _median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def one_image(loaded, image: np.ndarray, calls: int) -> None:
    import tensorflow as tf

    from core.inference import Predictor, compiled_call

    model = loaded.model
    x = image[np.newaxis].astype(np.float32)
    raw = compiled_call(model, loaded.input_shape)
    predictor = Predictor(loaded)
    predictor.warm_up()
    for fn in (lambda: model.predict(x, verbose=0), lambda: model.predict_on_batch(x), lambda: raw(tf.constant(x))):
        fn()  # warm-up: tracing and first-call costs are not what is measured
    predict_ms = _median_ms(lambda: model.predict(x, verbose=0), max(5, calls // 5))
    on_batch_ms = _median_ms(lambda: np.asarray(model.predict_on_batch(x)), calls)
    raw_ms = _median_ms(lambda: np.asarray(raw(tf.constant(x))), calls)
    app_ms = _median_ms(lambda: predictor.predict_one(image), calls)
    print("One image, shipped MNIST model, after warm-up (median ms):")
    print(f"  model.predict              {predict_ms:8.2f} ms")
    print(f"  model.predict_on_batch     {on_batch_ms:8.2f} ms")
    print(f"  raw compiled call          {raw_ms:8.2f} ms   (baseline)")
    verdict = "OK" if app_ms <= 2.0 else "SLOWER THAN TARGET"
    print(f"  app Predictor.predict_one  {app_ms:8.2f} ms   {app_ms / raw_ms:.2f}x raw; target <= 2 ms: {verdict}")
    print(f"  model.predict / app        {predict_ms / app_ms:8.1f}x")


def write_files(images: np.ndarray, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = folder / f"{i:05d}.png"
        Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(p)
        paths.append(p)
    return paths


def gui_batch(app, tab, folder: Path, expected: int) -> tuple[float, float, float, float, int]:
    """Drop ``folder`` on the tab and wait for the last row, then for the first image in the view.

    Returns (seconds to the last row, longest GUI stall in ms, longest stall that no full garbage
    collection ran in, longest full garbage collection in ms, table updates). A stall is a gap
    between the ticks of a 5 ms timer on the GUI thread, watched from the drop until the single
    view has drawn the first row (the tab draws it when the batch ends). A full (generation 2)
    collection of Python's objects holds the GIL throughout, whichever thread runs it, so it
    stalls the GUI wherever it falls.
    """
    import gc

    from PySide6.QtCore import QMimeData, QTimer, QUrl

    ends: list[str] = []
    updates = [0]

    def count(*_) -> None:
        updates[0] += 1

    tab.batch_finished.connect(ends.append)
    tab.results.rowsInserted.connect(count)
    gaps: list[tuple[float, float]] = []
    collections: list[tuple[float, float]] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((last[0], now))
        last[0] = now

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                collections.append((time.perf_counter(), float("inf")))
            elif collections:
                collections[-1] = (collections[-1][0], time.perf_counter())

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    gc.callbacks.append(on_gc)
    start = last[0] = time.perf_counter()
    tab.handle_mime(mime)
    while not ends:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - start
    while not tab.view.title.text() and time.perf_counter() - start < seconds + 30:
        app.processEvents()
        time.sleep(0.001)
    tick()
    gc.callbacks.remove(on_gc)
    timer.stop()
    while tab.busy:  # Grad-CAM of the row shown: done before the next timed run, not during it
        app.processEvents()
        time.sleep(0.005)
    tab.batch_finished.disconnect(ends.append)
    tab.results.rowsInserted.disconnect(count)
    if tab.results.rowCount() != expected or ends[0] != "finished":
        raise RuntimeError(f"the tab predicted {tab.results.rowCount()} of {expected} images ({ends[0]})")
    worst = max(b - a for a, b in gaps)
    other = max([b - a for a, b in gaps if not any(a < c1 and c0 < b for c0, c1 in collections)] + [0.0])
    full_gc = max([c1 - c0 for c0, c1 in collections] + [0.0])
    return seconds, 1000 * worst, 1000 * other, 1000 * full_gc, updates[0]


def many_images(label: str, predictor, images: np.ndarray, folder: Path, repeats: int, app, tab) -> None:
    from core.ensemble import THUMBNAIL_SIZE, predict_sources, read_source

    loaded = predictor.loaded
    paths = write_files(images, folder)
    arrays = images.astype(np.float32)
    shape = loaded.input_shape
    min_size = 2 * max(shape[0], shape[1], THUMBNAIL_SIZE)

    def decode_only() -> None:
        for p in paths:
            read_source(p, [shape], thumbnail_size=THUMBNAIL_SIZE, min_size=min_size)

    raw_s, model_s, decode_s, core_s, gui_s, stalls, other_stalls, full_gcs, updates = ([] for _ in range(9))
    predictor.predict(arrays)  # warm every batch size once
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(arrays)
        raw_s.append(time.perf_counter() - start)

        timed = TimedPredictor(predictor)
        start = time.perf_counter()
        results = predict_sources([timed], paths, batch_size=BATCH)
        core_s.append(time.perf_counter() - start)
        model_s.append(timed.seconds)
        assert len(results) == len(paths) and all(r.ok for r in results)

        start = time.perf_counter()
        decode_only()
        decode_s.append(time.perf_counter() - start)

        if tab is not None:
            seconds, stall, other, full_gc, n = gui_batch(app, tab, folder, len(paths))
            gui_s.append(seconds)
            stalls.append(stall)
            other_stalls.append(other)
            full_gcs.append(full_gc)
            updates.append(n)

    n = len(paths)
    raw, model, decode, core = (statistics.median(v) for v in (raw_s, model_s, decode_s, core_s))
    print(f"{n:,} images, {label} (medians of {repeats}):")
    print(f"  raw batched model (arrays in memory)       {raw:7.3f} s  {n / raw:9,.0f} img/s   (baseline)")
    verdict = "OK" if raw / model >= 0.9 else "BELOW TARGET"
    print(f"  model time inside the app's pipeline       {model:7.3f} s  ratio {raw / model:.2f} (>= 0.9: {verdict})")
    print(f"  reading + preparing the files alone        {decode:7.3f} s  {n / decode:9,.0f} img/s   (one thread)")
    serial, overlapped = raw / (raw + decode), raw / max(raw, decode)
    print(
        f"  end to end, core pipeline                  {core:7.3f} s  ratio {raw / core:.2f} "
        f"(reading then predicting: {serial:.2f}; perfect overlap: {overlapped:.2f})"
    )
    if gui_s:
        gui = statistics.median(gui_s)
        stall = f"longest GUI stall {max(stalls):.0f} ms"
        if max(full_gcs) > 0:
            stall += (
                f" (a full garbage collection of Python's objects: {max(full_gcs):.0f} ms, in "
                f"{sum(1 for t in full_gcs if t > 0)} of {len(full_gcs)} runs; other stalls at most "
                f"{max(other_stalls):.0f} ms)"
            )
        print(
            f"  end to end, Predict tab (drop -> last row) {gui:7.3f} s  ratio {raw / gui:.2f}; "
            f"{core / gui:.2f} of the core pipeline; {stall}; "
            f"table updated {int(statistics.median(updates))} times"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--calls", type=int, default=200, help="calls per single-image measurement")
    ap.add_argument("--models", default="mnist,resnet-20")
    ap.add_argument("--no-gui", action="store_true", help="skip the Predict tab measurement")
    args = ap.parse_args()

    # TensorFlow as the app imports it: out of the garbage collector's reach (gui/app.py).
    from gui.tensorflow_loader import import_tensorflow

    import_tensorflow()
    from core.datasets.sample import load_sample_arrays
    from core.inference import Predictor, load_model
    from core.paths import WEIGHTS_DIR

    shipped = load_model(WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras")
    x, _ = load_sample_arrays()
    one_image(shipped, x[0], args.calls)

    app = tab = None
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("CNN_WORKBENCH_SETTINGS", str(Path(tmp) / "settings.ini"))
        os.environ.setdefault("CNN_WORKBENCH_HOME", str(Path(tmp) / "workspace"))
        if not args.no_gui:
            from PySide6.QtWidgets import QApplication

            from gui.predict import PredictTab
            from gui.settings import AppSettings

            app = QApplication.instance() or QApplication([])
            import pyqtgraph  # noqa: F401 - the app imports it at start-up (training plots), not mid-batch
        wanted = [m.strip() for m in args.models.split(",") if m.strip()]
        rng = np.random.default_rng(0)
        for name in wanted:
            if name == "mnist":
                loaded, label = shipped, "shipped MNIST model, 28x28 grey PNG files"
                images = x[np.arange(args.images) % len(x)]
            else:
                from core.models import build_model

                size = (32, 32, 3)
                model = build_model(name, size, 10)
                path = Path(tmp) / f"{name}.keras"
                model.save(path)
                loaded = load_model(path)
                label = f"{name} (random weights), 32x32 colour PNG files"
                images = rng.integers(0, 255, (args.images, *size), dtype=np.uint8)
            predictor = Predictor(loaded, batch_size=BATCH)
            predictor.warm_up()
            if app is not None:
                tab = PredictTab(AppSettings(), workspace=Path(tmp) / "workspace")
                tab.add_loaded_model(loaded, predictor)
                tab.ask_class_names = lambda *args: None  # a model without a card: keep "class 0", ...
                tab.resize(1280, 800)
                tab.show()
                tab.use_model_file(loaded.path)
                while not (tab.predictors and tab.members[0].path == loaded.path):
                    app.processEvents()
                    time.sleep(0.005)
            many_images(label, predictor, images, Path(tmp) / name, args.repeats, app, tab)
            if tab is not None:
                tab.shutdown()
                tab.close()
                tab.deleteLater()
                app.processEvents()


if __name__ == "__main__":
    main()
