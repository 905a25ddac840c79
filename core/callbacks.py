"""The Keras callbacks of a training run, one class per purpose.

:func:`core.training.train` puts them in this order, which matters: Keras calls callbacks in list
order and several of them read what an earlier one decided in the same hook.

1. :class:`EpochClock` times each epoch and counts its batches: was the epoch whole, or cut by Stop?
2. :class:`ReportBatches` sends every training batch to the :class:`~core.reporting.Reporter`.
3. :class:`FollowCancelToken` holds training while paused and stops it within one batch of Stop.
4. :class:`StopOnNaNLoss` stops training at the first batch whose loss is NaN or infinite.
5. :class:`LearningRateByEpoch` sets the learning rate at each epoch start (step decay).
   :class:`WarmupCosine` sets it before each batch instead (warm-up, then cosine decay).
6. :class:`BestWeights` keeps the best epoch's weights, in memory and in ``best.weights.h5``.
7. :class:`RecordEpochs` writes each whole epoch to ``history.csv`` and ``status.json`` and reports it
   (its ``lr`` is the rate the epoch trained with: the one at its first step).
8. :class:`AtomicBackup` backs up weights, optimizer state and epoch count; it restores them at start.
9. :class:`StopWhenNoBetter` (early stopping by the best-epoch rule) and :class:`TimeBudget` (fits
   the run into a time budget) end training after the epoch is recorded.

A half epoch cut by Stop, and an epoch whose loss became NaN, is not recorded, not scored and not
backed up, so a resumed run goes on from the last whole epoch with usable weights. Only public
Keras API is used (``save_weights``, ``load_weights``, ``optimizer.build``):
``keras.callbacks.BackupAndRestore``'s private ``_save_model`` changed within Keras 3.x. The
backup keeps that callback's file layout, so backups written by earlier versions of the app
(which subclassed it) still resume.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from core import atomic, runs, writable
from core.reporting import CancelToken, Reporter
from core.run_time import RunTime

BACKUP_WEIGHTS = "latest.weights.h5"  # the names keras.callbacks.BackupAndRestore uses
BACKUP_METADATA = "training_metadata.json"


def plain_floats(logs: dict | None) -> dict[str, float]:
    """Keras' logs (tensors, numpy scalars) as plain floats; values that are not numbers are dropped."""
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def save_size(model) -> int:
    """Bytes a save of ``model`` writes: its weights and its optimizer's state (what
    ``save_weights`` and ``model.save`` store), asked of :func:`core.writable.ensure_space` first."""
    optimizer = getattr(model, "optimizer", None)
    variables = [*model.weights, *(getattr(optimizer, "variables", None) or [])]
    return sum(int(np.prod(v.shape)) * np.dtype(str(v.dtype)).itemsize for v in variables)


def current_learning_rate(optimizer) -> float:
    return float(np.asarray(optimizer.learning_rate))


class EpochClock(keras.callbacks.Callback):
    """Times each epoch and counts its training batches.

    ``cut_short`` says whether the epoch that just ended was stopped part-way by a cancel, or
    ``broken`` (by :class:`StopOnNaNLoss`: its weights are NaN); the callbacks after this one skip
    such an epoch. Put it first, so ``seconds`` is the epoch's own time (paused time left out).
    """

    def __init__(self, steps: int, cancel: CancelToken) -> None:
        super().__init__()
        self.steps = steps
        self.cancel = cancel
        self.epoch = 0
        self.batches = 0
        self.started = time.perf_counter()
        self.paused_at_start = cancel.paused_seconds
        self.seconds = 0.0
        self.broken = False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batches = 0
        self.started = time.perf_counter()
        self.paused_at_start = self.cancel.paused_seconds

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        paused = self.cancel.paused_seconds - self.paused_at_start  # held by Pause: not the epoch's time
        self.seconds = max(0.0, time.perf_counter() - self.started - paused)

    @property
    def cut_short(self) -> bool:
        return self.broken or (self.cancel.cancelled and self.batches < self.steps)


class ReportBatches(keras.callbacks.Callback):
    """Sends each training batch to the reporter: 0-based epoch and step, steps per epoch, float logs."""

    def __init__(self, reporter: Reporter, steps: int) -> None:
        super().__init__()
        self.reporter = reporter
        self.steps = steps
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.reporter.on_batch(self.epoch, batch, self.steps, plain_floats(logs))


class FollowCancelToken(keras.callbacks.Callback):
    """Holds training between batches while the token is paused; on cancel, stops training and
    validation at the end of the current batch. Put it after :class:`ReportBatches`, so a cancel
    asked for while a batch is reported stops before the next batch."""

    def __init__(self, cancel: CancelToken, reporter: Reporter) -> None:
        super().__init__()
        self.cancel = cancel
        self.reporter = reporter

    def on_train_batch_end(self, batch, logs=None):
        if self.cancel.paused:
            self.reporter.on_message("Paused.")
            self.cancel.wait_while_paused()
            if not self.cancel.cancelled:
                self.reporter.on_message("Resumed.")
        if self.cancel.cancelled:
            self.model.stop_training = True
            self.model.stop_evaluating = True

    def on_test_batch_end(self, batch, logs=None):
        if self.cancel.cancelled:
            self.model.stop_evaluating = True


class StopOnNaNLoss(keras.callbacks.Callback):
    """Stops training (and the epoch's validation) at the first batch whose loss is NaN or infinite.

    From there the weights are NaN too: every later epoch would be wasted and the run would end
    "finished" with a model that predicts nothing. The epoch is marked broken on the
    :class:`EpochClock`, so it is neither recorded, scored nor backed up; ``epoch`` and ``batch``
    (0-based) and ``loss`` say where it happened, and core.training fails the run with a message
    saying what to try. Put it after :class:`FollowCancelToken` and before the callbacks that
    read ``cut_short``.
    """

    def __init__(self, clock: EpochClock) -> None:
        super().__init__()
        self.clock = clock
        self.stopped = False
        self.epoch: int | None = None
        self.batch: int | None = None
        self.loss: float | None = None

    def on_train_batch_end(self, batch, logs=None):
        loss = plain_floats(logs).get("loss")
        if self.stopped or loss is None or math.isfinite(loss):
            return
        self.stopped = True
        self.epoch, self.batch, self.loss = self.clock.epoch, batch, loss
        self.clock.broken = True
        self.model.stop_training = True
        self.model.stop_evaluating = True

    def on_test_batch_end(self, batch, logs=None):
        if self.stopped:
            self.model.stop_evaluating = True


class LearningRateByEpoch(keras.callbacks.Callback):
    """Sets the optimizer's learning rate to ``rate(epoch)`` (0-based) as each epoch begins.

    Unlike ``keras.callbacks.LearningRateScheduler`` it adds nothing to the epoch's logs: the
    history's ``lr`` column is written by :class:`RecordEpochs` for every schedule alike.
    """

    def __init__(self, rate: Callable[[int], float]) -> None:
        super().__init__()
        self.rate = rate

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate(epoch)


class BestWeights(keras.callbacks.Callback):
    """Keeps the best epoch's weights in memory, so Stop keeps the best model so far, and in ``path``
    (best.weights.h5), so a resumed run still knows them. The best epoch is decided by the one rule,
    :func:`core.runs.best_epoch`, over the run's history and this epoch, so the model saved is the
    one the Runs table and the command line call best.

    ``keep`` is the model whose weights are kept when it is not the one being fitted (with a centre
    loss, Keras fits a training wrapper around the classifier). ``best_so_far`` is ``(score, epoch,
    weights)`` of a resumed run. ``file_epoch`` and ``file_model`` say which epoch and model the
    file holds, so :class:`AtomicBackup` can copy it instead of serialising the same weights again.
    """

    def __init__(
        self,
        path: Path,
        clock: EpochClock,
        history: runs.HistoryWriter,
        keep: keras.Model | None = None,
        best_so_far: tuple[float, int | None, list | None] | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.clock = clock
        self.history = history
        self.keep = keep
        self.value, self.epoch, self.weights = best_so_far or (-math.inf, None, None)
        self.file_epoch: int | None = None
        self.file_model: keras.Model | None = None

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.cut_short:
            return
        best = runs.best_epoch([*self.history.rows, {"epoch": epoch + 1, **plain_floats(logs)}])
        if best is not None and best.epoch == epoch + 1:
            kept = self.keep if self.keep is not None else self.model
            self.value, self.epoch = best.value, best.epoch
            self.weights = [w.copy() for w in kept.get_weights()]
            writable.ensure_space(self.path.parent, save_size(kept))
            atomic.write_with(self.path, kept.save_weights, suffix=".weights.h5")
            self.file_epoch, self.file_model = epoch + 1, kept


class RecordEpochs(keras.callbacks.Callback):
    """Appends each whole epoch to the run's history (metrics, ``lr``, ``seconds``), updates its
    status (epochs done, best epoch, the run's times so far: core/run_time.py) and tells the
    reporter. Put it after :class:`BestWeights`, whose best epoch the status records."""

    def __init__(
        self,
        run_dir: Path,
        history: runs.HistoryWriter,
        reporter: Reporter,
        clock: EpochClock,
        best: BestWeights,
        times: RunTime | None = None,
    ) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.history = history
        self.reporter = reporter
        self.clock = clock
        self.best = best
        self.times = times
        self.epochs_done = len(history.rows)
        self.epoch_rate: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_rate = None

    def on_train_batch_begin(self, batch, logs=None):
        # The rate the epoch trains with, read at its first step, after the schedules set it
        # (LearningRateByEpoch at the epoch's start, WarmupCosine before each batch: both come
        # earlier in the list): at the epoch's end a schedule has moved on (a cosine one to 0).
        if self.epoch_rate is None:
            self.epoch_rate = current_learning_rate(self.model.optimizer)

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.cut_short:
            return  # a cancelled, half-done epoch is not recorded
        logs = plain_floats(logs)
        rate = self.epoch_rate
        logs["lr"] = current_learning_rate(self.model.optimizer) if rate is None else rate
        logs["seconds"] = self.clock.seconds
        self.epochs_done = epoch + 1
        self.history.append({"epoch": epoch + 1, **logs})
        times = self.times.status_fields() if self.times is not None else {}
        runs.write_status(self.run_dir, epochs_done=epoch + 1, best_epoch=self.best.epoch, **times)
        self.reporter.on_epoch(epoch, logs)


class AtomicBackup(keras.callbacks.Callback):
    """Backs up the last whole epoch: weights and optimizer state (``model.save_weights`` writes
    both) in ``latest.weights.h5`` and the epoch count in ``training_metadata.json``, each file
    replaced atomically, so a kill mid-save leaves the previous good backup. The backup is kept
    after training, so a stopped or finished run can be continued.

    At the start of training it loads a backup that is there (weights and optimizer state); the
    caller passes the backup's epoch count (``core.training.backup_epoch``, which reads it without
    TensorFlow) to ``fit(initial_epoch=...)``.
    Put it last among these callbacks: a backup never holds an epoch that the history does not.

    After an improving epoch the backup is a copy of the file :class:`BestWeights` has just written
    from the same model: each weights file costs ~50 ms of mostly Python (holding the GIL) for
    the 2-conv CNN, twice per epoch before.
    """

    def __init__(self, folder: Path, clock: EpochClock, best: BestWeights | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.clock = clock
        self.best = best

    @property
    def weights_path(self) -> Path:
        return self.folder / BACKUP_WEIGHTS

    @property
    def metadata_path(self) -> Path:
        return self.folder / BACKUP_METADATA

    def on_train_begin(self, logs=None):
        self.restore()

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.cut_short:
            return  # keep the backup of the last whole epoch
        self.save(epoch + 1)

    def restore(self) -> bool:
        """Load the backed-up weights and optimizer state into the model; False when there are none."""
        if not self.weights_path.exists():
            return False
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its variables must exist to be loaded
        self.model.load_weights(self.weights_path)
        return True

    def save(self, epochs_done: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        writable.ensure_space(self.folder, save_size(self.model))  # h5py crashed on a disk that filled mid-write
        best = self.best
        if best is not None and best.file_epoch == epochs_done and best.file_model is self.model:
            atomic.copy_file(best.path, self.weights_path)
        else:
            atomic.write_with(self.weights_path, self.model.save_weights, suffix=".weights.h5")
        atomic.write_json(self.metadata_path, {"epoch": epochs_done, "batch": 0})


class WarmupCosine(keras.callbacks.Callback):
    """Sets the learning rate before every batch: a linear warm-up over ``warmup_steps`` (one epoch
    by default), then a cosine decay to zero at the end of epoch ``total_epochs``.

    With a time budget, :class:`TimeBudget` sets ``ends_at`` (a time on ``clock``) and the decay
    follows the clock instead of the step count, so it ends when the time does, smoothly even when
    the estimate of how many epochs fit changes. ``rate(progress)`` is the one curve.
    """

    def __init__(
        self,
        peak: float,
        steps: int,
        total_epochs: int,
        warmup_steps: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.peak = float(peak)
        self.steps = max(1, int(steps))
        self.total_epochs = max(1, int(total_epochs))
        self.warmup_steps = self.steps if warmup_steps is None else max(0, int(warmup_steps))
        self.clock = clock
        self.ends_at: float | None = None
        self.decay_started: float | None = None
        self.epoch = 0

    def rate(self, progress: float) -> float:
        """The decay's rate at ``progress`` (0 at the end of the warm-up, 1 at the end of training)."""
        return 0.5 * self.peak * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))

    def rate_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak * (step + 1) / (self.warmup_steps + 1)
        if self.ends_at is not None:
            now = self.clock()
            if self.decay_started is None:
                self.decay_started = now
            return self.rate((now - self.decay_started) / max(1e-9, self.ends_at - self.decay_started))
        total = max(self.total_epochs * self.steps, self.warmup_steps + 1)
        return self.rate((step - self.warmup_steps) / max(1, total - self.warmup_steps))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate_at(self.epoch * self.steps + batch)


class TimeBudget(keras.callbacks.Callback):
    """Ends training when ``budget`` seconds (counted by ``clock`` from ``started``) are spent.

    Each whole epoch is timed; after it, the epochs that still fit in what is left of the budget
    (less ``reserve(epoch_seconds)``, the time testing and saving will take) are counted, and
    :class:`WarmupCosine`'s decay (``schedule``) is set to end with the last of them. When the
    budget runs out inside the first epoch and one epoch alone takes longer than the budget,
    training stops there and ``too_short`` holds the time one epoch would take (estimated from its
    batches so far); when the epoch would fit but loading and preparing (``setup``) took the rest,
    the first epoch is finished (over budget, ``over`` is True) so the run still has a model.
    ``clock`` is a function returning seconds, so tests can count epochs against a fake clock.
    """

    def __init__(
        self,
        budget: float,
        started: float,
        steps: int,
        clock: Callable[[], float] = time.perf_counter,
        schedule: WarmupCosine | None = None,
        reserve: Callable[[float], float] = lambda epoch_seconds: 0.0,
        initial_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.budget = float(budget)
        self.started = float(started)
        self.steps = max(1, int(steps))
        self.clock = clock
        self.schedule = schedule
        self.reserve = reserve
        self.initial_epoch = initial_epoch
        self.epoch_started = started
        self.first_batch_ended = started
        self.epoch = initial_epoch
        self.planned_epochs: int | None = None
        self.too_short: float | None = None
        self.over = False
        self.durations: list[float] = []

    @property
    def setup(self) -> float:
        """Seconds from the start of the run to its first epoch (loading the data, building the model)."""
        return self.epoch_started - self.started if self.epoch == self.initial_epoch else 0.0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_started = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.first_batch_ended = self.clock()
        if self.epoch != self.initial_epoch or self.elapsed() <= self.budget or batch + 1 >= self.steps:
            return
        if self.over:
            return
        # The first batch also compiles the step (once); the batches after it give the pace.
        first = self.first_batch_ended - self.epoch_started
        pace = (self.clock() - self.first_batch_ended) / batch if batch else first
        estimate = first + pace * (self.steps - 1)
        if estimate <= self.budget:
            self.over = True  # loading and preparing took the budget: finish this one epoch
            return
        self.too_short = estimate
        self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.too_short is not None:
            return
        seconds = max(1e-9, self.clock() - self.epoch_started)
        if epoch == self.initial_epoch and self.steps > 1:
            # The first batch also builds and compiles the model's step (seconds, once): leave it out.
            seconds = max(1e-9, (self.clock() - self.first_batch_ended) * self.steps / (self.steps - 1))
        # Plan with the slower of the last two epochs and 10% to spare: an epoch a little slower than
        # the last would otherwise not fit, and training would stop before the decay has ended.
        self.durations.append(seconds)
        seconds = 1.1 * max(self.durations[-2:])
        left = self.budget - self.elapsed() - self.reserve(seconds)
        more = max(0, int(left // seconds))
        self.planned_epochs = epoch + 1 + more
        if self.schedule is not None:
            self.schedule.total_epochs = self.planned_epochs
            self.schedule.ends_at = self.clock() + more * seconds
        if more == 0:
            self.model.stop_training = True


class StopWhenNoBetter(keras.callbacks.Callback):
    """Early stopping by the one best-epoch rule: ends training when :class:`BestWeights` has not
    found a better epoch for ``patience`` whole epochs (the best epoch's weights are kept either way).
    Put it after :class:`BestWeights`."""

    def __init__(self, best: BestWeights, clock: EpochClock, patience: int) -> None:
        super().__init__()
        self.best = best
        self.clock = clock
        self.patience = patience

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.cut_short or self.best.epoch is None:
            return
        if epoch + 1 - self.best.epoch >= self.patience:
            self.model.stop_training = True
