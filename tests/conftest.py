"""Shared test set-up: no screen, no downloads, a private workspace and Keras home per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before anything imports Qt or TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_homes(tmp_path_factory, monkeypatch):
    """Every test gets its own workspace and Keras cache, so nothing leaks between tests or to ~."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(home / "workspace"))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    yield


@pytest.fixture
def tiny_arrays():
    """A tiny learnable problem: 16x16 grey images of 3 classes (bright quadrant = class)."""
    rng = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 3
    x = rng.integers(0, 40, size=(n, 16, 16, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8, 0] += 200
    return x, y.astype(np.int32)


@pytest.fixture
def tiny_dataset(tiny_arrays):
    """A Dataset over tiny_arrays: 36 train, 12 validation, 12 test images."""
    from core.datasets.base import Dataset, Split

    x, y = tiny_arrays
    return Dataset(
        name="tiny",
        title="tiny quadrants",
        class_names=["top-left", "top-right", "bottom-left"],
        image_shape=(16, 16, 1),
        train=Split(y[:36], images=x[:36]),
        val=Split(y[36:48], images=x[36:48]),
        test=Split(y[48:], images=x[48:]),
    )


@pytest.fixture(scope="session")
def make_shipped_run():
    """Factory: ``make(workspace) -> (run_dir, dataset)``, a finished run folder holding the shipped
    MNIST model and its test-set evaluation (no training)."""
    import shutil

    from core import cards, evaluation, paths, runs
    from core.config import TrainConfig, load_config_dataset
    from core.inference import load_model

    def make(workspace):
        src = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
        config = TrainConfig.from_dict(cards.read_card(src)["hyperparameters"])
        dataset = load_config_dataset(config)
        run_dir = runs.create_run(config.to_dict(), dataset.name, workspace)
        shutil.copy2(src, run_dir / "model.keras")
        shutil.copy2(cards.card_path(src), run_dir / "model.json")
        ev = evaluation.evaluate(load_model(run_dir / "model.keras").model, dataset)
        evaluation.save_evaluation(run_dir, ev, dataset)
        runs.write_status(run_dir, state="finished")
        return run_dir, dataset

    return make


@pytest.fixture
def empty_last_map_model():
    """A model whose last convolution's Grad-CAM map is empty for class 0 but the first one's is not.

    conv2 = relu(10 - conv1) is positive everywhere and class 0's logit is -mean(conv2): every
    channel's weight at conv2 is negative, so its map is all zeros; through conv2's negative kernel
    the weight at conv1 is positive, and conv1 (the image itself) is bright where the digit is.
    """
    import keras

    inp = keras.Input((8, 8, 1))
    h = keras.layers.Rescaling(1 / 255)(inp)
    h = keras.layers.Conv2D(1, 1, activation="relu", name="conv1", kernel_initializer="ones")(h)
    h = keras.layers.Conv2D(1, 1, activation="relu", name="conv2", kernel_initializer="ones", bias_initializer="zeros")(
        h
    )
    h = keras.layers.GlobalAveragePooling2D(name="features")(h)
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="predictions")(h))
    model.get_layer("conv2").set_weights([-np.ones((1, 1, 1, 1), np.float32), np.full((1,), 10.0, np.float32)])
    model.get_layer("predictions").set_weights([np.array([[-1.0, 1.0]], np.float32), np.zeros(2, np.float32)])
    return model
