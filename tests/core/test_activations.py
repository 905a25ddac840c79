"""Activations: which layers can be looked at, their output for one image, and the grid layout."""

from __future__ import annotations

import numpy as np
import pytest

from core import activations
from core.errors import WorkbenchError


@pytest.fixture(scope="module")
def shipped():
    from core import paths
    from core.inference import load_model

    return load_model(paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras")


@pytest.fixture(scope="module")
def digit():
    from core.datasets import load_dataset

    return load_dataset("mnist-sample").test.images[0]


def test_layer_choices_list_convolutions_and_dense_layers_with_shapes(shipped):
    choices = {c.name: c for c in activations.layer_choices(shipped.model)}
    assert list(choices) == ["conv1", "conv2", "features", "predictions"]
    assert choices["conv1"].output_shape == (26, 26, 32) and choices["conv1"].is_map
    assert choices["features"].output_shape == (128,) and not choices["features"].is_map
    assert choices["conv1"].label == "conv1 - Conv2D, 26x26x32"
    listed = activations.layer_choices(shipped.model)
    assert activations.pick_layer(listed, "first_conv").name == "conv1"
    assert activations.pick_layer(listed, "last_conv").name == "conv2"
    assert activations.pick_layer(listed, "dense").name == "features"


@pytest.mark.parametrize("layer", ["conv1", "conv2", "features", "predictions"])
def test_activation_shape_is_the_layer_output_shape_and_values_match_keras(shipped, digit, layer):
    import keras

    model = shipped.model
    out = activations.activations(model, digit, layer)
    assert out.shape == tuple(model.get_layer(layer).output.shape[1:])
    expected = keras.Model(model.inputs[0], model.get_layer(layer).output)(digit[np.newaxis].astype("float32"))
    np.testing.assert_allclose(out, np.asarray(expected)[0], rtol=1e-5, atol=1e-5)


def test_a_grayscale_image_without_channel_axis_works_and_a_wrong_size_is_refused(shipped, digit):
    assert activations.activations(shipped.model, digit[..., 0], "conv1").shape == (26, 26, 32)
    with pytest.raises(WorkbenchError, match="takes 28x28x1"):
        activations.activations(shipped.model, np.zeros((30, 30, 1), np.uint8), "conv1")
    with pytest.raises(WorkbenchError, match="no layer"):
        activations.activations(shipped.model, digit, "nope")


def test_layers_inside_a_nested_backbone_can_be_probed():
    import keras

    inner_in = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="block1_conv1")(inner_in)
    x = keras.layers.ReLU(name="block1_relu")(x)
    backbone = keras.Model(inner_in, keras.layers.Conv2D(6, 3, name="block2_conv1")(x), name="backbone")
    pixels = keras.Input((8, 8, 3), name="pixels")
    y = keras.layers.Rescaling(1 / 255.0, name="rescale")(pixels)
    y = keras.layers.GlobalAveragePooling2D(name="features")(backbone(y))
    model = keras.Model(pixels, keras.layers.Dense(2, activation="softmax", name="predictions")(y))

    names = [c.name for c in activations.layer_choices(model)]
    assert names == [
        "backbone/block1_conv1",
        "backbone/block1_relu",
        "backbone/block2_conv1",
        "features",
        "predictions",
    ]
    image = np.random.default_rng(0).integers(0, 255, (8, 8, 3)).astype(np.uint8)
    out = activations.activations(model, image, "backbone/block1_conv1")
    assert out.shape == (6, 6, 4)
    expected = backbone.get_layer("block1_conv1")(image[np.newaxis].astype("float32") / 255.0)
    np.testing.assert_allclose(out, np.asarray(expected)[0], rtol=1e-5, atol=1e-5)


def test_mosaic_lays_out_every_map_once_with_nan_gaps():
    maps = np.arange(5 * 4 * 7, dtype=np.float32).reshape(5, 4, 7)
    rows, cols = activations.grid_shape(7)
    assert rows * cols >= 7 and (rows, cols) == (3, 3)
    image = activations.mosaic(maps, cols=3, gap=1)
    assert image.shape == (3 * 6 - 1, 3 * 5 - 1)
    for k in range(7):
        r, q = divmod(k, 3)
        np.testing.assert_array_equal(image[r * 6 : r * 6 + 5, q * 5 : q * 5 + 4], maps[..., k])
        assert activations.tile_at(r * 6 + 2, q * 5 + 1, (5, 4), 7, 3) == k
    assert np.isnan(image[5, 0]) and activations.tile_at(5, 0, (5, 4), 7, 3) is None  # a gap
    assert activations.tile_at(13, 6, (5, 4), 7, 3) is None  # an unused tile
    assert int(np.isfinite(image).sum()) == maps.size
    assert activations.shared_levels(np.zeros(3)) == (0.0, 1.0)


def test_browsing_images_and_layers_traces_one_function_and_warns_of_no_retracing(caplog):
    """TensorFlow warned "N out of the last M calls ... triggered tf.function retracing" after
    clicking through a few layers: each layer had its own tf.function (all of one Python lambda)."""
    import keras

    inp = keras.Input((12, 12, 1))
    h = keras.layers.Rescaling(1 / 255)(inp)
    for i in range(4):
        h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name=f"c{i}")(h)
    h = keras.layers.GlobalAveragePooling2D(name="features")(h)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(h))
    names = [c.name for c in activations.layer_choices(model)]
    assert len(names) == 6
    probe = activations.probe_for(model)
    rng = np.random.default_rng(0)
    caplog.set_level("WARNING", logger="tensorflow")
    for _image in range(4):
        image = rng.integers(0, 256, (12, 12, 1), dtype=np.uint8)
        for name in names:
            out = activations.activations(model, image, name)
            assert out.shape == tuple(model.get_layer(name).output.shape[1:])
    assert probe.tracing_count() == 1
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
