"""The model shipped in weights/ works offline on first launch and is as good as its card says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import cards, paths
from core.datasets import load_dataset
from core.inference import Predictor, load_model

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"


def test_shipped_model_reproduces_its_card_on_the_held_out_sample():
    card = cards.read_card(SHIPPED)
    assert card["dataset"]["name"] == "mnist-sample" and card["architecture"]["name"] == "simple-cnn-2"
    assert card["command"].startswith("python main.py train --dataset mnist-sample --model simple-cnn-2")
    assert card["metrics"]["test_accuracy"] >= 0.96
    loaded = load_model(SHIPPED)
    test = load_dataset("mnist-sample").test
    probs = Predictor(loaded).predict(test.images)
    acc = float(np.mean(probs.argmax(1) == test.labels))
    assert acc == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-4)


@pytest.mark.slow
def test_cli_reaches_96_percent_on_the_sample_within_12_epochs(tmp_path):
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "main.py", "train", "--dataset", "mnist-sample", "--model", "simple-cnn-2", "--epochs", "12"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**__import__("os").environ, "CNN_WORKBENCH_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    acc = float(re.search(r"test accuracy (\d\.\d+)", out.stdout).group(1))
    assert acc >= 0.96
