"""Layer helpers shared by the builders (imports Keras: only imported when a model is built).

Only standard Keras layers are used, so every model saves to ``.keras`` and loads back with
``keras.models.load_model(path, safe_mode=True)`` without ``custom_objects``.
"""

from __future__ import annotations

import keras
from keras import layers

from core.models.registry import BuildRequest


def pixels_input(request: BuildRequest) -> keras.KerasTensor:
    """The model input: raw pixel values 0..255 as float32, (height, width, channels)."""
    return keras.Input(shape=request.input_shape, name="pixels", dtype="float32")


def rescaled(pixels: keras.KerasTensor, enabled: bool = True) -> keras.KerasTensor:
    """Pixels divided by 255 (our own networks' preprocessing); unchanged when ``enabled`` is off."""
    return layers.Rescaling(1.0 / 255.0, name="rescale")(pixels) if enabled else pixels


def l2(weight_decay: float) -> keras.regularizers.Regularizer | None:
    return keras.regularizers.L2(weight_decay) if weight_decay > 0 else None


def maybe_dropout(x: keras.KerasTensor, rate: float, name: str) -> keras.KerasTensor:
    """Dropout only when the rate is above 0, so 'dropout off' leaves no layer in the summary."""
    return layers.Dropout(rate, name=name)(x) if rate > 0 else x


def conv_bn_relu(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    name: str,
    *,
    strides: int = 1,
    batch_norm: bool = True,
    weight_decay: float = 0.0,
    activation: bool = True,
) -> keras.KerasTensor:
    """Conv2D ('same' padding) -> BatchNormalization -> ReLU, the modern unit.

    With batch norm the convolution has no bias (BN's beta replaces it); without batch norm the
    ReLU is the convolution's own activation. ``activation=False`` stops before the ReLU (the last
    convolution of a residual branch).
    """
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=not batch_norm,
        activation="relu" if activation and not batch_norm else None,
        kernel_initializer="he_normal",
        kernel_regularizer=l2(weight_decay),
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        if activation:
            x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def classifier(inputs: keras.KerasTensor, outputs: keras.KerasTensor, request: BuildRequest) -> keras.Model:
    """Close the graph with the softmax output layer named "predictions".

    It computes in float32 under any dtype policy (Keras' advice for mixed precision: a softmax in
    float16 or bfloat16 loses the small probabilities), so the output and the loss stay float32.
    """
    predictions = layers.Dense(request.num_classes, activation="softmax", name="predictions", dtype="float32")(outputs)
    return keras.Model(inputs, predictions, name=request.spec.name.replace("-", "_"))
