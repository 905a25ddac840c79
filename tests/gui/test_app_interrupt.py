"""Ctrl+C in the terminal that runs the app quits it cleanly, as closing the window does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start_app(tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        CNN_WORKBENCH_STARTUP_PROBE="paint",  # say when the window is painted, stay open
        CNN_WORKBENCH_SETTINGS=str(tmp_path / "settings.ini"),
        CNN_WORKBENCH_HOME=str(tmp_path / "workspace"),
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [sys.executable, "main.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(proc: subprocess.Popen, word: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(word):
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"the app never printed {word!r}")


def test_ctrl_c_closes_the_app_without_a_traceback(tmp_path):
    proc = _start_app(tmp_path)
    try:
        _wait_for(proc, "window-shown", 120)
        _wait_for(proc, "ready", 120)  # TensorFlow loaded: the app is idle and would stay open
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Ctrl+C: stopping any run, saving and closing" in err
    assert (tmp_path / "settings.ini").exists(), "the window saved its settings as on a normal close"
    log = tmp_path / "workspace" / "logs" / "cnn-workbench.log"
    assert "CNN Workbench" in log.read_text(encoding="utf-8"), "the app writes its log in the workspace"


def test_uncaught_errors_reach_the_log(caplog, monkeypatch):
    import threading

    from gui import app

    seen = []
    monkeypatch.setattr("sys.excepthook", lambda *exc: seen.append(exc[0]))
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_type))
    app.log_uncaught_exceptions()
    try:
        raise ValueError("a slot went wrong")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    thread = threading.Thread(target=lambda: 1 / 0, name="worker-x")
    thread.start()
    thread.join()
    assert seen == [ValueError, ZeroDivisionError], "the earlier hooks still run"
    texts = [r.getMessage() for r in caplog.records if r.name == "gui"]
    assert "Uncaught ValueError" in texts[0] and "in thread" in texts[1]
    assert caplog.records[0].exc_info is not None
