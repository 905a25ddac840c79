"""Long jobs on a ``QThread``: thin Qt adapters over core's plain functions.

A job is a callable ``job(reporter, cancel) -> result`` (see core/reporting.py). A
:class:`JobWorker` runs it in a worker thread and turns the reporter calls into signals. The
contract, which the tests check:

* ``finished(result)``, ``cancelled(result_or_None)`` or ``failed(message, detail)``: exactly one of
  them, always, emitted from a ``finally``; then ``done()``.
* Signals that would fire per batch are throttled in the worker (:class:`TrainWorker` sends at most
  ``rate_hz`` batch updates a second, each carrying the per-batch points since the last one): a
  queued signal costs the training thread about 0.5 ms and a redraw per batch slowed training by
  20-34 %, so the GUI collects points and redraws from a timer. Training sends 10 a second
  (``BATCH_UPDATES_HZ``), as often as each plot is drawn: at 20 the GUI thread used 13 % of a core
  during training against 10 % (with a 20 Hz frame timer), and epochs took 1.2-1.25 s against 1.45.

A :class:`JobRunner` runs one job at a time (one TensorFlow job at a time, as DESIGN.md asks),
queues the rest, and owns the threads so that nothing is left running: ``shutdown()`` cancels and
waits.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEventLoop, QObject, QThread, QTimer, Signal, Slot

from core.errors import OutOfMemoryError, WorkbenchError
from core.reporting import Cancelled, CancelToken

Job = Callable[[Any, CancelToken], Any]

log = logging.getLogger(__name__)


@dataclass
class BatchUpdate:
    """What the GUI needs after some batches: where the run is, and the new per-batch points.

    ``x`` is the position in epochs (epoch ``e``, 0-based, step ``s`` of ``steps`` gives
    ``e + (s + 1) / steps``), so epoch ``k`` (1-based) ends at ``x == k`` where its validation
    point is drawn. ``loss`` and ``accuracy`` are each batch's own values; ``logs`` holds the
    latest logs as Keras reports them (means since the start of the epoch).
    """

    epoch: int
    step: int
    steps: int
    logs: dict[str, float]
    x: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    time: float = 0.0  # time.monotonic() in the worker when the last batch ended


class _SignalReporter:
    """A core Reporter that forwards to a worker's signals (messages and phase progress)."""

    def __init__(self, worker: JobWorker, rate_hz: float) -> None:
        self._worker = worker
        self._interval = 1.0 / rate_hz
        self._last_progress = 0.0

    def on_start(self, info: dict) -> None:
        pass

    def on_batch(self, epoch: int, step: int, steps: int, logs: dict[str, float]) -> None:
        pass

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        pass

    def on_message(self, text: str) -> None:
        self._worker.message.emit(str(text))

    def on_progress(self, done: int, total: int, what: str) -> None:
        now = time.monotonic()
        if done >= total or done == 0 or now - self._last_progress >= self._interval:
            self._last_progress = now
            self._worker.progress.emit(int(done), int(total), str(what))


class JobWorker(QObject):
    """Runs ``job(reporter, cancel)`` when ``run()`` is invoked (in the worker thread).

    ``name`` is for people ("Training", "Model summary"); ``key`` lets :class:`JobRunner` replace a
    queued job of the same kind (only the newest model-summary request matters).
    """

    message = Signal(str)
    progress = Signal(int, int, str)  # done, total, what
    finished = Signal(object)  # the job's result
    cancelled = Signal(object)  # the job's partial result, or None
    failed = Signal(str, str)  # message for people, technical detail
    done = Signal()  # after the final signal, whichever it was

    def __init__(
        self,
        job: Job,
        *,
        name: str = "Job",
        key: str | None = None,
        cancel: CancelToken | None = None,
        rate_hz: float = 20.0,
    ) -> None:
        super().__init__()
        self.job = job
        self.name = name
        self.key = key
        self.cancel = cancel or CancelToken()
        self.rate_hz = rate_hz
        self.outcome: str | None = None  # "finished" / "cancelled" / "failed" once done
        self.error: BaseException | None = None  # the exception behind ``failed``

    def make_reporter(self):
        return _SignalReporter(self, self.rate_hz)

    def is_cancelled_result(self, result: Any) -> bool:
        return self.cancel.cancelled

    @Slot()
    def run(self) -> None:
        """The job, in the worker thread (``QThread.started``); the final signals come from here."""
        lower_thread_priority()
        self._execute()

    def _execute(self) -> None:
        outcome, payload = "failed", ("The job ended without a result.", "")
        try:
            if self.cancel.cancelled:
                outcome, payload = "cancelled", None
            else:
                result = self.job(self.make_reporter(), self.cancel)
                outcome = "cancelled" if self.is_cancelled_result(result) else "finished"
                payload = result
        except Cancelled:
            outcome, payload = "cancelled", None
        except WorkbenchError as exc:
            log.info("%s: %s", self.name, exc, exc_info=True)
            self.error = exc
            outcome, payload = "failed", (str(exc), exc.detail or traceback.format_exc())
        except MemoryError:
            log.warning("%s ran out of memory", self.name, exc_info=True)
            self.error = OutOfMemoryError(
                "The job ran out of memory. Try a smaller batch size, smaller images or a smaller model.",
                traceback.format_exc(),
            )
            outcome, payload = "failed", (str(self.error), self.error.detail)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI as a signal
            log.error("%s failed", self.name, exc_info=True)
            self.error = exc
            outcome, payload = (
                "failed",
                (f"{self.name} failed: {type(exc).__name__}: {exc}", traceback.format_exc()),
            )
        finally:
            self.outcome = outcome
            try:
                if outcome == "finished":
                    self.finished.emit(payload)
                elif outcome == "cancelled":
                    self.cancelled.emit(payload)
                else:
                    self.failed.emit(*payload)
            finally:
                self.done.emit()

    def drop(self) -> None:
        """Called by the runner (GUI thread) for a queued job that will never run: it is cancelled.

        Not :meth:`run`, which lowers the priority of the thread it runs in. The worker is deleted
        by the GUI thread's event loop afterwards, like a worker whose job ran: left to Python, its
        last reference could go in a collection in a worker thread, which must not free Qt objects.
        """
        self.cancel.cancel()
        self._execute()
        self.deleteLater()


class _TrainReporter(_SignalReporter):
    """Throttles batch updates to ``rate_hz``; epochs and the start are always sent at once."""

    def __init__(self, worker: TrainWorker, rate_hz: float) -> None:
        super().__init__(worker, rate_hz)
        self._train_worker = worker
        self._pending = BatchUpdate(0, 0, 1, {})
        self._last_emit = 0.0
        self._prev_means: tuple[tuple[int, int], float, float] | None = None

    def on_start(self, info: dict) -> None:
        self._last_emit = time.monotonic()
        self._train_worker.run_started.emit(dict(info))

    def on_batch(self, epoch: int, step: int, steps: int, logs: dict[str, float]) -> None:
        self._train_worker.batches_seen += 1
        p = self._pending
        p.epoch, p.step, p.steps, p.logs = epoch, step, steps, logs
        p.x.append(epoch + (step + 1) / max(1, steps))
        loss = logs.get("loss", math.nan)
        acc = logs.get("accuracy", logs.get("acc", math.nan))
        # Keras reports the mean since the start of the epoch; the plot wants each batch's own value.
        # With equal batches, batch k's value is (k+1)*mean_k - k*mean_(k-1).
        prev = self._prev_means
        if step > 0 and prev is not None and prev[0] == (epoch, step - 1):
            p.loss.append(max(0.0, (step + 1) * loss - step * prev[1]))
            p.accuracy.append(min(1.0, max(0.0, (step + 1) * acc - step * prev[2])))
        else:
            p.loss.append(loss)
            p.accuracy.append(acc)
        self._prev_means = ((epoch, step), loss, acc)
        now = time.monotonic()
        p.time = now
        if now - self._last_emit >= self._interval or step + 1 >= steps:
            self._flush(now)

    def _flush(self, now: float | None = None) -> None:
        if not self._pending.x:
            return
        update, p = self._pending, self._pending
        self._pending = BatchUpdate(p.epoch, p.step, p.steps, p.logs)
        self._last_emit = time.monotonic() if now is None else now
        self._train_worker.batch_progress.emit(update)

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self._flush()
        self._train_worker.epoch_end.emit(int(epoch), dict(logs))


BATCH_UPDATES_HZ = 10.0


class TrainWorker(JobWorker):
    """Runs :func:`core.training.train` for a config; ``finished``/``cancelled`` carry the RunResult."""

    run_started = Signal(object)  # info dict from core (epochs, steps_per_epoch, run_dir, ...)
    batch_progress = Signal(object)  # BatchUpdate, at most rate_hz a second
    epoch_end = Signal(int, object)  # 0-based epoch, logs (loss, accuracy, val_*, lr, seconds)

    def __init__(
        self,
        config,
        *,
        workspace=None,
        dataset=None,
        train_fn: Callable | None = None,
        rate_hz: float = BATCH_UPDATES_HZ,
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.dataset = dataset
        self._train_fn = train_fn
        self.batches_seen = 0  # batches the job reported (counted in the worker thread)
        super().__init__(self._train, name="Training", key="train", rate_hz=rate_hz)

    def _train(self, reporter, cancel):
        train = self._train_fn
        if train is None:
            from core.training import train
        return train(self.config, reporter, cancel, workspace=self.workspace, dataset=self.dataset)

    def make_reporter(self):
        return _TrainReporter(self, self.rate_hz)

    def is_cancelled_result(self, result: Any) -> bool:
        return getattr(result, "state", None) == "stopped" or self.cancel.cancelled


class JobRunner(QObject):
    """Runs one job at a time, each on its own ``QThread``; later jobs wait in a queue.

    ``submit`` with a worker whose ``key`` matches a queued (not yet started) job replaces that job
    (which is dropped: it emits ``cancelled(None)``, keeping the one-final-signal contract).
    """

    busy_changed = Signal(bool)
    job_started = Signal(object)  # the worker
    job_done = Signal(object)  # the worker, after its thread has ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: list[JobWorker] = []
        self._current: JobWorker | None = None
        self._thread: QThread | None = None
        self.closed = False  # after shutdown(): new jobs are dropped at once (cancelled)

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._queue)

    @property
    def current(self) -> JobWorker | None:
        return self._current

    def queued(self) -> list[JobWorker]:
        return list(self._queue)

    def submit(self, worker: JobWorker) -> None:
        if self.closed:
            worker.drop()
            return
        was_busy = self.busy
        if worker.key is not None:
            for old in [w for w in self._queue if w.key == worker.key]:
                self._queue.remove(old)
                old.drop()
        self._queue.append(worker)
        if self._current is None:
            self._start_next()
        if not was_busy:
            self.busy_changed.emit(True)

    def cancel(self, key: str | None = None) -> None:
        """Cancel queued and running jobs (only those with ``key`` if given)."""
        for w in [w for w in self._queue if key is None or w.key == key]:
            self._queue.remove(w)
            w.drop()
        if self._current is not None and (key is None or self._current.key == key):
            self._current.cancel.cancel()
        if not self.busy:
            self.busy_changed.emit(False)

    def discard(self, worker: JobWorker) -> None:
        """Cancel one job: dropped at once if still queued, asked to stop if running."""
        if worker in self._queue:
            self._queue.remove(worker)
            worker.drop()
            if not self.busy:
                self.busy_changed.emit(False)
        elif worker is self._current:
            worker.cancel.cancel()

    def _start_next(self) -> None:
        if not self._queue:
            return
        worker = self._queue.pop(0)
        thread = QThread()
        thread.setObjectName(f"job: {worker.name}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # quit() is thread-safe; calling it straight from the worker thread ends the loop at once.
        worker.done.connect(thread.quit, type=_direct())
        thread.finished.connect(self._on_thread_finished)
        self._current, self._thread = worker, thread
        thread.start()
        self.job_started.emit(worker)

    @Slot()
    def _on_thread_finished(self) -> None:
        worker, thread = self._current, self._thread
        self._current, self._thread = None, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        if worker is not None:
            worker.deleteLater()
            self.job_done.emit(worker)
        if self._queue:
            self._start_next()
        elif not self.busy:
            self.busy_changed.emit(False)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Process events until no job runs or is queued; False on timeout."""
        if not self.busy:
            return True
        loop = QEventLoop()
        self.busy_changed.connect(loop.quit)
        timer = QElapsedTimer()
        timer.start()
        guard = QTimer()
        guard.timeout.connect(loop.quit)
        guard.start(50)
        while self.busy and timer.elapsed() < timeout_ms:
            loop.exec()
        guard.stop()
        try:
            self.busy_changed.disconnect(loop.quit)
        except (RuntimeError, TypeError):  # already gone
            pass
        QCoreApplication.processEvents()
        return not self.busy

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, refuse new jobs, and wait for the thread to end (closing the window)."""
        self.closed = True
        self.cancel()
        return self.wait_idle(timeout_ms)


#: How much lower than the GUI the job threads run (Unix nice). Threads that TensorFlow and tf.data
#: start from a job thread inherit it, so the GUI thread wins the CPU when both want it. Measured on
#: 2 cores while training the 2-conv CNN: p99 lateness of a 10 ms GUI timer 35-45 ms at nice 0,
#: 15-17 ms at 5, 6-12 ms at 10; epoch times unchanged (the GUI needs little CPU, but needs it now).
#: Training still gets every idle cycle, but it also yields to other busy programs: set
#: CNN_WORKBENCH_JOB_NICENESS=0 to give it the window's priority.
JOB_NICENESS = 10
try:
    JOB_NICENESS = max(0, int(os.environ.get("CNN_WORKBENCH_JOB_NICENESS", JOB_NICENESS)))
except ValueError:
    pass


def lower_thread_priority(niceness: int | None = None) -> None:
    """Lower the calling thread's scheduling priority (Linux: per-thread nice); never fails."""
    niceness = JOB_NICENESS if niceness is None else niceness
    # Linux only: there a thread id is a valid target of setpriority (elsewhere it is not a pid).
    if niceness <= 0 or not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except (OSError, AttributeError):
        pass


def _direct():
    from PySide6.QtCore import Qt

    return Qt.ConnectionType.DirectConnection
