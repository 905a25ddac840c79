"""The model zoo: every model builds and trains a step, reference parameter counts, minimum input
sizes, options, the offline ImageNet-weights path, .keras round trips and the summary as data.

Training steps run eagerly: tracing a graph for a big backbone takes up to a minute on a small CPU,
while one eager step takes seconds, and the layers are the same either way.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from core.models import (
    OPTION_HELP,
    ModelSpec,
    build_model,
    check_input,
    get_spec,
    list_models,
    model_summary,
    resolve_options,
)

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_NAMES = [
    "simple-cnn-1",
    "simple-cnn-2",
    "lenet-5",
    "alexnet-small",
    "vgg16-small",
    "custom-cnn",
    "bn-gap-cnn",
    "auto-cnn",
    "googlenet-small",
    "resnet-20",
    "resnet-56",
    "resnet-bottleneck",
    "densenet-small",
    "vgg16",
    "resnet50",
    "inceptionv3",
    "densenet121",
    "mobilenetv2",
    "efficientnetb0",
]
OWN_NETS = [name for name in EXPECTED_NAMES if get_spec(name).family != "pretrained"]
APPLICATIONS = [name for name in EXPECTED_NAMES if get_spec(name).family == "pretrained"]
GREYSCALE_NETS = {"simple-cnn-1", "simple-cnn-2", "lenet-5", "resnet-20", "densenet-small", "custom-cnn"}


def _images(shape: tuple[int, int, int], batch: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(batch, *shape), dtype=np.uint8)


def _all_layers(model):
    """Every layer, descending into nested models (a Keras Applications backbone)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _predict(model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model(images.astype("float32"), training=False))


# ---------------------------------------------------------------------------------------------
# Catalogue
# ---------------------------------------------------------------------------------------------


def test_importing_the_zoo_does_not_load_tensorflow_or_qt():
    code = (
        "import sys, core.models as m\n"
        "specs = m.list_models(); m.get_spec('lenet-5'); m.check_input('lenet-5', (28, 28, 1))\n"
        "m.resolve_options('densenet-small', {'depth': '100', 'bottleneck': 'true'})\n"
        "loaded = [n for n in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if n in sys.modules]\n"
        "assert not loaded, loaded\n"
        "print(len(specs))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(EXPECTED_NAMES))


def test_list_models_in_display_order_with_complete_specs():
    specs = list_models()
    assert [s.name for s in specs] == EXPECTED_NAMES
    families = [s.family for s in specs]
    assert families == sorted(families, key=["classic", "modern", "pretrained"].index)
    for spec in specs:
        assert isinstance(spec, ModelSpec)
        assert spec.title and spec.description and spec.origin
        assert "\n" not in spec.description
        assert spec.min_size >= 1
        assert spec.supports_pretrained == (spec.family == "pretrained")
        for key, default in spec.options.items():
            assert isinstance(default, bool | int | float | str), (spec.name, key)
            assert key in OPTION_HELP, key
    assert get_spec("googlenet-small").description.count("auxiliary classifiers omitted") == 1


def test_specs_are_copies_callers_cannot_change_the_catalogue():
    spec = get_spec("lenet-5")
    spec.options["dropout"] = 0.9
    assert get_spec("lenet-5").options["dropout"] == 0.0
    assert get_spec(" LeNet-5 ").name == "lenet-5"
    assert len({get_spec("lenet-5"), get_spec("lenet-5"), get_spec("resnet-20")}) == 2


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ModelError) as err:
        get_spec("resnet-1000")
    message = str(err.value)
    assert message.startswith("Unknown model 'resnet-1000'. Known models: ")
    assert all(name in message for name in EXPECTED_NAMES)
    with pytest.raises(ModelError):
        build_model("resnet-1000", (32, 32, 3), 10)


# ---------------------------------------------------------------------------------------------
# Every model builds and trains one step
# ---------------------------------------------------------------------------------------------


def _test_shape(name: str) -> tuple[int, int, int]:
    spec = get_spec(name)
    if spec.family == "pretrained":
        return (32, 32, 3)  # InceptionV3 enlarges to 75x75 inside the model
    side = max(16, spec.min_size)
    return (side, side, 1 if name in GREYSCALE_NETS else 3)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_model_builds_and_trains_one_step(name):
    import keras

    shape = _test_shape(name)
    model = build_model(name, shape, 3)
    assert model.inputs[0].name == "pixels"
    assert tuple(model.input_shape) == (None, *shape)
    output = model.get_layer("predictions")
    assert model.layers[-1] is output and output.get_config()["activation"] == "softmax"
    assert model.get_layer("features") is not None
    for layer in _all_layers(model):
        assert type(layer).__module__.startswith("keras."), f"custom layer {type(layer)}"
        assert type(layer).__name__ != "Lambda"

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
    images = _images(shape)
    loss = model.train_on_batch(images, np.array([0, 1, 2, 0]))
    assert math.isfinite(float(np.ravel(loss)[0]))
    probabilities = _predict(model, images)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    summary = model_summary(model)
    assert summary["total"] == model.count_params()
    assert summary["trainable"] + summary["non_trainable"] == summary["total"]
    assert sum(row["params"] for row in summary["rows"]) == summary["total"]

    if name in APPLICATIONS:
        _check_application_preprocessing(keras, name, model, images)


def _check_application_preprocessing(keras, name, model, images):
    """The in-model preprocessing equals keras.applications' own preprocess_input (after training)."""
    apps = keras.applications
    reference = {
        "vgg16": ("rgb_to_bgr_minus_mean", apps.vgg16.preprocess_input),
        "resnet50": ("rgb_to_bgr_minus_mean", apps.resnet50.preprocess_input),
        "inceptionv3": ("scale_to_pm1", apps.inception_v3.preprocess_input),
        "densenet121": ("imagenet_normalization", apps.densenet.preprocess_input),
        "mobilenetv2": ("scale_to_pm1", apps.mobilenet_v2.preprocess_input),
    }
    if name not in reference:  # EfficientNet preprocesses inside its own backbone
        return
    layer_name, preprocess_input = reference[name]
    pixels = model.inputs[0]
    resized = model.get_layer("resize").output if "resize" in [lay.name for lay in model.layers] else pixels
    probe = keras.Model(pixels, [model.get_layer(layer_name).output, resized])
    ours, resized_pixels = (np.asarray(t) for t in probe(images.astype("float32"), training=False))
    expected = np.asarray(preprocess_input(resized_pixels.copy()))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Reference parameter counts (docs SOURCE-NOTES.md)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "expected", "noted_millions"),
    [
        ("lenet-5", (28, 28, 1), 107_786, None),
        ("bn-gap-cnn", (32, 32, 3), 693_834, None),
        ("alexnet-small", (32, 32, 3), 12_260_618, "12.26"),
        ("vgg16-small", (32, 32, 3), 2_264_394, "2.26"),
        ("simple-cnn-2", (28, 28, 1), 225_034, None),
        ("resnet-20", (32, 32, 3), 274_042, "0.27"),  # He et al.: 0.27M
        ("resnet-56", (32, 32, 3), 860_026, "0.86"),  # He et al.: 0.85M (zero-padding shortcuts)
        ("densenet-small", (32, 32, 3), 1_037_818, "1.0"),  # Huang et al.: 1.0M at depth 40, k=12
    ],
)
def test_reference_parameter_counts(name, shape, expected, noted_millions):
    """Counts at 10 classes; the notes and papers give some of them rounded to millions."""
    params = build_model(name, shape, 10).count_params()
    assert params == expected
    if noted_millions is not None:  # "12.26" (millions) to as many decimals as the source gives
        decimals = len(noted_millions.split(".")[1])
        assert f"{params / 1e6:.{decimals}f}" == noted_millions


# ---------------------------------------------------------------------------------------------
# Minimum input sizes
# ---------------------------------------------------------------------------------------------

# resnet-56 downsamples exactly like resnet-20 (test_known_minimum_sizes covers it).
MIN_SIZE_CASES = [(name, {}) for name in OWN_NETS if name != "resnet-56"] + [
    ("googlenet-small", {"imagenet_stem": True}),
    ("resnet-bottleneck", {"imagenet_stem": True, "stages": "1,1"}),
    ("densenet-small", {"imagenet_stem": True, "depth": 10, "bottleneck": True}),
]


def _min_size(name: str, options: dict) -> int:
    """The smallest square side check_input accepts (found by asking it)."""
    for side in range(1, 200):
        try:
            check_input(name, (side, side, 3), options)
            return side
        except ModelError:
            continue
    raise AssertionError("no size accepted")


@pytest.mark.parametrize(("name", "options"), MIN_SIZE_CASES)
def test_own_nets_build_at_exactly_their_minimum_size(name, options):
    smallest = _min_size(name, options)
    if not options:
        assert smallest == get_spec(name).min_size
    model = build_model(name, (smallest, smallest, 1), 2, options=options)
    assert _predict(model, _images((smallest, smallest, 1), batch=1)).shape == (1, 2)
    with pytest.raises(ModelError, match=f"at least {smallest}x{smallest} pixels"):
        build_model(name, (smallest, smallest - 1, 1), 2, options=options)


def test_known_minimum_sizes():
    assert {name: get_spec(name).min_size for name in OWN_NETS} == {
        "simple-cnn-1": 4,
        "simple-cnn-2": 10,
        "lenet-5": 4,
        "alexnet-small": 15,
        "vgg16-small": 8,
        "custom-cnn": 8,
        "bn-gap-cnn": 8,
        "auto-cnn": 8,
        "googlenet-small": 3,
        "resnet-20": 3,
        "resnet-56": 3,
        "resnet-bottleneck": 5,
        "densenet-small": 4,
    }
    assert _min_size("densenet-small", {"imagenet_stem": True}) == 13
    assert _min_size("custom-cnn", {"pool_every": 1}) == 64  # the seeds' photo network: a pool after each conv
    assert _min_size("custom-cnn", {"conv_layers": "8x3,8x3", "stride": "2,1"}) == 3


def test_check_input_explains_a_too_small_input():
    with pytest.raises(ModelError) as err:
        check_input("alexnet-small", (12, 12, 3))
    assert str(err.value) == (
        "AlexNet (small) needs images of at least 15x15 pixels; this dataset's are 12x12. "
        "Choose a larger image size or another model."
    )
    check_input("alexnet-small", (15, 15, 3))
    check_input("resnet50", (8, 8, 1))  # applications enlarge small images themselves
    with pytest.raises(ModelError, match="at least 8x8"):
        check_input("resnet50", (7, 7, 3))


def test_check_input_rejects_odd_shapes_and_channels():
    with pytest.raises(ModelError, match="grayscale .1 channel. or colour"):
        check_input("mobilenetv2", (32, 32, 4))
    check_input("lenet-5", (28, 28, 4))  # our own networks take any number of channels
    for bad in [(28, 28), (28, 0, 1), ("a", 2, 3), None]:
        with pytest.raises(ModelError, match="height x width x channels"):
            check_input("lenet-5", bad)


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


def test_options_are_converted_from_text_and_checked():
    resolved = resolve_options("densenet-small", {"depth": "100", "bottleneck": "yes", "dropout": "0"})
    assert resolved["depth"] == 100 and resolved["bottleneck"] is True and resolved["dropout"] == 0.0
    assert resolve_options("resnet-bottleneck", {"stages": [2, 2]})["stages"] == "2,2"
    assert resolve_options("lenet-5", {"dropout": 0})["dropout"] == 0.0
    assert isinstance(resolve_options("lenet-5", {"dropout": 0})["dropout"], float)
    assert resolve_options("lenet-5", None) == get_spec("lenet-5").options

    problems = [
        ("lenet-5", {"dropuot": 0.3}, "LeNet-5 has no option 'dropuot'. Its options: dropout, batch_norm"),
        ("lenet-5", {"dropout": 1.0}, "option 'dropout' must be at least 0 and below 1"),
        ("bn-gap-cnn", {"bn_momentum": 1.0}, "option 'bn_momentum' must be at least 0 and below 1"),
        ("lenet-5", {"batch_norm": "maybe"}, "option 'batch_norm' must be on or off"),
        ("densenet-small", {"depth": 41}, "must be 3n\\+4"),
        ("densenet-small", {"depth": 43, "bottleneck": True}, "must be 6n\\+4"),
        ("densenet-small", {"growth_rate": 2.5}, "whole number"),
        ("resnet-bottleneck", {"stages": "3,x"}, "such as 3,4,6,3"),
        ("mobilenetv2", {"resize_to": -1}, "resize_to"),
    ]
    for name, options, message in problems:
        with pytest.raises(ModelError, match=message):
            resolve_options(name, options)
        with pytest.raises(ModelError, match=message):
            build_model(name, (32, 32, 3), 3, options=options)


def test_options_change_the_model():
    plain = build_model("bn-gap-cnn", (32, 32, 3), 10, options={"batch_norm": False, "conv_dropout": 0})
    assert not [layer for layer in plain.layers if type(layer).__name__ == "BatchNormalization"]
    assert [layer.name for layer in plain.layers if type(layer).__name__ == "Dropout"] == ["dropout"]
    assert plain.count_params() == 693_834 - (64 + 128 + 256) * 4
    assert build_model("bn-gap-cnn", (32, 32, 3), 10).get_layer("block1_bn").momentum == 0.99  # Keras' own
    quick = build_model("bn-gap-cnn", (32, 32, 3), 10, options={"bn_momentum": 0.9})
    assert [layer.momentum for layer in quick.layers if type(layer).__name__ == "BatchNormalization"] == [0.9] * 3
    assert build_model("lenet-5", (28, 28, 1), 10, options={"rescale_input": False}).layers[1].name == "conv1"

    densenet_bc = build_model("densenet-small", (32, 32, 3), 10, options={"depth": 16, "bottleneck": True})
    assert densenet_bc.get_layer("block1_layer2_1x1_conv").filters == 48
    wide = build_model("googlenet-small", (16, 16, 3), 10, options={"width": 1.0})
    assert wide.get_layer("inception5b_concat").output.shape[-1] == 1024  # the paper's width
    bottleneck = build_model("resnet-bottleneck", (16, 16, 3), 10, options={"stages": "1,1", "base_filters": 8})
    assert bottleneck.get_layer("features").output.shape[-1] == 64


def test_own_nets_refuse_pretrained_and_too_few_classes():
    with pytest.raises(ModelError, match="LeNet-5 has no pre-trained weights"):
        build_model("lenet-5", (28, 28, 1), 10, pretrained=True)
    with pytest.raises(ModelError, match="at least 2 classes"):
        build_model("lenet-5", (28, 28, 1), 1)


# ---------------------------------------------------------------------------------------------
# ImageNet weights: offline fallback and (simulated) successful download
# ---------------------------------------------------------------------------------------------


def test_pretrained_offline_builds_from_scratch_and_says_so(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    messages: list[str] = []
    model = build_model("resnet50", (32, 32, 3), 3, pretrained=True, on_message=messages.append)
    assert len(messages) == 1
    assert messages[0].startswith("ImageNet weights for ResNet50 could not be downloaded (URL fetch failure")
    assert "training from scratch instead" in messages[0] and "when online" in messages[0]
    backbone = model.get_layer("backbone")
    assert backbone.trainable and backbone.trainable_weights  # random weights must learn
    assert socket.getdefaulttimeout() is None
    assert _predict(model, _images((32, 32, 3), batch=2)).shape == (2, 3)


@pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square:UserWarning")
def test_pretrained_backbone_is_frozen_unless_asked(monkeypatch, tmp_path):
    """Simulate a completed download: get_file hands back a weights file of the same architecture."""
    import keras
    from keras.src.utils import file_utils

    reference = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3), name="backbone"
    )
    weights_file = tmp_path / "mobilenet_v2_no_top.weights.h5"
    reference.save_weights(weights_file)
    monkeypatch.setattr(file_utils, "get_file", lambda *args, **kwargs: str(weights_file))
    messages: list[str] = []

    frozen = build_model("mobilenetv2", (28, 28, 1), 3, pretrained=True, on_message=messages.append)
    assert messages == []
    backbone = frozen.get_layer("backbone")
    assert not backbone.trainable and not backbone.trainable_weights
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]  # the new head only
    np.testing.assert_array_equal(backbone.weights[0].numpy(), reference.weights[0].numpy())

    path = tmp_path / "frozen.keras"
    frozen.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert not loaded.get_layer("backbone").trainable
    images = _images((28, 28, 1), batch=2)
    np.testing.assert_array_equal(_predict(loaded, images), _predict(frozen, images))

    tuned = build_model("mobilenetv2", (28, 28, 1), 3, pretrained=True, options={"trainable_backbone": True})
    assert tuned.get_layer("backbone").trainable_weights
    summary = model_summary(tuned)
    assert summary["trainable"] > summary["non_trainable"] > 0


# ---------------------------------------------------------------------------------------------
# Save / load round trip without custom objects
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("lenet-5", (28, 28, 1)),
        ("resnet-20", (16, 16, 3)),
        ("densenet-small", (16, 16, 1)),
        ("vgg16", (32, 32, 3)),  # caffe preprocessing: the frozen 1x1 convolution
        ("mobilenetv2", (20, 20, 1)),  # grey -> RGB, resize to 32, scale to [-1, 1]
    ],
)
def test_save_and_load_with_safe_mode_gives_identical_predictions(name, shape, tmp_path):
    import keras

    options = {"depth": 13} if name == "densenet-small" else None
    model = build_model(name, shape, 4, options=options)
    images = _images(shape, batch=3, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(_predict(loaded, images), _predict(model, images))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    if name == "vgg16":
        assert not loaded.get_layer("rgb_to_bgr_minus_mean").trainable


# ---------------------------------------------------------------------------------------------
# Summary as data
# ---------------------------------------------------------------------------------------------


def test_model_summary_rows_like_keras_summary():
    model = build_model("simple-cnn-1", (28, 28, 1), 10)
    summary = model_summary(model)
    rows = {row["name"]: row for row in summary["rows"]}
    assert list(rows)[:3] == ["pixels", "rescale", "conv1"]
    assert rows["pixels"] == {"name": "pixels", "type": "InputLayer", "output_shape": "(None, 28, 28, 1)", "params": 0}
    assert rows["conv1"] == {"name": "conv1", "type": "Conv2D", "output_shape": "(None, 26, 26, 32)", "params": 320}
    assert rows["features"]["output_shape"] == "(None, 128)"
    assert rows["predictions"]["params"] == 128 * 10 + 10
    assert summary == {"rows": summary["rows"], "total": 693_962, "trainable": 693_962, "non_trainable": 0}

    with_bn = model_summary(build_model("bn-gap-cnn", (32, 32, 3), 10))
    assert with_bn["non_trainable"] == (64 + 128 + 256) * 2  # moving means and variances
