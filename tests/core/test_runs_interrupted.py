"""Interrupted runs (status "running", process gone) are found with their last complete epoch."""

from __future__ import annotations

import json
import os

import pytest

from core import runs
from core.errors import RunError

DEAD_PID = 2**22 + 12345  # above the kernel's pid limit: no such process


def make_run(tmp_path, *, pid: int, epochs: int = 10, backup: int | None = None):
    run = runs.create_run({"model": "simple-cnn-1", "dataset": "tiny", "epochs": epochs}, "tiny", tmp_path)
    runs.write_status(run, pid=pid, epochs_done=backup or 0)
    if backup is not None:
        (run / "backup").mkdir()
        (run / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": backup, "batch": -1}))
    return run


def test_interrupted_runs_lists_dead_runs_with_their_last_whole_epoch(tmp_path):
    dead = make_run(tmp_path, pid=DEAD_PID, epochs=12, backup=4)
    make_run(tmp_path, pid=os.getpid())  # alive: still running, not interrupted
    no_backup = make_run(tmp_path, pid=DEAD_PID, epochs=3)
    broken = make_run(tmp_path, pid=DEAD_PID)
    (broken / "status.json").write_text("[1, 2]")  # not even a dict: skipped, never raised
    found = {r.path: r for r in runs.interrupted_runs(tmp_path)}
    assert set(found) == {dead, no_backup}
    assert (found[dead].epochs_done, found[dead].epochs) == (4, 12)
    assert (found[no_backup].epochs_done, found[no_backup].epochs) == (0, 3)
    assert runs.interrupted_runs(tmp_path / "nowhere") == []


def test_mark_stopped_keeps_everything_and_refuses_a_live_run(tmp_path):
    dead = make_run(tmp_path, pid=DEAD_PID, backup=2)
    status = runs.mark_stopped(dead)
    assert status["state"] == "stopped" and status["interrupted"] is True
    assert runs.read_run(dead).state == "stopped"
    assert (dead / "backup" / "training_metadata.json").exists()
    assert runs.interrupted_runs(tmp_path) == []
    alive = make_run(tmp_path, pid=os.getpid())
    with pytest.raises(RunError, match="still training"):
        runs.mark_stopped(alive)
