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


# ---------------------------------------------------------------------------------------------
# Item 8: one run folder, one writer

HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from core import runlock
    lock = runlock.acquire(sys.argv[1], "training")
    print("LOCKED", flush=True)
    sys.stdin.readline()
    """
)

RACE_FOR_LOCK = textwrap.dedent(
    """
    import sys, time
    from core import runlock
    from core.errors import RunError
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    try:
        lock = runlock.acquire(sys.argv[1], "training")
    except RunError as exc:
        print("REFUSED", exc, flush=True)
    else:
        print("WON", flush=True)
        time.sleep(2)
    """
)


def resumable_run(workspace: Path) -> Path:
    from core.config import TrainConfig

    config = TrainConfig(dataset="mnist-sample", model="simple-cnn-1", epochs=2, tensorboard=False).to_dict()
    run = runs.create_run(config, "mnist-sample", workspace)
    runs.write_status(run, state="stopped", pid=0)
    return run


def test_a_run_another_process_writes_is_refused_with_who_and_its_lock_is_taken_over_when_it_dies(
    tmp_path, monkeypatch, capsys
):
    from core import runlock
    from core.errors import RunError
    from core.evaluation import evaluate_run
    from core.training import resume_run

    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path))
    run = resumable_run(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(run)], cwd=ROOT, env=child_env(tmp_path), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "LOCKED"
        who = f"being written by process {child.pid} \\(training since "
        with pytest.raises(RunError, match=who):
            runlock.acquire(run)
        with pytest.raises(RunError, match=who):
            resume_run(run)
        with pytest.raises(RunError, match=who):
            evaluate_run(run)
        assert run_cli(["resume", run.name]) == 2
        assert f"process {child.pid}" in capsys.readouterr().err
        assert runs.read_run(run).state == "stopped" and "writer.lock" not in runs.read_run(run).files
    finally:
        child.kill()
        child.wait()
    assert runlock.read_owner(run)["pid"] == child.pid  # killed: its lock file is still there ...
    with runlock.hold(run, "evaluating"):  # ... and taken over
        assert runlock.read_owner(run)["pid"] == os.getpid()
    assert not (run / runs.LOCK_NAME).exists()


def test_two_processes_that_start_writing_one_run_at_the_same_moment_one_wins(tmp_path):
    import time

    run = resumable_run(tmp_path)
    start = str(time.time() + 1.5)  # both are running (Python started) by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE_FOR_LOCK, str(run), start],
            cwd=ROOT,
            env=child_env(tmp_path),
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    lines = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert lines[0].startswith("REFUSED") and lines[1] == "WON", lines
    assert "being written by process" in lines[0]


def test_where_the_filesystem_has_no_locks_a_live_pid_holds_and_a_dead_one_is_taken_over(tmp_path, monkeypatch):
    import socket

    from core import runlock
    from core.errors import RunError

    monkeypatch.setattr(runlock, "_os_lock", lambda fd: None)
    run = resumable_run(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = {"pid": sleeper.pid, "host": socket.gethostname(), "what": "training", "since": "2026-12-02T20:00"}
        (run / runs.LOCK_NAME).write_text(json.dumps(owner))
        with pytest.raises(RunError, match=f"process {sleeper.pid}"):
            runlock.acquire(run)
    finally:
        sleeper.kill()
        sleeper.wait()
    with runlock.hold(run):
        assert runlock.read_owner(run)["pid"] == os.getpid()


# ---------------------------------------------------------------------------------------------
# Item 12: free space before each save


def test_a_disk_that_fills_during_training_fails_before_the_next_save_with_the_one_sentence(
    tiny_dataset, tmp_path, monkeypatch
):
    import errno

    from core import writable
    from core.config import TrainConfig
    from core.reporting import NullReporter
    from core.training import _explain, resume_run, train

    full = {"now": False}
    monkeypatch.setattr(writable, "free_bytes", lambda folder: 0 if full["now"] else 10**12)

    class FillInSecondEpoch(NullReporter):
        def on_batch(self, epoch, step, steps, logs):
            full["now"] = full["now"] or epoch == 1

    config = TrainConfig(dataset="tiny", model="simple-cnn-1", batch_size=8, epochs=3, tensorboard=False)
    with pytest.raises(writable.DiskFullError) as raised:
        train(config, FillInSecondEpoch(), workspace=tmp_path, dataset=tiny_dataset)
    message = str(raised.value)
    assert message == _explain(OSError(errno.ENOSPC, "No space left on device"))  # as when the system says so
    assert message.startswith("The disk is full")
    (run,) = runs.run_folders(tmp_path)
    info = runs.read_run(run)
    assert info.state == "failed" and info.error == message  # not left "running"
    assert info.backup_epoch == 1 and info.history_rows == 1  # the last whole epoch is kept
    assert not [p for p in run.rglob("*") if atomic.is_temp_name(p.name)]
    full["now"] = False  # space was freed: the run goes on from its backup
    result = resume_run(run, dataset=tiny_dataset)
    assert result.state == "finished" and result.epochs_done == 3


def test_a_full_disk_the_system_reports_mid_save_is_the_same_sentence_even_when_the_status_cannot_be_written(
    tiny_dataset, tmp_path, monkeypatch
):
    import errno

    from core import writable
    from core.config import TrainConfig
    from core.training import train

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def refuse_backup(real, target_at: int = 0):
        def write(*args, **kwargs):
            if Path(args[target_at]).name == "latest.weights.h5":  # the backup: the disk fills there
                no_space()
            return real(*args, **kwargs)

        return write

    def refuse_failed_status(real):
        return lambda run_dir, **fields: no_space() if fields.get("state") == "failed" else real(run_dir, **fields)

    monkeypatch.setattr(atomic, "write_with", refuse_backup(atomic.write_with))
    monkeypatch.setattr(atomic, "copy_file", refuse_backup(atomic.copy_file, target_at=1))
    monkeypatch.setattr(runs, "write_status", refuse_failed_status(runs.write_status))
    config = TrainConfig(dataset="tiny", model="simple-cnn-1", batch_size=8, epochs=2, tensorboard=False)
    with pytest.raises(writable.DiskFullError, match="^The disk is full: free some space"):
        train(config, workspace=tmp_path, dataset=tiny_dataset)


@pytest.mark.parametrize("save", ["history", "backup", "evaluation"])
def test_each_save_asks_for_its_space_first(save, tmp_path, monkeypatch):
    import numpy as np

    from core import writable
    from core.evaluation import Evaluation, save_evaluation

    asked = []
    monkeypatch.setattr(writable, "free_bytes", lambda folder: asked.append(Path(folder)) or 0)
    with pytest.raises(writable.DiskFullError, match="The disk is full"):
        if save == "history":
            runs.HistoryWriter(tmp_path).append({"epoch": 1, "loss": 0.5})
        elif save == "evaluation":
            ev = Evaluation(np.zeros(3, np.int32), np.ones((3, 2), np.float32) / 2, ["a", "b"], np.arange(3))
            save_evaluation(tmp_path, ev)
        else:
            from core.callbacks import AtomicBackup, EpochClock
            from core.reporting import CancelToken

            backup = AtomicBackup(tmp_path / "backup", EpochClock(1, CancelToken()))
            backup.set_model(_tiny_model())
            backup.save(1)
    assert asked and not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing written, nothing half-written


def _tiny_model():
    import keras

    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


# ---------------------------------------------------------------------------------------------
# Item 17: a workspace that cannot be written: one sentence per command, nothing left behind


@pytest.fixture
def broken_workspace(tmp_path, monkeypatch):
    """``make(kind) -> workspace``: "read-only", "file" (a file where the folder should be) or "full".

    Root writes into a read-only folder anyway, so there the refusal is faked at the one place folders
    are tried for writing (core.writable.probe_write); anyone else gets the real one from chmod.
    """
    from core import writable

    locked: list[Path] = []

    def make(kind: str, workspace: Path | None = None) -> Path:
        workspace = workspace or tmp_path / "ws"
        if kind == "file":
            workspace.write_text("not a folder")
        elif kind == "full":
            workspace.mkdir(exist_ok=True)
            monkeypatch.setattr(writable, "free_bytes", lambda folder: 4096)
        else:
            (workspace / "runs").mkdir(parents=True, exist_ok=True)
            for folder in (workspace, *(p for p in workspace.rglob("*") if p.is_dir())):
                os.chmod(folder, 0o555)
                locked.append(folder)
            if os.geteuid() == 0:
                real = writable.probe_write

                def refuse(folder: Path) -> None:
                    folder = Path(folder)
                    if folder == workspace or workspace in folder.parents:
                        raise PermissionError(13, "Permission denied", str(folder))
                    real(folder)

                monkeypatch.setattr(writable, "probe_write", refuse)
        monkeypatch.setenv("CNN_WORKBENCH_HOME", str(workspace))
        return workspace

    yield make
    for folder in locked:
        os.chmod(folder, 0o755)


SENTENCES = {
    "read-only": "is read-only: choose another by setting CNN_WORKBENCH_HOME",
    "file": "is a file, not a folder: choose another by setting CNN_WORKBENCH_HOME",
    "full": "is on a full disk: free some space, or choose another by setting CNN_WORKBENCH_HOME",
}


def said_once(capsys, workspace: Path, kind: str) -> str:
    """The command printed one error line, the workspace's sentence, and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith(f"error: The workspace {workspace} {SENTENCES[kind]}"), err
    assert lines[0].endswith("to a folder you can write (see Settings in the guide).") and "Traceback" not in err
    return lines[0]


def a_run(workspace: Path) -> Path:
    import shutil

    from core.config import TrainConfig

    config = TrainConfig(dataset="mnist-sample", model="simple-cnn-2", epochs=1, tensorboard=False).to_dict()
    run = runs.create_run(config, "mnist-sample", workspace)
    runs.write_status(run, state="stopped", pid=0)  # stopped: resume would go on with it
    shutil.copy2(ROOT / "weights" / "mnist-sample-simple-cnn-2.keras", run / "model.keras")
    return run


@pytest.mark.parametrize("kind", ["read-only", "file", "full"])
def test_train_and_create_run_in_a_workspace_that_cannot_be_written(kind, broken_workspace, capsys):
    from core import writable

    workspace = broken_workspace(kind)
    train = ["train", "--dataset", "mnist-sample", "--model", "simple-cnn-1", "--epochs", "1", "--limit", "50"]
    assert run_cli(train) == 2
    said_once(capsys, workspace, kind)
    with pytest.raises((writable.NotWritableError, writable.DiskFullError), match="The workspace"):
        runs.create_run({"model": "m", "dataset": "d"}, "d", workspace)
    assert runs.run_folders(workspace) == []  # no empty run folder left behind


@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_evaluate_resume_and_export_in_a_workspace_that_cannot_be_written(kind, broken_workspace, tmp_path, capsys):
    workspace = tmp_path / "ws"
    run = a_run(workspace)
    before = sorted(p.name for p in run.iterdir())
    broken_workspace(kind, workspace)
    for command in (["evaluate", run.name], ["resume", run.name], ["export", run.name, "--format", "tflite"]):
        assert run_cli(command) == 2, command
        said_once(capsys, workspace, kind)
    assert sorted(p.name for p in run.iterdir()) == before


def test_save_model_to_a_folder_that_cannot_be_written_is_said_before_training(broken_workspace, tmp_path, capsys):
    elsewhere = broken_workspace("read-only", tmp_path / "models")
    workspace = tmp_path / "ws"
    os.environ["CNN_WORKBENCH_HOME"] = str(workspace)  # monkeypatched by the fixture: restored after the test
    command = ["train", "--epochs", "1", "--limit", "50", "--save-model", str(elsewhere / "m.keras")]
    assert run_cli(command) == 2
    err = capsys.readouterr().err
    assert f"error: --save-model: the folder {elsewhere} is read-only; choose another folder." in err, err
    assert runs.run_folders(workspace) == []


def test_a_run_folder_whose_first_files_cannot_be_written_is_removed(tmp_path, monkeypatch):
    import errno

    from core import writable

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_json", full)
    with pytest.raises(writable.DiskFullError, match=f"The workspace {tmp_path} is on a full disk"):
        runs.create_run({"model": "m", "dataset": "d"}, "d", tmp_path)
    assert runs.run_folders(tmp_path) == []


@pytest.mark.slow
def test_two_resumes_of_one_run_started_together_train_it_once(killed_in_final_save, tmp_path):
    """Issue 13 item 8 end to end: two `python main.py resume RUN` within a second; one writes the run."""
    run = copy_run(killed_in_final_save, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "main.py", "resume", run.name],
            cwd=ROOT,
            env=child_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 2], results
    refused = next(err for code, _out, err in results if code == 2)
    assert "being written by process" in refused or "still training" in refused, refused
    assert runs.read_run(run).state == "finished"
