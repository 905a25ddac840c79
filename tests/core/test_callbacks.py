"""The training callbacks on their own: the backup reads and writes the layout of Keras'
BackupAndRestore (the class earlier versions of the app subclassed), without Keras private API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from core import callbacks, runs
from core.backup import BACKUP_DIR, backup_epoch
from core.config import TrainConfig
from core.reporting import CancelToken, NullReporter
from core.training import resume_run, train

STEPS = 4


def tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4 * STEPS, 6)).astype("float32"), rng.integers(0, 3, 4 * STEPS)


class SeeStart(keras.callbacks.Callback):
    """Records the weights and optimizer step count the model starts fit with."""

    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]
        self.iterations = int(self.model.optimizer.iterations.numpy())


def test_a_backup_written_by_keras_backup_and_restore_is_restored(tmp_path):
    x, y = tiny_data()
    folder = tmp_path / BACKUP_DIR
    old = tiny_model(1)
    old.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(str(folder), delete_checkpoint=False)],
    )
    assert backup_epoch(tmp_path) == 2

    new = tiny_model(2)
    assert any(not np.array_equal(a, b) for a, b in zip(new.get_weights(), old.get_weights(), strict=True))
    seen = SeeStart()
    backup = callbacks.AtomicBackup(folder, callbacks.EpochClock(STEPS, CancelToken()))
    new.fit(x, y, batch_size=4, epochs=3, initial_epoch=2, verbose=0, callbacks=[backup, seen])
    assert all(np.array_equal(a, b) for a, b in zip(seen.weights, old.get_weights(), strict=True))
    assert seen.iterations == 2 * STEPS  # the optimizer state came back too
    # ... and it went on writing the same layout, which the stock callback reads back.
    assert backup_epoch(tmp_path) == 3
    again = tiny_model(3)
    seen_by_keras = SeeStart()
    stock = keras.callbacks.BackupAndRestore(str(folder), delete_checkpoint=False)
    again.fit(x, y, batch_size=4, epochs=4, verbose=0, callbacks=[stock, seen_by_keras])
    assert all(np.array_equal(a, b) for a, b in zip(seen_by_keras.weights, new.get_weights(), strict=True))
    assert seen_by_keras.iterations == 3 * STEPS


def test_a_run_whose_backup_has_the_old_layout_resumes(tiny_dataset, tmp_path):
    """A run folder as the previous version left it after Stop: Keras' compact metadata JSON."""
    cancel = CancelToken()

    class StopInSecondEpoch(NullReporter):
        def on_batch(self, epoch, step, steps, logs):
            if epoch == 1 and step == 1:
                cancel.cancel()

    config = TrainConfig(dataset="tiny", model="simple-cnn-1", epochs=3, batch_size=8, tensorboard=False)
    first = train(config, StopInSecondEpoch(), cancel, workspace=tmp_path, dataset=tiny_dataset)
    run = first.run_dir
    assert first.epochs_done == 1
    (run / BACKUP_DIR / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))

    starts = []

    class Watch(NullReporter):
        def on_start(self, info):
            starts.append(info["initial_epoch"])

    result = resume_run(run, Watch(), dataset=tiny_dataset)
    assert starts == [1] and result.state == "finished" and result.epochs_done == 3
    assert [int(r["epoch"]) for r in runs.read_history(run)] == [1, 2, 3]
    assert backup_epoch(run) == 3


def test_the_callbacks_use_no_private_keras_api():
    source = Path(callbacks.__file__).read_text(encoding="utf-8")
    assert not re.findall(r"\.\_[A-Za-z]\w*", source), "a private attribute of Keras (or anything else) is used"
    assert not issubclass(callbacks.AtomicBackup, keras.callbacks.BackupAndRestore)


@pytest.mark.parametrize("cancelled_at", [None, 2])
def test_a_half_epoch_cut_by_stop_is_not_backed_up(tmp_path, cancelled_at):
    x, y = tiny_data()
    cancel = CancelToken()
    clock = callbacks.EpochClock(STEPS, cancel)

    class CancelAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == STEPS + (cancelled_at or 99):
                cancel.cancel()

    model = tiny_model(4)
    follow = callbacks.FollowCancelToken(cancel, NullReporter())
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[clock, CancelAt(), follow, callbacks.AtomicBackup(tmp_path, clock)],
    )
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == (1 if cancelled_at else 2)


def test_the_weights_kept_are_those_of_the_epoch_the_runs_table_calls_best(tmp_path):
    """One best-epoch rule: an epoch without validation never competes with one that has it, in
    training as in core.runs.best_epoch (the old per-epoch score compared training accuracy 0.9
    of epoch 1 with validation accuracy 0.5 of epoch 2 and kept epoch 1)."""
    model = tiny_model(0)
    history = runs.HistoryWriter(tmp_path, rows=[{"epoch": 1.0, "accuracy": 0.9, "loss": 0.3}])
    clock = callbacks.EpochClock(STEPS, CancelToken())
    clock.batches = STEPS  # a whole epoch
    best = callbacks.BestWeights(tmp_path / "best.weights.h5", clock, history)
    best.set_model(model)
    epochs = [
        {"accuracy": 0.95, "loss": 0.2, "val_accuracy": 0.5, "val_loss": 0.9},
        {"accuracy": 0.99, "loss": 0.1, "val_accuracy": 0.4, "val_loss": 1.0},
    ]
    for epoch, logs in enumerate(epochs, start=1):
        best.on_epoch_end(epoch, logs)
        history.append({"epoch": epoch + 1, **logs})
    assert (best.epoch, best.value) == (2, 0.5)
    rule = runs.best_epoch(history.rows)
    assert (rule.epoch, rule.value) == (best.epoch, best.value)
    assert (tmp_path / "best.weights.h5").exists()


def test_an_epochs_seconds_leave_out_the_time_it_was_paused():
    import threading
    import time

    cancel = CancelToken()
    clock = callbacks.EpochClock(STEPS, cancel)
    clock.on_epoch_begin(0)
    cancel.pause()
    threading.Timer(0.4, cancel.resume).start()
    started = time.perf_counter()
    cancel.wait_while_paused()  # what FollowCancelToken does between batches
    held = time.perf_counter() - started
    clock.on_epoch_end(0)
    assert held >= 0.35 and cancel.paused_seconds >= 0.35
    assert clock.seconds < 0.2  # the epoch itself did nothing but wait


def test_run_time_adds_earlier_sessions_and_leaves_pauses_out_of_the_training_time():
    from core.run_time import RunTime

    now = [100.0]
    cancel = CancelToken()
    times = RunTime(cancel, active_before=50.0, wall_before=70.0, clock=lambda: now[0])
    now[0] += 30.0
    cancel._held += 10.0  # ten of those thirty seconds were spent paused
    assert times.active == pytest.approx(50.0 + 20.0)
    assert times.wall == pytest.approx(70.0 + 30.0)
    assert times.status_fields() == {"seconds": 70.0, "wall_seconds": 100.0}
