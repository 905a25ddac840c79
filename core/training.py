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
import importlib.util
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic, cards, runs
from core.errors import RunError, WorkbenchError
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
    tensorboard: bool = True  # write TensorBoard logs in the run folder
    center_loss_weight: float = 0.0  # > 0 adds a centre-loss term on the "features" layer (core/center_loss.py)
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
        if self.center_loss_weight < 0:
            problems.append("the centre-loss weight cannot be negative")
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


def _as_float(x, y):
    import tensorflow as tf

    return tf.cast(x, tf.float32), y


def _no_autograph(fn):
    """Mark a tf.data map function as plain TensorFlow code.

    Otherwise autograph converts it, re-reading and compiling this module's source while holding
    the GIL (measured: 300-360 ms at the start of training, a visible freeze of the window).
    """
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


def train_pipeline(split, image_shape, batch_size: int, seed: int, augmenter=None):
    """Shuffled, repeated, batched, prefetched ``tf.data`` pipeline and its steps per epoch."""
    import tensorflow as tf

    ds = split.tf_dataset(image_shape)
    if split.in_memory:
        ds = ds.cache()
    ds = ds.shuffle(min(len(split), 20_000), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size).map(_no_autograph(_as_float), num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        augment = _no_autograph(lambda x, y: (augmenter(x, training=True), y))
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    steps = max(1, math.ceil(len(split) / batch_size))
    return ds.prefetch(tf.data.AUTOTUNE), steps


def eval_pipeline(split, image_shape, batch_size: int):
    import tensorflow as tf

    ds = split.tf_dataset(image_shape)
    if split.in_memory:
        ds = ds.cache()
    ds = ds.batch(batch_size).map(_no_autograph(_as_float))
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


BACKUP_DIR = "backup"  # inside a run folder: weights, optimizer state and epoch of the last whole epoch
BEST_WEIGHTS = "best.weights.h5"  # inside a run folder: the best epoch's weights, for a resumed run


def backup_epoch(run_dir: Path) -> int:
    """The number of whole epochs the run's backup holds (0 when there is none)."""
    meta = run_dir / BACKUP_DIR / "training_metadata.json"
    try:
        return int(atomic.read_json(meta)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _make_callbacks(config, reporter, cancel, run_dir, history, steps, best_so_far=None, classifier=None):
    import keras

    class WorkbenchCallback(keras.callbacks.Callback):
        """Forwards progress to the reporter; turns cancel into stop flags; holds while paused.

        It also keeps the best weights in memory (copied at the end of an improving epoch, and
        written to best.weights.h5 so a resumed run still knows them), so Stop keeps the best
        model so far. ``best_file_epoch`` and ``best_file_model`` say which epoch and model that
        file holds, so the backup of the same epoch copies it instead of writing it again.
        """

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.epoch_start = time.perf_counter()
            self.best_val, self.best_epoch, self.best_weights = best_so_far or (-math.inf, None, None)
            self.epochs_done = len(history.rows)
            self.batches_this_epoch = 0
            self.best_file_epoch: int | None = None
            self.best_file_model = None

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
                # The classifier is what gets saved; with a centre loss, self.model is a training wrapper.
                saved = classifier if classifier is not None else self.model
                self.best_val, self.best_epoch = score, epoch + 1
                self.best_weights = [w.copy() for w in saved.get_weights()]
                atomic.write_with(run_dir / BEST_WEIGHTS, saved.save_weights, suffix=".weights.h5")
                self.best_file_epoch, self.best_file_model = epoch + 1, saved
            self.epochs_done = epoch + 1
            history.append({"epoch": epoch + 1, **logs})
            runs.write_status(run_dir, epochs_done=epoch + 1, best_epoch=self.best_epoch)
            reporter.on_epoch(epoch, logs)

    class AtomicBackup(keras.callbacks.BackupAndRestore):
        """Keras' BackupAndRestore, but each file is replaced atomically (a kill mid-save leaves the
        previous good backup), and the backup is kept after training so a stopped or finished run
        can be continued. Runs after WorkbenchCallback, so a backup never holds an epoch that the
        history does not. After an improving epoch the backup is a copy of best.weights.h5, which
        that callback has just written from the same model: each weights file costs ~50 ms of
        mostly Python (holding the GIL) for the 2-conv CNN, twice per epoch before."""

        def __init__(self) -> None:
            super().__init__(str(run_dir / BACKUP_DIR), delete_checkpoint=False)

        def _save_model(self):
            folder = Path(self.backup_dir)
            folder.mkdir(parents=True, exist_ok=True)
            if main.best_file_epoch == self._current_epoch and main.best_file_model is self.model:
                atomic.copy_file(run_dir / BEST_WEIGHTS, self._weights_path)
            else:
                atomic.write_with(Path(self._weights_path), self.model.save_weights, suffix=".weights.h5")
            atomic.write_json(
                Path(self._training_metadata_path), {"epoch": self._current_epoch, "batch": self._last_batch_seen}
            )

        def on_epoch_end(self, epoch, logs=None):
            if cancel.cancelled and main.batches_this_epoch < steps:
                return  # keep the backup of the last whole epoch
            super().on_epoch_end(epoch, logs)

    main = WorkbenchCallback()
    callbacks: list = [main, AtomicBackup()]
    monitor = "val_loss" if config.validation_split > 0 else "loss"
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.2, patience=config.plateau_patience))
    if config.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor, patience=config.patience))
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        reporter.on_message(
            "TensorBoard is not installed, so this run writes no TensorBoard logs (pip install tensorboard)."
        )
    elif config.tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(
                str(run_dir / "tensorboard"), write_graph=False, profile_batch=0, update_freq="epoch"
            )
        )
    return main, callbacks


# --------------------------------------------------------------------------------------------
# The job


def load_config_dataset(config: TrainConfig, reporter: Reporter | None = None):
    """The dataset a config names, split exactly as that config's run saw it."""
    from core import datasets

    if reporter is not None:
        reporter.on_message(f"Loading dataset {config.dataset} ...")
    return datasets.load_dataset(
        config.dataset,
        image_size=config.image_size,
        color_mode=config.color_mode,
        validation_split=config.validation_split,
        test_split=config.test_split,
        seed=config.seed,
        limit=config.limit,
    )


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
    from core import models

    reporter = reporter or NullReporter()
    cancel = cancel or CancelToken()
    config.validate()
    started = time.perf_counter()
    if dataset is None:
        dataset = load_config_dataset(config, reporter)
    if len(dataset.train) == 0:
        raise WorkbenchError("The dataset has no training images.")
    models.check_input(config.model, dataset.image_shape, config.model_options)
    for skipped in dataset.skipped[:20]:
        reporter.on_message(f"Skipped {skipped.path}: {skipped.reason}")
    if len(dataset.skipped) > 20:
        reporter.on_message(f"... and {len(dataset.skipped) - 20} more skipped files (see dataset.json)")

    run_dir = runs.create_run(config.to_dict(), dataset.name, workspace)
    return _guarded(run_dir, lambda: _run(config, dataset, run_dir, reporter, cancel, started, command))


def resume_run(
    run_dir: str | Path,
    reporter: Reporter | None = None,
    cancel: CancelToken | None = None,
    *,
    extra_epochs: int = 0,
    dataset=None,
) -> RunResult:
    """Go on with a run in its own folder: after a crash, a Stop, or (with ``extra_epochs``) a finish.

    Weights, optimizer state and the epoch count come from the run's backup (its last whole
    epoch); the history is kept up to that epoch, so curves continue without a gap or a repeat;
    the best model so far is remembered. The learning-rate schedule follows the epoch number.
    """
    run_dir = Path(run_dir)
    reporter = reporter or NullReporter()
    cancel = cancel or CancelToken()
    info = runs.read_run(run_dir)
    if not info.config:
        raise RunError(f"Run {info.name} cannot be resumed: its config.json is missing or damaged.")
    if info.state == "running":
        raise RunError(f"Run {info.name} is still training in another window or process.")
    config = TrainConfig.from_dict(info.config)
    done = backup_epoch(run_dir)
    if extra_epochs < 0:
        raise WorkbenchError("Extra epochs cannot be negative.")
    config.epochs = max(config.epochs, done) + extra_epochs
    if done >= config.epochs:
        raise RunError(
            f"Run {info.name} has already trained all its {config.epochs} epochs; ask for extra epochs to continue it."
        )
    config.validate()
    started = time.perf_counter()
    if dataset is None:
        dataset = load_config_dataset(config, reporter)
    atomic.write_json(run_dir / "config.json", config.to_dict())
    runs.write_status(run_dir, state="running", pid=os.getpid(), resumed=runs._now(), error=None)
    reporter.on_message(
        f"Resuming {info.name} after epoch {done} of {config.epochs}."
        if done
        else f"Run {info.name} had no complete epoch; starting it again."
    )
    return _guarded(run_dir, lambda: _run(config, dataset, run_dir, reporter, cancel, started, None, resume_from=done))


def _same_weights(a: list, b: list) -> bool:
    import numpy as np

    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _guarded(run_dir: Path, job):
    try:
        return job()
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
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "The disk is full: free some space (or move the workspace) and resume the run."
    return f"Training failed: {name}: {exc}"


def _run(config, dataset, run_dir, reporter, cancel, started, command, resume_from: int = 0) -> RunResult:
    import keras

    from core import evaluation, models

    if resume_from == 0:
        atomic.write_json(run_dir / "dataset.json", dataset.describe())
    keras.utils.set_random_seed(config.seed + resume_from)
    h, w, c = dataset.image_shape
    reporter.on_message(f"Building {config.model} for {h}x{w}x{c} input ...")
    model = models.build_model(
        config.model,
        dataset.image_shape,
        dataset.num_classes,
        options=config.model_options,
        pretrained=config.pretrained and resume_from == 0,
        on_message=reporter.on_message,
    )
    train_ds, steps = train_pipeline(
        dataset.train, dataset.image_shape, config.batch_size, config.seed + resume_from, make_augmenter(config)
    )
    val_ds = eval_pipeline(dataset.val, dataset.image_shape, config.batch_size) if len(dataset.val) else None
    optimizer = make_optimizer(config, steps)
    fit_model = model
    if config.center_loss_weight > 0:
        # A training-only wrapper adds the centre loss; `model`, which shares its layers, stays plain.
        from core.center_loss import prepare_center_loss

        fit_model, train_ds, val_ds = prepare_center_loss(
            model, config, dataset.num_classes, train_ds, val_ds, optimizer
        )
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rows = [r for r in runs.read_history(run_dir) if r.get("epoch", 0) <= resume_from] if resume_from else []
    history = runs.HistoryWriter(run_dir, rows)
    best_so_far = None
    if rows:
        best = runs.best_epoch(rows)  # the one best-epoch rule (core/runs.py)
        best_val, best_epoch = (best.value, best.epoch) if best is not None else (-math.inf, None)
        weights = None
        if (run_dir / BEST_WEIGHTS).exists():
            if getattr(model, "optimizer", None) is not None:  # uncompiled with a centre loss
                model.optimizer.build(model.trainable_variables)  # the file holds optimizer state too
            model.load_weights(run_dir / BEST_WEIGHTS)
            weights = [w.copy() for w in model.get_weights()]
        best_so_far = (best_val, best_epoch, weights)
    main_cb, callbacks = _make_callbacks(config, reporter, cancel, run_dir, history, steps, best_so_far, model)
    reporter.on_start(
        {
            "run_dir": str(run_dir),
            "epochs": config.epochs,
            "initial_epoch": resume_from,
            "history": list(rows),
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
    fit_model.fit(
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
    # Often the last epoch is the best: then model.keras is last.keras again, copied, not re-saved.
    best_is_last = main_cb.best_weights is None or _same_weights(model.get_weights(), main_cb.best_weights)
    if not best_is_last:
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
    if best_is_last:
        atomic.copy_file(run_dir / "last.keras", run_dir / "model.keras")
    else:
        atomic.write_with(run_dir / "model.keras", model.save)
    cards.write_card(run_dir / "model.keras", cards.make_card(**card_common, metrics=metrics))
    seconds = time.perf_counter() - started + float(runs.read_status(run_dir).get("seconds") or 0) * bool(resume_from)
    runs.write_status(run_dir, state=state, finished=runs._now(), seconds=round(seconds, 2), **metrics)
    return RunResult(
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
