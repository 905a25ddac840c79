"""The log file: where it is, that it rotates, that a swallowed failure leaves its traceback there,
and that a workspace that cannot hold it does not stop the app."""

from __future__ import annotations

import logging
import logging.handlers

import pytest

from core import logs, runs
from core.cli import run_cli


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """setup_logging changes the root logger for the whole process: put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, logs._OURS, False)]


def flush() -> None:
    for handler in ours():
        handler.flush()


def test_the_log_file_is_in_the_workspace_and_rotates(tmp_path):
    path = logs.setup_logging(tmp_path)
    assert path == tmp_path / "logs" / "cnn-workbench.log" == logs.log_path(tmp_path)
    (handler,) = ours()
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes == logs.MAX_BYTES and 1_000_000 <= handler.maxBytes <= 10_000_000
    assert handler.backupCount == 3
    logging.getLogger("core.test").info("hello from a test")
    flush()
    text = path.read_text(encoding="utf-8")
    assert "CNN Workbench" in text and "hello from a test" in text


def test_calling_it_again_replaces_its_own_handler_and_keeps_others(tmp_path):
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    logs.setup_logging(tmp_path / "a")
    (first,) = ours()
    second_path = logs.setup_logging(tmp_path / "b")
    (second,) = ours()
    assert second is not first and second_path == tmp_path / "b" / "logs" / "cnn-workbench.log"
    assert other in logging.getLogger().handlers
    logging.getLogger().removeHandler(other)


def test_a_swallowed_failure_leaves_its_traceback_in_the_log(tmp_path, monkeypatch):
    path = logs.setup_logging(tmp_path)
    run = runs.create_run({"model": "simple-cnn-1", "dataset": "tiny", "epochs": 2}, "tiny", tmp_path)
    runs.write_status(run, pid=2**22 + 12345)  # a dead process: the run is a candidate

    def strange_folder(run_dir):
        raise RuntimeError("a strange run folder")

    monkeypatch.setattr(runs, "read_run", strange_folder)
    assert runs.interrupted_runs(tmp_path) == []  # behaviour kept: skipped, never raised
    flush()
    text = path.read_text(encoding="utf-8")
    assert "WARNING" in text and run.name in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: a strange run folder" in text


def test_a_workspace_that_cannot_hold_the_log_falls_back_to_stderr(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert logs.setup_logging(blocker / "workspace") is None  # no exception
    capsys.readouterr()
    logging.getLogger("core.test").warning("still heard")
    logging.getLogger("core.test").info("too chatty for the terminal")
    err = capsys.readouterr().err
    assert "still heard" in err and "too chatty" not in err


def test_the_command_line_sets_up_the_log_in_its_workspace(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path))
    assert run_cli(["runs"]) == 0
    flush()
    assert "CNN Workbench" in (tmp_path / "logs" / "cnn-workbench.log").read_text(encoding="utf-8")
