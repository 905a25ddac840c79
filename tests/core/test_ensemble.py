"""core.ensemble: compatible members, averaged probabilities, batches of files with per-file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.ensemble import (
    InMemoryImage,
    check_compatible,
    ensemble_predict,
    predict_sources,
    prepare_inputs,
)
from core.errors import ModelError
from core.inference import LoadedModel, Predictor
from core.reporting import CancelToken

NAMES = ["cat", "dog", "bird"]


def _loaded(shape, names=NAMES, seed=0, name="m") -> LoadedModel:
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    x = keras.layers.Rescaling(1.0 / 255)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(len(names), activation="softmax")(x))
    return LoadedModel(model=model, path=Path(f"{name}.keras"), card=None, class_names=list(names), input_shape=shape)


@pytest.fixture(scope="module")
def members():
    """Two members that take different inputs: 16x16 grey and 20x24 colour."""
    a = _loaded((16, 16, 1), seed=1, name="grey")
    b = _loaded((20, 24, 3), seed=2, name="colour")
    return [a, b], [Predictor(a), Predictor(b)]


def test_check_compatible():
    a, b = _loaded((8, 8, 1), name="a"), _loaded((10, 10, 3), name="b")
    assert check_compatible([a, b]) == NAMES
    with pytest.raises(ModelError, match="Choose at least one"):
        check_compatible([])
    with pytest.raises(ModelError, match="predicts 3 classes but .* predicts 2"):
        check_compatible([a, _loaded((8, 8, 1), names=["x", "y"], name="c")])
    with pytest.raises(ModelError, match="'bird'.*'fish'"):
        check_compatible([a, _loaded((8, 8, 1), names=["cat", "dog", "fish"], name="d")])
    with pytest.raises(ModelError, match="different order"):
        check_compatible([a, _loaded((8, 8, 1), names=["dog", "cat", "bird"], name="e")])


def test_ensemble_is_the_mean_of_its_members(members):
    loaded, predictors = members
    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for _ in range(5)]
    per_image = [prepare_inputs(p, [m.input_shape for m in loaded]) for p in photos]
    batches = [np.stack([inputs[m] for inputs in per_image]) for m in range(len(loaded))]
    assert batches[0].shape == (5, 16, 16, 1) and batches[1].shape == (5, 20, 24, 3)

    mean, member_probs = ensemble_predict(predictors, batches)
    assert member_probs.shape == (2, 5, 3) and mean.shape == (5, 3)
    one = predictors[0].predict(batches[0])
    two = predictors[1].predict(batches[1])
    assert np.allclose(member_probs[0], one, atol=1e-6) and np.allclose(member_probs[1], two, atol=1e-6)
    assert np.allclose(mean, (one + two) / 2, atol=1e-6)
    assert np.allclose(mean.sum(axis=1), 1.0, atol=1e-5)
    # A single image per member counts as a batch of one.
    single, _ = ensemble_predict(predictors, [batches[0][0], batches[1][0]])
    assert np.allclose(single[0], mean[0], atol=1e-6)
    with pytest.raises(ValueError):
        ensemble_predict(predictors, [batches[0]])


def test_predict_sources_mixes_results_and_errors_in_order(members, tmp_path):
    loaded, predictors = members
    rng = np.random.default_rng(1)
    good = []
    for i in range(5):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(p)
        good.append(p)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    pasted = InMemoryImage("Pasted image", Image.fromarray(rng.integers(0, 255, (12, 9), dtype=np.uint8)))
    sources = [good[0], empty, good[1], text, pasted, *good[2:]]

    seen = []
    results = predict_sources(predictors, sources, k=2, batch_size=3, on_result=seen.append)
    assert seen == results
    assert [r.name for r in results] == [
        "img0.png",
        "empty.png",
        "img1.png",
        "notes.png",
        "Pasted image",
        "img2.png",
        "img3.png",
        "img4.png",
    ]
    assert results[1].error == "file is empty (0 bytes)" and results[3].error == "not an image file"
    ok = [r for r in results if r.ok]
    assert len(ok) == 6
    for r in ok:
        assert r.member_probs.shape == (2, 3) and np.allclose(r.probs, r.member_probs.mean(axis=0), atol=1e-6)
        assert len(r.top) == 2 and r.top[0][0] == NAMES[r.predicted]
        assert r.thumbnail.dtype == np.uint8 and r.thumbnail.shape[2] == 3 and max(r.thumbnail.shape[:2]) <= 48
    # Same numbers as predicting the files one by one.
    img = Image.open(good[0])
    inputs = prepare_inputs(img, [m.input_shape for m in loaded])
    mean, _ = ensemble_predict(predictors, inputs)
    assert np.allclose(results[0].probs, mean[0], atol=1e-5)


def test_predict_sources_with_one_model_and_cancel(members, tmp_path):
    _, predictors = members
    files = []
    for i in range(7):
        p = tmp_path / f"g{i}.png"
        Image.new("L", (16, 16), i * 30).save(p)
        files.append(p)
    single = predict_sources(predictors[:1], files, batch_size=4, thumbnail_size=None)
    assert len(single) == 7 and all(r.member_probs.shape == (1, 3) and r.thumbnail is None for r in single)

    cancel = CancelToken()

    def stop_after_first(_result):
        cancel.cancel()

    partial = predict_sources(predictors, files, batch_size=4, on_result=stop_after_first, cancel=cancel)
    assert len(partial) == 4  # the first batch is finished, the second never starts
    with pytest.raises(ModelError):
        predict_sources([], files)
