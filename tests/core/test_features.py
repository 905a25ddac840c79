"""Feature space: layers to embed, features for many images, t-SNE/PCA, and the embedding cache.

Uses the shipped model (weights/) on the bundled MNIST sample's 1,000 test images.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from core import features
from core.errors import WorkbenchError
from core.reporting import Cancelled, CancelToken, NullReporter

SHIPPED = "mnist-sample-simple-cnn-2.keras"


class ProgressLog(NullReporter):
    """A reporter that keeps every ``on_progress(done, total, what)`` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def on_progress(self, done: int, total: int, what: str) -> None:
        self.calls.append((done, total, what))


@pytest.fixture(scope="module")
def shipped():
    from core import paths
    from core.inference import load_model

    return load_model(paths.WEIGHTS_DIR / SHIPPED)


@pytest.fixture(scope="module")
def test_images():
    from core.datasets import load_dataset

    return load_dataset("mnist-sample").test.images


def test_feature_layers_put_the_penultimate_layer_first(shipped):
    names = features.feature_layers(shipped.model)
    assert names[0] == "features"
    assert "predictions" in names and "flatten" in names and "conv1" in names
    assert names.index("predictions") < names.index("conv2")  # vectors before flattened maps
    assert "dropout" not in " ".join(names) and "pixels" not in names


def test_extract_features_matches_keras_and_flattens_maps(shipped, test_images):
    import keras

    model = shipped.model
    x = test_images[:70]
    progress = ProgressLog()
    feats = features.extract_features(model, x, "features", batch_size=32, reporter=progress)
    calls = [done for done, total, what in progress.calls]
    expected = keras.Model(model.inputs[0], model.get_layer("features").output).predict_on_batch(x.astype("float32"))
    assert feats.shape == (70, 128) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-5)
    assert calls == [32, 64, 70]
    assert {(total, what) for _, total, what in progress.calls} == {(70, "Features of 'features'")}
    conv = features.extract_features(model, x[:5], "conv2")
    assert conv.shape == (5, int(np.prod(model.get_layer("conv2").output.shape[1:])))


def test_extract_features_honours_cancel_and_refuses_huge_layers(shipped, test_images, monkeypatch):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        features.extract_features(shipped.model, test_images[:10], "features", cancel=token)
    monkeypatch.setattr(features, "MAX_FEATURE_BYTES", 1000)
    with pytest.raises(WorkbenchError, match="later"):
        features.extract_features(shipped.model, test_images[:10], "conv1")


def test_embed_gives_one_point_per_row_and_is_repeatable():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 80)) * 6
    y = np.arange(120) % 3
    x = (centres[y] + rng.normal(size=(120, 80))).astype(np.float32)
    pca = features.embed(x, "pca")
    assert pca.shape == (120, 2) and pca.dtype == np.float32
    progress = ProgressLog()
    a = features.embed(x, "tsne", seed=0, reporter=progress)
    phases = [what for _, _, what in progress.calls]
    b = features.embed(x, "tsne", seed=0)
    assert a.shape == (120, 2) and np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    tsne = f"t-SNE (about {features.expected_seconds(120):.0f} s for 120 points)"
    assert phases[:2] == ["PCA to 50 dimensions", tsne] and set(phases[2:]) <= {tsne}
    # PCA cannot be measured; t-SNE counts its iterations (as the child process prints them).
    assert {(done, total) for done, total, _ in progress.calls[:2]} == {(0, 0)}
    iterations = [done for done, total, _ in progress.calls[2:]]
    assert iterations == sorted(iterations) and all(0 < i <= features.TSNE_MAX_ITER for i in iterations)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        features.embed(x, "tsne", seed=0, cancel=token)
    # The three blobs stay apart: every point is nearer its own class's centre than any other.
    cs = np.stack([a[y == k].mean(0) for k in range(3)])
    nearest = np.argmin(((a[:, None] - cs[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y) > 0.95
    assert features.embed(x, "pca", dims=3).shape == (120, 3)
    # Too few points for t-SNE still get a picture.
    assert features.embed(x[:3], "tsne").shape == (3, 2)
    assert features.embed(x[:0], "tsne").shape == (0, 2)


def test_embedding_has_one_point_per_test_image_is_cached_and_invalidated_by_a_new_model(tmp_path, make_shipped_run):
    from core import gallery
    from core.inference import load_model

    run_dir, dataset = make_shipped_run(tmp_path / "ws")
    data = gallery.load_run(run_dir)
    model = load_model(run_dir / "model.keras").model
    assert features.cached_embedding(run_dir, "features", "pca") is None

    emb = features.compute_embedding(data, model, "features", "pca")
    assert emb.coords.shape == (len(dataset.test), 2) == (1000, 2)
    assert not emb.cached and emb.feature_dim == 128
    cache_files = list((run_dir / "embeddings").glob("*.npz"))
    assert [p.name for p in cache_files] == ["features-pca-2d.npz"]
    np.testing.assert_array_equal(features.cached_embedding(run_dir, "features", "pca"), emb.coords)
    assert features.cached_embedding(run_dir, "features", "tsne") is None  # another method
    assert features.cached_embedding(run_dir, "conv2", "pca") is None  # another layer

    again = features.compute_embedding(data, model, "features", "pca")
    assert again.cached and np.array_equal(again.coords, emb.coords)

    # A retrained (here: touched) model file makes the cached picture stale.
    st = (run_dir / "model.keras").stat()
    os.utime(run_dir / "model.keras", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert features.cached_embedding(run_dir, "features", "pca") is None
    assert features.lookup_embedding(data, "features", "pca") is None
    fresh = features.compute_embedding(data, model, "features", "pca")
    assert not fresh.cached
    assert features.cached_embedding(run_dir, "features", "pca") is not None


def test_a_damaged_cache_file_is_ignored(tmp_path):
    path = tmp_path / "features-pca-2d.npz"
    path.write_bytes(b"not a zip")
    assert features.read_cache(path, {"format": 1}) is None


def test_model_files_outside_runs_cache_in_the_workspace(tmp_path):
    from core import paths

    folder = features.cache_dir_for(None, paths.WEIGHTS_DIR / SHIPPED)
    assert folder.parent == paths.workspace_dir() / "embeddings"
    assert features.cache_dir_for(tmp_path) == tmp_path / "embeddings"
    assert features.expected_seconds(10_000) > features.expected_seconds(1_000) > features.expected_seconds(10, "pca")


def test_tsne_stops_when_cancelled_before_it_finishes(monkeypatch):
    """Closing the app waited ~75 s for a t-SNE of 10,000 points: scikit-learn cannot be interrupted.
    Now the child process is killed once the token is set: it ends long before its last iteration."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1500, 20)).astype(np.float32)
    token = CancelToken()
    seen: list[int] = []

    class StopAtFirstIterations(ProgressLog):
        def on_progress(self, done, total, what):
            super().on_progress(done, total, what)
            if total == features.TSNE_MAX_ITER:
                seen.append(done)
                token.cancel()  # as Stop (or closing the app) does, from another thread

    import subprocess

    children: list[subprocess.Popen] = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            children.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    with pytest.raises(Cancelled):
        features.embed(x, "tsne", seed=0, reporter=StopAtFirstIterations(), cancel=token)
    assert seen and max(seen) < features.TSNE_MAX_ITER  # cancelled during the optimisation
    assert len(children) == 1 and children[0].returncode not in (None, 0)  # killed, not finished
