"""core.inference: safe loading with cards, fast prediction, folder expansion; and core.ensemble.predict_files,
the one-model file prediction built on them (per-file errors)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cards
from core.ensemble import FileResult, predict_files
from core.errors import ModelError
from core.images import open_image, to_model_input
from core.inference import (
    LoadedModel,
    Predictor,
    expand_paths,
    load_model,
    top_k,
    top_k_rows,
)
from core.reporting import CancelToken

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["cat", "dog", "bird"]
SHAPE = (16, 16, 1)


def _tiny_model(shape=SHAPE, classes: int = 3, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    x = keras.layers.Rescaling(1.0 / 255)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, out)


def _card(names=CLASSES, shape=SHAPE) -> dict:
    return cards.make_card(
        class_names=list(names),
        input_shape=shape,
        dataset={"name": "shapes", "title": "Tiny shapes"},
        architecture={"name": "tiny-cnn", "title": "Tiny CNN"},
        hyperparameters={"epochs": 1},
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """One tiny saved model (no card) shared by the module; tests copy it where they need a card."""
    with pytest.MonkeyPatch.context() as mp:  # keep Keras' config file out of the real home
        mp.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras")))
        path = tmp_path_factory.mktemp("model") / "m.keras"
        _tiny_model().save(path)
    return path


@pytest.fixture
def with_card(saved, tmp_path) -> Path:
    path = tmp_path / "m.keras"
    path.write_bytes(saved.read_bytes())
    cards.write_card(path, _card())
    return path


@pytest.fixture(scope="module")
def loaded(saved) -> LoadedModel:
    return load_model(saved)


# ------------------------------------------------------------------------------------------ loading


def test_load_round_trip_with_card(with_card):
    lm = load_model(str(with_card))
    assert lm.path == with_card
    assert lm.class_names == CLASSES and lm.num_classes == 3
    assert lm.input_shape == SHAPE and lm.color_mode == "grayscale"
    assert lm.card is not None and lm.card["dataset"]["name"] == "shapes"
    assert lm.title == "Tiny CNN on Tiny shapes"
    assert lm.card_error is None


def test_load_without_card_uses_generic_names(loaded, saved):
    assert loaded.card is None
    assert loaded.class_names == ["class 0", "class 1", "class 2"]
    assert loaded.input_shape == SHAPE
    assert loaded.title == saved.name


def test_damaged_card_is_ignored_with_a_warning(with_card):
    cards.card_path(with_card).write_text("{not json")
    lm = load_model(with_card)
    assert lm.card is None and lm.class_names[0] == "class 0"
    assert lm.card_error and "cannot be read" in lm.card_error


def test_card_with_wrong_class_count_is_refused(with_card):
    cards.write_card(with_card, _card(names=["a", "b"]))
    with pytest.raises(ModelError, match="lists 2 classes but the model .* predicts 3"):
        load_model(with_card)


def test_card_with_wrong_input_shape_is_refused(with_card):
    cards.write_card(with_card, _card(shape=(28, 28, 1)))
    with pytest.raises(ModelError, match="28x28 grayscale.*16x16 grayscale"):
        load_model(with_card)


def test_lambda_model_is_refused_for_safety(tmp_path):
    import keras

    inp = keras.Input(SHAPE)
    x = keras.layers.Lambda(lambda t: t / 255.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelError, match="Lambda layer.*refused for your safety") as info:
        load_model(path)
    assert "safe_mode" in info.value.detail


def test_unknown_custom_layer_is_named(tmp_path):
    import keras

    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inp = keras.Input(SHAPE)
    x = keras.layers.GlobalAveragePooling2D()(Doubler()(inp))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(ModelError, match="custom code \\('Doubler'\\)"):
        load_model(path)


def test_unreadable_model_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.keras")

    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelError, match=r"cannot be read as a Keras model \(\.keras\)\. Details: .*zip"):
        load_model(garbage)

    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_model(empty)

    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelError, match=r"cannot be read as a Keras model \(\.keras\)\. Details: "):
        load_model(other_zip)

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"png")
    with pytest.raises(ModelError, match="not a Keras model file"):
        load_model(photo)

    with pytest.raises(ModelError, match="folder"):
        load_model(tmp_path)


def test_output_must_be_a_probability_vector(tmp_path):
    import keras

    inp = keras.Input(SHAPE)
    model = keras.Model(inp, keras.layers.Conv2D(3, 3, activation="softmax")(inp))  # (N, 14, 14, 3)
    path = tmp_path / "segmenter.keras"
    model.save(path)
    with pytest.raises(ModelError, match="not an image classifier"):
        load_model(path)


# ---------------------------------------------------------------------------------------- predicting


def test_predictor_matches_model_and_traces_once(loaded):
    predictor = Predictor(loaded, batch_size=16)
    predictor.warm_up()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (37, *SHAPE), dtype=np.uint8)  # 3 batches, the last one short
    probs = predictor.predict(x)
    expected = np.asarray(loaded.model(x.astype(np.float32), training=False))
    assert probs.dtype == np.float32 and probs.shape == (37, 3)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(predictor.predict_one(x[5]), expected[5], rtol=1e-5, atol=1e-6)
    assert predictor.predict(x[:0]).shape == (0, 3)
    assert predictor._call.experimental_get_tracing_count() == 1  # no retracing for new batch sizes
    with pytest.raises(ValueError, match="expected images of shape"):
        predictor.predict(np.zeros((2, 8, 8, 1)))


def test_top_k():
    probs = np.array([0.1, 0.6, 0.1, 0.2])
    names = ["a", "b", "c", "d"]
    assert top_k(probs, names, k=2) == [("b", pytest.approx(0.6)), ("d", pytest.approx(0.2))]
    assert [n for n, _ in top_k(probs, names, k=10)] == ["b", "d", "a", "c"]  # ties keep class order
    assert all(isinstance(p, float) for _, p in top_k(probs, names))
    with pytest.raises(ValueError):
        top_k(probs, names[:3])


def test_top_k_rows_is_top_k_of_each_row():
    rng = np.random.default_rng(0)
    probs = rng.random((6, 4)).astype(np.float32)
    probs[2] = [0.25, 0.25, 0.25, 0.25]  # all tied: class order
    names = ["a", "b", "c", "d"]
    rows = top_k_rows(probs, names, k=3)
    assert rows == [top_k(p, names, k=3) for p in probs]
    assert [n for n, _ in rows[2]] == ["a", "b", "c"]
    assert all(isinstance(p, float) for row in rows for _, p in row)
    assert top_k_rows(probs[:0], names) == []
    with pytest.raises(ValueError):
        top_k_rows(probs, names[:3])


def _write_images(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    good = {
        "a.png": Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)),
        "b.jpg": Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)),
        "c.png": Image.fromarray(rng.integers(0, 256, (20, 20, 4), dtype=np.uint8), "RGBA"),
        "d.gif": Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).convert("P"),
    }
    paths = {}
    for name, img in good.items():
        img.save(folder / name)
        paths[name] = folder / name
    (folder / "text.png").write_text("hello")
    (folder / "empty.jpg").write_bytes(b"")
    paths["text.png"] = folder / "text.png"
    paths["empty.jpg"] = folder / "empty.jpg"
    paths["missing.png"] = folder / "missing.png"
    return paths


def test_predict_files_mixes_results_and_errors_in_order(loaded, tmp_path):
    files = _write_images(tmp_path / "imgs")
    order = ["a.png", "text.png", "b.jpg", "empty.jpg", "c.png", "missing.png", "d.gif"]
    paths = [files[n] for n in order]
    predictor = Predictor(loaded)
    seen: list[FileResult] = []

    results = predict_files(predictor, paths, k=2, batch_size=3, on_result=seen.append)

    assert [r.path for r in results] == paths
    assert seen == results  # reported one by one, in order
    errors = {r.path.name: r.error for r in results if not r.ok}
    assert errors == {
        "text.png": "not an image file",
        "empty.jpg": "file is empty (0 bytes)",
        "missing.png": "file not found",
    }
    for r in results:
        if r.ok:
            expected = predictor.predict_one(to_model_input(open_image(r.path), SHAPE))
            np.testing.assert_allclose(r.probs, expected, rtol=1e-5, atol=1e-6)
            assert len(r.top) == 2 and r.top[0][0].startswith("class ")
            assert r.top[0][1] >= r.top[1][1]
        else:
            assert r.top is None and r.probs is None


def test_predict_files_accepts_loaded_model_and_stops_when_cancelled(loaded, tmp_path):
    files = _write_images(tmp_path / "imgs")
    paths = [files["a.png"], files["b.jpg"], files["c.png"], files["d.gif"], files["text.png"]]
    assert [r.ok for r in predict_files(loaded, paths, batch_size=64)] == [True] * 4 + [False]

    token = CancelToken()

    def on_result(result: FileResult) -> None:
        token.cancel()

    results = predict_files(loaded, paths, batch_size=2, on_result=on_result, cancel=token)
    assert [r.path for r in results] == paths[:2]  # the first batch finished, nothing after it
    assert predict_files(loaded, []) == []


# --------------------------------------------------------------------------------------------- files


def test_expand_paths_walks_folders(tmp_path):
    root = tmp_path / "photos"
    for rel in ["b.png", "A.JPG", "notes.txt", ".hidden.png", "sub/z.jpeg", "sub/deeper/c.webp", ".git/x.png"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    single = tmp_path / "single.txt"
    single.write_text("kept as given")

    out = expand_paths([single, str(root), root / "b.png"])
    assert out == [
        single,
        root / "A.JPG",
        root / "b.png",
        root / "sub" / "deeper" / "c.webp",
        root / "sub" / "z.jpeg",
    ]
    assert expand_paths([tmp_path / "missing.png"]) == [tmp_path / "missing.png"]


def test_import_does_not_load_tensorflow_or_qt():
    code = (
        "import sys, core.inference, core.images; "
        "bad = [m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
