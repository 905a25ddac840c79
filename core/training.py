"""Training: ``train(config, reporter, cancel) -> RunResult``.

A plain function that the GUI runs in a worker thread and the command line runs directly. It
loads the dataset, builds the model from the zoo, feeds ``fit`` a persistent shuffled, repeated
``tf.data`` pipeline (numpy arrays given straight to ``fit`` idle 0.45-8 s at many epoch starts),
reports every batch and epoch through a :class:`~core.reporting.Reporter`, honours a
:class:`~core.reporting.CancelToken` within one batch (training and validation), and writes a run
folder (see core/runs.py). It never imports Qt.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import (
    atomic,
    auto,
    cards,
    compute,
    evaluation,
    images,
    memory,
    models,
    recipes,
    runlock,
    runs,
    splits,
    writable,
)
from core.backup import BACKUP_DIR, BEST_WEIGHTS, backup_epoch
from core.config import TrainConfig, config_from_run, drop_folder_settings, load_config_dataset
from core.errors import DatasetError, OutOfMemoryError, RunError, WorkbenchError
from core.reporting import CancelToken, NullReporter, Reporter, format_duration
from core.run_time import RunTime


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
    seconds: float  # active training time of the whole run, all resumes (core/run_time.py)
    wall_seconds: float = 0.0  # the same with paused time counted
    test_images: int | None = None

    def summary_line(self) -> str:
        """The closing line, the same in the terminal and the app's log."""
        acc = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        loss = "n/a" if self.test_loss is None else f"{self.test_loss:.3f}"
        prefix = "stopped early; " if self.state == "stopped" else ""
        images = "" if self.test_images is None else f" on {self.test_images:,} images"
        took = f"training took {format_duration(self.seconds)}"
        if round(self.wall_seconds) > round(self.seconds):
            took += f" ({format_duration(self.wall_seconds)} with pauses)"
        return f"{prefix}test accuracy {acc} (loss {loss}){images}; {took}; run saved in {self.run_dir}"


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


#: Batches each pipeline prepares ahead of the model: enough to keep it busy, and a bound on memory
#: (autotuning is off, see core.datasets.base.pipeline_options, so AUTOTUNE would grow on demand).
PREFETCH_BATCHES = 2


def train_pipeline(split, image_shape, batch_size: int, seed: int, augmenter=None, cache: bool = False):
    """Shuffled, repeated, batched, prefetched ``tf.data`` pipeline and its steps per epoch.

    Repeated forever and batched across epoch ends, so every one of ``steps`` is a full batch and
    ``fit`` never runs out of data. Folders shuffle file names before decoding (Split.tf_dataset),
    or, with ``cache`` (they fit in memory), are decoded once and shuffled from memory.
    """
    import tensorflow as tf

    ds = split.tf_dataset(image_shape, shuffle_seed=seed, cache=cache)
    ds = ds.batch(batch_size).map(_no_autograph(_as_float), num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        augment = _no_autograph(lambda x, y: (augmenter(x, training=True), y))
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    steps = max(1, math.ceil(len(split) / batch_size))
    return ds.prefetch(PREFETCH_BATCHES), steps


def eval_pipeline(split, image_shape, batch_size: int, cache: bool = False):
    """The validation pipeline of ``fit`` and its steps: ``(dataset, steps)``.

    One pass is ``steps`` batches (the last one partial); the batches repeat, so that ``fit``,
    given ``validation_steps=steps``, keeps one iterator and always finds its steps. A finite
    pipeline whose length tf.data cannot know (``ignore_errors`` drops undecodable files) made
    Keras print "Your input ran out of data; interrupting training" after every validation.
    """
    ds = split.tf_dataset(image_shape, cache=cache and not split.in_memory)
    if split.in_memory:
        ds = ds.cache()
    ds = ds.batch(batch_size).map(_no_autograph(_as_float)).repeat()
    return ds.prefetch(PREFETCH_BATCHES), max(1, math.ceil(len(split) / batch_size))


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    import keras

    lr: Any = config.learning_rate  # "warmup-cosine": core.callbacks.WarmupCosine sets it per batch
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=0.05)
    return keras.optimizers.Adam(lr)


def step_decay(config: TrainConfig, epoch: int) -> float:
    """Learning rate for 0-based ``epoch`` under step decay."""
    return config.learning_rate * config.step_factor ** (epoch // max(1, config.step_epochs))


# --------------------------------------------------------------------------------------------
# Callbacks (the classes are in core/callbacks.py)


log = logging.getLogger(__name__)


def nan_message(config: TrainConfig, nan) -> str:
    """What a run whose loss became NaN (a :class:`core.callbacks.StopOnNaNLoss` that stopped) says."""
    what = "is no longer a number (NaN)" if math.isnan(nan.loss) else "overflowed to infinity (NaN follows)"
    tips = [f"a lower learning rate (this run used {config.learning_rate:g}; try {config.learning_rate / 10:g})"]
    if config.optimizer == "sgd" and config.momentum > 0.9:
        tips.append(f"a lower momentum (this run used {config.momentum:g}; 0.9 is usual)")
    if config.center_loss_weight > 0:
        tips.append(f"a smaller centre-loss weight (this run used {config.center_loss_weight:g})")
    return (
        f"Training stopped in epoch {nan.epoch + 1}, batch {nan.batch + 1}: the loss {what}, so the model "
        f"cannot learn any more. Train again with {', or '.join(tips)}."
    )


def _make_callbacks(
    config,
    reporter,
    cancel,
    run_dir,
    history,
    steps,
    best_so_far=None,
    classifier=None,
    times=None,
    budget=None,
    resume_from=0,
):
    """The callbacks of one ``fit``, in the order core/callbacks.py explains; returns
    ``(records, best, nan, callbacks)``: epochs done come from ``records``, the best epoch from
    ``best``, whether (and where) the loss became NaN from ``nan``."""
    import keras

    from core import callbacks as cb

    clock = cb.EpochClock(steps, cancel)
    best = cb.BestWeights(run_dir / BEST_WEIGHTS, clock, history, keep=classifier, best_so_far=best_so_far)
    records = cb.RecordEpochs(run_dir, history, reporter, clock, best, times)
    nan = cb.StopOnNaNLoss(clock)
    callbacks: list = [clock, cb.ReportBatches(reporter, steps), cb.FollowCancelToken(cancel, reporter), nan]
    if config.schedule == "step":
        callbacks.append(cb.LearningRateByEpoch(lambda epoch: step_decay(config, epoch)))
    warmup = None
    if config.schedule == "warmup-cosine":
        now = budget[2] if budget else time.perf_counter
        warmup = cb.WarmupCosine(config.learning_rate, steps, config.epochs, clock=now)
    callbacks += [warmup] if warmup else []
    callbacks += [best, records, cb.AtomicBackup(run_dir / BACKUP_DIR, clock, best)]
    if budget is not None:  # (seconds, started, clock, reserve): see core.callbacks.TimeBudget
        seconds, started, now, reserve = budget
        budget = cb.TimeBudget(seconds, started, steps, now, warmup, reserve, initial_epoch=resume_from)
        callbacks.append(budget)
    monitor = "val_loss" if config.validation_split > 0 else "loss"
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.2, patience=config.plateau_patience))
    if config.early_stopping:
        callbacks.append(cb.StopWhenNoBetter(best, clock, config.patience))
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
    return records, best, nan, budget, callbacks


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
    clock=time.perf_counter,
) -> RunResult:
    """Train ``config`` and save a run folder; see the module docstring.

    ``dataset`` may be passed when the caller already loaded it (the GUI's preview). ``clock``
    (seconds) times a time budget; tests pass a fake one. ``model="auto"`` or ``recipe="auto"``
    are resolved first (core/auto.py) and their reasons logged; the run records the result. Raises
    :class:`~core.errors.WorkbenchError` (or a subclass) for problems a person can fix; the run
    folder, if one was made, is then marked failed with the message.
    """
    reporter = reporter or NullReporter()
    cancel = cancel or CancelToken()
    config.validate()
    writable.check_workspace(workspace)  # read-only, a file or a full disk: said before anything loads
    plan = compute.plan_run(config)  # precision and devices: a device that does not exist is said now
    times = RunTime(cancel)
    started = clock()
    if dataset is None:
        dataset = load_config_dataset(config, reporter)
    check_splits(config, dataset)
    config, notice = drop_folder_settings(config, dataset)
    if notice:
        reporter.on_message(notice)
    config, choices = auto.resolve_and_report(config, dataset, reporter)
    models.check_input(config.model, dataset.image_shape, config.model_options)
    config, capped = memory.cap_batch_size(config, dataset)
    if capped:
        reporter.on_message(capped)
    memory.check_training_memory(config, dataset)
    for skipped in dataset.skipped[:20]:
        reporter.on_message(f"Skipped {skipped.path}: {skipped.reason}")
    if len(dataset.skipped) > 20:
        reporter.on_message(f"... and {len(dataset.skipped) - 20} more skipped files (see dataset.json)")

    run_dir = runs.create_run(config.to_dict(), dataset.name, workspace)
    job = lambda: _run(  # noqa: E731
        config,
        dataset,
        run_dir,
        reporter,
        cancel,
        times,
        command,
        plan=plan,
        started=started,
        clock=clock,
        choices=choices,
    )
    with runlock.hold(run_dir, "training"):  # one run folder, one writer
        return _guarded(run_dir, job)


def check_splits(config: TrainConfig, dataset) -> None:
    """Refuse, before training, a dataset without images in a split the run needs.

    Training needs training images, the final evaluation test images, and a validation split
    above 0 asks for validation images. A folder split with a test split of 0 (and no test/
    folder), or with too few images per class to set one aside for each split, used to train to
    the end and then fail in TensorFlow with no model.
    """
    if len(dataset.train) == 0:
        raise DatasetError("The dataset has no training images.")
    test_empty = len(dataset.test) == 0
    val_empty = len(dataset.val) == 0 and config.validation_split > 0
    if not (test_empty or val_empty):
        return
    which = " and ".join(name for name, empty in (("test split", test_empty), ("validation split", val_empty)) if empty)
    reasons, fixes = [], []
    if test_empty and config.test_split == 0:
        reasons.append("the test split is 0 and there is no test/ folder with images, so the model could not be tested")
        fixes.append("set a test split above 0 (0.2 is usual) or add a test/ folder")
    if val_empty or (test_empty and config.test_split > 0):
        per_class = [sum(n) for n in zip(*dataset.counts().values(), strict=True)]
        smallest = min(per_class) if per_class else 0
        needed = 1 + (config.test_split > 0) + (config.validation_split > 0)
        images = f"{smallest} image" + ("" if smallest == 1 else "s")
        reasons.append(f"its smallest class has {images}, too few to set one aside for each split")
        fixes.append(f"add images (at least {needed} per class)")
    if val_empty and not test_empty:
        fixes.append("set the validation split to 0 to train without validation")
    verb = "have" if test_empty and val_empty else "has"
    raise DatasetError(
        f"The {which} of {dataset.name} {verb} no images: {'; '.join(reasons)}. To train, {' or '.join(fixes)}."
    )


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
    A run whose epochs are all trained but whose model was never saved is finished (saved and
    evaluated). Another process writing the run (core/runlock.py) is a RunError.
    """
    with runlock.hold(Path(run_dir), "training"):  # one run folder, one writer
        return _resume(Path(run_dir), reporter, cancel, extra_epochs, dataset)


def _resume(run_dir: Path, reporter, cancel, extra_epochs: int, dataset) -> RunResult:
    reporter = reporter or NullReporter()
    cancel = cancel or CancelToken()
    info = runs.read_run(run_dir)
    if not info.config:
        raise RunError(f"Run {info.name} cannot be resumed: its config.json is missing or damaged.")
    if info.state == "running":
        raise RunError(f"Run {info.name} is still training in another window or process.")
    config = config_from_run(info.config, info.name)
    config.time_budget = None  # a resumed run trains the epochs its config.json names
    done = backup_epoch(run_dir)
    if extra_epochs < 0:
        raise WorkbenchError("Extra epochs cannot be negative.")
    config.epochs = max(config.epochs, done) + extra_epochs
    finishing = info.can_finish and not extra_epochs  # all epochs trained, the final save cut short
    if done >= config.epochs and not finishing:
        raise RunError(
            f"Run {info.name} has already trained all its {config.epochs} epochs; ask for extra epochs to continue it."
        )
    config.validate()
    plan = compute.plan_run(config)
    times = RunTime(cancel, info.seconds or 0.0, info.wall_seconds or 0.0)  # the times so far go on
    if dataset is None:
        dataset = splits.for_resume(run_dir, load_config_dataset(config, reporter), reporter.on_message)
    check_splits(config, dataset)
    atomic.write_json(run_dir / "config.json", config.to_dict())
    runs.write_status(run_dir, state="running", pid=os.getpid(), resumed=runs._now(), error=None)
    if finishing:
        reporter.on_message(info.finish_text() + f" All {done} epochs are trained.")
    else:
        reporter.on_message(
            f"Resuming {info.name} after epoch {done} of {config.epochs}."
            if done
            else f"Run {info.name} had no complete epoch; starting it again."
        )
    return _guarded(
        run_dir, lambda: _run(config, dataset, run_dir, reporter, cancel, times, None, resume_from=done, plan=plan)
    )


def _same_weights(a: list, b: list) -> bool:
    import numpy as np

    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _guarded(run_dir: Path, job):
    try:
        return job()
    except BaseException as exc:
        message = str(exc) if isinstance(exc, WorkbenchError) else _explain(exc)
        log.error("Run %s failed: %s", run_dir.name, message, exc_info=True)
        try:
            runs.write_status(
                run_dir, state="failed", error=message, traceback=traceback.format_exc(), finished=runs._now()
            )
        except OSError:  # a disk too full even for that: the run reads "interrupted" once this process ends
            log.warning("The status of run %s could not be written", run_dir.name, exc_info=True)
        if isinstance(exc, WorkbenchError) or not isinstance(exc, Exception):
            raise
        error_class = OutOfMemoryError if _out_of_memory(exc) else WorkbenchError
        error_class = writable.DiskFullError if writable.is_disk_full(exc) else error_class
        raise error_class(message, detail=traceback.format_exc()) from exc


def _out_of_memory(exc: BaseException) -> bool:
    """TensorFlow's ResourceExhaustedError (an allocation on the GPU or CPU failed) or MemoryError.

    By class name, so that this module need not import TensorFlow to ask.
    """
    return isinstance(exc, MemoryError) or any(
        klass.__name__ == "ResourceExhaustedError" for klass in type(exc).__mro__
    )


def _explain(exc: BaseException) -> str:
    if _out_of_memory(exc):
        return "Training ran out of memory. Try a smaller batch size, smaller images or a smaller model."
    if writable.is_disk_full(exc):
        return str(writable.disk_full())  # the one full-disk sentence (core/writable.py)
    return f"Training failed: {type(exc).__name__}: {exc}"


def _run(
    config,
    dataset,
    run_dir,
    reporter,
    cancel,
    times: RunTime,
    command,
    resume_from: int = 0,
    *,
    plan,
    started=None,
    clock=time.perf_counter,
    choices=(),
) -> RunResult:
    import keras

    from core.callbacks import save_size

    if resume_from == 0:
        atomic.write_json(run_dir / "dataset.json", dataset.describe())
        splits.record_splits(run_dir, dataset)  # the exact files, for re-evaluation (core/splits.py)
    for line in filter(None, (plan.precision.note, plan.describe())):
        reporter.on_message(line)
    log.info("Run %s: %s", run_dir.name, plan.describe())
    runs.write_status(run_dir, **plan.card())
    keras.utils.set_random_seed(config.seed + resume_from)
    h, w, c = dataset.image_shape
    reporter.on_message(f"Building {config.model} for {h}x{w}x{c} input ...")
    with plan.scope():  # the run's dtype policy and device strategy (core/compute.py)
        model = models.build_model(
            config.model,
            dataset.image_shape,
            dataset.num_classes,
            options=config.model_options,
            pretrained=config.pretrained and resume_from == 0,
            on_message=reporter.on_message,
        )
    cache, notice = memory.cache_plan(dataset)  # a folder that fits is decoded once, not every epoch
    if notice:
        reporter.on_message(notice)
    train_ds, steps = train_pipeline(
        dataset.train, dataset.image_shape, config.batch_size, config.seed + resume_from, make_augmenter(config), cache
    )
    val_ds, val_steps = (
        eval_pipeline(dataset.val, dataset.image_shape, config.batch_size, cache) if len(dataset.val) else (None, None)
    )
    fit_model = model
    with plan.scope():  # the optimizer's variables too
        optimizer = make_optimizer(config, steps)
        if config.center_loss_weight > 0:
            # A training-only wrapper adds the centre loss; `model`, which shares its layers, stays plain.
            from core.center_loss import prepare_center_loss

            fit_model, train_ds, val_ds = prepare_center_loss(
                model, config, dataset.num_classes, train_ds, val_ds, optimizer
            )
        else:
            train_ds, val_ds, loss = recipes.smoothed_labels(config, dataset.num_classes, train_ds, val_ds)
            model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    rows = [r for r in runs.read_history(run_dir) if r.get("epoch", 0) <= resume_from] if resume_from else []
    history = runs.HistoryWriter(run_dir, rows)
    best_so_far = None
    if rows:
        best = runs.best_epoch(rows)  # the one best-epoch rule (core/runs.py)
        best_val, best_epoch = (best.value, best.epoch) if best is not None else (-math.inf, None)
        weights = None
        if (run_dir / BEST_WEIGHTS).exists():
            if getattr(model, "optimizer", None) is not None:  # uncompiled with a centre loss
                with plan.scope():
                    model.optimizer.build(model.trainable_variables)  # the file holds optimizer state too
            model.load_weights(run_dir / BEST_WEIGHTS)
            weights = [w.copy() for w in model.get_weights()]
        best_so_far = (best_val, best_epoch, weights)
    started = clock() if started is None else started
    budget = recipes.budget_plan(config, dataset, started, clock) if not resume_from else None
    records, best, nan, budget, callbacks = _make_callbacks(
        config, reporter, cancel, run_dir, history, steps, best_so_far, model, times, budget, resume_from
    )
    reporter.on_start(
        {
            "run_dir": str(run_dir),
            "epochs": config.epochs,
            "initial_epoch": resume_from,
            "history": list(rows),
            "seconds_before": times.active_before,  # a resumed run's times so far
            "wall_seconds_before": times.wall_before,
            "steps_per_epoch": steps,
            "class_names": dataset.class_names,
            "train_size": len(dataset.train),
            "val_size": len(dataset.val),
            "test_size": len(dataset.test),
            "params": int(model.count_params()),
        }
    )
    per_device = f", {config.batch_size / plan.replicas:g} per device" if plan.replicas > 1 else ""
    reporter.on_message(
        f"Training on {len(dataset.train)} images ({steps} batches of {config.batch_size}{per_device} per epoch), "
        f"validating on {len(dataset.val)}."
    )
    fit_model.fit(
        train_ds,
        epochs=recipes.MAX_BUDGET_EPOCHS if budget is not None else config.epochs,
        initial_epoch=resume_from,  # the backup's epoch count; AtomicBackup loads its weights
        steps_per_epoch=steps,
        validation_data=val_ds,
        validation_steps=val_steps,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles; this silences Keras' warning
        verbose=0,
        class_weight=recipes.class_weights(config, dataset),
    )
    if nan.stopped:
        raise WorkbenchError(nan_message(config, nan))
    if budget is not None and budget.too_short is not None:
        raise WorkbenchError(recipes.budget_message(config, budget.too_short, steps))
    if budget is not None and budget.over:
        reporter.on_message(recipes.over_budget_message(config, budget.setup))
    if budget is not None:  # continuing it later: a stopped run finishes its planned schedule, a done one goes on
        planned = budget.planned_epochs if cancel.cancelled and budget.planned_epochs else records.epochs_done
        atomic.write_json(run_dir / "config.json", {**config.to_dict(), "epochs": max(1, planned)})
    # Evaluated and saved in float32 on one device, so model.keras predicts the same on any machine.
    model = plan.saveable(
        model,
        lambda: models.build_model(
            config.model, dataset.image_shape, dataset.num_classes, options=config.model_options, pretrained=False
        ),
    )
    state = "stopped" if cancel.cancelled else "finished"
    if state == "stopped":
        reporter.on_message(f"Stopped after {records.epochs_done} complete epoch(s); keeping the best model so far.")

    spec = models.get_spec(config.model)
    card_common = dict(
        class_names=dataset.class_names,
        input_shape=dataset.image_shape,
        dataset={"name": dataset.name, "title": dataset.title},
        architecture={"name": spec.name, "title": spec.title, "params": int(model.count_params())},
        hyperparameters=config.to_dict(),
        command=command,
        background=images.training_background(dataset.train, dataset.image_shape),  # for transparent pictures
        compute=plan.card(),
        auto=[c.to_dict() for c in choices] or None,
    )
    writable.ensure_space(run_dir, 2 * save_size(model))  # last.keras, and model.keras after it
    atomic.write_with(run_dir / "last.keras", model.save)
    cards.write_card(run_dir / "last.keras", cards.make_card(**card_common, metrics={"epochs": records.epochs_done}))
    # Often the last epoch is the best: then model.keras is last.keras again, copied, not re-saved.
    best_is_last = best.weights is None or _same_weights(model.get_weights(), best.weights)
    if not best_is_last:
        model.set_weights(best.weights)

    reporter.on_message("Evaluating on the test set ...")
    ev = evaluation.evaluate(model, dataset, batch_size=max(config.batch_size, 64), reporter=reporter)
    evaluation.save_evaluation(run_dir, ev, dataset)
    metrics = {
        "test_accuracy": ev.accuracy,
        "test_loss": ev.loss,
        "best_val_accuracy": None if best.epoch is None else best.value,
        "best_epoch": best.epoch,
        "epochs": records.epochs_done,
    }
    if best_is_last:
        atomic.copy_file(run_dir / "last.keras", run_dir / "model.keras")
    else:
        writable.ensure_space(run_dir, save_size(model))
        atomic.write_with(run_dir / "model.keras", model.save)
    took = times.status_fields()
    cards.write_card(run_dir / "model.keras", cards.make_card(**card_common, metrics={**metrics, **took}))
    runs.write_status(run_dir, state=state, finished=runs._now(), **took, **metrics)
    return RunResult(
        run_dir=run_dir,
        state=state,
        epochs_done=records.epochs_done,
        history=history.rows,
        best_epoch=best.epoch,
        best_val_accuracy=metrics["best_val_accuracy"],
        test_accuracy=ev.accuracy,
        test_loss=ev.loss,
        model_path=run_dir / "model.keras",
        seconds=took["seconds"],
        wall_seconds=took["wall_seconds"],
        test_images=len(ev.y_true),
    )
