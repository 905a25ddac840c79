"""Grad-CAM: where in the image a convolutional model found the evidence for a class.

Grad-CAM (Selvaraju et al. 2017) weighs each channel of a convolutional feature map by the mean
gradient of the class score over that map, sums the weighted channels and keeps the positive part:
a coarse heat map, stretched to the image, of the regions that raise the score of the class.

* :func:`conv_layers` lists the layers Grad-CAM can look at (convolutions, the last feature map
  before pooling, and the layers inside a nested backbone as ``"backbone/<layer>"``);
  :func:`default_layer` picks the last convolutional map, the usual choice.
* :func:`gradcam` computes the map for one image at the image's size; :func:`gradcam_with_fallback`
  goes back to the previous convolutional layers when a layer's map is empty, and says which it used.
* :func:`colorize` and :func:`overlay` draw it (a "turbo" colour map, numpy only).

Details that matter:

* The class score is the logit (the input of the final softmax) when the model ends in one, as in
  the paper: the gradient of a softmax probability vanishes when the model is sure (p = 1.0 in
  float32), which would make the map of a confident prediction empty.
* A convolution followed directly by batch normalisation and/or an activation is read after them
  (the block's output), which is what the next layer sees.
* The input is watched by the gradient tape, so frozen layers (a pre-trained backbone with
  ``trainable=False``) still pass gradients.

TensorFlow and Keras are imported inside the functions; importing this module is cheap.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.errors import ModelError
from core.images import array_to_model_input

if TYPE_CHECKING:  # pragma: no cover
    import keras

NO_CONV_MESSAGE = "Grad-CAM needs a convolutional layer; this model has none"
SEPARATOR = "/"  # "backbone/block5_conv3": a layer inside the nested model "backbone"

# Layers that pass a feature map on unchanged in size and meaning: a convolution followed by these
# is read after them.
_BLOCK_TAIL = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU")
# Layers between the last feature map and the classifier that only shrink or thin it out.
_TRANSPARENT_BACK = (
    "Dropout",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "MaxPooling2D",
    "AveragePooling2D",
)
_POOLING_END = ("Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Reshape")


# --------------------------------------------------------------------------------------------------
# Which layers


def _is_conv(layer: Any) -> bool:
    import keras

    return isinstance(
        layer,
        keras.layers.Conv2D
        | keras.layers.SeparableConv2D
        | keras.layers.DepthwiseConv2D
        | keras.layers.Conv2DTranspose,
    )


def _is_nested(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _kind(layer: Any) -> str:
    return type(layer).__name__


def _spatial(shape: Any) -> tuple[int, int] | None:
    """(height, width) of a ``(batch, h, w, channels)`` shape, or None if it is not a 4-D map."""
    try:
        dims = tuple(shape)
    except TypeError:
        return None
    if len(dims) != 4:
        return None
    h, w = dims[1], dims[2]
    return (int(h) if h is not None else 0, int(w) if w is not None else 0)


def _output_shape(layer: Any) -> Any:
    try:
        return layer.output.shape
    except (AttributeError, ValueError):
        return None


def _is_preprocessing_conv(layer: Any) -> bool:
    """A frozen 1x1 convolution at the top level re-orders or shifts colour channels (Caffe-style
    ImageNet preprocessing, "rgb_to_bgr_minus_mean"): it carries no spatial evidence."""
    kernel = tuple(getattr(layer, "kernel_size", ()) or ())
    return not layer.trainable and kernel == (1, 1)


def _consumers(layer: Any) -> list[Any]:
    return [node.operation for node in getattr(layer, "_outbound_nodes", [])]


def _block_end(layer: Any) -> Any:
    """The last of the batch-norm/activation layers that follow ``layer`` one after another."""
    current = layer
    for _ in range(8):
        nxt = _consumers(current)
        if len(nxt) != 1 or _kind(nxt[0]) not in _BLOCK_TAIL:
            break
        if _spatial(_output_shape(nxt[0])) is None:
            break
        current = nxt[0]
    return current


def _inner_candidates(model: Any) -> list[str]:
    return [
        layer.name
        for layer in model.layers
        if _is_conv(layer) and _spatial(_output_shape(layer)) is not None and not _is_nested(layer)
    ]


def _final_map_layer(model: Any) -> Any | None:
    """The layer whose output is the last spatial feature map before flattening or global pooling."""
    for layer in reversed(model.layers):
        if _kind(layer) not in _POOLING_END:
            continue
        try:
            tensor = layer.input
        except (AttributeError, ValueError):
            continue
        if _spatial(getattr(tensor, "shape", None)) is None:
            continue
        producer = _producer(tensor)
        while producer is not None and _kind(producer) in _TRANSPARENT_BACK:
            producer = _producer(producer.input)
        if producer is not None and _kind(producer) != "InputLayer":
            return producer
    return None


def _producer(tensor: Any) -> Any | None:
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None) if history is not None else None


def _top_candidates(model: Any) -> list[tuple[str, Any]]:
    """``(name, layer)`` pairs of the top level in model order (nested inner layers expanded)."""
    out: list[tuple[str, Any]] = []
    block_ends: dict[int, str] = {}
    for layer in model.layers:
        if _spatial(_output_shape(layer)) is None and not _is_nested(layer):
            continue
        if _is_nested(layer):
            if _spatial(_nested_output_shape(layer)) is None:
                continue
            out.extend((f"{layer.name}{SEPARATOR}{inner}", layer) for inner in _inner_candidates(layer))
            out.append((layer.name, layer))
        elif _is_conv(layer) and not _is_preprocessing_conv(layer):
            out.append((layer.name, layer))
            block_ends[id(_block_end(layer))] = layer.name
    final = _final_map_layer(model)
    if final is not None and id(final) not in block_ends and final.name not in {n for n, _ in out}:
        # The last map comes from a merge (Add, Concatenate) or an activation after one.
        order = {id(layer): i for i, layer in enumerate(model.layers)}
        position = sum(1 for _, layer in out if order.get(id(layer), 0) <= order.get(id(final), 0))
        out.insert(position, (final.name, final))
    return out


def _nested_output_shape(layer: Any) -> Any:
    try:
        return layer.outputs[0].shape
    except (AttributeError, IndexError, ValueError):
        return None


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the layers Grad-CAM can use, from the input towards the output.

    Convolutions (read after the batch normalisation and activation that follow them), the last
    feature map when it comes from a merge or an activation, and for a nested model (the Keras
    Applications "backbone") its convolutions as ``"backbone/<name>"`` followed by ``"backbone"``
    itself (its output: the last convolutional feature map). Empty when Grad-CAM does not apply.
    """
    return [name for name, _ in _top_candidates(model)]


def layer_map_size(model: keras.Model, layer: str) -> tuple[int, int] | None:
    """(height, width) of the feature map Grad-CAM reads at ``layer`` (None if unknown)."""
    outer, _, inner = layer.partition(SEPARATOR)
    try:
        found = model.get_layer(outer)
        if inner:
            return _spatial(_output_shape(_block_end(found.get_layer(inner))))
        if _is_nested(found):
            return _spatial(_nested_output_shape(found))
        return _spatial(_output_shape(_block_end(found) if _is_conv(found) else found))
    except (ValueError, AttributeError):
        return None


def default_layer(model: keras.Model) -> str | None:
    """The layer Grad-CAM uses unless told otherwise: the last convolutional feature map.

    That is the map just before flattening or global pooling (skipping pooling and dropout); if it
    is 1x1 (a small image through a deep backbone) it cannot show where anything is, so the last
    layer with a map of at least 2x2 is taken instead. None when the model has no such layer.
    """
    candidates = conv_layers(model)
    if not candidates:
        return None
    chosen = candidates[-1]
    final = _final_map_layer(model)
    if final is not None:
        for name, layer in _top_candidates(model):
            if layer is final or (not _is_nested(layer) and _block_end(layer) is final):
                if SEPARATOR not in name:
                    chosen = name
    size = layer_map_size(model, chosen)
    if size is not None and min(size) < 2:
        for name in reversed(candidates[: candidates.index(chosen)]):
            other = layer_map_size(model, name)
            if other is not None and min(other) >= 2:
                return name
    return chosen


# --------------------------------------------------------------------------------------------------
# Computing


# Per model: layer name -> function(x) -> (feature map, class scores, scores are logits)
_GRAD_FNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _outer_output(model: Any, layer: Any) -> Any:
    """The tensor ``layer`` produces in ``model``'s graph (for a nested model, not its own output)."""
    nodes = list(getattr(layer, "_inbound_nodes", []))
    if _is_nested(layer):
        if len(nodes) != 1:
            raise ModelError(f"Grad-CAM cannot follow the nested model '{layer.name}': it is used more than once.")
        return nodes[0].output_tensors[0]
    return layer.output


def _score_source(model: Any) -> tuple[Any, Any | None]:
    """``(tensor, dense)``: the logits' input and the final Dense when the model ends in softmax.

    Without a softmax to undo, ``(model output, None)``.
    """
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if _kind(last) == "Dense" and getattr(activation, "__name__", "") == "softmax":
        return last.input, last
    if _kind(last) in ("Softmax", "Activation") and (
        _kind(last) == "Softmax" or getattr(activation, "__name__", "") == "softmax"
    ):
        return last.input, None
    return model.outputs[0], None


def _build_grad_fn(model: Any, layer: str) -> Callable:
    import keras

    outer_name, _, inner_name = layer.partition(SEPARATOR)
    try:
        found = model.get_layer(outer_name)
    except ValueError as exc:
        raise ModelError(f"This model has no layer named '{outer_name}' for Grad-CAM.") from exc
    source, dense = _score_source(model)
    model_input = model.inputs[0]

    def scores(h):
        if dense is None:
            return h
        out = keras.ops.matmul(h, dense.kernel)
        return out + dense.bias if dense.use_bias else out

    try:
        if not inner_name:
            target = _outer_output(model, _block_end(found) if _is_conv(found) else found)
            if _spatial(getattr(target, "shape", None)) is None:
                raise ModelError(f"Layer '{layer}' does not output an image-like feature map; Grad-CAM needs one.")
            both = keras.Model(model_input, [target, source])

            def fn(x):
                maps, h = both(x, training=False)
                return maps, scores(h)

            return fn

        if not _is_nested(found):
            raise ModelError(f"Layer '{outer_name}' has no layers inside it.")
        nodes = list(found._inbound_nodes)
        if len(nodes) != 1:
            raise ModelError(f"Grad-CAM cannot follow the nested model '{outer_name}': it is used more than once.")
        try:
            inner_layer = found.get_layer(inner_name)
        except ValueError as exc:
            raise ModelError(f"The nested model '{outer_name}' has no layer named '{inner_name}'.") from exc
        inner_target = _block_end(inner_layer).output
        if _spatial(getattr(inner_target, "shape", None)) is None:
            raise ModelError(f"Layer '{layer}' does not output an image-like feature map; Grad-CAM needs one.")
        node_in, node_out = nodes[0].input_tensors[0], nodes[0].output_tensors[0]
        pre = None if node_in is model_input else keras.Model(model_input, node_in)
        inner = keras.Model(found.inputs[0], [inner_target, found.outputs[0]])
        post = keras.Model(node_out, source)

        def fn(x):
            y = x if pre is None else pre(x, training=False)
            maps, y = inner(y, training=False)
            return maps, scores(post(y, training=False))

        return fn
    except ModelError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ModelError(
            f"Grad-CAM cannot be computed at layer '{layer}' of this model; try another layer.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def _grad_fn(model: Any, layer: str) -> Callable:
    per_model = _GRAD_FNS.get(model)
    if per_model is None:
        per_model = {}
        _GRAD_FNS[model] = per_model
    fn = per_model.get(layer)
    if fn is None:
        fn = _build_grad_fn(model, layer)
        per_model[layer] = fn
    return fn


def _model_input_shape(model: Any) -> tuple[int | None, ...]:
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4:
        raise ModelError("Grad-CAM needs a model that takes images (batch, height, width, channels).")
    return tuple(None if d is None else int(d) for d in shape[1:])


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def gradcam(
    model: keras.Model,
    image: np.ndarray,
    class_index: int,
    layer: str | None = None,
    *,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The Grad-CAM heat map of ``class_index`` for ``image``: float32 ``(H, W)`` in [0, 1].

    ``image`` is uint8 ``(H, W, C)`` (or ``(H, W)``) raw pixels; when it is not the model's input
    size or colour mode it is converted as :func:`core.images.to_model_input` does. The map has the
    image's size (or ``size=(height, width)``), 1 where the evidence for the class is strongest;
    all zeros when nothing in the image speaks for the class at this layer. ``layer`` is a name
    from :func:`conv_layers` (default :func:`default_layer`). Raises :class:`ModelError` for a
    model without convolutional layers, or a layer Grad-CAM cannot use.
    """
    import tensorflow as tf

    arr = np.asarray(image)
    out_h, out_w = size if size is not None else arr.shape[:2]
    layer = layer or default_layer(model)
    if layer is None:
        raise ModelError(NO_CONV_MESSAGE + ".")
    num_classes = int(model.outputs[0].shape[-1])
    if not 0 <= int(class_index) < num_classes:
        raise ValueError(f"class_index {class_index} is not one of the model's {num_classes} classes")
    fn = _grad_fn(model, layer)
    h, w, c = _model_input_shape(model)
    if arr.ndim in (2, 3):  # a size (or channel count) the model leaves open is the image's own
        h, w, c = h or arr.shape[0], w or arr.shape[1], c or (arr.shape[2] if arr.ndim == 3 else 1)
    x = tf.convert_to_tensor(array_to_model_input(arr, (h, w, c)).astype(np.float32)[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(x)
        maps, scores = fn(x)
        score = scores[:, int(class_index)]
    grads = tape.gradient(score, maps)
    if grads is None:
        raise ModelError(f"Grad-CAM found no gradient from the class score to layer '{layer}'; try another layer.")
    maps = np.asarray(maps, dtype=np.float32)[0]
    grads = np.asarray(grads, dtype=np.float32)[0]
    weights = grads.mean(axis=(0, 1))  # one weight per channel
    cam = np.maximum(np.tensordot(maps, weights, axes=([2], [0])), 0.0).astype(np.float32)
    top = float(cam.max()) if cam.size else 0.0
    if not np.isfinite(top) or top <= 0.0:
        return np.zeros((int(out_h), int(out_w)), np.float32)
    heat = resize_map(cam / top, (int(out_h), int(out_w)))
    peak = float(heat.max())
    # Stretching smooths the peak below 1; renormalise so the strongest evidence is 1 at any size.
    return heat / peak if peak > 0 else heat


def gradcam_with_fallback(
    model: keras.Model,
    image: np.ndarray,
    class_index: int,
    layer: str | None = None,
    *,
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, str]:
    """:func:`gradcam`, going back to earlier convolutional layers while the map is empty.

    A map is empty when nothing at that layer speaks for the class (every channel's evidence is
    negative there), which happens at the last layer for a few images even when the prediction is
    right. Returns ``(heat, layer used)``: the first non-empty map from ``layer`` (default
    :func:`default_layer`) backwards through :func:`conv_layers`; all zeros and ``layer`` itself
    when every earlier layer is empty too.
    """
    first = layer or default_layer(model)
    heat = gradcam(model, image, class_index, first, size=size)
    if float(np.max(heat, initial=0.0)) > 0.0:
        return heat, str(first)
    candidates = conv_layers(model)
    earlier = candidates[: candidates.index(first)] if first in candidates else []
    for name in reversed(earlier):
        try:
            other = gradcam(model, image, class_index, name, size=size)
        except ModelError:
            continue
        if float(np.max(other, initial=0.0)) > 0.0:
            return other, name
    return heat, str(first)


def resize_map(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float map stretched (bilinear) to ``size=(height, width)``, clipped to [0, 1]."""
    heat = np.asarray(heat, dtype=np.float32)
    height, width = int(size[0]), int(size[1])
    if heat.shape != (height, width):
        resized = Image.fromarray(heat, mode="F").resize((width, height), Image.Resampling.BILINEAR)
        heat = np.asarray(resized, dtype=np.float32)
    return np.clip(heat, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------
# Drawing


def _turbo_table() -> np.ndarray:
    """Google's "turbo" colour map (a perceptually smoother jet) as 256 RGB uint8 rows.

    Polynomial approximation by Anton Mikhailov's team (Google AI blog, 2019).
    """
    x = np.linspace(0.0, 1.0, 256)
    powers = np.stack([np.ones_like(x), x, x**2, x**3, x**4, x**5], axis=1)
    coeffs = np.array(
        [
            [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
            [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
            [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
        ]
    )
    rgb = np.clip(powers @ coeffs.T, 0.0, 1.0)
    return np.rint(rgb * 255).astype(np.uint8)


TURBO = _turbo_table()


def colorize(heat: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` of a heat map in [0, 1] (blue = none, red = strongest)."""
    h = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    index = np.clip(np.rint(h * 255), 0, 255).astype(np.uint8)
    return TURBO[index]


def overlay(image_rgb: np.ndarray, heat: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """``image_rgb`` with the coloured ``heat`` blended over it: uint8 RGB ``(H, W, 3)``.

    ``image_rgb`` may be grey (``(H, W)`` or ``(H, W, 1)``); ``heat`` of another size is stretched
    to the image. ``opacity`` 0 gives the image, 1 the heat map alone.
    """
    img = np.asarray(image_rgb)
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {img.shape}")
    img = _to_uint8(img)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    colors = colorize(resize_map(heat, img.shape[:2]))
    a = float(np.clip(opacity, 0.0, 1.0))
    blended = img.astype(np.float32) * (1.0 - a) + colors.astype(np.float32) * a
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
