"""Going on with a run: after Stop, after a finish (more epochs), and after kill -9 mid-epoch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core import runs
from core.backup import backup_epoch
from core.config import TrainConfig
from core.errors import RunError, WorkbenchError
from core.reporting import CancelToken, NullReporter
from core.training import resume_run, train

ROOT = Path(__file__).resolve().parents[2]


def cfg(**kw):
    return TrainConfig(**{"dataset": "tiny", "model": "simple-cnn-1", "batch_size": 8, **kw})


def test_stopped_run_continues_where_it_stopped(tiny_dataset, tmp_path):
    cancel = CancelToken()

    class StopInSecondEpoch(NullReporter):
        def on_batch(self, epoch, step, steps, logs):
            if epoch == 1 and step == 2:
                cancel.cancel()

    first = train(cfg(epochs=3), StopInSecondEpoch(), cancel, workspace=tmp_path, dataset=tiny_dataset)
    assert first.state == "stopped" and first.epochs_done == 1 and backup_epoch(first.run_dir) == 1

    seen = []

    class Watch(NullReporter):
        def on_start(self, info):
            seen.append(("start", info["initial_epoch"], len(info["history"])))

        def on_epoch(self, epoch, logs):
            seen.append(("epoch", epoch))

    result = resume_run(first.run_dir, Watch(), dataset=tiny_dataset)
    assert seen == [("start", 1, 1), ("epoch", 1), ("epoch", 2)]
    assert result.state == "finished" and result.epochs_done == 3
    assert [r["epoch"] for r in runs.read_history(first.run_dir)] == [1.0, 2.0, 3.0]
    assert runs.read_status(first.run_dir)["state"] == "finished"
    # One format for the epoch column: the restored epoch is not rewritten as "1.0".
    lines = (first.run_dir / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "1", "2", "3"]


def test_a_resumed_run_counts_the_time_before_the_crash(tiny_dataset, tmp_path):
    """The run's time goes on across a resume: it was only the time since the resume."""

    class CrashInSecondEpoch(NullReporter):
        def on_batch(self, epoch, step, steps, logs):
            if epoch == 1:
                raise RuntimeError("the power went out")

    with pytest.raises(WorkbenchError):
        train(cfg(epochs=2), CrashInSecondEpoch(), workspace=tmp_path, dataset=tiny_dataset)
    (run_dir,) = runs.run_folders(tmp_path)
    before = runs.read_run(run_dir)
    assert before.state == "failed" and before.seconds > 0
    assert before.seconds >= runs.read_history(run_dir)[0]["seconds"]  # loading and building count too
    started = time.perf_counter()
    result = resume_run(run_dir, dataset=tiny_dataset)
    session = time.perf_counter() - started
    assert result.seconds >= before.seconds + 0.9 * session
    assert result.wall_seconds >= result.seconds
    assert runs.read_run(run_dir).seconds == result.seconds


def test_finished_run_trains_extra_epochs_and_keeps_its_best(tiny_dataset, tmp_path):
    first = train(cfg(epochs=2), workspace=tmp_path, dataset=tiny_dataset)
    with pytest.raises(RunError, match="extra epochs"):
        resume_run(first.run_dir, dataset=tiny_dataset)
    more = resume_run(first.run_dir, extra_epochs=2, dataset=tiny_dataset)
    rows = runs.read_history(first.run_dir)
    assert [r["epoch"] for r in rows] == [1.0, 2.0, 3.0, 4.0]
    assert runs.read_run(first.run_dir).config["epochs"] == 4
    best = max(rows, key=lambda r: (r["val_accuracy"], -r["val_loss"], -r["epoch"]))  # a tie: the lower loss
    assert more.best_epoch == int(best["epoch"]) and more.best_val_accuracy == pytest.approx(best["val_accuracy"])


def test_tensorboard_logs_are_written(tiny_dataset, tmp_path):
    result = train(cfg(epochs=1), workspace=tmp_path, dataset=tiny_dataset)
    events = list((result.run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    off = train(cfg(epochs=1, tensorboard=False), workspace=tmp_path, dataset=tiny_dataset)
    assert not (off.run_dir / "tensorboard").exists()


CHILD = textwrap.dedent(
    """
    import sys
    from core.reporting import NullReporter
    from core.config import TrainConfig
    from core.training import train

    class Say(NullReporter):
        def on_start(self, info):
            print("RUN", info["run_dir"], flush=True)
        def on_epoch(self, epoch, logs):
            print("EPOCH", epoch + 1, flush=True)

    cfg = TrainConfig(dataset="mnist-sample", model="simple-cnn-1", epochs=4, batch_size=8, limit=400,
                      tensorboard=False)
    train(cfg, Say())
    """
)


def test_killed_mid_epoch_loses_at_most_that_epoch(tmp_path):
    env = dict(os.environ, CNN_WORKBENCH_HOME=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    run_dir = None
    try:
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            if line.startswith("RUN "):
                run_dir = Path(line.split(" ", 1)[1].strip())
            if line.strip() == "EPOCH 2":
                break
            assert time.monotonic() < deadline, "child did not reach epoch 2"
        time.sleep(0.4)  # into epoch 3 (50 batches of 8)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert run_dir is not None
    assert runs.read_run(run_dir).state == "interrupted"
    done = backup_epoch(run_dir)
    assert done in (2, 3)  # epoch 3 may just have finished before the kill landed
    result = resume_run(run_dir)
    rows = runs.read_history(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert result.state == "finished" and runs.read_status(run_dir)["state"] == "finished"
