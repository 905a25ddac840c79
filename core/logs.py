"""The app's log file, for a bug report: ``<workspace>/logs/cnn-workbench.log``.

:func:`setup_logging` is called once at start, by the command line (core/cli.py) and by the
desktop app. Modules log with ``logging.getLogger(__name__)``; a failure that a broad ``except``
turns into a message, a fallback or a skipped item is logged with its traceback, so the file
says what the message could not. The file rotates (a few MB, 3 old files kept).

People read what the app has to say in its windows and on the terminal (reporters, the command
line's own lines, error dialogs); the log is the detail behind them, so in normal use nothing is
logged to the terminal. When the workspace cannot hold the file (read-only, a missing drive), the
app still starts and warnings and errors go to stderr instead.
"""

from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
from pathlib import Path

from core import __version__, paths

LOG_DIR_NAME = "logs"  # inside the workspace
LOG_FILE_NAME = "cnn-workbench.log"
MAX_BYTES = 2 * 1024 * 1024  # per file; with BACKUP_COUNT old files, at most 8 MB
BACKUP_COUNT = 3
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"

_OURS = "_cnn_workbench_handler"  # marks the handlers setup_logging installed, to replace them


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record arrives (the GUI or a test may swap it),
    like Python's own last-resort handler."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.setStream; the stream is always sys.stderr
        pass


def log_path(workspace: Path | None = None) -> Path:
    """Where the log file of ``workspace`` (default: the current one) is."""
    return (workspace or paths.workspace_dir()) / LOG_DIR_NAME / LOG_FILE_NAME


def setup_logging(workspace: Path | None = None, level: int = logging.INFO) -> Path | None:
    """Send the log to the workspace's rotating log file; return its path, or None when it cannot be
    written (then warnings and errors go to stderr). Safe to call again: the handlers of an earlier
    call are replaced (the command line calls it once per command), others' handlers are kept."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()

    path = log_path(workspace)
    handler: logging.Handler
    problem = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
        handler.setLevel(level)
    except OSError as exc:  # read-only workspace, a missing drive, a file where the folder should be
        problem = exc
        handler = _StderrHandler()
        handler.setLevel(max(level, logging.WARNING))
    handler.setFormatter(logging.Formatter(FORMAT))
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)

    log = logging.getLogger(__name__)
    if problem is not None:
        log.warning("Cannot write the log file %s (%s); logging warnings to the terminal instead.", path, problem)
        return None
    log.info(
        "CNN Workbench %s, Python %s on %s; workspace %s",
        __version__,
        platform.python_version(),
        platform.platform(),
        path.parent.parent,
    )
    return path
