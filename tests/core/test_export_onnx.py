"""ONNX export: checked with onnxruntime on real test images; a layer ONNX cannot express is named."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from core import cards, export, paths
from core.cli import run_cli
from core.errors import WorkbenchError
from core.export import export_model

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
HAVE_ONNX = all(importlib.util.find_spec(name) is not None for name in export.ONNX_PACKAGES)
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="the optional extra 'onnx' is not installed")


@needs_onnx
def test_onnx_export_matches_the_app_on_real_test_images(tmp_path):
    target = tmp_path / "m.onnx"
    report = export_model(SHIPPED, target, "onnx")
    assert report.ok and report.checked == 300 and report.agree == 300
    assert report.images_from == "test images of the model's dataset" and report.max_abs_diff < 1e-4
    assert cards.read_card(target)["class_names"] == [str(d) for d in range(10)]
    assert {p.name for p in tmp_path.iterdir()} == {"m.onnx", "m.json"}  # nothing half-written
    import onnxruntime as ort

    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [28, 28, 1]


@needs_onnx
def test_cli_exports_onnx(capsys, tmp_path):
    assert run_cli(["export", str(SHIPPED), "--format", "onnx", "--to", str(tmp_path / "digits.onnx")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ONNX (.onnx)") and "top-1 agrees on 300" in out


@needs_onnx
def test_a_layer_onnx_cannot_express_is_named_and_nothing_is_written(tmp_path):
    import keras

    inp = keras.Input((16, 16, 1), name="pixels")
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Resizing(8, 8, antialias=True, name="shrink")(x)  # TensorFlow's ScaleAndTranslate
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path / "odd.keras"
    model.save(path)
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    with pytest.raises(WorkbenchError, match=r"the layer 'shrink' \(Resizing\) uses the TensorFlow operation"):
        export_model(path, tmp_path / "odd.onnx", "onnx", images=images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.keras"]


def test_without_the_extra_onnx_says_how_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        export.importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a)
    )
    assert export.missing_packages("onnx") == ["onnxruntime"] and export.missing_packages("tflite") == []
    with pytest.raises(WorkbenchError, match=r"needs the optional package onnxruntime.*cnn-workbench\[onnx\]"):
        export_model(SHIPPED, tmp_path / "m.onnx", "onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_converter_node_is_traced_to_the_deepest_layer_it_names():
    class Normalization:
        name = "normalization"

    class Functional:
        name = "backbone"

    layers = [Functional(), Normalization()]
    node = "efficientnetb0_1/backbone_1/normalization_1/Sub/y:0"
    assert export._layer_of(node, layers) == ("normalization", "Normalization")
    assert export._layer_of("model_1/backbone_1/Conv2D", layers) == ("backbone", "Functional")
    assert export._layer_of("model_1/dense_7/MatMul", layers) is None
