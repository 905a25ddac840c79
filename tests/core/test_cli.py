"""The headless command line, end to end on the bundled sample (tiny budgets)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from core.cli import _parse_option, _parse_shape, run_cli

ROOT = Path(__file__).resolve().parents[2]
# The closing line, the same as the app's log ends with: test accuracy, images, times, the run.
RESULT = re.compile(
    r"test accuracy (\d\.\d{4}) \(loss ([\d.]+)\) on ([\d,]+) images; "
    r"training took \d+:\d\d(?: \(\d+:\d\d with pauses\))?; run saved in (?P<run>.+)$"
)


def test_models_and_datasets_list_without_loading_tensorflow():
    code = (
        "import sys; from core.cli import run_cli; run_cli(['models']); run_cli(['datasets']);"
        "print('TF LOADED' if 'tensorflow' in sys.modules else 'TF NOT LOADED')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("simple-cnn-1", "simple-cnn-2", "lenet-5", "alexnet-small", "vgg16-small", "resnet50"):
        assert re.search(rf"^{re.escape(name)}\s", out.stdout, re.M), name
    assert re.search(r"^mnist-sample\s.*offline", out.stdout, re.M)
    assert out.stdout.strip().endswith("TF NOT LOADED")


def test_train_then_evaluate_then_predict(capsys, tmp_path):
    rc = run_cli(["train", "--model", "simple-cnn-1", "--epochs", "1", "--limit", "300", "--batch-size", "64"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0].startswith("Epoch 1/1") and "val_accuracy" in out[0]
    m = RESULT.search(out[-1])
    assert m, out[-1]
    acc, run_dir = float(m.group(1)), Path(m.group("run"))
    assert (run_dir / "model.keras").exists() and 0.0 <= acc <= 1.0

    assert run_cli(["evaluate", run_dir.name, "--report"]) == 0
    ev_out = capsys.readouterr().out
    # Re-evaluating the saved best model on the same fixed test set gives the same accuracy.
    assert f"test accuracy {acc:.4f}" in ev_out
    assert "macro avg" in ev_out and "weighted avg" in ev_out

    from core.datasets import load_dataset

    test = load_dataset("mnist-sample").test
    img_path = tmp_path / "digit.png"
    Image.fromarray(test.images[0][:, :, 0]).save(img_path)
    (tmp_path / "notes.txt").write_text("not an image")
    rc = run_cli(["predict", str(run_dir / "model.keras"), str(img_path), str(tmp_path / "notes.txt"), "--top", "2"])
    pred_out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"digit\.png: \w+ \(\d\.\d{3}\)\s+\[\w+ \d\.\d{3}\]", pred_out), pred_out
    assert "notes.txt: cannot predict:" in pred_out


def test_errors_are_one_sentence_with_exit_code_2(capsys):
    assert run_cli(["train", "--model", "no-such-net", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "error: Unknown model 'no-such-net'" in err and "simple-cnn-2" in err
    assert "Traceback" not in err
    assert run_cli(["evaluate", "no-such-run"]) == 2
    assert "No run called 'no-such-run'" in capsys.readouterr().err


def test_model_summary_command(capsys):
    assert run_cli(["models", "lenet-5", "--input", "28x28x1"]) == 0
    out = capsys.readouterr().out
    assert "total 107,786 parameters" in out


def test_argument_parsers():
    assert _parse_shape("32x32x3") == (32, 32, 3)
    assert _parse_shape("28x28") == (28, 28, 1)
    assert _parse_option("dropout=0.3") == ("dropout", 0.3)
    assert _parse_option("batch_norm=off") == ("batch_norm", False)
    assert _parse_option("depth=40") == ("depth", 40)
    with pytest.raises(argparse.ArgumentTypeError):
        _parse_shape("28x28x2")


def test_terminal_reporter_lines():
    import io

    from core.cli import TerminalReporter

    out, err = io.StringIO(), io.StringIO()
    rep = TerminalReporter(out, err)
    rep.on_start({"epochs": 3})
    rep.on_batch(0, 0, 10, {"loss": 1.0, "accuracy": 0.5})
    rep.on_epoch(0, {"loss": 0.5, "accuracy": 0.9, "val_loss": 0.4, "val_accuracy": 0.91, "lr": 0.001, "seconds": 2})
    assert (
        out.getvalue()
        == "Epoch 1/3  loss 0.5000  accuracy 0.9000  val_loss 0.4000  val_accuracy 0.9100  lr 0.001  2.0 s\n"
    )
    assert err.getvalue() == ""  # no progress bar when not a terminal


def test_resume_then_continue_from_the_command_line(capsys):
    """`resume RUN` finishes a stopped run from its backup; on a finished run it says to use
    `continue`; `continue RUN --epochs N` trains N more epochs in the same folder. Each prints
    train's epoch lines and closing line."""
    from core.config import TrainConfig
    from core.reporting import CancelToken, NullReporter
    from core.training import train

    cancel = CancelToken()

    class StopAfterFirstEpoch(NullReporter):
        def on_epoch(self, epoch, logs):
            cancel.cancel()

    config = TrainConfig(model="simple-cnn-1", epochs=2, limit=200, batch_size=64, tensorboard=False)
    stopped = train(config, StopAfterFirstEpoch(), cancel)
    assert stopped.state == "stopped"
    run_dir = stopped.run_dir

    assert run_cli(["resume", run_dir.name]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("Epoch 2/2") and "val_accuracy" in out[0]
    m = RESULT.search(out[-1])
    assert m and Path(m.group("run")) == run_dir

    assert run_cli(["resume", run_dir.name]) == 2
    err = capsys.readouterr().err
    assert "has finished" in err and f"python main.py continue {run_dir.name} --epochs N" in err
    assert run_cli(["continue", run_dir.name, "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err

    assert run_cli(["continue", run_dir.name, "--epochs", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("Epoch 3/3")
    m = RESULT.search(out[-1])
    assert m and Path(m.group("run")) == run_dir
    history = (run_dir / "history.csv").read_text().strip().splitlines()
    assert len(history) == 4  # the header and all three epochs, in the one run folder


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("model.txt", "needs a .keras file name or a folder"),
        ("no-such-folder/m.keras", "does not exist"),
        ("no-such-folder", "there is no folder"),
    ],
)
def test_save_model_path_is_checked_before_training(capsys, tmp_path, target, message):
    from core import paths

    runs_dir = paths.runs_dir()
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    assert run_cli(["train", "--epochs", "1", "--limit", "100", "--save-model", str(tmp_path / target)]) == 2
    assert message in capsys.readouterr().err
    after = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    assert after == before, "no run folder is left for an argument error"
