"""One way to run a task from the GUI: a :class:`TaskSlot` per kind of task a view runs.

Starting a task in a slot supersedes the one before it: the old task is cancelled (its
``CancelToken``; a queued one is dropped before it starts) and its callbacks are cut off, so a
stale result can never reach a view. This holds by construction, not by every handler comparing
a key, a generation number or a ticket. The idea is Orange3's ``ConcurrentMixin.start()``.

The slot sits on the existing :class:`~gui.workers.JobRunner` and keeps its contract: every job
still ends with exactly one final signal (finished, cancelled or failed) emitted from a
``finally``. The slot turns that signal into one call of ``on_done(result)``,
``on_cancelled(partial_or_None)`` or ``on_failed(failure)``, made in the GUI thread, and only for
the task that is current. ::

    self.preview_task = TaskSlot(runner, "Dataset preview", parent=self,
                                 on_done=self._show_preview, on_failed=self._preview_failed)
    ...
    self.preview_task.start(lambda reporter, cancel: load_preview(key, reporter, cancel))

Extra signals of a :class:`~gui.workers.JobWorker` subclass (training's ``batch_progress``,
``epoch_end``, ...) are forwarded the same way: ``start(worker, signals={"epoch_end": fn})``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gui.workers import Job, JobRunner, JobWorker


@dataclass(frozen=True)
class TaskFailure:
    """Why a task failed: a sentence for people, the technical detail, and the exception itself.

    Handlers decide by the exception's type (``isinstance(failure.error, OutOfMemoryError)``),
    never by the wording of the message.
    """

    message: str
    detail: str
    error: BaseException | None = None


class _Invoker(QObject):
    """Runs callables in the GUI thread, where it lives: ``post(fn)`` from any thread queues ``fn``.

    A worker's signals are connected to plain functions, which PySide runs in the worker's thread;
    they post the call here. Posts from one worker keep their order (progress, then the result).
    The per-task relays are plain Python objects, so nothing per task waits for a ``deleteLater``:
    deleting a per-task QObject that way crashed one run in six in the tests (PySide, 6.11).
    """

    _call = Signal(object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._call.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        try:
            self._call.emit(fn)
        except RuntimeError:  # the view and its slot are gone: nobody is listening any more
            pass

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()


class _Relay:
    """One started task's connection to its slot; ``detach()`` makes it deaf for good."""

    def __init__(self, slot: TaskSlot, worker: JobWorker, callbacks: dict[str, Callable | None]) -> None:
        self.slot = slot
        self.worker = worker
        self.active = True
        self._callbacks = callbacks
        self._connect(worker.finished, lambda result: self._end("done", result))
        self._connect(worker.cancelled, lambda result: self._end("cancelled", result))
        self._connect(
            worker.failed, lambda message, detail: self._end("failed", TaskFailure(message, detail, worker.error))
        )
        for name in ("message", "progress"):
            fn = callbacks.get(name)
            if fn is not None:
                self.forward(getattr(worker, name), fn)

    def _connect(self, signal, fn: Callable[..., None]) -> None:
        post = self.slot._invoker.post
        signal.connect(lambda *args: post(lambda: fn(*args)))

    def forward(self, signal, fn: Callable[..., None]) -> None:
        """Call ``fn`` in the GUI thread for each emission of ``signal``, while this task is current."""
        self._connect(signal, lambda *args: fn(*args) if self.active else None)

    def detach(self) -> None:
        """Nothing of this task reaches a view any more (calls already posted included)."""
        self.active = False

    def _end(self, name: str, *args: Any) -> None:
        if not self.active:
            return
        self.slot._task_ended(self)
        self.detach()
        fn = self._callbacks.get(name)
        if fn is not None:
            fn(*args)


class TaskSlot(QObject):
    """Runs one task of one kind at a time for a view; a new start supersedes the running one.

    ``runner`` is the :class:`JobRunner` the jobs run on (a callable returning it is also taken,
    for views that get their runner late). The callbacks given here are the defaults; ``start``
    can override any of them for one task (for example to bind the request it answers).
    """

    busy_changed = Signal(bool)  # True when a task starts, False when the current one has ended

    def __init__(
        self,
        runner: JobRunner | Callable[[], JobRunner],
        name: str,
        *,
        parent: QObject | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[TaskFailure], None] | None = None,
        on_cancelled: Callable[[Any], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self.name = name
        self._defaults: dict[str, Callable | None] = {
            "done": on_done,
            "failed": on_failed,
            "cancelled": on_cancelled,
            "progress": on_progress,
            "message": on_message,
        }
        self._relay: _Relay | None = None
        self._invoker = _Invoker(self)

    @property
    def runner(self) -> JobRunner:
        return self._runner if isinstance(self._runner, JobRunner) else self._runner()

    @property
    def running(self) -> bool:
        """A task of this slot has started (or is queued) and has not ended."""
        return self._relay is not None

    @property
    def worker(self) -> JobWorker | None:
        """The current task's worker, while there is one."""
        return None if self._relay is None else self._relay.worker

    def start(
        self,
        job: Job | JobWorker,
        *,
        signals: Mapping[str, Callable[..., None]] | None = None,
        **callbacks: Callable | None,
    ) -> JobWorker:
        """Cancel the current task, if any, and start ``job`` (a ``job(reporter, cancel)`` or a worker).

        ``callbacks`` overrides the slot's defaults for this task: ``on_done``, ``on_failed``,
        ``on_cancelled``, ``on_progress``, ``on_message``. ``signals`` connects extra signals of
        a worker subclass by name, with the same guarantee.
        """
        unknown = set(callbacks) - {f"on_{k}" for k in self._defaults}
        if unknown:
            raise TypeError(f"unknown callbacks: {sorted(unknown)}")
        self.cancel()
        worker = job if isinstance(job, JobWorker) else JobWorker(job, name=self.name, key=self._job_key())
        chosen = dict(self._defaults)
        chosen.update({k.removeprefix("on_"): v for k, v in callbacks.items()})
        relay = _Relay(self, worker, chosen)
        for name, fn in (signals or {}).items():
            relay.forward(getattr(worker, name), fn)
        self._relay = relay
        self.busy_changed.emit(True)
        self.runner.submit(worker)
        return worker

    def stop(self) -> None:
        """Ask the current task to stop but keep listening: it ends with ``on_cancelled`` (with what
        it made so far) or, if it was already finishing, ``on_done``. A queued task is dropped at once
        and ends with ``on_cancelled(None)``. Use :meth:`cancel` when the result is no longer wanted.
        """
        if self._relay is not None:
            self.runner.discard(self._relay.worker)

    def cancel(self) -> None:
        """Cancel the current task; none of its callbacks will run (not even ``on_cancelled``)."""
        relay, self._relay = self._relay, None
        if relay is None:
            return
        relay.detach()
        relay.worker.cancel.cancel()
        self.runner.discard(relay.worker)
        self.busy_changed.emit(False)

    def _job_key(self) -> str:
        return f"{self.name}#{id(self):x}"

    def _task_ended(self, relay: _Relay) -> None:
        if relay is self._relay:
            self._relay = None
            self.busy_changed.emit(False)
