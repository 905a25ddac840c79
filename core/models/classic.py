"""Classic plain-stack CNNs: simple CNNs, LeNet-5, AlexNet and VGG-16 shrunk for small images.

Layer by layer as in the course material (docs SOURCE-NOTES.md, "Architectures"). With the default
options the parameter counts match the references: LeNet-5 107,786 at 28x28x1; AlexNet (small)
12,260,618 and VGG-16 (small) 2,264,394 at 32x32x3 (10 classes).
Imports Keras: only imported when a model is built.
"""

from __future__ import annotations

import keras
from keras import layers

from core.models.common import classifier, maybe_dropout, pixels_input, rescaled
from core.models.registry import BuildRequest, parse_conv_layers, parse_strides


def _conv_relu(x: keras.KerasTensor, filters: int, kernel: int, name: str, padding: str = "same") -> keras.KerasTensor:
    return layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=name)(x)


def _maybe_bn(x: keras.KerasTensor, enabled: bool, name: str) -> keras.KerasTensor:
    """Batch norm after a conv+ReLU, where the course notebooks put it."""
    return layers.BatchNormalization(name=name)(x) if enabled else x


def _simple_cnn(request: BuildRequest, conv_layers: int) -> keras.Model:
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    for i in range(1, conv_layers + 1):
        x = _conv_relu(x, o["filters"] * 2 ** (i - 1), 3, f"conv{i}", padding="valid")
        x = _maybe_bn(x, o["batch_norm"], f"conv{i}_bn")
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = maybe_dropout(x, o["conv_dropout"], f"dropout{i}")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(o["dense_units"], activation="relu", name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout_dense")
    return classifier(inputs, x, request)


def build_simple_cnn_1(request: BuildRequest) -> keras.Model:
    """Conv2D(32,3x3,relu) - MaxPool 2x2 - Dropout .25 - Flatten - Dense(128,relu) - Dropout .5."""
    return _simple_cnn(request, conv_layers=1)


def build_simple_cnn_2(request: BuildRequest) -> keras.Model:
    """The classic Keras MNIST example, with a max-pool and dropout after each of its two convs."""
    return _simple_cnn(request, conv_layers=2)


def build_lenet_5(request: BuildRequest) -> keras.Model:
    """Conv(6,5x5,same) - AvgPool - Conv(16,5x5,same) - AvgPool - Dense 120 - Dense 84, ReLU."""
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    for i, filters in enumerate((6, 16), start=1):
        x = _conv_relu(x, filters, 5, f"conv{i}")
        x = _maybe_bn(x, o["batch_norm"], f"conv{i}_bn")
        x = layers.AveragePooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="dense1")(x)
    x = maybe_dropout(x, o["dropout"], "dropout1")
    x = layers.Dense(84, activation="relu", name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout2")
    return classifier(inputs, x, request)


def build_alexnet_small(request: BuildRequest) -> keras.Model:
    """AlexNet-8 for 32x32: 3x3 convs 96-256-384-384-256, 3x3/2 max-pools, dense 2048-2048."""
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    x = _conv_relu(x, 96, 3, "conv1")
    x = _maybe_bn(x, o["batch_norm"], "conv1_bn")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = _conv_relu(x, 256, 3, "conv2")
    x = _maybe_bn(x, o["batch_norm"], "conv2_bn")
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = _conv_relu(x, 384, 3, "conv3")
    x = _conv_relu(x, 384, 3, "conv4")
    x = _conv_relu(x, 256, 3, "conv5")
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(2048, activation="relu", name="dense1")(x)
    x = maybe_dropout(x, o["dropout"], "dropout1")
    x = layers.Dense(2048, activation="relu", name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout2")
    return classifier(inputs, x, request)


def build_vgg16_small(request: BuildRequest) -> keras.Model:
    """Three VGG blocks (64, 128, 256 filters, two 3x3 convs each) with BN, dense 256-256.

    As in the notes, blocks 1-2 are conv-conv-BN-pool-dropout(.4) and block 3 is
    conv-conv-pool-BN-dropout(.5); ``conv_dropout`` sets the first rate, ``dropout`` the second
    and the dense layers' rate.
    """
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    for block, filters in enumerate((64, 128), start=1):
        x = _conv_relu(x, filters, 3, f"block{block}_conv1")
        x = _conv_relu(x, filters, 3, f"block{block}_conv2")
        x = _maybe_bn(x, o["batch_norm"], f"block{block}_bn")
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        x = maybe_dropout(x, o["conv_dropout"], f"block{block}_dropout")
    x = _conv_relu(x, 256, 3, "block3_conv1")
    x = _conv_relu(x, 256, 3, "block3_conv2")
    x = layers.MaxPooling2D(2, name="block3_pool")(x)
    x = _maybe_bn(x, o["batch_norm"], "block3_bn")
    x = maybe_dropout(x, o["dropout"], "block3_dropout")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense1")(x)
    x = maybe_dropout(x, o["dropout"], "dropout1")
    x = layers.Dense(256, activation="relu", name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout2")
    return classifier(inputs, x, request)


def build_custom_cnn(request: BuildRequest) -> keras.Model:
    """A configurable plain CNN: conv layers (FILTERSxKERNEL, 'same' padding, ReLU, given strides),
    optional batch norm after each, 2x2 pooling after every ``pool_every`` convs, then
    ``dense_layers`` dense layers (the last one is "features") with dropout.

    The default is the seeds' own-photos network: six convs with kernels 5,5,5,3,3,3, stride 1,
    2x2 max-pooling, one dense layer, input normalised (pooling after every second conv, so it also
    fits 28x28 images; set pool_every=1 for large photos).
    """
    o = request.options
    conv = parse_conv_layers(o["conv_layers"])
    strides = parse_strides(o["stride"], len(conv))
    pool = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}.get(o["pool"])
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    for i, ((filters, kernel), stride) in enumerate(zip(conv, strides, strict=True), start=1):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", activation="relu", name=f"conv{i}")(x)
        x = _maybe_bn(x, o["batch_norm"], f"conv{i}_bn")
        if pool is not None and i % o["pool_every"] == 0:
            x = pool(2, name=f"pool{i}")(x)
            x = maybe_dropout(x, o["conv_dropout"], f"dropout{i}")
    x = layers.Flatten(name="flatten")(x)
    for j in range(1, o["dense_layers"] + 1):
        last = j == o["dense_layers"]
        x = layers.Dense(o["dense_units"], activation="relu", name="features" if last else f"dense{j}")(x)
        x = maybe_dropout(x, o["dropout"], "dropout_dense" if last else f"dropout_dense{j}")
    return classifier(inputs, x, request)
