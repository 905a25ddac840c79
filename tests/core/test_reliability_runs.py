"""Reliability corpus (issue 13): runs cut short in their final save, two writers of one run, a disk
that fills before a save, and a workspace that cannot be written.

Items 2 (kill -9 in the final save), 8 (one run folder, one trainer), 12 (free space before each
save) and 17 (read-only workspace, a file where it should be, a full disk at the start).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import atomic, runs
from core.cli import run_cli, run_line

ROOT = Path(__file__).resolve().parents[2]


def child_env(workspace: Path) -> dict[str, str]:
    return {**os.environ, "CNN_WORKBENCH_HOME": str(workspace), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}


# ---------------------------------------------------------------------------------------------
# Item 2: kill -9 during the final save

KILLED_IN_FINAL_SAVE = textwrap.dedent(
    """
    import os, signal
    from pathlib import Path
    from core import atomic
    from core.config import TrainConfig
    from core.training import train

    def die_while_writing(target):
        # the final save's first write of model.keras: half of it, then the process is killed
        if Path(target).name == "model.keras":
            with atomic.atomic_path(target) as tmp:
                tmp.write_bytes(b"PK half a model")
                os.kill(os.getpid(), signal.SIGKILL)

    real = (atomic.copy_file, atomic.write_with)
    atomic.copy_file = lambda source, target: die_while_writing(target) or real[0](source, target)
    atomic.write_with = lambda target, writer, suffix=None: die_while_writing(target) or real[1](target, writer, suffix)
    config = TrainConfig(dataset="mnist-sample", model="simple-cnn-1", epochs=2, batch_size=50, limit=150,
                         validation_split=0.2, tensorboard=False)
    train(config)
    """
)


@pytest.fixture(scope="module")
def killed_in_final_save(tmp_path_factory) -> Path:
    """A run folder exactly as a kill -9 during its final save leaves it (a real process, killed)."""
    workspace = tmp_path_factory.mktemp("ws")
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_IN_FINAL_SAVE], cwd=ROOT, env=child_env(workspace), capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (run,) = runs.run_folders(workspace)
    return run


def copy_run(run: Path, workspace: Path) -> Path:
    import shutil

    target = workspace / "runs" / run.name
    shutil.copytree(run, target)
    for temp in (p for p in target.iterdir() if atomic.is_temp_name(p.name)):
        os.utime(temp, (temp.stat().st_mtime - 600,) * 2)  # left long ago: no writer can still be busy
    return target


def test_a_run_killed_in_its_final_save_is_listed_as_one_resume_finishes(killed_in_final_save, tmp_path):
    run = copy_run(killed_in_final_save, tmp_path)
    names = {p.name for p in run.iterdir()}
    assert "model.keras" not in names and {"backup", "best.weights.h5", "history.csv"} <= names
    assert [n for n in names if atomic.is_temp_name(n)]  # the half-written model.keras
    info = runs.read_run(run)
    assert info.state == "interrupted" and info.backup_epoch == 2 and info.can_finish and info.can_resume
    assert "model.keras was never saved" in run_line(info) and "Resume finishes it" in run_line(info)
    assert info.finish_text() == f"Finish this run: save its model from epoch {info.best_epoch} and evaluate it."
    (interrupted,) = runs.interrupted_runs(tmp_path)
    from gui.resume_prompt import progress_text

    assert progress_text(interrupted) == info.finish_text()


def test_resume_finishes_a_run_killed_in_its_final_save(killed_in_final_save, tmp_path, monkeypatch, capsys):
    from core.inference import load_model

    run = copy_run(killed_in_final_save, tmp_path)
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path))
    history_before = (run / "history.csv").read_text()
    assert run_cli(["resume", run.name]) == 0
    out, err = capsys.readouterr()
    assert "Finish this run: save its model from epoch" in err and "test accuracy" in out
    info = runs.read_run(run)
    assert info.state == "finished" and info.problems == [] and info.has_model and info.has_evaluation
    assert (run / "history.csv").read_text() == history_before  # no epoch trained again
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_size"] > 0 and info.test_accuracy is not None
    assert load_model(run / "model.keras").num_classes == 10
    assert not [p for p in run.iterdir() if atomic.is_temp_name(p.name)]
