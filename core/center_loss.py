"""The clustering loss: cross-entropy plus a centre-loss term on a feature layer.

What the users did by hand ("k-means-style class centres: pull features toward their class centre,
push class centres apart"; 0.878 against 0.864 with plain cross-entropy on CIFAR-10), as a training
option (``TrainConfig.center_loss_weight``)::

    loss = cross-entropy + weight * (pull + push)

    pull = mean over the batch and the feature units of (f - c_y)^2
           every feature vector f is drawn toward the centre c_y of its own class
    push = mean over pairs of classes j < k of max(0, margin^2 - |c'_j - c'_k|^2 / D)
           with margin^2 = 4 * pull (held constant): two centres closer than twice the typical
           distance of a feature to its centre are pushed apart

How the centres move. They are the running means of each class's features, updated after every
training batch as in Wen et al. 2016 (ECCV, "A discriminative feature learning approach for deep
face recognition")::

    c_j <- c_j - alpha * sum_{i in batch, y_i = j} (c_j - f_i) / (1 + n_j)        alpha = 0.5

That is a k-means centre update with known assignments. Centres learned by the optimizer instead
would move about one learning rate per step (Adam normalises its steps), far too slow to follow
features whose values are of order 1 to 10, and a step schedule would freeze them; Wen et al. give
the same reason. The push term is computed on ``c'``, the centres after this batch's update, which
depend on the batch's features: its gradient moves the features, and with them the centres, apart.
Both terms are per feature unit (divided by the layer's width ``D``), so one weight means about the
same for a 84-unit LeNet layer and a 2048-unit ResNet pooling output.

How it trains. The term lives in a training-only wrapper, ``keras.Model({"pixels", "labels"},
probabilities)``, built on the classifier's own tensors (so the wrapper and the classifier share
every layer) with a :class:`CenterLoss` layer that passes the probabilities through unchanged and
adds its term with ``add_loss``. The wrapper has one output, so its logs are the usual ``loss`` /
``accuracy`` / ``val_loss`` / ``val_accuracy``; ``loss`` and ``val_loss`` include the centre term
(as Keras includes weight regularisation in them), while the test loss the run reports is plain
cross-entropy. The centres are a (non-trainable) weight of the wrapper, so the run's backup holds
them and a resumed run goes on with them. The classifier itself never contains the layer: the saved
``model.keras`` is an ordinary model that loads with ``safe_mode=True`` and needs no custom code.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

DEFAULT_LAYER = "features"
DEFAULT_ALPHA = 0.5  # Wen et al.'s centre learning rate
MARGIN_FACTOR = 4.0  # centres should be at least 2 typical feature-to-centre distances apart
SUGGESTED_WEIGHT = 1.0  # a good first value: 0.1 barely changes the features, 10 still trains well


class CenterLoss(keras.layers.Layer):
    """Inputs ``[features, labels, probabilities]``; returns the probabilities unchanged.

    Adds ``weight * (pull + push)`` (see the module docstring) with ``add_loss`` and, in training,
    moves the class centres (a non-trainable ``(num_classes, D)`` weight) toward the batch's features.
    Used only in the training wrapper, never in a saved classifier.
    """

    def __init__(
        self,
        num_classes: int,
        weight: float,
        alpha: float = DEFAULT_ALPHA,
        margin_factor: float = MARGIN_FACTOR,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.weight = float(weight)
        self.alpha = float(alpha)
        self.margin_factor = float(margin_factor)

    def build(self, input_shape) -> None:
        dim = 1
        for d in input_shape[0][1:]:
            dim *= int(d)
        self.centres = self.add_weight(
            shape=(self.num_classes, dim), initializer="zeros", trainable=False, name="centres"
        )

    def call(self, inputs, training=None):
        features, labels, probs = inputs
        f = ops.cast(ops.reshape(features, (ops.shape(features)[0], -1)), "float32")
        y = ops.cast(ops.reshape(labels, (-1,)), "int32")
        dim = ops.cast(ops.shape(f)[-1], "float32")
        centres = ops.convert_to_tensor(self.centres)

        # Pull: features toward their (current) class centre; the centres are constants here.
        pull = ops.mean(ops.square(f - ops.take(centres, y, axis=0)))

        # The k-means-style update of Wen et al., kept differentiable for the push term.
        onehot = ops.one_hot(y, self.num_classes, dtype="float32")
        counts = ops.sum(onehot, axis=0)[:, None]
        sums = ops.matmul(ops.transpose(onehot), f)
        moved = centres - self.alpha * (counts * centres - sums) / (1.0 + counts)

        # Push: pairs of centres closer than the margin (relative to the spread) are pushed apart.
        sq = ops.sum(ops.square(moved), axis=1)
        dist = (sq[:, None] + sq[None, :] - 2.0 * ops.matmul(moved, ops.transpose(moved))) / dim
        margin = self.margin_factor * ops.stop_gradient(pull)
        k = self.num_classes
        pairs = ops.triu(ops.ones((k, k), dtype="float32"), 1)
        push = ops.sum(ops.relu(margin - dist) * pairs) / max(1.0, k * (k - 1) / 2)

        if training:
            self.centres.assign(ops.stop_gradient(moved))
        self.add_loss(self.weight * (pull + push))
        return probs

    def compute_output_shape(self, input_shape):
        return input_shape[2]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "weight": self.weight,
            "alpha": self.alpha,
            "margin_factor": self.margin_factor,
        }


def feature_layer_name(config: Any) -> str:
    """The layer whose features are clustered: ``config.center_loss_layer`` if set, else "features"."""
    return str(getattr(config, "center_loss_layer", None) or DEFAULT_LAYER)


def center_loss_model(model, num_classes: int, weight: float, layer: str = DEFAULT_LAYER, alpha: float = DEFAULT_ALPHA):
    """The training wrapper ``{"pixels": images, "labels": int labels} -> probabilities`` around ``model``.

    It is built on ``model``'s own tensors: every layer is shared, so training the wrapper trains
    ``model``, and ``model`` stays free of the centre-loss layer (it saves and loads like any other).
    """
    from core.errors import WorkbenchError

    try:
        features = model.get_layer(layer).output
    except ValueError as exc:
        raise WorkbenchError(
            f"The centre loss needs a layer called '{layer}' in the model, and {model.name} has none."
        ) from exc
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    head = CenterLoss(num_classes, weight, alpha=alpha, name="center_loss", dtype="float32")  # also when mixed
    probs = head([features, labels, model.output])
    return keras.Model({"pixels": model.inputs[0], "labels": labels}, probs, name=f"{model.name}_center_loss")


def with_labels(ds):
    """``(images, labels)`` batches -> ``({"pixels": images, "labels": labels}, labels)`` (None stays None)."""
    if ds is None:
        return None
    return ds.map(lambda x, y: ({"pixels": x, "labels": y}, y))


def prepare_center_loss(model, config, num_classes: int, train_ds, val_ds, optimizer):
    """The hook ``core.training`` calls when ``config.center_loss_weight > 0``.

    Returns ``(fit_model, train_ds, val_ds)``: the compiled wrapper (sparse cross-entropy,
    ``accuracy``) and the pipelines mapped to feed it. ``model`` itself is left uncompiled.
    """
    fit_model = center_loss_model(model, num_classes, float(config.center_loss_weight), feature_layer_name(config))
    fit_model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = with_labels(train_ds).prefetch(2)  # bounded, as core.training.PREFETCH_BATCHES
    return fit_model, train_ds, with_labels(val_ds)


def centres_of(fit_model):
    """The class centres ``(num_classes, D)`` of a training wrapper, as numpy."""
    import numpy as np

    return np.asarray(fit_model.get_layer("center_loss").centres)
