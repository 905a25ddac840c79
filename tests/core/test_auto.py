"""Auto (core/auto.py): a model and recipe from what is measured of the data, each choice with its
reason; the time budget (counted against a fake clock, never by timing the machine); bad input."""

from __future__ import annotations

import numpy as np
import pytest

from core import auto, cards, runs
from core.config import TrainConfig
from core.datasets.base import Dataset, Split
from core.errors import WorkbenchError
from core.models import check_input, get_spec
from core.reporting import NullReporter
from core.training import train
from core.values import format_duration, parse_duration


def dataset(shape=(16, 16, 1), per_class=(12, 12, 12), seed=0) -> Dataset:
    """Training images per class as given (a bright quadrant per class), 2 validation and 2 test each."""
    rng = np.random.default_rng(seed)
    h, w, c = shape

    def split(counts):
        labels = np.concatenate([np.full(n, k) for k, n in enumerate(counts)]).astype(np.int32)
        x = rng.integers(0, 40, size=(len(labels), h, w, c)).astype(np.uint8)
        for i, k in enumerate(labels):
            r, col = divmod(int(k) % 4, 2)
            x[i, r * h // 2 : (r + 1) * h // 2, col * w // 2 : (col + 1) * w // 2] += 200
        return Split(labels, images=x)

    k = len(per_class)
    return Dataset(
        name="tiny",
        title="tiny quadrants",
        class_names=[f"c{i}" for i in range(k)],
        image_shape=shape,
        train=split(per_class),
        val=split([2] * k),
        test=split([2] * k),
    )


AUTO = TrainConfig(dataset="tiny", model="auto", recipe="auto")


@pytest.mark.parametrize(
    ("shape", "blocks"),
    [((8, 8, 1), 2), ((28, 28, 1), 3), ((32, 32, 3), 4), ((64, 48, 3), 4), ((3, 3, 1), 1)],
)
def test_auto_resolves_to_a_zoo_model_that_takes_the_images_and_says_why(shape, blocks):
    ds = dataset(shape)
    resolved, choices = auto.resolve(AUTO, ds)
    assert resolved.model == auto.AUTO_MODEL and resolved.model_options["blocks"] == blocks
    check_input(resolved.model, shape, resolved.model_options)  # raises if the network cannot take them
    resolved.validate()
    assert resolved.recipe == "auto" and resolved.optimizer == "adamw" and resolved.schedule == "warmup-cosine"
    assert resolved.label_smoothing > 0 and resolved.early_stopping and resolved.augment_translation > 0
    whats = [c.what for c in choices]
    assert whats[:3] == ["Model", "Optimizer", "Schedule"] and "Class weights" in whats
    assert all(c.why.endswith(".") and len(c.why) > 40 for c in choices)  # one sentence each
    assert f"{shape[0]}x{shape[1]}" in choices[0].why


def test_a_manual_config_is_left_alone():
    config = TrainConfig(dataset="tiny", model="simple-cnn-2")
    assert auto.resolve(config, dataset()) == (config, [])


def test_auto_model_with_a_manual_recipe_keeps_the_hyperparameters():
    resolved, choices = auto.resolve(TrainConfig(model="auto", learning_rate=0.05, epochs=3), dataset())
    assert resolved.model == auto.AUTO_MODEL and (resolved.learning_rate, resolved.epochs) == (0.05, 3)
    assert [c.what for c in choices] == ["Model"]


def test_flips_are_off_unless_the_user_says_left_and_right_do_not_matter():
    off, choices = auto.resolve(AUTO, dataset())
    assert off.augment_flip is False
    assert "no flips" in next(c for c in choices if c.what == "Augmentation").value
    on, choices = auto.resolve(TrainConfig(model="auto", recipe="auto", augment_flip=True), dataset())
    assert on.augment_flip is True
    assert "with horizontal flips" in next(c for c in choices if c.what == "Augmentation").value


def test_class_weights_when_unbalanced_100_to_1():
    resolved, choices = auto.resolve(AUTO, dataset(per_class=(100, 1, 50)))
    assert resolved.class_weights is True
    assert "100 times" in next(c for c in choices if c.what == "Class weights").why
    assert auto.resolve(AUTO, dataset())[0].class_weights is False


def test_few_images_per_class_recommends_transfer_learning():
    assert auto.few_images_advice(auto.measure(dataset(per_class=(40, 40)))) is None
    advice = auto.few_images_advice(auto.measure(dataset(per_class=(40, 1))))
    assert "only 1 training image " in advice and "ImageNet" in advice
    transfer = auto.transfer_config(AUTO)
    assert transfer.model == auto.TRANSFER_MODEL and transfer.pretrained
    assert get_spec(transfer.model).supports_pretrained


def test_without_a_budget_the_decay_ends_with_the_epochs_asked_for():
    resolved, choices = auto.resolve(TrainConfig(model="auto", recipe="auto", epochs=7), dataset())
    assert resolved.epochs == 7 and "the 7 epochs" in next(c for c in choices if c.what == "Schedule").why
    assert not any(c.what == "Time budget" for c in choices)
    budget = auto.default_config()
    assert (budget.model, budget.recipe, budget.time_budget) == ("auto", "auto", 120.0)


def test_durations_read_and_written_as_people_write_them():
    assert [parse_duration(t) for t in ("2m", "90s", "1m30s", "1h", "45", " 2 min ")] == [120, 90, 90, 3600, 45, 120]
    for bad in ("", "m", "-2m", "0s", "2x", "nan"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert [format_duration(s) for s in (45, 120, 150, 3900)] == ["45 s", "2 min", "2 min 30 s", "1 h 5 min"]


class FakeClock(NullReporter):
    """A clock that only moves when a training batch ends: ``per_batch`` fake seconds each."""

    def __init__(self, per_batch: float) -> None:
        self.now = 0.0
        self.per_batch = per_batch
        self.messages: list[str] = []
        self.lrs: list[float] = []

    def __call__(self) -> float:
        return self.now

    def on_batch(self, epoch, step, steps, logs):
        self.now += self.per_batch

    def on_epoch(self, epoch, logs):
        self.lrs.append(logs["lr"])

    def on_message(self, text):
        self.messages.append(text)


def test_the_time_budget_ends_training_within_ten_percent_by_a_fake_clock(tmp_path):
    ds = dataset(per_class=(12, 12, 12))  # 36 images, batch 32: 2 batches an epoch
    clock = FakeClock(per_batch=1.0)  # an epoch takes 2 fake seconds
    # Auto's recipe without its early stopping (the tiny data is learnt at once, which would end the run).
    config = TrainConfig(
        dataset="tiny",
        model="auto",
        optimizer="adamw",
        schedule="warmup-cosine",
        learning_rate=2e-3,
        batch_size=32,
        time_budget=40,
        tensorboard=False,
    )
    result = train(config, clock, workspace=tmp_path, dataset=ds, clock=clock)
    # Training ends when the budget (less the time testing and saving will take) does, never after it.
    assert 0.9 * 40 <= clock.now <= 40
    assert result.epochs_done == clock.now / 2  # counted, not timed
    # The decay ends with the time: the last epoch's rate is near zero, the first ones near the peak.
    assert clock.lrs[-1] < 0.05 * max(clock.lrs) and max(clock.lrs) > 0.5 * 2e-3
    assert any("Time budget: 40 s" in m for m in clock.messages)


def test_a_stopped_budget_run_resumes_to_the_end_of_its_planned_schedule(tmp_path):
    from core.reporting import CancelToken
    from core.training import resume_run

    ds = dataset(per_class=(12, 12, 12))  # 2 batches an epoch
    cancel = CancelToken()

    class StopAfterTwoEpochs(FakeClock):
        def on_epoch(self, epoch, logs):
            super().on_epoch(epoch, logs)
            if epoch == 1:
                cancel.cancel()

    clock = StopAfterTwoEpochs(per_batch=1.0)
    config = TrainConfig(
        dataset="tiny", model="auto-cnn", model_options={"blocks": 1, "filters": 4}, optimizer="adamw",
        schedule="warmup-cosine", batch_size=32, time_budget=16, tensorboard=False,
    )  # fmt: skip
    result = train(config, clock, cancel, workspace=tmp_path, dataset=ds, clock=clock)
    planned = runs.read_run(result.run_dir).config["epochs"]
    assert result.epochs_done == 2 and planned > 2  # the schedule the budget planned, not the 2 done
    resumed = resume_run(result.run_dir, NullReporter(), dataset=ds)
    assert resumed.epochs_done == planned


def test_a_budget_shorter_than_one_epoch_says_how_long_an_epoch_takes(tmp_path):
    ds = dataset(per_class=(40, 40, 40))  # 120 images, batch 32: 4 batches an epoch
    clock = FakeClock(per_batch=10.0)  # an epoch takes 40 fake seconds
    config = TrainConfig(dataset="tiny", model="auto", recipe="auto", time_budget=15, tensorboard=False)
    with pytest.raises(WorkbenchError, match="shorter than one epoch, which takes about 40 s"):
        train(config, clock, workspace=tmp_path, dataset=ds, clock=clock)
    assert clock.now <= 20  # stopped inside the first epoch, soon after the budget ran out
    (run,) = runs.list_runs(tmp_path)
    assert run.state == "failed" and "shorter than one epoch" in (run.error or "")


def test_the_card_records_the_choices_and_a_tiny_unbalanced_run_trains(tmp_path):
    """One image in a class and 100:1 classes: auto still trains, with class weights, and says so."""
    ds = dataset(per_class=(100, 1, 12))
    clock = FakeClock(per_batch=1.0)
    config = TrainConfig(dataset="tiny", model="auto", recipe="auto", epochs=2, tensorboard=False)
    config.time_budget = 12
    result = train(config, clock, workspace=tmp_path, dataset=ds, clock=clock)
    card = cards.read_card(result.model_path)
    whats = {c["what"]: c for c in card["auto"]}
    assert {"Model", "Optimizer", "Schedule", "Augmentation", "Class weights"} <= set(whats)
    assert whats["Class weights"]["value"] == "on" and card["architecture"]["name"] == auto.AUTO_MODEL
    assert card["hyperparameters"]["class_weights"] is True
    assert any("transfer learning" in m for m in clock.messages)  # 1 image in a class
    saved = runs.read_run(result.run_dir).config
    assert saved["model"] == auto.AUTO_MODEL and saved["epochs"] == result.epochs_done  # resumable as it ran


def cli_config(monkeypatch, *args: str) -> TrainConfig:
    """The config ``python main.py train ARGS`` would train (training itself replaced)."""
    from core.cli import run_cli

    seen = {}

    def fake_train(config, reporter=None, cancel=None, **kw):
        seen["config"] = config
        raise WorkbenchError("stop here")

    monkeypatch.setattr("core.training.train", fake_train)
    assert run_cli(["train", *args]) == 2
    return seen["config"]


def test_the_command_line_defaults_to_auto_for_two_minutes_and_a_zoo_model_keeps_its_classic_recipe(monkeypatch):
    default = cli_config(monkeypatch)
    assert (default.model, default.recipe, default.time_budget) == ("auto", "auto", 120.0)
    classic = cli_config(monkeypatch, "--model", "simple-cnn-2")
    assert (classic.recipe, classic.time_budget, classic.epochs, classic.optimizer) == ("manual", None, 12, "adam")
    epochs = cli_config(monkeypatch, "--epochs", "5")
    assert (epochs.recipe, epochs.time_budget, epochs.epochs) == ("auto", None, 5)
    budget = cli_config(monkeypatch, "--model", "resnet-20", "--recipe", "auto", "--time-budget", "1m30s")
    assert (budget.model, budget.recipe, budget.time_budget) == ("resnet-20", "auto", 90.0)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--epochs", "3", "--time-budget", "2m"], "either --epochs or --time-budget"),
        (["--time-budget", "2x"], "--time-budget must be a time such as 2m"),
        (["--time-budget", "0s"], "--time-budget must be a time above zero"),
    ],
)
def test_bad_time_budgets_on_the_command_line_are_one_sentence(capsys, args, says):
    from core.cli import run_cli

    assert run_cli(["train", *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"recipe": "magic"}, "the recipe must be one of manual, auto"),
        ({"time_budget": 0}, "the time budget must be a time above zero"),
        ({"time_budget": float("inf")}, "the time budget must be a time above zero"),
        ({"time_budget": "2m"}, "the time budget must be a time above zero"),
        ({"label_smoothing": 1.0}, "the label smoothing must be at least 0 and below 1"),
    ],
)
def test_bad_auto_settings_are_refused_with_a_sentence(fields, says):
    with pytest.raises(WorkbenchError, match=says):
        TrainConfig(**fields).validate()


def test_a_folder_of_mixed_sizes_resolves_to_a_model_that_takes_its_images(tmp_path):
    from PIL import Image

    from core.datasets import load_dataset

    rng = np.random.default_rng(0)
    sizes = [(20, 30), (64, 48), (28, 28), (100, 12)]
    for k in ("a", "b"):
        (tmp_path / k).mkdir()
        for i in range(8):
            w, h = sizes[i % len(sizes)]
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / k / f"{i}.png")
    ds = load_dataset(str(tmp_path))
    resolved, choices = auto.resolve(AUTO, ds)
    check_input(resolved.model, ds.image_shape, resolved.model_options)
    assert f"{ds.image_shape[0]}x{ds.image_shape[1]} images" in choices[0].why


def test_when_loading_took_the_budget_the_first_epoch_still_finishes_and_says_so(tmp_path):
    """A budget longer than one epoch, but eaten by loading and preparing: one epoch, a model, a sentence."""
    ds = dataset(per_class=(40, 40, 40))  # 4 batches an epoch

    class SlowStart(FakeClock):
        def on_message(self, text):
            super().on_message(text)
            if text.startswith("Building"):
                self.now += 25  # building the model (and, in life, loading the images) took 25 s

    clock = SlowStart(per_batch=2.0)  # an epoch takes 8 fake seconds, the budget 30
    config = TrainConfig(dataset="tiny", model="auto", recipe="auto", time_budget=30, tensorboard=False)
    result = train(config, clock, workspace=tmp_path, dataset=ds, clock=clock)
    assert result.state == "finished" and result.epochs_done == 1 and result.model_path.exists()
    assert any("loading the images and preparing took 25 s" in m for m in clock.messages)
