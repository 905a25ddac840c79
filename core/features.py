"""Feature space: a layer's features for every test image, embedded in 2-D (or 3-D) and cached.

* :func:`feature_layers` lists the layers worth embedding, the penultimate ``"features"`` layer
  (last dense layer, or the global-pooling output) first.
* :func:`extract_features` runs the model up to a layer for many images, batch by batch, through
  one compiled function (convolutional maps are flattened), honouring a cancel flag.
* :func:`embed` maps features to 2 or 3 dimensions with scikit-learn: t-SNE (after PCA to 50
  dimensions, as is usual: it removes noise and makes the neighbour search fast) or PCA alone.
* :func:`compute_embedding` does both for a run's (or a model file's) test set and caches the
  result as ``embeddings/<layer>-<method>-<dims>d.npz`` in the run folder, written atomically, with
  a key of the model file's size and modification time and the test rows' labels: a retrained or
  re-evaluated model never shows a stale picture. :func:`cached_embedding` reads it back.

How long t-SNE takes on 2 busy CPU cores (scikit-learn's Barnes-Hut, 1,000 iterations, after PCA
to 50 dimensions): 5-10 s for 1,000 points, about 55 s for 5,000 and 75 s for 10,000
(:func:`expected_seconds` holds the measured rate). scikit-learn's t-SNE takes no callback and
cannot be interrupted, so it runs in a child process (:mod:`core.tsne_process`): its printed
iterations are the progress, and Stop kills it at once. PCA takes well under a second.

Nothing here imports Qt.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core import atomic, paths
from core.activations import SEPARATOR, find_layer, layer_function
from core.errors import WorkbenchError
from core.reporting import CancelToken, NullReporter, Reporter, raise_if_cancelled

METHODS = ("tsne", "pca")
METHOD_TITLES = {"tsne": "t-SNE", "pca": "PCA"}
DEFAULT_LAYER = "features"
DEFAULT_SEED = 0
PCA_DIMS = 50  # t-SNE runs on this many principal components
TSNE_MAX_ITER = 1000  # scikit-learn's default; 500 leaves 10,000 points visibly less settled
MAX_FEATURE_BYTES = 1 << 30  # refuse a layer whose flattened features for the test set exceed 1 GiB
CACHE_FORMAT = 1

# Seconds per point per log2(points) measured on 2 shared CPU cores (t-SNE, 1,000 iterations).
_TSNE_RATE = 6e-4

_LAYER_KINDS = {
    "Dense": "dense",
    "GlobalAveragePooling2D": "pooled",
    "GlobalMaxPooling2D": "pooled",
    "Flatten": "flatten",
    "Conv2D": "conv",
    "SeparableConv2D": "conv",
    "DepthwiseConv2D": "conv",
    "MaxPooling2D": "conv",
    "AveragePooling2D": "conv",
    "Concatenate": "conv",
    "Add": "conv",
    "ReLU": "conv",
}


class Batches(Protocol):
    """What :func:`extract_features` reads images from: a numpy array, or anything sliceable like one."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------------
# Layers and features


def feature_layers(model) -> list[str]:
    """Layers whose outputs make a feature space, best first.

    ``"features"`` (the penultimate layer every zoo model has) first, then the other vector layers
    (dense, global pooling, flatten) from the output backwards, ``"predictions"`` (the class
    probabilities) and, last, convolutional outputs (flattened). A nested model (a Keras
    Applications ``backbone``) counts as one layer: its output.
    """
    vectors: list[str] = []
    maps: list[str] = []
    for layer in reversed(model.layers):
        name = layer.name
        if name in (DEFAULT_LAYER, "predictions"):
            continue
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):
            continue
        is_model = hasattr(layer, "layers") and hasattr(layer, "inputs")
        kind = "conv" if is_model else _LAYER_KINDS.get(type(layer).__name__)
        if kind is None or any(d is None for d in shape):
            continue
        if len(shape) == 1:
            vectors.append(name)
        elif len(shape) == 3:
            maps.append(name)
    names = {layer.name for layer in model.layers}
    head = [DEFAULT_LAYER] if DEFAULT_LAYER in names else []
    tail = ["predictions"] if "predictions" in names else []
    return head + vectors + tail + maps


def feature_dim(model, layer: str) -> int:
    """How many numbers ``layer`` gives per image (flattened)."""
    shape = tuple(find_layer(model, layer).output.shape)[1:]
    if any(d is None for d in shape):
        raise WorkbenchError(f"The layer '{layer}' has no fixed output size, so it cannot be embedded.")
    return int(np.prod(shape)) if shape else 1


def extract_features(
    model,
    images: Batches,
    layer: str = DEFAULT_LAYER,
    batch_size: int = 256,
    *,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """``layer``'s output for every image, flattened: float32 ``(N, D)``.

    ``images`` are raw pixels as the model takes them (``(N, H, W, C)``, uint8 or float), or any
    object that gives such arrays when sliced (so a folder's images are decoded a batch at a time).
    The model is called through one ``tf.function`` (traced once). ``reporter.on_progress`` hears
    the images done after each batch. ``cancel.cancelled`` is checked before each batch: once set,
    :class:`~core.reporting.Cancelled` is raised.
    """
    reporter = reporter or NullReporter()
    n = len(images)
    dim = feature_dim(model, layer)
    if n * dim * 4 > MAX_FEATURE_BYTES:
        raise WorkbenchError(
            f"The layer '{layer}' gives {dim:,} numbers per image: {n:,} test images would need "
            f"{n * dim * 4 / 2**30:.1f} GB. Choose a later (smaller) layer."
        )
    out = np.empty((n, dim), np.float32)
    if n == 0:
        return out
    fn = layer_function(model, layer)
    step = max(1, int(batch_size))
    what = f"Features of '{layer}'"
    for start in range(0, n, step):
        raise_if_cancelled(cancel)
        x = np.asarray(images[start : start + step])
        if x.ndim == 3:
            x = x[..., np.newaxis]
        y = np.asarray(fn(x.astype(np.float32, copy=False)), dtype=np.float32)
        out[start : start + len(x)] = y.reshape(len(x), -1)
        reporter.on_progress(min(n, start + step), n, what)
    return out


# --------------------------------------------------------------------------------------------------
# Embedding


def expected_seconds(n: int, method: str = "tsne") -> float:
    """A rough expectation of :func:`embed`'s time on this kind of machine (shown while it runs)."""
    if method == "pca" or n < 2:
        return 0.5
    return 1.0 + _TSNE_RATE * n * math.log2(max(2, n))


def tsne_threads() -> int:
    """Threads for t-SNE's gradient: half the cores. scikit-learn's OpenMP threads busy-wait at every
    iteration's barrier, so when another program (or our own GUI thread) takes a core they stall:
    1,000 points took 86 s with 2 threads on 2 busy cores and 9 s with 1."""
    return max(1, (os.cpu_count() or 2) // 2)


def _pad(coords: np.ndarray, n: int, dims: int) -> np.ndarray:
    out = np.zeros((n, dims), np.float32)
    out[:, : coords.shape[1]] = coords[:, :dims]
    return out


def embed(
    features: np.ndarray,
    method: str = "tsne",
    seed: int = DEFAULT_SEED,
    dims: int = 2,
    *,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Features ``(N, D)`` in ``dims`` (2 or 3) dimensions: float32 ``(N, dims)``.

    ``"pca"``: the first principal components. ``"tsne"``: t-SNE (Barnes-Hut, perplexity 30 or
    less for small sets, PCA initialisation, automatic learning rate) on the first 50 principal
    components. Fewer than 5 points cannot make a t-SNE; they get PCA. Each phase is reported as
    it starts, ``reporter.on_progress(0, 0, name)`` (its length cannot be measured; t-SNE's name
    says how long it is expected to take), and ``cancel`` is checked before it
    (:class:`~core.reporting.Cancelled`). The same features and seed give the same result.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if dims not in (2, 3):
        raise ValueError("dims must be 2 or 3")
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        x = x.reshape(len(x), -1)
    n, d = x.shape
    if n == 0:
        return np.zeros((0, dims), np.float32)
    if n == 1 or d == 0:
        return np.zeros((n, dims), np.float32)
    from sklearn.decomposition import PCA

    reporter = reporter or NullReporter()

    def say(text: str) -> None:
        raise_if_cancelled(cancel)
        hint = f" (about {expected_seconds(n, method):.0f} s for {n:,} points)" if text == "t-SNE" else ""
        reporter.on_progress(0, 0, text + hint)

    if method == "pca" or n < 5:
        say("PCA")
        k = min(dims, n, d)
        return _pad(PCA(n_components=k, random_state=seed).fit_transform(x).astype(np.float32), n, dims)

    reduced = x
    if d > PCA_DIMS and n > PCA_DIMS:
        say(f"PCA to {PCA_DIMS} dimensions")
        reduced = PCA(n_components=PCA_DIMS, random_state=seed).fit_transform(x).astype(np.float32)
    from core.tsne_process import run_tsne

    say("t-SNE")
    what = f"t-SNE (about {expected_seconds(n, method):.0f} s for {n:,} points)"
    params = {
        "n_components": dims,
        "perplexity": float(min(30.0, (n - 1) / 3.0)),
        "init": "pca",
        "learning_rate": "auto",
        "max_iter": TSNE_MAX_ITER,
        "random_state": seed,
    }
    # In a child process that Stop (or closing the app) kills at once: scikit-learn cannot be interrupted.
    return run_tsne(
        reduced,
        params,
        threads=tsne_threads(),
        progress=lambda done: reporter.on_progress(done, TSNE_MAX_ITER, what),
        cancel=cancel,
    )


# --------------------------------------------------------------------------------------------------
# Cache


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace(SEPARATOR, "__")).strip("_") or "layer"


def cache_dir_for(run_dir: str | Path | None = None, model_path: str | Path | None = None) -> Path:
    """Where embeddings are kept: ``<run>/embeddings``, or (for a model file outside a run) a
    folder in the workspace named after the file, so files shipped read-only need no write access."""
    if run_dir is not None:
        return Path(run_dir) / "embeddings"
    if model_path is None:
        raise ValueError("give a run folder or a model file")
    path = Path(model_path).expanduser().resolve()
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:10]
    return paths.workspace_dir() / "embeddings" / f"{_slug(path.stem)}-{digest}"


def cache_path(folder: Path, layer: str, method: str, dims: int = 2) -> Path:
    return Path(folder) / f"{_slug(layer)}-{method}-{dims}d.npz"


def rows_digest(y_true: np.ndarray, indices: np.ndarray) -> str:
    """What identifies the test rows an embedding is for (their labels and positions)."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(np.asarray(y_true, dtype=np.int64)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(indices, dtype=np.int64)).tobytes())
    return h.hexdigest()


def cache_key(
    model_path: str | Path, layer: str, method: str, dims: int, seed: int, rows: str
) -> dict[str, Any] | None:
    """The key a cached embedding must match; None when the model file is missing."""
    try:
        st = Path(model_path).stat()
    except OSError:
        return None
    return {
        "format": CACHE_FORMAT,
        "layer": layer,
        "method": method,
        "dims": int(dims),
        "seed": int(seed),
        "model_size": int(st.st_size),
        "model_mtime_ns": int(st.st_mtime_ns),
        "rows": rows,
    }


def read_cache(path: Path, key: dict[str, Any] | None) -> tuple[np.ndarray, dict[str, Any]] | None:
    """``(coords, meta)`` from a cache file whose key equals ``key``; None if absent, stale or damaged."""
    if key is None or not Path(path).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            coords = np.asarray(data["coords"], dtype=np.float32)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if meta.get("key") != key:
        return None
    return coords, meta


def write_cache(path: Path, coords: np.ndarray, key: dict[str, Any], **info: Any) -> None:
    meta = json.dumps({"key": key, **info})
    atomic.write_with(path, lambda p: np.savez_compressed(p, coords=np.asarray(coords, np.float32), meta=meta))


def cached_embedding(
    run_dir: str | Path, layer: str = DEFAULT_LAYER, method: str = "tsne", dims: int = 2, seed: int = DEFAULT_SEED
) -> np.ndarray | None:
    """The cached embedding of a run's test set, or None (never computed, or the model or the
    evaluation changed since)."""
    from core.errors import RunError
    from core.evaluation import load_evaluation

    run_dir = Path(run_dir)
    try:
        ev = load_evaluation(run_dir)
    except RunError:
        return None
    key = cache_key(run_dir / "model.keras", layer, method, dims, seed, rows_digest(ev.y_true, ev.indices))
    found = read_cache(cache_path(cache_dir_for(run_dir), layer, method, dims), key)
    return None if found is None else found[0]


# --------------------------------------------------------------------------------------------------
# The job


@dataclass
class Embedding:
    """Test images placed in 2-D (or 3-D): row ``i`` of ``coords`` is row ``i`` of the evaluation."""

    coords: np.ndarray  # float32 (N, dims)
    layer: str
    method: str
    dims: int
    feature_dim: int
    seconds: float  # how long computing it took (when it was computed, for a cached one)
    cached: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{METHOD_TITLES.get(self.method, self.method)} of '{self.layer}' ({self.feature_dim:,} values)"


class _ModelInputs:
    """Rows of an image source as model input, decoded a slice at a time."""

    def __init__(self, source, count: int, input_shape: tuple[int, int, int]) -> None:
        self.source, self.count, self.input_shape = source, count, tuple(input_shape)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: slice) -> np.ndarray:
        rows = range(*index.indices(self.count))
        return np.stack([self.source.model_input(r, self.input_shape) for r in rows])


def model_inputs(data, input_shape: Sequence[int]) -> Batches:
    """The test images of a :class:`core.gallery.GalleryData` as the model takes them, in row order."""
    source = data.images
    if getattr(source, "reason", None):
        raise WorkbenchError(f"The test images are not available: {source.reason}.")
    shape = tuple(int(v) for v in input_shape)
    images = getattr(source, "images", None)
    indices = getattr(source, "indices", None)
    if isinstance(images, np.ndarray) and indices is not None and tuple(images.shape[1:]) == shape:
        return images[np.asarray(indices)]
    return _ModelInputs(source, len(data), shape)


def _cache_target(data, layer: str, method: str, dims: int, seed: int) -> tuple[Path | None, dict | None]:
    model_path = getattr(data, "model_path", None)
    run_dir = getattr(data, "run_dir", None)
    if model_path is None:
        return None, None
    ev = data.evaluation
    key = cache_key(model_path, layer, method, dims, seed, rows_digest(ev.y_true, ev.indices))
    return cache_path(cache_dir_for(run_dir, model_path), layer, method, dims), key


def lookup_embedding(
    data, layer: str = DEFAULT_LAYER, method: str = "tsne", *, dims: int = 2, seed: int = DEFAULT_SEED
) -> Embedding | None:
    """The cached embedding for ``data`` (a :class:`core.gallery.GalleryData`), if still valid; no TensorFlow."""
    target, key = _cache_target(data, layer, method, dims, seed)
    found = read_cache(target, key) if target is not None else None
    if found is None or len(found[0]) != len(data):
        return None
    coords, meta = found
    return Embedding(
        coords, layer, method, dims, int(meta.get("feature_dim", 0)), float(meta.get("seconds", 0.0)), True, meta
    )


def compute_embedding(
    data,
    model,
    layer: str = DEFAULT_LAYER,
    method: str = "tsne",
    *,
    dims: int = 2,
    seed: int = DEFAULT_SEED,
    use_cache: bool = True,
    batch_size: int = 256,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
) -> Embedding:
    """Embed the test set of ``data`` (a :class:`core.gallery.GalleryData`) at ``layer`` of ``model``.

    A cached embedding is returned at once when its key still matches; otherwise the features are
    extracted, embedded and saved in the cache (a run's ``embeddings/`` folder, or the workspace's
    for a model file). Progress goes to ``reporter.on_progress`` (images done, then phases with a
    total of 0, as they cannot be measured); ``cancel`` is honoured between batches and phases.
    """
    reporter = reporter or NullReporter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if use_cache:
        found = lookup_embedding(data, layer, method, dims=dims, seed=seed)
        if found is not None:
            return found
    target, key = _cache_target(data, layer, method, dims, seed)
    started = time.perf_counter()
    input_shape = tuple(int(v) for v in tuple(model.inputs[0].shape)[1:])
    images = model_inputs(data, input_shape)
    n = len(images)
    what = f"Features of '{layer}'"
    reporter.on_progress(0, n, what)
    features = extract_features(model, images, layer, batch_size=batch_size, reporter=reporter, cancel=cancel)
    raise_if_cancelled(cancel)
    coords = embed(features, method, seed=seed, dims=dims, reporter=reporter, cancel=cancel)
    seconds = time.perf_counter() - started
    result = Embedding(coords, layer, method, dims, int(features.shape[1]), seconds)
    if target is not None and key is not None:
        try:
            write_cache(target, coords, key, seconds=seconds, feature_dim=int(features.shape[1]), points=n)
        except OSError as exc:  # a read-only run folder: the picture is still good, just not kept
            reporter.on_message(f"Could not keep the embedding in {target.parent}: {exc}")
    reporter.on_progress(1, 1, "Done")
    return result
