"""Start the desktop app: ``run_app(argv)`` (what ``python main.py`` calls).

The window must appear within about a second, but TensorFlow alone takes 2.3 s to import. So the
start is staged:

1. import only Qt, build the main window and show it;
2. on the first turn of the event loop fill the dataset and model lists (core.datasets and
   core.models do not import TensorFlow), create the plots and the Runs and Inside tabs (they
   need pyqtgraph, 0.35 s to import: building them before the first paint had the window shown
   at 0.96 s, after it at 0.59 s, measured in the same hour) and start importing TensorFlow in a
   background thread;
3. when TensorFlow is ready, :class:`~gui.tensorflow_loader.TensorFlowLoader` signals the window,
   which enables Start and builds the first model summary.

The loader lives in gui/tensorflow_loader.py and the garbage collection policy in gui/garbage.py,
so that this module is only the start: it imports the main window, nothing imports it back.

``CNN_WORKBENCH_STARTUP_PROBE=1`` prints ``window-shown <seconds>`` when the window is first
painted, ``ready <seconds>`` when TensorFlow is ready, and quits (bench/bench_startup.py);
``CNN_WORKBENCH_STARTUP_PROBE=paint`` prints the same and stays open (tests that drive the app).

Ctrl+C in the terminal that runs the app closes the window the way its close button does (a run
is stopped and saved, resumable); a second Ctrl+C quits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from gui.tensorflow_loader import TensorFlowLoader

PROBE_ENV = "CNN_WORKBENCH_STARTUP_PROBE"
_T0 = time.perf_counter()


class _FirstPaintProbe(QObject):
    """Prints the time from process start to the first paint of the window (for the benchmark)."""

    def __init__(self, window, loader: TensorFlowLoader, *, quit_when_ready: bool = True) -> None:
        super().__init__(window)
        self._window = window
        self._shown = False
        self._quit_when_ready = quit_when_ready
        window.installEventFilter(self)
        loader.ready.connect(self._ready)
        loader.failed.connect(lambda *_: self._quit())

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if not self._shown and event.type() == QEvent.Type.Paint:
            self._shown = True
            print(f"window-shown {process_seconds():.3f}", flush=True)
        return False

    def _ready(self, _info) -> None:
        # Let the window finish what the ready signal started (model summary etc.) before quitting.
        print(f"ready {process_seconds():.3f}", flush=True)
        if self._quit_when_ready:
            QTimer.singleShot(0, self._quit)

    def _quit(self) -> None:
        # Closing the last window quits the app, once its jobs have ended (see MainWindow.closeEvent).
        if self._quit_when_ready:
            self._window.close()


class _InterruptHandler(QObject):
    """Ctrl+C (SIGINT) closes the window as its close button does; a second one quits at once.

    Python runs a signal handler only between bytecodes, and the Qt event loop runs in C++: without
    Python code running, a Ctrl+C would wait for the next timer or event, and with Python's default
    handler it raised KeyboardInterrupt inside whatever slot ran next (a traceback, and the app went
    on). So the handler only asks the window to close, and a cheap timer lets Python look at
    signals four times a second.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self._window = window
        self.interrupted = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(lambda: None)
        self._timer.start(250)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.interrupted:
            print("Quitting at once.", file=sys.stderr, flush=True)
            os._exit(130)
        self.interrupted = True
        print(
            "Ctrl+C: stopping any run, saving and closing CNN Workbench (Ctrl+C again quits at once) ...",
            file=sys.stderr,
            flush=True,
        )
        self._window.confirm_stop_on_close = lambda: True  # the terminal's Ctrl+C is the answer
        QTimer.singleShot(0, self._window.close)


def process_seconds() -> float:
    """Seconds since this process started (falls back to since this module was imported)."""
    try:
        with open(f"/proc/{os.getpid()}/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _T0


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    app.setOrganizationName("CNN Workbench")
    app.setApplicationName("CNN Workbench")
    app.setApplicationDisplayName("CNN Workbench")
    return app


def log_uncaught_exceptions() -> None:
    """Errors that escape a Qt slot or a thread go to the log file too (and to stderr, as before)."""
    log = logging.getLogger("gui")
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def hook(kind, value, tb) -> None:
        log.critical("Uncaught %s", kind.__name__, exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_hook(args) -> None:
        if args.exc_type is not None and not issubclass(args.exc_type, SystemExit):
            log.critical(
                "Uncaught %s in thread %s",
                args.exc_type.__name__,
                args.thread,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            )
        previous_thread_hook(args)

    sys.excepthook, threading.excepthook = hook, thread_hook


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run the event loop; returns the exit code."""
    from core.logs import setup_logging

    marks = [("qt-imported", process_seconds())]
    setup_logging()  # <workspace>/logs/cnn-workbench.log, rotating; stderr when it cannot be written
    log_uncaught_exceptions()
    app = create_application(list(argv or sys.argv[:1]))
    from gui.main_window import MainWindow
    from gui.settings import AppSettings

    marks.append(("modules-imported", process_seconds()))
    loader = TensorFlowLoader()
    window = MainWindow(AppSettings(), tf_loader=loader)
    marks.append(("window-built", process_seconds()))
    probe = os.environ.get(PROBE_ENV)
    if probe:
        print(" ".join(f"{name}={t:.3f}" for name, t in marks), flush=True)
        _FirstPaintProbe(window, loader, quit_when_ready=probe != "paint")
    interrupt = _InterruptHandler(window)
    window.show()
    window.raise_()
    window.finish_startup_after_paint()  # stage 2, once the window is on screen
    code = app.exec()
    # The loop can also end without the window's close (a signal, QApplication.quit): never leave a
    # job thread or a half-done import running at interpreter shutdown.
    window.jobs.shutdown()
    window.train_tab.preview_jobs.shutdown()
    loader.join(timeout=30)
    return 130 if interrupt.interrupted else code
