"""The clustering (centre) loss: the layer's arithmetic, a run that trains, saves, reloads and resumes,
and features that end up closer to their class centres than with plain cross-entropy."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from core import runs
from core.config import TrainConfig
from core.errors import WorkbenchError
from core.reporting import NullReporter
from core.training import resume_run, train


class EpochLogs(NullReporter):
    def __init__(self):
        self.epochs = []

    def on_epoch(self, epoch, logs):
        self.epochs.append(logs)


def test_layer_pulls_moves_centres_like_wen_and_passes_probabilities_through():
    import keras

    from core.center_loss import CenterLoss

    layer = CenterLoss(2, weight=1.0, alpha=0.5)
    f = np.array([[2.0, 0.0], [4.0, 0.0], [0.0, 6.0]], np.float32)
    y = np.array([0, 0, 1], np.int32)
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], np.float32)
    out = layer([f, y, p], training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), p)
    # Pull with the zero centres it started with: mean over images and units of f^2.
    pull = float(np.mean(f**2))
    # Centres moved as in Wen et al.: c_j -= alpha * sum(c_j - f_i) / (1 + n_j), from zero.
    expected = np.array([[0.5 * (2 + 4) / 3, 0.0], [0.0, 0.5 * 6 / 2]], np.float32)
    np.testing.assert_allclose(np.asarray(layer.centres), expected, rtol=1e-6)
    # Push: the moved centres are closer (per unit) than margin^2 = 4 * pull.
    d2 = float(np.sum((expected[0] - expected[1]) ** 2)) / 2
    push = max(0.0, 4 * pull - d2)
    assert float(keras.ops.convert_to_numpy(layer.losses[0])) == pytest.approx(pull + push, rel=1e-5)

    # In inference the centres stay where they are.
    before = np.asarray(layer.centres).copy()
    layer([f, y, p], training=False)
    np.testing.assert_array_equal(np.asarray(layer.centres), before)


def test_push_term_is_zero_for_far_apart_centres():
    import keras

    from core.center_loss import CenterLoss

    layer = CenterLoss(2, weight=2.0, alpha=0.0)  # alpha 0: the centres do not move
    f = np.array([[10.0, 0.0], [0.0, 10.0]], np.float32)
    y = np.array([0, 1], np.int32)
    layer.build([(None, 2), (None,), (None, 2)])
    layer.centres.assign(f)
    layer([f, y, np.eye(2, dtype=np.float32)], training=True)
    assert float(keras.ops.convert_to_numpy(layer.losses[0])) == pytest.approx(0.0, abs=1e-6)


def test_run_with_centre_loss_trains_saves_reloads_safely_and_resumes(tiny_dataset, tmp_path):
    import keras

    logs = EpochLogs()
    config = TrainConfig(
        dataset="tiny", model="simple-cnn-1", epochs=1, batch_size=8, center_loss_weight=1.0, tensorboard=False
    )
    result = train(config, logs, workspace=tmp_path, dataset=tiny_dataset)
    assert result.state == "finished" and result.epochs_done == 1
    # The wrapper has one output: the GUI's plots and the history see the usual names.
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(logs.epochs[0])
    assert not any("center" in k or "predictions" in k for k in logs.epochs[0])

    # The saved classifier holds no centre-loss layer and loads with safe_mode on ...
    with zipfile.ZipFile(result.model_path) as z:
        saved_config = json.loads(z.read("config.json"))
    assert "CenterLoss" not in json.dumps(saved_config) and "center_loss" not in json.dumps(saved_config)
    model = keras.models.load_model(result.model_path, safe_mode=True)
    assert [t.name for t in model.inputs] == ["pixels"] and model.output_shape == (None, 3)
    # ... and predicts what the in-memory classifier predicted for the run's evaluation.
    with np.load(result.run_dir / "evaluation.npz") as ev:
        probs, indices = ev["probs"], ev["indices"]
    reloaded = model.predict_on_batch(tiny_dataset.test.images[indices].astype("float32"))
    np.testing.assert_allclose(reloaded, probs, rtol=1e-5, atol=1e-6)

    # A centre-loss run goes on from its backup like any other (the classifier is not compiled).
    again = resume_run(result.run_dir, extra_epochs=1, dataset=tiny_dataset)
    assert again.state == "finished" and again.epochs_done == 2
    assert [r["epoch"] for r in runs.read_history(result.run_dir)] == [1.0, 2.0]


def _within_between(features: np.ndarray, y: np.ndarray) -> float:
    classes = np.unique(y)
    centres = np.stack([features[y == k].mean(0) for k in classes])
    within = np.mean(np.sum((features - centres[np.searchsorted(classes, y)]) ** 2, axis=1))
    d = np.sum((centres[:, None] - centres[None]) ** 2, axis=-1)
    between = d[np.triu_indices(len(classes), 1)].mean()
    return float(within / between)


def test_centre_loss_draws_features_closer_to_their_class_centre():
    """Same start, same batches: with the centre term the features are tighter around their class
    centres, relative to the distances between centres, than with cross-entropy alone (about half as
    spread on this noisy toy problem; the check only asks for tighter)."""
    import keras
    import tensorflow as tf

    from core import models
    from core.center_loss import center_loss_model, with_labels

    rng = np.random.default_rng(0)
    y = (np.arange(60) % 3).astype(np.int32)
    x = rng.integers(0, 160, size=(60, 16, 16, 1)).astype(np.float32)
    for i, c in enumerate(y):  # a faint brighter quadrant in heavy noise: not trivially separable
        r, col = divmod(int(c), 2)
        x[i, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8, 0] += 60
    ratios = {}
    for weight in (0.0, 10.0):
        keras.utils.set_random_seed(3)
        model = models.build_model("simple-cnn-1", (16, 16, 1), 3, options={"dense_units": 32})
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(12)
        if weight:
            fit_model, ds = center_loss_model(model, 3, weight), with_labels(ds)
        else:
            fit_model = model
        fit_model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        fit_model.fit(ds, epochs=12, verbose=0, shuffle=False)
        features = keras.Model(model.inputs[0], model.get_layer("features").output).predict_on_batch(x)
        ratios[weight] = _within_between(features, y)
    assert ratios[10.0] < ratios[0.0], ratios


def test_missing_feature_layer_is_a_readable_error():
    import keras

    from core.center_loss import center_loss_model

    inp = keras.Input((4,), name="pixels")
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="predictions")(inp))
    with pytest.raises(WorkbenchError, match="layer called 'features'"):
        center_loss_model(model, 2, 1.0)
