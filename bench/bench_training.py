"""Training through core.training.train against a plain Keras script, same model, data and epochs.

The baseline is what our users write in a notebook: the same zoo model compiled the same way and
``model.fit`` on the numpy arrays with ``validation_data``. Both are run alternately REPEATS times
in this process; the medians and their ratio are printed (target: at most 1.05), with accuracies.

    python -m bench.bench_training [--epochs 3] [--repeats 3] [--model simple-cnn-2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def plain_keras(dataset, model_name: str, epochs: int, batch: int, seed: int) -> tuple[float, float]:
    import keras
    import numpy as np

    from core.models import build_model

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = build_model(model_name, dataset.image_shape, dataset.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = dataset.train.images.astype("float32")
    model.fit(
        x,
        dataset.train.labels,
        batch_size=batch,
        epochs=epochs,
        validation_data=(dataset.val.images.astype("float32"), dataset.val.labels),
        verbose=0,
    )
    probs = model.predict_on_batch(dataset.test.images.astype("float32"))
    acc = float(np.mean(np.argmax(probs, 1) == dataset.test.labels))
    return time.perf_counter() - start, acc


def workbench(dataset, model_name: str, epochs: int, batch: int, seed: int, workspace: Path) -> tuple[float, float]:
    from core.config import TrainConfig
    from core.training import train

    cfg = TrainConfig(dataset=dataset.name, model=model_name, epochs=epochs, batch_size=batch, seed=seed)
    start = time.perf_counter()
    result = train(cfg, workspace=workspace, dataset=dataset)
    return time.perf_counter() - start, float(result.test_accuracy)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="simple-cnn-2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from core.datasets import load_dataset

    dataset = load_dataset("mnist-sample")
    # Warm up TensorFlow's kernels once so neither side pays the first-use costs.
    plain_keras(dataset, args.model, 1, args.batch, 0)
    plain_t, ours_t, plain_a, ours_a = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            t, a = plain_keras(dataset, args.model, args.epochs, args.batch, 42 + i)
            plain_t.append(t)
            plain_a.append(a)
            t, a = workbench(dataset, args.model, args.epochs, args.batch, 42 + i, Path(tmp))
            ours_t.append(t)
            ours_a.append(a)
    p, o = statistics.median(plain_t), statistics.median(ours_t)
    print(f"training {args.model} on mnist-sample, {args.epochs} epochs, batch {args.batch}, {args.repeats} repeats")
    print(f"  plain Keras script (fit on numpy)  median {p:6.2f} s   test accuracy {statistics.median(plain_a):.4f}")
    print(f"  core.training.train (run folder)   median {o:6.2f} s   test accuracy {statistics.median(ours_a):.4f}")
    print(f"  ratio workbench / plain = {o / p:.3f}   (target <= 1.05; includes saving models, history and evaluation)")


if __name__ == "__main__":
    main()
