"""How long jobs talk to whoever runs them, without knowing about Qt.

The one convention for every long core function (training, evaluation, loading a dataset,
scanning a folder, extracting features, predicting files): it takes the keywords
``reporter: Reporter | None = None`` and ``cancel: CancelToken | None = None``.

* Progress goes to ``reporter.on_progress(done, total, what)``; a phase whose length cannot be
  measured reports ``total`` 0. Lines for a log go to ``reporter.on_message(text)``. A function
  given no reporter uses a :class:`NullReporter`.
* ``cancel.cancelled`` is checked between steps (batches, files, phases). Outside a Keras loop a
  job either returns what it has done so far (documented per function) or raises
  :class:`Cancelled` (:func:`raise_if_cancelled`).

The GUI adapts the reporter to Qt signals in a worker; the command line prints a progress bar.
All values passed to a reporter are plain Python numbers and strings.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Reporter(Protocol):
    """Receives progress from a job. Every method is optional in practice (see :class:`NullReporter`)."""

    def on_start(self, info: dict) -> None:
        """Once, before the first batch: ``epochs``, ``steps_per_epoch``, ``run_dir``, ``class_names`` ..."""

    def on_batch(self, epoch: int, step: int, steps: int, logs: dict[str, float]) -> None:
        """After each training batch (0-based ``epoch`` and ``step``; ``steps`` per epoch)."""

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """After each epoch, with training and validation metrics and ``lr``."""

    def on_message(self, text: str) -> None:
        """A line for a log pane or the terminal."""

    def on_progress(self, done: int, total: int, what: str) -> None:
        """Progress of a phase that is not training (loading, evaluating, predicting)."""


class NullReporter:
    """A reporter that ignores everything; subclass it and override what you need."""

    def on_start(self, info: dict) -> None:
        pass

    def on_batch(self, epoch: int, step: int, steps: int, logs: dict[str, float]) -> None:
        pass

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_message(self, text: str) -> None:
        pass

    def on_progress(self, done: int, total: int, what: str) -> None:
        pass


def format_epoch_line(epoch: int, epochs: int, logs: dict[str, float], best: bool = False) -> str:
    """One line per epoch, the same in the terminal and the app's log: ``epoch`` counts from 1."""
    parts = [f"Epoch {epoch:>{len(str(epochs))}}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.4f}")
    if "lr" in logs:
        parts.append(f"lr {logs['lr']:.3g}")
    if "seconds" in logs:
        parts.append(f"{logs['seconds']:.1f} s")
    return "  ".join(parts) + ("  * best so far" if best else "")


class CancelToken:
    """Stop and pause requests from another thread.

    ``cancel()`` asks the job to stop at the next batch; ``pause()``/``resume()`` hold it between
    batches. A paused job still notices ``cancel()``.
    """

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._held = 0.0  # seconds the job spent in wait_while_paused

    @property
    def paused_seconds(self) -> float:
        """How long the job has been held by :meth:`wait_while_paused` so far (finished waits)."""
        return self._held

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused job so it can stop

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def pause(self) -> None:
        if not self.cancelled:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, poll: float = 0.1) -> None:
        """Block the calling (job) thread while paused; return at once if running or cancelled."""
        if self._running.is_set():
            return
        since = time.perf_counter()
        try:
            while not self._running.wait(poll):
                if self.cancelled:
                    return
        finally:
            self._held += time.perf_counter() - since


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``, as the terminal and the app write a run's time ("" for no time)."""
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")):
        return ""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Cancelled(Exception):
    """Raised inside a job when it notices the cancel token outside a Keras loop."""


def raise_if_cancelled(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` (which may be None: nothing to cancel) is set."""
    if cancel is not None and cancel.cancelled:
        raise Cancelled()
