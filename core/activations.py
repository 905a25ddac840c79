"""What a layer makes of an image: its activations, for the Inside tab's grid of feature maps.

* :func:`layer_choices` lists the layers worth looking at (convolutions, their activations, dense
  layers, pooled features), those inside a Keras Applications ``backbone`` included, each named
  by a path (``"conv1"``, ``"backbone/block_1_expand"``) with its output shape.
* :func:`layer_function` turns a layer path into one compiled ``tf.function`` from raw pixels to
  that layer's output (traced once for any batch size); :mod:`core.features` uses it too.
* :func:`activations` gives one image's activations: ``(H', W', C')`` for a convolutional layer,
  ``(D,)`` for a dense one. :class:`ActivationProbe` keeps ONE compiled function of one model for all
  its listed layers (traced once), so clicking through images or layers costs one model call each
  and never traces again.
* :func:`grid_shape` and :func:`mosaic` lay ``C'`` feature maps out as one image with gaps, which
  the GUI paints with one shared colour scale.

Nothing here imports Qt; TensorFlow and Keras are imported when a model is first probed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import WorkbenchError

SEPARATOR = "/"  # between a nested model's name and its layer's: "backbone/conv1_conv"

_CONV = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")
_DENSE = ("Dense", "EinsumDense")
_ACTIVATION = ("ReLU", "Activation", "LeakyReLU", "ELU", "PReLU", "Softmax")
_POOLED = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D")
_MERGE = ("Add", "Concatenate")


@dataclass(frozen=True)
class LayerChoice:
    """A layer one can look inside: its path, what it is, and its output shape (without the batch)."""

    name: str  # "conv1", or "backbone/block1_conv1" inside a nested model
    kind: str  # "conv", "activation", "merge", "dense" or "pooled"
    class_name: str  # the Keras class: "Conv2D", "Dense", ...
    output_shape: tuple[int, ...]

    @property
    def is_map(self) -> bool:
        """Feature maps (H, W, C) rather than a vector (D,)."""
        return len(self.output_shape) == 3

    @property
    def label(self) -> str:
        """ "conv1 - Conv2D, 26x26x32" for a combo box."""
        return f"{self.name} - {self.class_name}, {format_shape(self.output_shape)}"


def format_shape(shape: Sequence[int | None]) -> str:
    return "x".join("?" if d is None else str(int(d)) for d in shape)


def _kind(layer) -> str | None:
    name = type(layer).__name__
    if name in _CONV:
        return "conv"
    if name in _DENSE:
        return "dense"
    if name in _ACTIVATION:
        return "activation"
    if name in _POOLED:
        return "pooled"
    if name in _MERGE:
        return "merge"
    return None


def _output_shape(layer) -> tuple[int, ...] | None:
    try:
        shape = tuple(layer.output.shape)[1:]
    except (AttributeError, ValueError):  # a layer called more than once, or never
        return None
    if any(d is None for d in shape):
        return None
    return tuple(int(d) for d in shape)


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "inputs")


def layer_choices(model) -> list[LayerChoice]:
    """Convolutional, activation, merge, dense and pooled layers in model order, nested models included.

    Only layers whose output is a vector ``(D,)`` or maps ``(H, W, C)`` of a fixed size are listed.
    """
    out: list[LayerChoice] = []

    def visit(m, prefix: str) -> None:
        for layer in m.layers:
            if _is_model(layer):
                visit(layer, f"{prefix}{layer.name}{SEPARATOR}")
                continue
            kind = _kind(layer)
            shape = _output_shape(layer)
            if kind is None or shape is None or len(shape) not in (1, 3):
                continue
            if kind == "activation" and len(shape) == 1 and layer.name != "features":
                continue  # a vector's activation adds nothing to the dense layer before it
            out.append(LayerChoice(prefix + layer.name, kind, type(layer).__name__, shape))

    visit(model, "")
    return out


def pick_layer(choices: Sequence[LayerChoice], which: str) -> LayerChoice | None:
    """A sensible default: ``"first_conv"``, ``"last_conv"`` or ``"dense"`` (the features layer if any)."""
    maps = [c for c in choices if c.kind == "conv"]
    if which == "first_conv":
        return maps[0] if maps else (choices[0] if choices else None)
    if which == "last_conv":
        return maps[-1] if maps else None
    if which == "dense":
        for c in choices:
            if c.name.split(SEPARATOR)[-1] == "features":
                return c
        vectors = [c for c in choices if not c.is_map and c.name.split(SEPARATOR)[-1] != "predictions"]
        return vectors[-1] if vectors else None
    raise ValueError(f"unknown layer shortcut {which!r}")


def _node_input(layer):
    """The tensor a nested model was called on inside its outer model."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    for node in nodes:
        tensors = list(getattr(node, "input_tensors", None) or [])
        if len(tensors) == 1:
            return tensors[0]
    raise WorkbenchError(
        f"Cannot tell what the nested model '{layer.name}' is fed with, so its layers cannot be shown."
    )


def find_layer(model, name: str):
    """The layer at ``name`` (a path through nested models); WorkbenchError when there is none."""
    parts = name.split(SEPARATOR)
    current = model
    try:
        for part in parts:
            current = current.get_layer(part)
    except ValueError as exc:
        raise WorkbenchError(f"The model has no layer called '{name}'.") from exc
    return current


def _single(inputs):
    """One input tensor as itself, not a list (Keras warns when a list-input model gets a tensor)."""
    return inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs


def layer_model(model, name: str):
    """A callable ``pixels batch -> layer output`` (Keras models, chained through nested ones)."""
    import keras

    parts = name.split(SEPARATOR)
    stages = []
    current = model
    inputs = _single(model.inputs)
    for depth, part in enumerate(parts):
        try:
            layer = current.get_layer(part)
        except ValueError as exc:
            raise WorkbenchError(f"The model has no layer called '{name}'.") from exc
        if depth == len(parts) - 1:
            stages.append(keras.Model(inputs, layer.output))
            break
        if not _is_model(layer):
            raise WorkbenchError(f"'{SEPARATOR.join(parts[: depth + 1])}' is not a nested model.")
        stages.append(keras.Model(inputs, _node_input(layer)))  # up to the nested model's input
        current, inputs = layer, _single(layer.inputs)

    def run(x, training=False):
        for stage in stages:
            x = stage(x, training=training)
        return x

    return run


def layer_function(model, name: str, input_shape: Sequence[int] | None = None):
    """``layer_model`` as a ``tf.function`` traced once for any batch size (float32 pixels in)."""
    import tensorflow as tf

    shape = tuple(input_shape or tuple(model.inputs[0].shape)[1:])
    spec = tf.TensorSpec(shape=(None, *shape), dtype=tf.float32)
    fn = layer_model(model, name)
    return tf.function(lambda x: fn(x, training=False), input_signature=[spec], reduce_retracing=True)


def layers_model(model, names: Sequence[str]):
    """A callable ``pixels batch -> {name: layer output}`` for many layer paths in one model call.

    One Keras model per level of nesting: the outer model gives its own layers' outputs and what
    each nested model is fed; each nested model then gives its layers' outputs.
    """
    import keras

    direct: list[str] = []
    nested: dict[str, list[str]] = {}
    for name in names:
        head, sep, rest = name.partition(SEPARATOR)
        if sep:
            nested.setdefault(head, []).append(rest)
        else:
            direct.append(name)
    outputs = [find_layer(model, name).output for name in direct]
    inner: list[tuple[str, Any]] = []
    for head, rest in nested.items():
        layer = find_layer(model, head)
        if not _is_model(layer):
            raise WorkbenchError(f"'{head}' is not a nested model.")
        outputs.append(_node_input(layer))
        inner.append((head, layers_model(layer, rest)))
    both = keras.Model(_single(model.inputs), outputs)

    def run(x, training=False) -> dict[str, Any]:
        outs = both(x, training=training)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        result = dict(zip(direct, outs[: len(direct)], strict=True))
        for (head, sub), fed in zip(inner, outs[len(direct) :], strict=True):
            for name, value in sub(fed, training=training).items():
                result[f"{head}{SEPARATOR}{name}"] = value
        return result

    return run


class ActivationProbe:
    """One model's activations, through ONE compiled function for all of its listed layers.

    The function is traced once (a fixed input signature, any batch size), so clicking through
    images and layers never traces again: a ``tf.function`` per layer made TensorFlow warn about
    "retracing" after a few layers. A layer that is not listed gets its own function (thread-safe).
    """

    def __init__(self, model, input_shape: Sequence[int] | None = None) -> None:
        self.model = model
        self.input_shape = tuple(input_shape or tuple(model.inputs[0].shape)[1:])
        self._layers = {c.name for c in layer_choices(model)}
        self._all: Any = None
        self._functions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _all_layers(self):
        import tensorflow as tf

        with self._lock:
            if self._all is None:
                spec = tf.TensorSpec(shape=(None, *self.input_shape), dtype=tf.float32)
                run = layers_model(self.model, sorted(self._layers))
                self._all = tf.function(lambda x: run(x, training=False), input_signature=[spec])
            return self._all

    def function(self, layer: str):
        """A function ``float32 pixels batch -> layer output`` (a per-layer one, for layers not listed)."""
        if layer in self._layers:
            fn = self._all_layers()
            return lambda x: fn(x)[layer]
        with self._lock:
            fn = self._functions.get(layer)
            if fn is None:
                fn = self._functions[layer] = layer_function(self.model, layer, self.input_shape)
            return fn

    def tracing_count(self) -> int:
        """How often the probe's functions were traced (1 after any browsing of listed layers)."""
        with self._lock:
            functions = [f for f in (self._all, *self._functions.values()) if f is not None]
        return sum(int(f.experimental_get_tracing_count()) for f in functions)

    def __call__(self, image: np.ndarray, layer: str) -> np.ndarray:
        return self.batch(np.asarray(image)[np.newaxis], layer)[0]

    def batch(self, images: np.ndarray, layer: str) -> np.ndarray:
        """Activations of a batch of raw images ``(N, H, W, C)``: ``(N, ...)`` float32."""
        x = np.asarray(images)
        if x.ndim == 3 and len(self.input_shape) == 3 and self.input_shape[2] == 1:
            x = x[..., np.newaxis]
        if tuple(x.shape[1:]) != self.input_shape:
            raise WorkbenchError(
                f"The image is {format_shape(x.shape[1:])} but the model takes {format_shape(self.input_shape)}."
            )
        out = self.function(layer)(x.astype(np.float32, copy=False))
        return np.asarray(out, dtype=np.float32)


_probes: dict[int, tuple[Any, ActivationProbe]] = {}
_probes_lock = threading.Lock()


def probe_for(model) -> ActivationProbe:
    """The :class:`ActivationProbe` of ``model`` (the last few models' probes are kept)."""
    with _probes_lock:
        entry = _probes.get(id(model))
        if entry is not None and entry[0] is model:
            return entry[1]
        probe = ActivationProbe(model)
        _probes[id(model)] = (model, probe)
        while len(_probes) > 4:
            _probes.pop(next(iter(_probes)))
        return probe


def activations(model, image: np.ndarray, layer: str) -> np.ndarray:
    """One image's activations at ``layer``: ``(H', W', C')`` feature maps or a ``(D,)`` vector.

    ``image`` is raw pixels as the model takes them (uint8 ``H x W x C``, ``H x W`` for grayscale).
    """
    return probe_for(model)(image, layer)


# --------------------------------------------------------------------------------------------------
# Laying maps out


def grid_shape(count: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles: about square, a bit wider than tall for wide areas."""
    if count <= 0:
        return 0, 0
    cols = max(1, math.ceil(math.sqrt(count * max(aspect, 1e-3))))
    cols = min(cols, count)
    return math.ceil(count / cols), cols


def mosaic(maps: np.ndarray, cols: int | None = None, gap: int = 1) -> np.ndarray:
    """Feature maps ``(H, W, C)`` as one ``(rows*(H+gap)-gap, cols*(W+gap)-gap)`` float image.

    Map ``k`` sits at row ``k // cols``, column ``k % cols``; gaps and unused tiles are NaN (drawn
    as background, and left out of the colour scale).
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps (H, W, C), got shape {maps.shape}")
    h, w, c = maps.shape
    if cols is None:
        rows, cols = grid_shape(c)
    else:
        cols = max(1, min(int(cols), c))
        rows = math.ceil(c / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = maps[..., k]
    return out


def tile_at(row: int, col: int, map_shape: tuple[int, int], count: int, cols: int, gap: int = 1) -> int | None:
    """Which map a pixel (``row``, ``col``) of a :func:`mosaic` belongs to (None for a gap)."""
    h, w = map_shape
    r, dr = divmod(int(row), h + gap)
    q, dq = divmod(int(col), w + gap)
    if row < 0 or col < 0 or dr >= h or dq >= w or q >= cols:
        return None
    k = r * cols + q
    return k if k < count else None


def shared_levels(values: np.ndarray) -> tuple[float, float]:
    """One colour scale for every map of a layer: its finite min and max (never an empty range)."""
    v = np.asarray(values, dtype=np.float32)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        hi = lo + 1.0
    return lo, hi
