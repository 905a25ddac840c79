"""The Inside tab's state without widgets or TensorFlow: choices, opening, embeddings, activations, controls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.activations import LayerChoice
from gui.inside.state import External, InsideState, Opened, Source

CHOICES = [
    LayerChoice("conv1", "conv", "Conv2D", (26, 26, 32)),
    LayerChoice("conv2", "conv", "Conv2D", (11, 11, 64)),
    LayerChoice("features", "dense", "Dense", (128,)),
    LayerChoice("predictions", "dense", "Dense", (10,)),
]


class FakeImages:
    def __init__(self) -> None:
        self.read: list[tuple[int, int]] = []

    def image(self, row: int, max_side: int) -> np.ndarray:
        self.read.append((row, max_side))
        return np.full((4, 4, 1), row, np.uint8)

    def model_input(self, row: int, shape) -> np.ndarray:
        return np.full(shape, row, np.uint8)


class FakeData:
    """What the state reads of ``core.gallery.GalleryData``."""

    def __init__(self, rows: int, order=None) -> None:
        self.test_index = np.asarray(order if order is not None else range(rows))
        self.has_images = True
        self.images = FakeImages()
        self.class_names = [str(k) for k in range(10)]

    def __len__(self) -> int:
        return len(self.test_index)


def make_opened(name: str = "run-a", rows: int = 5, order=None, layers=("features", "conv2")) -> Opened:
    loaded = SimpleNamespace(model=f"model of {name}", input_shape=(28, 28, 1))
    source = Source("run", Path("/ws/runs") / name, name)
    return Opened(source, FakeData(rows, order), loaded, list(layers), list(CHOICES))


def emb(layer="features", method="pca", dims=2):
    return SimpleNamespace(layer=layer, method=method, dims=dims)


def test_importing_the_state_needs_neither_qt_nor_tensorflow():
    code = (
        "import sys, gui.inside.state, gui.inside;"
        "bad = [m for m in ('PySide6', 'pyqtgraph', 'tensorflow', 'keras') if m in sys.modules];"
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_opening_keeps_the_layer_when_the_new_source_has_it():
    state = InsideState()
    assert state.open_layer() == "features" and state.lookup_order() == ["tsne", "pca"]
    state.method = "pca"
    assert state.lookup_order() == ["pca", "tsne"]
    first = make_opened("a", layers=("features", "conv2"))
    state.begin_open(first.source)
    assert state.opening == first.source.path and not state.refresh_on_show()
    state.open_done(first)
    assert state.opened is first and state.opening is None and state.refresh_on_show()
    assert state.layer == "features" and state.act_layer == "conv1"  # the first convolution
    state.layer = "conv2"
    second = make_opened("b", layers=("features", "conv2"))
    assert state.needs_open(second.source) and not state.needs_open(first.source)
    state.begin_open(second.source)
    assert state.opened is None and state.embedding is None
    state.open_done(second)
    assert state.layer == "conv2"
    third = make_opened("c", layers=("pooled",))
    state.open_done(third)
    assert state.layer == "pooled"


def test_sources_are_found_by_path_and_added_once(tmp_path):
    state = InsideState()
    run = Source("run", tmp_path / "r1", "r1")
    state.set_sources([run])
    assert state.source(str(tmp_path / "r1")) is run and state.source(None) is None
    assert state.source_for(tmp_path / "r1") == (run, False)
    model_file = tmp_path / "m.keras"
    added, is_new = state.source_for(model_file)
    assert is_new and added.kind == "model" and added.label == "m.keras"
    assert state.source_for(model_file) == (added, False)
    folder = tmp_path / "r2"
    folder.mkdir()
    assert state.source_for(folder)[0].kind == "run"


def test_the_default_source_is_the_newest_run_else_the_shipped_model(tmp_path):
    state = InsideState()
    assert state.default_source() is None  # nothing listed
    shipped = Source("model", tmp_path / "m.keras", "m (shipped model)")
    newest, older = Source("run", tmp_path / "r2", "r2"), Source("run", tmp_path / "r1", "r1")
    state.set_sources([newest, older, shipped])
    assert state.default_source() is newest
    state.set_sources([shipped])
    assert state.default_source() is shipped
    state.begin_open(shipped)
    assert state.default_source() is None  # something is on its way: no default over it


def test_controls_follow_what_is_open_and_running():
    state = InsideState()
    c = state.controls()
    assert not c.compute and not c.stop and not c.layer and c.method and not c.compare and not c.row
    assert not c.act_layer and not c.first_last_conv and not c.dense
    state.set_sources([Source("model", Path("/m.keras"), "m")])
    assert state.controls().compare
    state.open_done(make_opened())
    c = state.controls()
    assert c.compute and not c.stop and c.layer and c.row and c.act_layer and c.first_last_conv and c.dense
    assert state.begin_embedding()
    c = state.controls()
    assert c.stop and not c.compute and not c.layer and not c.method and not c.compare
    assert not state.refresh_on_show()
    state.embedding_ended()
    assert state.controls().compute
    state.opened.feature_layers.clear()
    assert not state.controls().compute


def test_nothing_to_compute_without_a_source():
    state = InsideState()
    assert not state.begin_embedding() and not state.embedding_running


def test_embedded_results_are_cached_and_drawn_only_for_the_source_still_open():
    state = InsideState()
    a, b = make_opened("a"), make_opened("b")
    state.open_done(a)
    state.begin_embedding()
    e1, e2 = emb(), emb()
    assert state.embedded([(a, e1), (b, e2)]) == [(0, a, e1), (1, b, e2)]
    assert state.embedding is e1 and state.compare_opened is b and state.compare_embedding is e2
    assert a.cached[("features", "pca", 2)] is e1 and not state.embedding_running
    # Another source was opened while this one was computed: cached, not drawn.
    state.open_done(make_opened("c"))
    late = emb(method="tsne")
    assert state.embedded([(a, late)]) == []
    assert a.cached[("features", "tsne", 2)] is late and state.embedding is e1


def test_choosing_another_run_to_compare_forgets_the_old_one():
    state = InsideState()
    b = make_opened("b")
    state.choose_compare(str(b.source.path))
    state.compare_opened, state.compare_embedding = b, emb()
    state.choose_compare(str(b.source.path))
    assert state.compare_opened is b
    state.choose_compare("/ws/runs/other")
    assert state.compare_opened is None and state.compare_embedding is None
    state.choose_compare(None)
    assert state.compare_path is None and state.compare_source() is None


def test_rows_link_only_for_the_same_test_images_in_the_same_order():
    state = InsideState()
    state.open_done(make_opened("a", rows=3))
    assert not state.same_rows()
    state.compare_opened = make_opened("b", rows=3)
    assert state.same_rows()
    state.compare_opened = make_opened("b", rows=3, order=[2, 1, 0])
    assert not state.same_rows()


def test_dims_need_opengl():
    state = InsideState(three_d_available=False)
    state.three_d = True
    assert state.dims == 2 and state.embedding_key == (None, "tsne", 2)
    state.three_d_available = True
    assert state.dims == 3


def test_thumbnails_are_read_once_and_bounded(monkeypatch):
    import gui.inside.state as module

    monkeypatch.setattr(module, "MAX_THUMBNAILS", 3)
    state = InsideState()
    opened = make_opened()
    state.open_done(opened)
    for row in (0, 1, 0, 2, 3, 0):
        state.thumbnail(opened, row)
    assert opened.data.images.read == [(0, 96), (1, 96), (2, 96), (3, 96)]  # 0 stayed: used recently
    state.thumbnail(opened, 1)  # 1 was the least recently used: read again
    assert opened.data.images.read[-1] == (1, 96)
    assert state.thumbnail(None, 0) is None


def test_activation_request_follows_the_chosen_image_and_layer():
    state = InsideState()
    assert state.activation_request() is None
    opened = make_opened()
    state.open_done(opened)
    state.row = 3
    request = state.activation_request()
    assert request.layer == "conv1" and request.image.shape == (28, 28, 1) and int(request.image[0, 0, 0]) == 3
    assert request.model == opened.loaded.model and request.choice.class_name == "Conv2D"
    assert request.labels is None
    assert state.shortcut_layer("last_conv") == "conv2" and state.shortcut_layer("dense") == "features"
    state.act_layer = "predictions"
    assert state.activation_request().labels == opened.data.class_names

    # An image from another tab, with its own model and layers.
    ext_choices = [LayerChoice("block/conv_a", "conv", "Conv2D", (8, 8, 4))]
    image = np.zeros((28, 28, 1), np.uint8)
    state.set_external(External(image, "other model", (28, 28, 1), ["x", "y"], "my.png", ext_choices))
    assert state.image_source == "test"
    state.choose_image_source("external")
    assert state.using_external and state.act_layer == "block/conv_a"
    request = state.activation_request()
    assert request.model == "other model" and request.image is image and request.class_names == ["x", "y"]
    assert not state.controls().row and not state.controls().dense
    # Back to the test images: the layer chosen there is found again if the run has it.
    state.choose_image_source("test")
    assert state.act_layer == "conv1" and state.controls().row


def test_settings_round_trip_and_damaged_values_are_ignored():
    state = InsideState()
    state.method, state.three_d = "pca", True
    again = InsideState()
    again.apply_settings(state.to_settings())
    assert (again.method, again.three_d) == ("pca", True)
    damaged = InsideState()
    damaged.apply_settings({"method": "umap", "three_d": "yes"})
    assert (damaged.method, damaged.three_d) == ("tsne", False)


@pytest.mark.parametrize("weight, text", [(0, "cross-entropy"), ("x", "cross-entropy"), (0.05, "weight 0.05")])
def test_loss_text(weight, text):
    opened = make_opened()
    opened.config["center_loss_weight"] = weight
    assert text in opened.loss_text
