"""Reliability corpus (issue 13, items 7, 18 and 19; issue 15): settings that cannot work are said before training.

Each case was a silent wrong result, a traceback or a wasted training before: a learning rate that
cannot train, a negative step factor, an early-stopping patience that silently became 5, a centre
loss of NaN, folder-only settings given for a built-in, a damaged model card ignored by predict, a
loss that became NaN in a run marked finished, seeds and augmentations out of range, ``--top 0``,
and folders whose test (or validation) split is empty. An argument error leaves no run folder.
The tests make their own tiny data or use the bundled sample with a small ``--limit``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import paths, runs
from core.cli import run_cli
from core.config import TrainConfig
from core.errors import WorkbenchError
from core.reporting import NullReporter
from core.training import train

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"


class Recorder(NullReporter):
    def __init__(self):
        self.messages: list[str] = []

    def on_message(self, text):
        self.messages.append(text)


def no_runs() -> bool:
    return runs.list_runs() == []


def refused(capsys, *args: str) -> str:
    """Run ``python main.py ARGS``; assert one ``error:`` line, exit code 2, no traceback; return it."""
    rc = run_cli(list(args))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def class_folder(root: Path, per_class: int, classes: int = 3) -> Path:
    """A folder of ``classes`` class folders with ``per_class`` 12x12 grey PNGs each."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        sub = root / f"class{c}"
        sub.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(12, 12), dtype=np.uint8) + np.uint8(60 * c)
            Image.fromarray(pixels).save(sub / f"{i}.png")
    return root


TRAIN = ["train", "--model", "simple-cnn-1", "--epochs", "1", "--limit", "60", "--no-tensorboard"]


# --------------------------------------------------------------------------------------------
# Item 7: silent settings


@pytest.mark.parametrize("lr", ["inf", "1e30", "nan", "-0.1"])
def test_a_learning_rate_that_cannot_train_is_refused_before_training(capsys, lr):
    line = refused(capsys, *TRAIN, "--lr", lr)
    assert "learning rate" in line
    assert no_runs()


def test_a_negative_step_factor_is_refused(capsys):
    line = refused(capsys, *TRAIN, "--schedule", "step", "--step-factor", "-0.5")
    assert "step factor" in line and "-0.5" in line
    assert no_runs()


@pytest.mark.parametrize("budget", ["0s", "-2m", "2 weeks", "nan", "inf"])
def test_a_time_budget_that_is_not_a_time_is_refused_before_training(capsys, budget):
    line = refused(capsys, "train", "--model", "simple-cnn-1", "--limit", "60", f"--time-budget={budget}")
    assert "--time-budget must be a time" in line and "2m" in line
    assert no_runs()


@pytest.mark.parametrize("patience", ["0", "-3"])
def test_early_stopping_patience_below_one_is_refused_not_replaced(capsys, patience):
    line = refused(capsys, *TRAIN, "--early-stopping", patience)
    assert "patience" in line and f"not {patience}" in line
    assert no_runs()


def test_early_stopping_patience_is_the_one_given(monkeypatch):
    """`--early-stopping 2` means patience 2 (the value reaches the config as given)."""
    seen = {}

    def fake_train(config, reporter=None, cancel=None, **kw):
        seen["config"] = config
        raise WorkbenchError("stop here")

    monkeypatch.setattr("core.training.train", fake_train)
    assert run_cli([*TRAIN, "--early-stopping", "2"]) == 2
    assert seen["config"].early_stopping is True and seen["config"].patience == 2


@pytest.mark.parametrize("weight", ["nan", "inf", "-1"])
def test_a_centre_loss_weight_that_is_not_a_number_is_refused(capsys, weight):
    line = refused(capsys, *TRAIN, "--center-loss", weight)
    assert "centre-loss weight" in line
    assert no_runs()


def test_image_size_and_colour_mode_for_a_built_in_are_said_to_apply_to_folders_only(tmp_path):
    """A notice, not an error: the run trains on the built-in's own images and its config says so."""
    rec = Recorder()
    config = TrainConfig(
        dataset="mnist-sample",
        model="simple-cnn-1",
        epochs=1,
        limit=60,
        batch_size=32,
        image_size=64,
        color_mode="rgb",
        tensorboard=False,
    )
    result = train(config, rec, workspace=tmp_path)
    notes = [m for m in rec.messages if "folders only" in m]
    assert len(notes) == 1, rec.messages
    assert "image size" in notes[0].lower() and "colour mode" in notes[0].lower() and "28x28x1" in notes[0]
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["image_size"] is None and saved["color_mode"] == "auto"  # what the run really used
    assert config.image_size == 64  # the caller's config (the Train tab's) is left as it was


def test_predict_warns_about_a_damaged_model_card(capsys, tmp_path):
    model = tmp_path / "model.keras"
    shutil.copy2(SHIPPED, model)
    (tmp_path / "model.json").write_text("{ this is not json")
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert run_cli(["predict", str(model), str(image)]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "model.json" in warnings[0], captured.err
    assert "digit.png: class " in captured.out  # classes without names, as the warning says


def test_a_run_whose_loss_becomes_nan_stops_and_fails_with_the_reason(tiny_dataset, tmp_path):
    """SGD at the largest learning rate the Train tab offers, with heavy momentum, overflows to NaN
    in epoch 2 on the tiny data; the run stops there instead of training on NaN weights."""
    config = TrainConfig(
        dataset="tiny",
        model="simple-cnn-2",
        optimizer="sgd",
        learning_rate=10.0,
        momentum=0.99,
        epochs=4,
        batch_size=8,
        tensorboard=False,
    )
    with pytest.raises(WorkbenchError) as caught:
        train(config, workspace=tmp_path, dataset=tiny_dataset)
    message = str(caught.value)
    assert "NaN" in message and "lower learning rate" in message and "epoch 2" in message
    (run,) = runs.list_runs(tmp_path)
    assert run.state == "failed" and run.status["error"] == message
    rows = runs.read_history(run.path)
    assert [r["epoch"] for r in rows] == [1.0]  # the NaN epoch is neither recorded nor backed up
    assert not (run.path / "model.keras").exists()


# --------------------------------------------------------------------------------------------
# Item 18: arguments checked before training, no run folder for an argument error


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seed", "-1"], "seed"),
        (["--seed", "99999999999"], "seed"),
        (["--momentum", "7"], "momentum"),
        (["--rotation", "-1000"], "rotation"),
        (["--zoom", "5"], "zoom"),
        (["--translation", "2"], "shift"),
        (["--step-epochs", "0"], "step"),
    ],
)
def test_out_of_range_arguments_are_one_sentence_and_leave_no_run(capsys, args, words):
    line = refused(capsys, *TRAIN, *args)
    assert words in line.lower() and args[1] in line
    assert no_runs()


def test_predict_top_zero_is_refused_with_a_sentence(capsys, tmp_path):
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    line = refused(capsys, "predict", str(SHIPPED), str(image), "--top", "0")
    assert "--top" in line and "at least 1" in line


def test_settings_of_the_wrong_type_are_explained_not_raised():
    """A hand-edited config.json: a sentence, not a TypeError from a comparison."""
    with pytest.raises(WorkbenchError, match="must be numbers"):
        TrainConfig.from_dict({"learning_rate": "fast", "epochs": 2.5}).validate()


def test_the_train_tabs_ranges_are_all_valid():
    """The extremes the Train tab's fields allow are accepted (its spin boxes and validate agree)."""
    TrainConfig(
        learning_rate=10.0,
        momentum=0.999,
        step_factor=0.01,
        augment_rotation=180.0,
        augment_zoom=0.9,
        augment_translation=0.5,
        center_loss_weight=10.0,
        early_stopping=True,
        patience=1,
        seed=2**31 - 1,
    ).validate()
    TrainConfig(learning_rate=1e-7, momentum=0.0, step_factor=0.99, seed=0).validate()


# --------------------------------------------------------------------------------------------
# Item 19: every split the run needs has images, checked before training


def test_a_folder_with_test_split_zero_is_refused_before_a_run_exists(capsys, tmp_path):
    folder = class_folder(tmp_path / "shapes", per_class=10)
    line = refused(capsys, "train", "--dataset", str(folder), "--epochs", "1", "--test-split", "0", "--no-tensorboard")
    assert "test split" in line and "no images" in line and "test/" in line
    assert no_runs()


def test_a_folder_with_one_image_per_class_is_refused_before_a_run_exists(tmp_path):
    folder = class_folder(tmp_path / "tiny", per_class=1)
    config = TrainConfig(dataset=str(folder), model="simple-cnn-1", epochs=1, tensorboard=False)
    with pytest.raises(WorkbenchError) as caught:
        train(config, workspace=tmp_path / "workspace")
    message = str(caught.value)
    assert "test split" in message and "validation split" in message
    assert "1 image" in message and "add images" in message
    assert runs.list_runs(tmp_path / "workspace") == []


def test_a_folder_too_small_for_validation_says_how_to_train_without_it(tmp_path):
    """Two images per class: one for the test, one for training, none left for validation."""
    folder = class_folder(tmp_path / "pairs", per_class=2)
    config = TrainConfig(dataset=str(folder), model="simple-cnn-1", epochs=1, tensorboard=False)
    with pytest.raises(WorkbenchError, match="validation split to 0"):
        train(config, workspace=tmp_path / "workspace")
    assert runs.list_runs(tmp_path / "workspace") == []


# --------------------------------------------------------------------------------------------
# Issue 15: precision and devices the machine cannot give are said before training


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--precision", "float16", "the precision must be auto, float32 or mixed (not 'float16'"),
        ("--precision", "half", "not 'half'"),
        ("--devices", "gpu:x", "devices must be auto, cpu, or a list such as gpu:0,gpu:1 (not 'gpu:x')"),
        ("--devices", "tpu:0", "not 'tpu:0'"),
        ("--devices", "gpu:0,cpu", "on GPUs or on the CPU, not both"),
        ("--devices", "gpu:7", "There is no GPU 7 on this machine (GPUs TensorFlow sees: none)"),
    ],
)
def test_a_precision_or_device_that_cannot_be_had_is_refused_before_a_run_exists(capsys, flag, value, words):
    line = refused(capsys, *TRAIN, flag, value)
    assert words in line
    assert no_runs()


def test_a_sweep_with_a_bad_precision_is_refused_before_a_trial(capsys):
    line = refused(capsys, "sweep", "--epochs", "1", "--limit", "60", "--precision", "float16", "--vary", "seed=1,2")
    assert "precision must be auto, float32 or mixed" in line
