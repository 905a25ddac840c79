"""Training inside the app against a plain Keras script, same model, data and epochs, same process.

Three ways to train the 2-conv CNN on the bundled sample, run alternately REPEATS times:

* **plain Keras**: what users write in a notebook: the zoo model compiled the same way and
  ``model.fit`` on the numpy arrays with ``validation_data``, then ``predict`` on the test set;
* **core (headless)**: ``core.training.train`` as the command line runs it;
* **app**: the real main window (offscreen) with live plots: Start pressed, until the run's
  finished signal (which includes evaluating and saving the model, its card and the run folder).

Printed: the median seconds of each and the ratios app / plain Keras (target: at most 1.10) and
app / core (what the GUI itself costs). The epoch time after the first epoch (steady state, from
each run's own history) is compared too.

The plain script's time varies more than the others: ``fit`` on numpy arrays makes a new
``tf.data`` iterator every epoch, and TensorFlow waits for the iterator's autotuning thread to end
its sleep when it destroys one (0-5 s of doing nothing, measured here). The app's pipelines run
without that thread (``core.datasets.base.pipeline_options``); the baseline is left as users write it.

    python -m bench.bench_app_training_overhead [--epochs 3] [--repeats 3] [--model simple-cnn-2]
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


def plain_keras(dataset, model_name: str, epochs: int, batch: int, seed: int) -> tuple[float, list[float]]:
    import keras
    import numpy as np

    from core.models import build_model

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    times: list[float] = []
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = build_model(model_name, dataset.image_shape, dataset.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        dataset.train.images.astype("float32"),
        dataset.train.labels,
        batch_size=batch,
        epochs=epochs,
        validation_data=(dataset.val.images.astype("float32"), dataset.val.labels),
        callbacks=[EpochTimes()],
        verbose=0,
    )
    probs = model.predict(dataset.test.images.astype("float32"), batch_size=256, verbose=0)
    float(np.mean(np.argmax(probs, 1) == dataset.test.labels))
    return time.perf_counter() - start, times


def headless(config, dataset, workspace: Path) -> tuple[float, list[float]]:
    from core.training import train

    start = time.perf_counter()
    result = train(config, workspace=workspace, dataset=dataset)
    return time.perf_counter() - start, [row["seconds"] for row in result.history]


def in_app(window, config) -> tuple[float, list[float]]:
    from bench.bench_gui_responsiveness import prepare, wait_until

    tab = window.train_tab
    prepare(window, config)
    start = time.perf_counter()
    assert tab.start_training(), tab.start_problem()
    wait_until(lambda: not tab.running)
    seconds = time.perf_counter() - start
    result = tab.last_result
    assert result is not None and result.state == "finished", "the run in the app did not finish"
    return seconds, [row["seconds"] for row in result.history]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="simple-cnn-2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from bench.bench_gui_responsiveness import open_app

    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        app, window = open_app(Path(tmp))
        from core.config import TrainConfig
        from core.datasets import load_dataset

        config = TrainConfig(dataset="mnist-sample", model=args.model, epochs=args.epochs, batch_size=args.batch)
        dataset = load_dataset("mnist-sample", validation_split=config.validation_split, seed=config.seed)
        results: dict[str, list[tuple[float, list[float]]]] = {"plain Keras": [], "core (headless)": [], "app": []}
        for i in range(args.repeats):
            order = list(results) if i % 2 == 0 else list(reversed(results))
            for name in order:
                if name == "plain Keras":
                    results[name].append(plain_keras(dataset, args.model, args.epochs, args.batch, config.seed))
                elif name == "core (headless)":
                    results[name].append(headless(config, dataset, Path(tmp) / "headless"))
                else:
                    results[name].append(in_app(window, config))
                print(f"  repeat {i + 1} {name:<16} {results[name][-1][0]:6.2f} s", flush=True)
        window.close()

    def median_total(name: str) -> float:
        return statistics.median(t for t, _ in results[name])

    def median_steady_epoch(name: str) -> float:
        return statistics.median(e for _, epochs in results[name] for e in epochs[1:])

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Training in the app vs a plain Keras script: {args.model} on mnist-sample, {args.epochs} epochs, "
        f"batch {args.batch}, {args.repeats} repeats (load average {load:.2f} on {os.cpu_count()} CPUs)"
    )
    for name in results:
        print(
            f"  {name:<16} median {median_total(name):6.2f} s total, "
            f"{median_steady_epoch(name):5.2f} s per epoch after the first"
        )
    ratio = median_total("app") / median_total("plain Keras")
    print(f"  app / plain Keras: ratio {ratio:.3f} (target at most 1.10)")
    print(
        f"  app / core (headless): ratio {median_total('app') / median_total('core (headless)'):.3f} (the GUI's cost)"
    )
    print(
        "  steady epoch, app / plain Keras: ratio "
        f"{median_steady_epoch('app') / median_steady_epoch('plain Keras'):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
