"""core.ensemble: compatible members, averaged probabilities, batches of files with per-file errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.ensemble
from core.ensemble import (
    THUMBNAIL_SIZE,
    InMemoryImage,
    _thumbnail,
    check_compatible,
    ensemble_predict,
    predict_sources,
    prepare_inputs,
)
from core.errors import ModelError
from core.images import to_model_input
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
    # Images that fit the 48-pixel thumbnail are their own thumbnail, grey ones grey.
    assert np.array_equal(results[0].thumbnail, np.asarray(Image.open(good[0])))
    assert results[0].thumbnail.dtype == np.uint8 and results[0].thumbnail.shape == (30, 30, 3)
    assert np.array_equal(results[4].thumbnail[:, :, 0], np.asarray(pasted.image))
    assert results[4].thumbnail.shape == (12, 9, 1)
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


def _mixed_sources(folder: Path) -> list:
    """Ten readable images (grey and colour, small and large) with two bad files among them."""
    rng = np.random.default_rng(2)
    folder.mkdir()
    sources: list = []
    for i in range(10):
        p = folder / f"img{i}.png"
        shape = (30, 40) if i % 2 else (60, 90, 3)
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(p)
        sources.append(p)
    (folder / "empty.png").write_bytes(b"")
    sources.insert(3, folder / "empty.png")
    sources.insert(7, folder / "missing.png")
    return sources


def _record_readers(monkeypatch) -> list[str]:
    """The names of the threads that open image files, from now on."""
    readers: list[str] = []
    real_open = core.ensemble.open_image

    def open_image(path, **kw):
        readers.append(threading.current_thread().name)
        return real_open(path, **kw)

    monkeypatch.setattr(core.ensemble, "open_image", open_image)
    return readers


@pytest.mark.parametrize(
    ("overlap", "parallel"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["read-then-predict", "read-ahead", "parallel-read", "read-ahead-parallel"],
)
def test_every_reading_mode_gives_the_same_results_batch_by_batch(members, tmp_path, monkeypatch, overlap, parallel):
    _, predictors = members
    sources = _mixed_sources(tmp_path / "imgs")
    expected = predict_sources(predictors, sources, batch_size=len(sources), overlap=False)
    if parallel:  # every batch counts as big files: decoded by several threads
        monkeypatch.setattr(core.ensemble, "PARALLEL_READ_BYTES", 0)
        monkeypatch.setattr(core.ensemble.os, "cpu_count", lambda: 4)
    readers = _record_readers(monkeypatch)
    events: list = []
    results = predict_sources(
        predictors,
        sources,
        batch_size=5,
        overlap=overlap,
        on_result=lambda r: events.append(("result", r.name)),
        on_batch=lambda batch: events.append(("batch", [r.name for r in batch])),
    )
    names = [Path(s).name for s in sources]
    assert [r.name for r in results] == names
    assert [r.error for r in results] == [r.error for r in expected]
    assert results[3].error == "file is empty (0 bytes)" and results[7].error == "file not found"
    for r, e in zip(results, expected, strict=True):
        if r.ok:
            # A batch of 5 and a batch of 10 may round differently in the last float bit (oneDNN
            # picks kernels by batch size), so the top-k compare by label and closeness.
            assert np.allclose(r.probs, e.probs, atol=1e-6)
            assert [name for name, _ in r.top] == [name for name, _ in e.top]
            assert np.allclose([p for _, p in r.top], [p for _, p in e.top], atol=1e-6)
            assert np.array_equal(r.thumbnail, e.thumbnail)
    reader = "read-image" if parallel else "read-ahead" if overlap else threading.current_thread().name
    assert readers and all(name.startswith(reader) for name in readers)
    # Progressive: each batch's results, then the batch, before the next batch is predicted.
    batches = [names[i : i + 5] for i in range(0, len(names), 5)]
    assert events == [e for b in batches for e in [*(("result", n) for n in b), ("batch", b)]]


def test_reading_ahead_only_with_cores_to_spare(members, tmp_path, monkeypatch):
    _, predictors = members
    sources = _mixed_sources(tmp_path / "imgs")
    readers = _record_readers(monkeypatch)
    monkeypatch.setattr(core.ensemble.os, "cpu_count", lambda: 2)
    predict_sources(predictors, sources, batch_size=4)
    assert set(readers) == {threading.current_thread().name}  # read in turn with predicting
    readers.clear()
    monkeypatch.setattr(core.ensemble.os, "cpu_count", lambda: core.ensemble.OVERLAP_MIN_CORES)
    predict_sources(predictors, sources, batch_size=4)
    assert readers and all(name.startswith("read-ahead") for name in readers)


class _CancelAfter:
    """Reads as cancelled from the ``n``-th time it is asked on."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.asked = 0

    @property
    def cancelled(self) -> bool:
        self.asked += 1
        return self.asked >= self.n


@pytest.mark.parametrize("overlap", [False, True], ids=["read-then-predict", "read-ahead"])
def test_cancel_while_reading_stops_within_an_image(members, tmp_path, monkeypatch, overlap):
    _, predictors = members
    sources = _mixed_sources(tmp_path / "imgs")
    opened: list[Path] = []
    real_open = core.ensemble.open_image
    monkeypatch.setattr(core.ensemble, "open_image", lambda path, **kw: opened.append(path) or real_open(path, **kw))
    cancel = _CancelAfter(8)  # asked before batch 1 and its 4 images, batch 2 and 2 of its images
    results = predict_sources(predictors, sources, batch_size=4, cancel=cancel, overlap=overlap)
    assert [r.name for r in results] == [Path(s).name for s in sources[:4]]  # only whole batches
    assert len(opened) < 8  # the second batch was not read to its end
    assert predict_sources(predictors, sources, cancel=_CancelAfter(1), overlap=overlap) == []


def test_thumbnails_keep_aspect_and_colour_mode():
    rng = np.random.default_rng(4)
    wide = Image.fromarray(rng.integers(0, 255, (60, 120, 3), dtype=np.uint8))
    thumb = _thumbnail(wide, THUMBNAIL_SIZE, {})
    assert thumb.shape == (24, 48, 3) and thumb.dtype == np.uint8 and thumb.flags.c_contiguous
    tall_grey = Image.fromarray(rng.integers(0, 255, (100, 50), dtype=np.uint8))
    assert _thumbnail(tall_grey, THUMBNAIL_SIZE, {}).shape == (48, 24, 1)
    # A small image is not resized; when a model input of its size and mode exists, that is it.
    small = Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8))
    model_input = to_model_input(small, (28, 28, 1))
    assert _thumbnail(small, THUMBNAIL_SIZE, {(28, 28, 1): model_input}) is model_input
    assert np.array_equal(_thumbnail(small, THUMBNAIL_SIZE, {(28, 28, 3): np.zeros((28, 28, 3))}), model_input)
    # Transparency is flattened onto white, as for the model.
    clear = Image.new("RGBA", (10, 10), (200, 0, 0, 0))
    assert (_thumbnail(clear, THUMBNAIL_SIZE, {}) == 255).all()
