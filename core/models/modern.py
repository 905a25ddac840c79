"""Modern CNNs: BN+GAP CNN, GoogLeNet (Inception blocks), CIFAR ResNets and DenseNet.

All end in global average pooling (the layer named "features") and a softmax. The CIFAR-style
networks keep full resolution in their stem; ``imagenet_stem`` switches to the ImageNet stem
(7x7 stride-2 convolution + stride-2 max-pooling) for large images.
Imports Keras: only imported when a model is built.
"""

from __future__ import annotations

import keras
from keras import layers

from core.models.common import classifier, conv_bn_relu, l2, maybe_dropout, pixels_input, rescaled
from core.models.registry import BuildRequest, densenet_layers_per_block, parse_stages

# ---------------------------------------------------------------------------------------------
# BN + GAP CNN
# ---------------------------------------------------------------------------------------------


def build_bn_gap_cnn(request: BuildRequest) -> keras.Model:
    """Conv64-BN-Conv64-Pool-Drop, Conv128-BN-Conv128-Pool-Drop, Conv256-BN-Pool-Drop, GAP, Dense 512.

    693,834 parameters at 32x32x3 with 10 classes (batch norm on).
    """
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs, o["rescale_input"])
    for block, (filters, convs) in enumerate(((64, 2), (128, 2), (256, 1)), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{block}_conv{i}")(x)
            if i == 1 and o["batch_norm"]:
                x = layers.BatchNormalization(momentum=o["bn_momentum"], name=f"block{block}_bn")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        x = maybe_dropout(x, o["conv_dropout"], f"block{block}_dropout")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(512, activation="relu", name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout")
    return classifier(inputs, x, request)


# ---------------------------------------------------------------------------------------------
# Auto CNN
# ---------------------------------------------------------------------------------------------


def build_auto_cnn(request: BuildRequest) -> keras.Model:
    """``blocks`` x (Conv3x3-BN-ReLU, Conv3x3-BN-ReLU, MaxPool 2x2), filters doubling, GAP, dropout.

    The network core/auto.py scales to the data (blocks from the image size, filters from the
    number of images). 3 blocks of 32-64-128 filters: about 288,000 parameters. Batch norm's
    running statistics follow with momentum 0.9 (Keras: 0.99), so a run of a few hundred steps
    (a 2-minute budget) validates and saves with statistics of the trained weights.
    """
    o = request.options
    inputs = pixels_input(request)
    x = rescaled(inputs)
    for block in range(1, o["blocks"] + 1):
        filters = o["filters"] * 2 ** (block - 1)
        for i in (1, 2):
            name = f"block{block}_conv{i}"
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer="he_normal",
                kernel_regularizer=l2(o["weight_decay"]),
                name=name,
            )(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
            x = layers.ReLU(name=f"{name}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout")
    return classifier(inputs, x, request)


# ---------------------------------------------------------------------------------------------
# GoogLeNet
# ---------------------------------------------------------------------------------------------

# Filters per Inception block (Szegedy et al. 2014, table 1):
# 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
_INCEPTION_BLOCKS: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("pool3", ()),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("pool4", ()),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)


def _inception_block(
    x: keras.KerasTensor, filters: tuple[int, ...], name: str, batch_norm: bool, weight_decay: float
) -> keras.KerasTensor:
    """Four parallel paths (1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool -> 1x1), concatenated."""
    f1, f3_reduce, f3, f5_reduce, f5, pool_proj = filters

    def conv(t: keras.KerasTensor, n: int, k: int, suffix: str) -> keras.KerasTensor:
        return conv_bn_relu(t, n, k, f"{name}_{suffix}", batch_norm=batch_norm, weight_decay=weight_decay)

    path1 = conv(x, f1, 1, "1x1")
    path3 = conv(conv(x, f3_reduce, 1, "3x3_reduce"), f3, 3, "3x3")
    path5 = conv(conv(x, f5_reduce, 1, "5x5_reduce"), f5, 5, "5x5")
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    path_pool = conv(pooled, pool_proj, 1, "pool_proj")
    return layers.Concatenate(name=f"{name}_concat")([path1, path3, path5, path_pool])


def build_googlenet_small(request: BuildRequest) -> keras.Model:
    """GoogLeNet's nine Inception blocks with BN, scaled by ``width``; no auxiliary classifiers.

    CIFAR stem: one 3x3 convolution (192 x width filters) at full resolution. ImageNet stem: 7x7/2
    conv, 3x3/2 max-pool, 1x1 conv, 3x3 conv, 3x3/2 max-pool, as in the paper.
    """
    o = request.options
    bn, wd = o["batch_norm"], o["weight_decay"]

    def scaled(n: int) -> int:
        return max(1, round(n * o["width"]))

    inputs = pixels_input(request)
    x = rescaled(inputs)
    if o["imagenet_stem"]:
        x = conv_bn_relu(x, scaled(64), 7, "stem_conv1", strides=2, batch_norm=bn, weight_decay=wd)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool1")(x)
        x = conv_bn_relu(x, scaled(64), 1, "stem_conv2", batch_norm=bn, weight_decay=wd)
        x = conv_bn_relu(x, scaled(192), 3, "stem_conv3", batch_norm=bn, weight_decay=wd)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool2")(x)
    else:
        x = conv_bn_relu(x, scaled(192), 3, "stem_conv", batch_norm=bn, weight_decay=wd)
    for name, filters in _INCEPTION_BLOCKS:
        if not filters:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
        else:
            x = _inception_block(x, tuple(scaled(f) for f in filters), name, bn, wd)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout")
    return classifier(inputs, x, request)


# ---------------------------------------------------------------------------------------------
# ResNets
# ---------------------------------------------------------------------------------------------


def _shortcut(
    x: keras.KerasTensor, filters: int, strides: int, name: str, batch_norm: bool, weight_decay: float
) -> keras.KerasTensor:
    """Identity, or a projection (1x1 conv + BN) when the shape changes."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    return conv_bn_relu(
        x,
        filters,
        1,
        f"{name}_shortcut",
        strides=strides,
        batch_norm=batch_norm,
        weight_decay=weight_decay,
        activation=False,
    )


def _basic_block(
    x: keras.KerasTensor, filters: int, strides: int, name: str, batch_norm: bool, weight_decay: float
) -> keras.KerasTensor:
    """Two 3x3 convolutions with a shortcut around them (He et al. 2015, figure 2)."""
    kw = {"batch_norm": batch_norm, "weight_decay": weight_decay}
    y = conv_bn_relu(x, filters, 3, f"{name}_conv1", strides=strides, **kw)
    y = conv_bn_relu(y, filters, 3, f"{name}_conv2", activation=False, **kw)
    y = layers.Add(name=f"{name}_add")([_shortcut(x, filters, strides, name, **kw), y])
    return layers.ReLU(name=f"{name}_out")(y)


def _bottleneck_block(
    x: keras.KerasTensor, width: int, strides: int, name: str, batch_norm: bool, weight_decay: float
) -> keras.KerasTensor:
    """1x1 (width) -> 3x3 (width, carries the stride) -> 1x1 (4 x width), plus a shortcut."""
    kw = {"batch_norm": batch_norm, "weight_decay": weight_decay}
    y = conv_bn_relu(x, width, 1, f"{name}_conv1", **kw)
    y = conv_bn_relu(y, width, 3, f"{name}_conv2", strides=strides, **kw)
    y = conv_bn_relu(y, 4 * width, 1, f"{name}_conv3", activation=False, **kw)
    y = layers.Add(name=f"{name}_add")([_shortcut(x, 4 * width, strides, name, **kw), y])
    return layers.ReLU(name=f"{name}_out")(y)


def _resnet_cifar(request: BuildRequest, blocks_per_stage: int) -> keras.Model:
    """CIFAR ResNet (6n+2 layers): 3x3 conv 16, three stages of n basic blocks (16, 32, 64)."""
    o = request.options
    kw = {"batch_norm": o["batch_norm"], "weight_decay": o["weight_decay"]}
    inputs = pixels_input(request)
    x = conv_bn_relu(rescaled(inputs), 16, 3, "conv1", **kw)
    for stage, filters in enumerate((16, 32, 64), start=1):
        for block in range(1, blocks_per_stage + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = _basic_block(x, filters, strides, f"stage{stage}_block{block}", **kw)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout")
    return classifier(inputs, x, request)


def build_resnet_20(request: BuildRequest) -> keras.Model:
    return _resnet_cifar(request, blocks_per_stage=3)


def build_resnet_56(request: BuildRequest) -> keras.Model:
    return _resnet_cifar(request, blocks_per_stage=9)


def build_resnet_bottleneck(request: BuildRequest) -> keras.Model:
    """ResNet with bottleneck blocks; ``stages`` blocks per stage, widths base x 1, 2, 4, 8 ...

    The first block of every stage has a projected shortcut; stages after the first halve the
    feature maps (stride 2 in the 3x3 convolution, as in ResNet v1.5).
    """
    o = request.options
    kw = {"batch_norm": o["batch_norm"], "weight_decay": o["weight_decay"]}
    base = o["base_filters"]
    inputs = pixels_input(request)
    x = rescaled(inputs)
    if o["imagenet_stem"]:
        x = conv_bn_relu(x, base, 7, "stem_conv", strides=2, **kw)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = conv_bn_relu(x, base, 3, "stem_conv", **kw)
    for stage, blocks in enumerate(parse_stages(o["stages"]), start=1):
        for block in range(1, blocks + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = _bottleneck_block(x, base * 2 ** (stage - 1), strides, f"stage{stage}_block{block}", **kw)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    x = maybe_dropout(x, o["dropout"], "dropout")
    return classifier(inputs, x, request)


# ---------------------------------------------------------------------------------------------
# DenseNet
# ---------------------------------------------------------------------------------------------


def _bn_relu_conv(
    x: keras.KerasTensor, filters: int, kernel: int, name: str, dropout: float, weight_decay: float
) -> keras.KerasTensor:
    """DenseNet's composite function: BN -> ReLU -> Conv (no bias) -> dropout."""
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.Conv2D(
        filters,
        kernel,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=l2(weight_decay),
        name=f"{name}_conv",
    )(x)
    return maybe_dropout(x, dropout, f"{name}_dropout")


def build_densenet_small(request: BuildRequest) -> keras.Model:
    """DenseNet for CIFAR (Huang et al. 2017): three dense blocks, two transitions, GAP.

    ``bottleneck`` gives DenseNet-B (1x1 conv to 4k maps before each 3x3), ``compression`` < 1
    DenseNet-C; both together are DenseNet-BC, whose first convolution has 2k maps instead of 16.
    """
    o = request.options
    k, dropout, wd = o["growth_rate"], o["dropout"], o["weight_decay"]
    layers_per_block = densenet_layers_per_block(o["depth"], o["bottleneck"])
    inputs = pixels_input(request)
    x = rescaled(inputs)
    stem_filters = 2 * k if o["bottleneck"] and o["compression"] < 1 else 16
    if o["imagenet_stem"]:
        x = conv_bn_relu(x, 2 * k, 7, "stem_conv", strides=2, weight_decay=wd)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = layers.Conv2D(
            stem_filters,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=l2(wd),
            name="stem_conv",
        )(x)
    for block in range(1, 4):
        for layer in range(1, layers_per_block + 1):
            name = f"block{block}_layer{layer}"
            y = x
            if o["bottleneck"]:
                y = _bn_relu_conv(y, 4 * k, 1, f"{name}_1x1", dropout, wd)
            y = _bn_relu_conv(y, k, 3, f"{name}_3x3", dropout, wd)
            x = layers.Concatenate(name=f"{name}_concat")([x, y])
        if block < 3:
            kept = max(1, int(x.shape[-1] * o["compression"]))
            x = _bn_relu_conv(x, kept, 1, f"transition{block}", dropout, wd)
            x = layers.AveragePooling2D(2, name=f"transition{block}_pool")(x)
    x = layers.BatchNormalization(name="final_bn")(x)
    x = layers.ReLU(name="final_relu")(x)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    return classifier(inputs, x, request)
