"""Training on tiny in-memory data: run folder contents, cancel, pause, schedules, failures."""

from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np
import pytest

from core import cards, runs
from core.config import TrainConfig
from core.errors import ModelError, OutOfMemoryError, WorkbenchError
from core.reporting import CancelToken, NullReporter
from core.training import make_augmenter, step_decay, train


class Recorder(NullReporter):
    def __init__(self):
        self.batches, self.epochs, self.messages, self.start = [], [], [], None

    def on_start(self, info):
        self.start = info

    def on_batch(self, epoch, step, steps, logs):
        self.batches.append((epoch, step, steps, logs))

    def on_epoch(self, epoch, logs):
        self.epochs.append((epoch, logs))

    def on_message(self, text):
        self.messages.append(text)


def config(**kw):
    base = dict(dataset="tiny", model="simple-cnn-1", epochs=2, batch_size=8, learning_rate=3e-3)
    base.update(kw)
    return TrainConfig(**base)


def test_run_folder_holds_everything_and_saved_model_is_the_reported_one(tiny_dataset, tmp_path):
    import keras

    rec = Recorder()
    result = train(config(), rec, workspace=tmp_path, dataset=tiny_dataset)
    run = result.run_dir
    assert result.state == "finished" and result.epochs_done == 2
    for name in ("config.json", "status.json", "dataset.json", "history.csv", "model.keras", "model.json"):
        assert (run / name).exists(), name
    for name in ("last.keras", "last.json", "evaluation.npz", "metrics.json"):
        assert (run / name).exists(), name
    status = runs.read_status(run)
    assert status["state"] == "finished" and status["epochs_done"] == 2
    assert [r["epoch"] for r in runs.read_history(run)] == [1.0, 2.0]
    assert all("val_accuracy" in r and "lr" in r for r in runs.read_history(run))
    card = cards.read_card(run / "model.keras")
    assert card["class_names"] == tiny_dataset.class_names and card["input_shape"] == [16, 16, 1]
    assert card["metrics"]["test_accuracy"] == pytest.approx(result.test_accuracy)
    # Reporter saw every batch of every epoch: 36 images / batch 8 = 5 steps.
    assert rec.start["steps_per_epoch"] == 5
    assert [(e, s) for e, s, _, _ in rec.batches] == [(e, s) for e in range(2) for s in range(5)]
    assert all(isinstance(v, float) for _, _, _, logs in rec.batches for v in logs.values())
    # The saved model maps raw pixels to probabilities and reproduces the reported test accuracy.
    model = keras.models.load_model(run / "model.keras", safe_mode=True)
    probs = model.predict_on_batch(tiny_dataset.test.images.astype("float32"))
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    assert np.mean(probs.argmax(1) == tiny_dataset.test.labels) == pytest.approx(result.test_accuracy)


def test_cancel_is_honoured_within_one_batch(tiny_dataset, tmp_path):
    cancel = CancelToken()

    class CancelAtThird(Recorder):
        def on_batch(self, epoch, step, steps, logs):
            super().on_batch(epoch, step, steps, logs)
            if len(self.batches) == 3:
                cancel.cancel()

    rec = CancelAtThird()
    result = train(config(epochs=50, batch_size=4), rec, cancel, workspace=tmp_path, dataset=tiny_dataset)
    assert len(rec.batches) == 3  # not one batch more after the cancel
    assert result.state == "stopped"
    assert runs.read_status(result.run_dir)["state"] == "stopped"
    assert (result.run_dir / "model.keras").exists()  # what was trained is kept


def test_cancel_after_an_epoch_keeps_best_epoch(tiny_dataset, tmp_path):
    import keras

    cancel = CancelToken()

    class CancelInSecondEpoch(Recorder):
        def on_batch(self, epoch, step, steps, logs):
            super().on_batch(epoch, step, steps, logs)
            if epoch == 1 and step == 1:
                cancel.cancel()

    rec = CancelInSecondEpoch()
    result = train(config(epochs=10), rec, cancel, workspace=tmp_path, dataset=tiny_dataset)
    assert result.epochs_done == 1 and result.best_epoch == 1
    assert len(runs.read_history(result.run_dir)) == 1  # the half epoch is not recorded
    # Epoch 1 improved: its backup is the very file of its best weights.
    run = result.run_dir
    assert (run / "backup" / "latest.weights.h5").read_bytes() == (run / "best.weights.h5").read_bytes()
    # model.keras is epoch 1's model, last.keras has the two batches of epoch 2 on top.
    best = keras.models.load_model(run / "model.keras", safe_mode=True)
    last = keras.models.load_model(run / "last.keras", safe_mode=True)
    assert any(not np.array_equal(a, b) for a, b in zip(best.get_weights(), last.get_weights(), strict=True))


def test_pause_holds_training_until_resume(tiny_dataset, tmp_path):
    cancel = CancelToken()
    times = []

    class PauseAtSecond(Recorder):
        def on_batch(self, epoch, step, steps, logs):
            super().on_batch(epoch, step, steps, logs)
            times.append(time.perf_counter())
            if len(self.batches) == 2:
                cancel.pause()
                threading.Timer(1.2, cancel.resume).start()  # over a second: the closing line shows whole seconds

    rec = PauseAtSecond()
    result = train(config(epochs=1), rec, cancel, workspace=tmp_path, dataset=tiny_dataset)
    assert result.state == "finished" and len(rec.batches) == 5
    assert times[2] - times[1] >= 1.1
    assert "Paused." in rec.messages and "Resumed." in rec.messages
    # Training time leaves the pause out, wall time counts it: in the result, status, card and closing line.
    assert result.wall_seconds - result.seconds >= 1.1
    status = runs.read_status(result.run_dir)
    assert (status["seconds"], status["wall_seconds"]) == (result.seconds, result.wall_seconds)
    card = cards.read_card(result.model_path)
    assert (card["metrics"]["seconds"], card["metrics"]["wall_seconds"]) == (result.seconds, result.wall_seconds)
    assert "with pauses" in result.summary_line()
    assert "on 12 images" in result.summary_line()


def test_step_decay_changes_learning_rate_per_epoch(tiny_dataset, tmp_path):
    cfg = config(epochs=3, schedule="step", step_epochs=1, step_factor=0.5, learning_rate=0.01)
    result = train(cfg, workspace=tmp_path, dataset=tiny_dataset)
    lrs = [r["lr"] for r in runs.read_history(result.run_dir)]
    assert lrs == pytest.approx([0.01, 0.005, 0.0025])
    assert step_decay(cfg, 2) == pytest.approx(0.0025)


def test_cosine_schedule_decreases(tiny_dataset, tmp_path):
    result = train(config(epochs=3, schedule="cosine"), workspace=tmp_path, dataset=tiny_dataset)
    lrs = [r["lr"] for r in result.history]
    # Each epoch's rate at its first step: the chosen starting rate first (the end-of-epoch rate
    # was recorded before, which never showed 3e-3 and ended at 0).
    start = 3e-3
    assert lrs == pytest.approx(
        [start, start * 0.5 * (1 + math.cos(math.pi / 3)), start * 0.5 * (1 + math.cos(2 * math.pi / 3))]
    )


def test_warmup_cosine_records_the_rate_of_each_epochs_first_step(tiny_dataset, tmp_path):
    """The warm-up starts low: epoch 1's recorded rate is its first step's, not the peak set later."""
    from core.callbacks import WarmupCosine

    cfg = config(epochs=3, schedule="warmup-cosine", learning_rate=3e-3)
    result = train(cfg, workspace=tmp_path, dataset=tiny_dataset)
    lrs = [r["lr"] for r in result.history]
    steps = result.history[0].get("steps") or math.ceil(len(tiny_dataset.train) / cfg.batch_size)
    curve = WarmupCosine(3e-3, steps, 3)
    assert lrs == pytest.approx([curve.rate_at(0), curve.rate_at(steps), curve.rate_at(2 * steps)], rel=1e-4)
    assert lrs[0] < 3e-3 / 2  # the first step of the warm-up, far below the peak


def test_model_that_cannot_take_input_fails_before_a_run_exists(tiny_dataset, tmp_path):
    tiny_dataset.image_shape = (4, 4, 1)
    with pytest.raises(ModelError):
        train(config(model="alexnet-small"), workspace=tmp_path, dataset=tiny_dataset)
    assert runs.list_runs(tmp_path) == []


def test_failure_during_training_marks_run_failed(tiny_dataset, tmp_path, monkeypatch):
    import keras

    def boom(*a, **k):
        raise RuntimeError("simulated crash in fit")

    monkeypatch.setattr(keras.Model, "fit", boom)
    with pytest.raises(WorkbenchError, match="simulated crash") as caught:
        train(config(), workspace=tmp_path, dataset=tiny_dataset)
    assert not isinstance(caught.value, OutOfMemoryError)
    (run,) = runs.list_runs(tmp_path)
    assert run.state == "failed" and "simulated crash" in run.status["error"]


def out_of_memory_in_fit(kind):
    """A stand-in for Model.fit that fails as TensorFlow (or Python) does when memory runs out."""

    def fit(*args, **kwargs):
        if kind == "tensorflow":
            import tensorflow as tf

            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[8,32,16,16]")
        raise MemoryError()

    return fit


@pytest.mark.parametrize("kind", ["tensorflow", "python"])
def test_running_out_of_memory_raises_out_of_memory_error(tiny_dataset, tmp_path, monkeypatch, kind):
    import keras

    from core import logs

    root_level = logging.getLogger().level
    log_file = logs.setup_logging(tmp_path / "logs-workspace")
    try:
        monkeypatch.setattr(keras.Model, "fit", out_of_memory_in_fit(kind))
        with pytest.raises(OutOfMemoryError, match="out of memory") as caught:
            train(config(), workspace=tmp_path, dataset=tiny_dataset)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, logs._OURS, False):
                logging.getLogger().removeHandler(handler)
                handler.close()
        logging.getLogger().setLevel(root_level)
    assert isinstance(caught.value, WorkbenchError)  # the GUI and the command line show it as they are
    expected = "ResourceExhaustedError" if kind == "tensorflow" else "MemoryError"
    assert expected in caught.value.detail
    (run,) = runs.list_runs(tmp_path)
    assert run.state == "failed" and "out of memory" in run.status["error"]
    text = log_file.read_text(encoding="utf-8")
    assert f"Run {run.name} failed" in text and "Traceback (most recent call last)" in text and expected in text


def test_invalid_settings_are_explained():
    with pytest.raises(WorkbenchError, match="learning rate"):
        config(learning_rate=0).validate()
    with pytest.raises(WorkbenchError, match="optimizer"):
        config(optimizer="adamw2").validate()


def test_config_round_trips_through_dict():
    cfg = config(model_options={"dropout": 0.3}, augment_flip=True)
    assert TrainConfig.from_dict({**cfg.to_dict(), "unknown_key": 1}) == cfg


def test_augmenter_changes_pixels_not_shapes(tiny_arrays):
    x, _ = tiny_arrays
    aug = make_augmenter(config(augment_flip=True, augment_rotation=30, augment_zoom=0.2))
    out = np.asarray(aug(x[:8].astype("float32"), training=True))
    assert out.shape == (8, 16, 16, 1)
    assert not np.allclose(out, x[:8])
    assert make_augmenter(config()) is None


def test_an_improving_epoch_writes_its_weights_once_and_the_backup_is_a_copy(tiny_dataset, tmp_path, monkeypatch):
    from core import atomic

    saves = []
    real_write_with = atomic.write_with

    def counting_write_with(target, writer, suffix=None):
        saves.append(target.name if hasattr(target, "name") else str(target).rsplit("/", 1)[-1])
        return real_write_with(target, writer, suffix)

    monkeypatch.setattr(atomic, "write_with", counting_write_with)
    result = train(config(epochs=3), workspace=tmp_path, dataset=tiny_dataset)
    run = result.run_dir
    improved = []  # the epochs that beat every earlier one, as core decides (a tie: the lower loss)
    best = (-np.inf, -np.inf)
    for row in runs.read_history(run):
        score = (row["val_accuracy"], -row["val_loss"])
        if score > best:
            best = score
            improved.append(int(row["epoch"]))
    assert improved and result.best_epoch == improved[-1]
    # Weights files serialised: one per epoch (best or backup), not two for an improving epoch.
    weights_saves = [n for n in saves if n.endswith(".weights.h5")]
    assert weights_saves.count("best.weights.h5") == len(improved)
    assert weights_saves.count("latest.weights.h5") == 3 - len(improved)
    last_improved = result.best_epoch == result.epochs_done
    backup = (run / "backup" / "latest.weights.h5").read_bytes()
    assert (backup == (run / "best.weights.h5").read_bytes()) == last_improved
    # The final model: a copy of last.keras when the last epoch is the best, else saved anew.
    assert ((run / "model.keras").read_bytes() == (run / "last.keras").read_bytes()) == last_improved
    assert saves.count("model.keras") == (0 if last_improved else 1)


def test_every_pipeline_on_a_split_runs_without_the_autotune_model_thread(tiny_dataset):
    """Destroying an iterator waits out the autotune thread's sleep (seconds idle after the last epoch)."""
    from core.evaluation import _test_batches
    from core.training import eval_pipeline, train_pipeline

    shape = tiny_dataset.image_shape
    pipelines = {
        "train": train_pipeline(tiny_dataset.train, shape, 8, 0, make_augmenter(config(augment_flip=True)))[0],
        "validation": eval_pipeline(tiny_dataset.val, shape, 8)[0],
        "test": _test_batches(tiny_dataset.test, shape, 8),
    }
    assert {name: ds.options().autotune.enabled for name, ds in pipelines.items()} == dict.fromkeys(pipelines, False)
