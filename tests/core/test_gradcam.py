"""core.gradcam: layer choice, heat maps at the image's size that point at the evidence, overlays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import gradcam as G
from core.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "weights" / "mnist-sample-simple-cnn-2.keras"


@pytest.fixture(scope="module")
def shipped():
    from core.inference import load_model

    return load_model(SHIPPED)


@pytest.fixture(scope="module")
def digits():
    from core.datasets.sample import load_sample_arrays

    x, y = load_sample_arrays()
    return x[:20], y[:20]


@pytest.fixture(scope="module")
def quadrant_model():
    """A tiny CNN trained a few epochs on "the bright quadrant is the class" (3 classes, 16x16 grey)."""
    import keras

    rng = np.random.default_rng(0)
    n = 90
    y = np.arange(n) % 3
    x = rng.integers(0, 40, size=(n, 16, 16, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8, 0] += 200
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 1))
    h = keras.layers.Rescaling(1 / 255)(inp)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="features")(h)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(h))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x.astype("float32"), y, epochs=12, batch_size=30, verbose=0)
    return model, x, y


def test_layers_of_the_shipped_model(shipped):
    assert G.conv_layers(shipped.model) == ["conv1", "conv2"]
    assert G.default_layer(shipped.model) == "conv2"  # the last convolution, before pooling and flatten
    assert G.layer_map_size(shipped.model, "conv2") == (11, 11)


def test_map_has_the_image_size_is_normalised_and_not_constant(shipped, digits):
    x, y = digits
    heat = G.gradcam(shipped.model, x[0], int(y[0]))
    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert 0.0 <= heat.min() and heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.05
    # Another class is explained by other pixels.
    other = G.gradcam(shipped.model, x[0], (int(y[0]) + 1) % 10)
    assert np.abs(heat - other).mean() > 0.05
    # A larger colour picture of the same digit: the map comes back at that picture's size.
    big = np.repeat(np.kron(x[0], np.ones((5, 5, 1), np.uint8)), 3, axis=2)
    assert G.gradcam(shipped.model, big, int(y[0])).shape == (140, 140)
    assert G.gradcam(shipped.model, x[0], int(y[0]), "conv1", size=(56, 40)).shape == (56, 40)


def test_map_points_at_the_evidence(quadrant_model):
    model, x, y = quadrant_model
    for c in range(3):
        heat = G.gradcam(model, x[c], c)
        r, col = divmod(c, 2)
        inside = heat[r * 8 : r * 8 + 8, col * 8 : col * 8 + 8]
        outside_mean = (heat.sum() - inside.sum()) / (heat.size - inside.size)
        assert inside.mean() > 2 * outside_mean, f"class {c}: {inside.mean():.3f} vs {outside_mean:.3f}"


def test_model_without_convolutions_is_refused():
    import keras

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    assert G.conv_layers(model) == [] and G.default_layer(model) is None
    with pytest.raises(ModelError, match="Grad-CAM needs a convolutional layer; this model has none"):
        G.gradcam(model, np.zeros((8, 8, 1), np.uint8), 0)


def test_bad_layer_and_class_are_reported(shipped, digits):
    x, _ = digits
    with pytest.raises(ModelError, match="no layer named"):
        G.gradcam(shipped.model, x[0], 0, "nope")
    with pytest.raises(ModelError, match="feature map"):
        G.gradcam(shipped.model, x[0], 0, "features")
    with pytest.raises(ValueError):
        G.gradcam(shipped.model, x[0], 10)


def _nested_model(trainable: bool):
    """Like the Keras Applications models of the zoo: preprocessing, a nested "backbone", GAP "features"."""
    import keras

    keras.utils.set_random_seed(1)
    inner_in = keras.Input((24, 24, 3))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="b_conv1")(inner_in)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="b_conv2")(h)
    h = keras.layers.BatchNormalization(name="b_conv2_bn")(h)
    h = keras.layers.ReLU(name="b_conv2_relu")(h)
    backbone = keras.Model(inner_in, h, name="backbone")
    backbone.trainable = trainable
    inp = keras.Input((24, 24, 1), name="pixels")
    x = keras.layers.Concatenate(name="grey_to_rgb")([inp, inp, inp])
    x = keras.layers.Conv2D(3, 1, trainable=False, name="rgb_to_bgr_minus_mean")(x)
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inp, keras.layers.Dense(4, activation="softmax", name="predictions")(x))


@pytest.mark.parametrize("trainable", [True, False])
def test_nested_backbone(trainable):
    model = _nested_model(trainable)
    layers = G.conv_layers(model)
    # The frozen 1x1 channel shuffle is preprocessing, not a place to look for evidence.
    assert layers == ["backbone/b_conv1", "backbone/b_conv2", "backbone"]
    assert G.default_layer(model) == "backbone"
    assert G.layer_map_size(model, "backbone") == (12, 12)
    image = np.random.default_rng(0).integers(0, 255, (24, 24, 1)).astype(np.uint8)
    for layer in layers:
        heat = G.gradcam(model, image, 2, layer)
        assert heat.shape == (24, 24)
        assert heat.std() > 0.01, layer  # frozen layers pass gradients too (the input is watched)


def test_map_of_a_confident_prediction_is_not_empty(shipped, digits):
    """The score is the logit: a softmax probability of 1.0 would have no gradient at all."""
    x, y = digits
    from core.inference import Predictor

    probs = Predictor(shipped).predict(x)
    i = int(np.argmax(probs.max(axis=1)))
    heat = G.gradcam(shipped.model, x[i], int(np.argmax(probs[i])))
    assert heat.max() == pytest.approx(1.0)


def test_colorize_and_overlay():
    heat = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    colors = G.colorize(heat)
    assert colors.shape == (4, 4, 3) and colors.dtype == np.uint8
    assert colors[0, 3, 2] > colors[0, 3, 0]  # cool is blue (0.2)
    assert colors[3, 3, 0] > colors[3, 3, 2]  # hot is red
    image = np.full((8, 8), 200, np.uint8)  # grey, another size than the map
    assert np.array_equal(G.overlay(image, heat, 0.0), np.full((8, 8, 3), 200, np.uint8))
    full = G.overlay(image, heat, 1.0)
    assert np.array_equal(full, G.colorize(G.resize_map(heat, (8, 8))))
    half = G.overlay(np.zeros((4, 4, 3), np.uint8), heat, 0.5)
    assert np.allclose(half, colors / 2, atol=1)


def test_import_does_not_load_tensorflow():
    code = "import sys, core.gradcam, core.ensemble; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False False", out.stderr


def test_an_empty_map_at_the_default_layer_falls_back_to_the_previous_convolution(empty_last_map_model):
    model = empty_last_map_model
    image = np.zeros((8, 8, 1), np.uint8)
    image[2:6, 3:5] = 255
    assert G.default_layer(model) == "conv2"
    assert float(G.gradcam(model, image, 0).max()) == 0.0  # the case: empty at the default layer

    heat, used = G.gradcam_with_fallback(model, image, 0)
    assert used == "conv1"
    assert heat.shape == (8, 8) and heat.max() == pytest.approx(1.0)
    assert heat[3, 3] > heat[0, 0]  # it points at the bright stroke

    # A map that is not empty stays at the layer asked for.
    heat, used = G.gradcam_with_fallback(model, image, 1)
    assert used == "conv2" and heat.max() > 0
    # Empty everywhere (a black image has no evidence at any layer): zeros, at the layer asked for.
    heat, used = G.gradcam_with_fallback(model, np.zeros((8, 8, 1), np.uint8), 0)
    assert used == "conv2" and heat.max() == 0.0
