"""Training: ``train(config, reporter, cancel) -> RunResult``.

A plain function that the GUI runs in a worker thread and the command line runs directly. It
loads the dataset, builds the model from the zoo, feeds ``fit`` a persistent shuffled, repeated
``tf.data`` pipeline (numpy arrays given straight to ``fit`` idle 0.45-8 s at many epoch starts),
reports every batch and epoch through a :class:`~core.reporting.Reporter`, honours a
:class:`~core.reporting.CancelToken` within one batch (training and validation), and writes a run
folder (see core/runs.py). It never imports Qt.
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic, cards, runs
from core.errors import WorkbenchError
from core.reporting import CancelToken, NullReporter, Reporter

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "plateau")


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults reproduce the classic Keras MNIST example."""

    dataset: str = "mnist-sample"  # a built-in name (see core.datasets.list_datasets) or a folder
    model: str = "simple-cnn-2"  # a zoo name (see core.models.list_models)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"dropout": 0.3}
    pretrained: bool = False  # ImageNet weights for Keras Applications backbones
    image_size: int | None = None  # folders: square size images are resized to (None: automatic)
    color_mode: str = "auto"  # folders: "auto", "grayscale" or "rgb"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # SGD only
    schedule: str = "none"  # "none", "step", "cosine" or "plateau"
    step_epochs: int = 10  # step decay: multiply the rate by step_factor every step_epochs epochs
    step_factor: float = 0.1
    plateau_patience: int = 3  # reduce-on-plateau: epochs without val_loss improvement
    batch_size: int = 128
    epochs: int = 12
    validation_split: float = 0.1
    test_split: float = 0.2  # folders without a test/ sub-folder
    augment_flip: bool = False  # random horizontal flip
    augment_rotation: float = 0.0  # degrees, +-
    augment_zoom: float = 0.0  # fraction, +-
    augment_translation: float = 0.0  # fraction of width/height, +-
    early_stopping: bool = False
    patience: int = 5
    seed: int = 42
    limit: int | None = None  # use at most this many training images (quick experiments)
    name: str = ""  # optional label for the run

    def validate(self) -> None:
        """Raise WorkbenchError with a readable sentence for values that cannot work."""
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not self.learning_rate > 0:
            problems.append("the learning rate must be greater than 0")
        if self.batch_size < 1:
            problems.append("the batch size must be at least 1")
        if self.epochs < 1:
            problems.append("train for at least 1 epoch")
        if not 0 <= self.validation_split < 0.9:
            problems.append("the validation split must be between 0 and 0.9")
        if not 0 <= self.test_split < 0.9:
            problems.append("the test split must be between 0 and 0.9")
        if self.color_mode not in ("auto", "grayscale", "rgb"):
            problems.append("colour mode must be auto, grayscale or rgb")
        if problems:
            raise WorkbenchError("Check the settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def augments(self) -> bool:
        return bool(self.augment_flip or self.augment_rotation or self.augment_zoom or self.augment_translation)


@dataclass
class RunResult:
    run_dir: Path
    state: str  # "finished" or "stopped"
    epochs_done: int
    history: list[dict[str, float]]
    best_epoch: int | None  # 1-based
    best_val_accuracy: float | None
    test_accuracy: float | None
    test_loss: float | None
    model_path: Path
    seconds: float

    def summary_line(self) -> str:
        acc = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        loss = "n/a" if self.test_loss is None else f"{self.test_loss:.3f}"
        prefix = "stopped early; " if self.state == "stopped" else ""
        return f"{prefix}test accuracy {acc} (loss {loss}), run saved in {self.run_dir}"


# --------------------------------------------------------------------------------------------
# Pipelines


def make_augmenter(config: TrainConfig):
    """Keras preprocessing layers for the chosen augmentations, or None."""
    if not config.augments:
        return None
    import keras

    layers = []
    seed = config.seed
    if config.augment_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if config.augment_rotation:
        layers.append(keras.layers.RandomRotation(config.augment_rotation / 360.0, fill_mode="nearest", seed=seed))
    if config.augment_zoom:
        layers.append(keras.layers.RandomZoom(config.augment_zoom, fill_mode="nearest", seed=seed))
    if config.augment_translation:
        t = config.augment_translation
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="nearest", seed=seed))
    return keras.Sequential(layers, name="augmentation")


def train_pipeline(split, image_shape, batch_size: int, seed: int, augmenter=None):
    """Shuffled, repeated, batched, prefetched ``tf.data`` pipeline and its steps per epoch."""
    import tensorflow as tf

    ds = split.tf_dataset(image_shape)
    if split.in_memory:
        ds = ds.cache()
    ds = ds.shuffle(min(len(split), 20_000), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    steps = max(1, math.ceil(len(split) / batch_size))
    return ds.prefetch(tf.data.AUTOTUNE), steps


def eval_pipeline(split, image_shape, batch_size: int):
    import tensorflow as tf

    ds = split.tf_dataset(image_shape)
    if split.in_memory:
        ds = ds.cache()
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    lr: Any = config.learning_rate
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.Adam(lr)


def step_decay(config: TrainConfig, epoch: int) -> float:
    """Learning rate for 0-based ``epoch`` under step decay."""
    return config.learning_rate * config.step_factor ** (epoch // max(1, config.step_epochs))


def current_lr(optimizer) -> float:
    import numpy as np

    return float(np.asarray(optimizer.learning_rate))


# --------------------------------------------------------------------------------------------
# Callbacks


def _floats(logs: dict | None) -> dict[str, float]:
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _make_callbacks(config, reporter, cancel, run_dir, history, steps):
    import keras

    class WorkbenchCallback(keras.callbacks.Callback):
        """Forwards progress to the reporter; turns cancel into stop flags; holds while paused.

        It also keeps the best weights in memory (copied at the end of an improving epoch) so
        Stop keeps the best model so far without writing a model file every epoch.
        """

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.epoch_start = time.perf_counter()
            self.best_val = -math.inf
            self.best_epoch: int | None = None
            self.best_weights = None
            self.epochs_done = 0
            self.batches_this_epoch = 0

        def _check_cancel(self) -> None:
            if cancel.paused:
                reporter.on_message("Paused.")
                cancel.wait_while_paused()
                if not cancel.cancelled:
                    reporter.on_message("Resumed.")
            if cancel.cancelled:
                self.model.stop_training = True
                self.model.stop_evaluating = True

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.epoch_start = time.perf_counter()
            self.batches_this_epoch = 0
            if config.schedule == "step":
                self.model.optimizer.learning_rate = step_decay(config, epoch)

        def on_train_batch_end(self, batch, logs=None):
            self.batches_this_epoch += 1
            reporter.on_batch(self.epoch, batch, steps, _floats(logs))
            self._check_cancel()

        def on_test_batch_end(self, batch, logs=None):
            if cancel.cancelled:
                self.model.stop_evaluating = True

        def on_epoch_end(self, epoch, logs=None):
            logs = _floats(logs)
            if cancel.cancelled and self.batches_this_epoch < steps:
                return  # a cancelled, half-done epoch is not recorded
            logs["lr"] = current_lr(self.model.optimizer)
            logs["seconds"] = time.perf_counter() - self.epoch_start
            score = logs.get("val_accuracy", logs.get("accuracy", -math.inf))
            if score > self.best_val:
                self.best_val, self.best_epoch = score, epoch + 1
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            self.epochs_done = epoch + 1
            history.append({"epoch": epoch + 1, **logs})
            runs.write_status(run_dir, epochs_done=epoch + 1, best_epoch=self.best_epoch)
            reporter.on_epoch(epoch, logs)

    main = WorkbenchCallback()
    callbacks: list = [main, keras.callbacks.BackupAndRestore(str(run_dir / "backup"))]
    monitor = "val_loss" if config.validation_split > 0 else "loss"
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.2, patience=config.plateau_patience))
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor, patience=config.patience))
    return main, callbacks


# --------------------------------------------------------------------------------------------
# The job


def train(
    config: TrainConfig,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
    *,
    workspace: Path | None = None,
    dataset=None,
    command: str | None = None,
) -> RunResult:
    """Train ``config`` and save a run folder; see the module docstring.

    ``dataset`` may be passed when the caller already loaded it (the GUI's preview). Raises
    :class:`~core.errors.WorkbenchError` (or a subclass) for problems a person can fix; the run
    folder, if one was made, is then marked failed with the message.
    """
    import keras

    from core import datasets, evaluation, models

    reporter = reporter or NullReporter()
    cancel = cancel or CancelToken()
    config.validate()
    started = time.perf_counter()

    if dataset is None:
        reporter.on_message(f"Loading dataset {config.dataset} ...")
        dataset = datasets.load_dataset(
            config.dataset,
            image_size=config.image_size,
            color_mode=config.color_mode,
            validation_split=config.validation_split,
            test_split=config.test_split,
            seed=config.seed,
            limit=config.limit,
        )
    if len(dataset.train) == 0:
        raise WorkbenchError("The dataset has no training images.")
    models.check_input(config.model, dataset.image_shape)
    for skipped in dataset.skipped[:20]:
        reporter.on_message(f"Skipped {skipped.path}: {skipped.reason}")
    if len(dataset.skipped) > 20:
        reporter.on_message(f"... and {len(dataset.skipped) - 20} more skipped files (see dataset.json)")

    run_dir = runs.create_run(config.to_dict(), dataset.name, workspace)
    try:
        atomic.write_json(run_dir / "dataset.json", dataset.describe())
        return _train_in_run(config, dataset, run_dir, reporter, cancel, started, command, keras, models, evaluation)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, WorkbenchError) else _explain(exc)
        runs.write_status(
            run_dir, state="failed", error=message, traceback=traceback.format_exc(), finished=runs._now()
        )
        if isinstance(exc, WorkbenchError) or not isinstance(exc, Exception):
            raise
        raise WorkbenchError(message, detail=traceback.format_exc()) from exc


def _explain(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "ResourceExhaustedError" or isinstance(exc, MemoryError):
        return "Training ran out of memory. Try a smaller batch size, smaller images or a smaller model."
    return f"Training failed: {name}: {exc}"


def _train_in_run(config, dataset, run_dir, reporter, cancel, started, command, keras, models, evaluation):
    keras.utils.set_random_seed(config.seed)
    h, w, c = dataset.image_shape
    reporter.on_message(f"Building {config.model} for {h}x{w}x{c} input ...")
    model = models.build_model(
        config.model,
        dataset.image_shape,
        dataset.num_classes,
        options=config.model_options,
        pretrained=config.pretrained,
        on_message=reporter.on_message,
    )
    train_ds, steps = train_pipeline(
        dataset.train, dataset.image_shape, config.batch_size, config.seed, make_augmenter(config)
    )
    val_ds = eval_pipeline(dataset.val, dataset.image_shape, config.batch_size) if len(dataset.val) else None
    model.compile(
        optimizer=make_optimizer(config, steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = runs.HistoryWriter(run_dir)
    main_cb, callbacks = _make_callbacks(config, reporter, cancel, run_dir, history, steps)
    reporter.on_start(
        {
            "run_dir": str(run_dir),
            "epochs": config.epochs,
            "steps_per_epoch": steps,
            "class_names": dataset.class_names,
            "train_size": len(dataset.train),
            "val_size": len(dataset.val),
            "test_size": len(dataset.test),
            "params": int(model.count_params()),
        }
    )
    reporter.on_message(
        f"Training on {len(dataset.train)} images ({steps} batches of {config.batch_size} per epoch), "
        f"validating on {len(dataset.val)}."
    )
    model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=steps,
        validation_data=val_ds,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles; this silences Keras' warning
        verbose=0,
    )
    state = "stopped" if cancel.cancelled else "finished"
    if state == "stopped":
        reporter.on_message(f"Stopped after {main_cb.epochs_done} complete epoch(s); keeping the best model so far.")

    spec = models.get_spec(config.model)
    card_common = dict(
        class_names=dataset.class_names,
        input_shape=dataset.image_shape,
        dataset={"name": dataset.name, "title": dataset.title},
        architecture={"name": spec.name, "title": spec.title, "params": int(model.count_params())},
        hyperparameters=config.to_dict(),
        command=command,
    )
    atomic.write_with(run_dir / "last.keras", model.save)
    cards.write_card(run_dir / "last.keras", cards.make_card(**card_common, metrics={"epochs": main_cb.epochs_done}))
    if main_cb.best_weights is not None:
        model.set_weights(main_cb.best_weights)

    reporter.on_message("Evaluating on the test set ...")
    ev = evaluation.evaluate(model, dataset, batch_size=max(config.batch_size, 64), reporter=reporter)
    evaluation.save_evaluation(run_dir, ev, dataset)
    metrics = {
        "test_accuracy": ev.accuracy,
        "test_loss": ev.loss,
        "best_val_accuracy": None if main_cb.best_epoch is None else main_cb.best_val,
        "best_epoch": main_cb.best_epoch,
        "epochs": main_cb.epochs_done,
    }
    atomic.write_with(run_dir / "model.keras", model.save)
    cards.write_card(run_dir / "model.keras", cards.make_card(**card_common, metrics=metrics))
    seconds = time.perf_counter() - started
    runs.write_status(run_dir, state=state, finished=runs._now(), seconds=round(seconds, 2), **metrics)
    result = RunResult(
        run_dir=run_dir,
        state=state,
        epochs_done=main_cb.epochs_done,
        history=history.rows,
        best_epoch=main_cb.best_epoch,
        best_val_accuracy=metrics["best_val_accuracy"],
        test_accuracy=ev.accuracy,
        test_loss=ev.loss,
        model_path=run_dir / "model.keras",
        seconds=seconds,
    )
    return result
