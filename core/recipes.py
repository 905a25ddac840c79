"""The training ingredients a recipe switches on that need more than a Keras argument: label
smoothing (one-hot targets), class weights, and the plan of a time budget. core/training.py calls
them with a line each; core/auto.py decides when a run uses them.
"""

from __future__ import annotations

from core.config import TrainConfig
from core.values import format_duration

MAX_BUDGET_EPOCHS = 100_000  # a time-budget run's epochs are ended by core.callbacks.TimeBudget


def smoothed_labels(config: TrainConfig, num_classes: int, train_ds, val_ds):
    """Pipelines and loss for ``config.label_smoothing``: one-hot targets when smoothing, else as they are."""
    if not config.label_smoothing:
        return train_ds, val_ds, "sparse_categorical_crossentropy"
    import keras
    import tensorflow as tf

    one_hot = tf.autograph.experimental.do_not_convert(lambda x, y: (x, tf.one_hot(tf.cast(y, tf.int32), num_classes)))
    train_ds = train_ds.map(one_hot)
    val_ds = val_ds.map(one_hot) if val_ds is not None else None
    return train_ds, val_ds, keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)


def class_weights(config: TrainConfig, dataset) -> dict[int, float] | None:
    """Per-class loss weights (inverse of each class's share of the training images), or None."""
    if not config.class_weights or config.center_loss_weight > 0:
        return None
    counts = dataset.train.counts(dataset.num_classes)
    total, present = sum(counts), sum(1 for n in counts if n)
    return {i: (total / (present * n) if n else 0.0) for i, n in enumerate(counts)}


def budget_plan(config: TrainConfig, dataset, started: float, clock):
    """``(seconds, started, clock, reserve)`` for core.callbacks.TimeBudget, or None without a budget.

    ``reserve(epoch_seconds)`` is the time kept for after training: testing costs about a third of
    a training pass over as many images, saving a second or two (2% of the budget).
    """
    if not config.time_budget:
        return None
    share = len(dataset.test) / max(1, len(dataset.train))
    return (config.time_budget, started, clock, lambda epoch: epoch * share / 3 + 0.02 * config.time_budget)


def budget_message(config: TrainConfig, epoch_seconds: float, steps: int) -> str:
    """What a run whose time budget ended inside its first epoch says."""
    return (
        f"The time budget of {format_duration(config.time_budget)} is shorter than one epoch, which takes about "
        f"{format_duration(epoch_seconds)} here ({steps} batches of {config.batch_size}). Give a budget of at "
        f"least {format_duration(max(epoch_seconds * 3, epoch_seconds + 10))}, train on fewer images (limit), "
        "or train for a number of epochs instead."
    )


def over_budget_message(config: TrainConfig, setup_seconds: float) -> str:
    """What a run says when loading and preparing left too little of its budget for one epoch."""
    return (
        f"This run took longer than its time budget of {format_duration(config.time_budget)}: loading the images "
        f"and preparing took {format_duration(setup_seconds)}, so only one epoch was trained (the machine may "
        "be busy). Give a longer budget for a better model."
    )
