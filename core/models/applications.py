"""Keras Applications backbones (VGG16, ResNet50, InceptionV3, DenseNet121, MobileNetV2, EfficientNetB0).

The model is ``pixels -> [grey to RGB] -> [resize] -> preprocessing -> backbone -> GAP ("features")
-> dropout -> softmax ("predictions")``. The preprocessing each backbone was trained with is
written with standard Keras layers, so a saved ``.keras`` file maps raw 0-255 pixels to
probabilities on its own and loads with ``safe_mode=True``:

- "caffe" (VGG16, ResNet50): RGB -> BGR and ImageNet mean subtraction, as one frozen 1x1
  convolution whose kernel is the channel permutation and whose bias is minus the mean;
- "tf" (InceptionV3, MobileNetV2): ``Rescaling(1/127.5, offset=-1)`` to [-1, 1];
- "torch" (DenseNet121): ``Normalization`` with the ImageNet mean and variance in pixel units;
- EfficientNetB0 rescales and normalises inside the backbone.

The backbone is built without its own pooling (``pooling=None``) and is followed by our
``GlobalAveragePooling2D(name="features")``: the same computation as ``pooling="avg"``, but the
backbone layer (named "backbone") then outputs the last convolutional feature map, which Grad-CAM
needs, and the pooled features carry the zoo-wide name "features".

Imports Keras: only imported when a model is built.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from core.errors import ModelError
from core.models.common import classifier, maybe_dropout, pixels_input
from core.models.registry import BuildRequest

log = logging.getLogger(__name__)

IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)  # caffe-style means, in pixel units (0-255)
IMAGENET_TORCH_MEAN = (0.485, 0.456, 0.406)  # torch-style, in 0-1 units
IMAGENET_TORCH_STD = (0.229, 0.224, 0.225)

# How long one network operation of the weights download may stall before it counts as offline.
DOWNLOAD_SOCKET_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Backbone:
    constructor: str  # attribute of keras.applications
    min_size: int  # smallest input Keras accepts with include_top=False
    natural_size: int  # the ImageNet training size
    preprocessing: str  # "caffe" | "tf" | "torch" | "builtin"


BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone("VGG16", 32, 224, "caffe"),
    "resnet50": Backbone("ResNet50", 32, 224, "caffe"),
    "inceptionv3": Backbone("InceptionV3", 75, 299, "tf"),
    "densenet121": Backbone("DenseNet121", 32, 224, "torch"),
    "mobilenetv2": Backbone("MobileNetV2", 32, 224, "tf"),
    "efficientnetb0": Backbone("EfficientNetB0", 32, 224, "builtin"),
}


def _target_size(request: BuildRequest, backbone: Backbone) -> tuple[int, int]:
    """(height, width) the backbone will see: ``resize_to`` or the input enlarged to the minimum."""
    height, width, _ = request.input_shape
    resize_to = request.options["resize_to"]
    if resize_to:
        if resize_to < backbone.min_size:
            raise ModelError(
                f"{request.spec.title} needs images of at least {backbone.min_size}x{backbone.min_size} "
                f"pixels inside the model; set resize_to to {backbone.min_size} or more (or 0 for automatic)."
            )
        return resize_to, resize_to
    return max(height, backbone.min_size), max(width, backbone.min_size)


def _caffe_preprocessing(x: keras.KerasTensor) -> keras.KerasTensor:
    """RGB -> BGR and ImageNet mean subtraction as a frozen 1x1 convolution."""
    layer = layers.Conv2D(3, 1, trainable=False, name="rgb_to_bgr_minus_mean")
    y = layer(x)
    permutation = np.zeros((1, 1, 3, 3), dtype="float32")
    for rgb_channel, bgr_channel in ((0, 2), (1, 1), (2, 0)):
        permutation[0, 0, rgb_channel, bgr_channel] = 1.0
    mean_bgr = np.array(IMAGENET_MEAN_RGB[::-1], dtype="float32")
    layer.set_weights([permutation, -mean_bgr])
    return y


def _preprocess(x: keras.KerasTensor, style: str) -> keras.KerasTensor:
    if style == "caffe":
        return _caffe_preprocessing(x)
    if style == "tf":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_to_pm1")(x)
    if style == "torch":
        mean = [255.0 * m for m in IMAGENET_TORCH_MEAN]
        variance = [(255.0 * s) ** 2 for s in IMAGENET_TORCH_STD]
        return layers.Normalization(mean=mean, variance=variance, name="imagenet_normalization")(x)
    return x  # "builtin": EfficientNet rescales and normalises raw pixels itself


def _keras_models_dir() -> str:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(base, "models")
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if path.startswith(home + os.sep) else path


def _short_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _make_backbone(request: BuildRequest, backbone: Backbone, size: tuple[int, int]) -> tuple[keras.Model, bool]:
    """The backbone, with ImageNet weights when asked and obtainable; returns (model, weights loaded)."""
    constructor = getattr(keras.applications, backbone.constructor)
    shape = (size[0], size[1], 3)
    if request.pretrained:
        previous_timeout = socket.getdefaulttimeout()
        if previous_timeout is None:  # urllib has no timeout of its own: a silent network would hang
            socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)
        try:
            return constructor(include_top=False, weights="imagenet", input_shape=shape, name="backbone"), True
        except Exception as exc:  # offline, proxy, disk full, corrupt cache: all mean "no weights"
            log.warning("ImageNet weights for %s are not available", backbone.constructor, exc_info=True)
            request.notify(
                f"ImageNet weights for {backbone.constructor} could not be downloaded ({_short_reason(exc)}); "
                f"training from scratch instead. They are fetched once into {_keras_models_dir()} "
                "when online."
            )
        finally:
            if previous_timeout is None:
                socket.setdefaulttimeout(None)
    return constructor(include_top=False, weights=None, input_shape=shape, name="backbone"), False


def build_application(request: BuildRequest) -> keras.Model:
    """A Keras Applications backbone with a new head for ``request.num_classes`` classes.

    With ImageNet weights the backbone is frozen (unless ``trainable_backbone``) and always runs
    its batch norm in inference mode, so fine-tuning does not wreck the pre-trained statistics.
    """
    backbone_info = BACKBONES[request.spec.name]
    o = request.options
    height, width, channels = request.input_shape
    inputs = pixels_input(request)
    x = inputs
    if channels == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    target = _target_size(request, backbone_info)
    if target != (height, width):
        x = layers.Resizing(target[0], target[1], name="resize")(x)
    x = _preprocess(x, backbone_info.preprocessing)

    backbone, weights_loaded = _make_backbone(request, backbone_info, target)
    if weights_loaded:
        backbone.trainable = bool(o["trainable_backbone"])
        x = backbone(x, training=False)
    else:
        x = backbone(x)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    x = maybe_dropout(x, o["dropout"], "head_dropout")
    return classifier(inputs, x, request)
