"""The one way to run a task from the GUI: a new start supersedes the last, stale results never arrive."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Signal

from core.errors import WorkbenchError
from gui.tasks import TaskFailure, TaskSlot
from gui.workers import JobRunner, JobWorker


# Worker subclasses live at module level: PySide frees a class's meta-object with the class, and a
# class made inside a test can go before its last instance's deleteLater() has run (a crash).
class Ticker(JobWorker):
    tick = Signal(int, object)


class Partial(JobWorker):
    """A job that ends with what it has made so far when asked to stop."""

    def is_cancelled_result(self, result):
        return True


@pytest.fixture
def runner(qtbot):
    runner = JobRunner()
    yield runner
    assert runner.shutdown(10_000)


def _blocking_job(release: threading.Event, value):
    def job(reporter, cancel):
        release.wait(5)
        return value

    return job


def test_a_new_start_cuts_off_the_running_task(qtbot, runner):
    results, cancelled = [], []
    slot = TaskSlot(runner, "Preview", on_done=results.append, on_cancelled=cancelled.append)
    first_release = threading.Event()
    first = slot.start(_blocking_job(first_release, "stale"))
    qtbot.waitUntil(lambda: runner.current is first)
    second = slot.start(lambda reporter, cancel: "fresh")
    assert first.cancel.cancelled, "the superseded task is asked to stop"
    first_release.set()  # it returns its (stale) value anyway
    qtbot.waitUntil(lambda: not runner.busy and not slot.running, timeout=10_000)
    qtbot.wait(50)
    assert results == ["fresh"]
    assert cancelled == [], "a superseded task calls none of its callbacks"
    assert second.outcome == "finished"


def test_a_queued_task_is_dropped_when_superseded(qtbot, runner):
    release = threading.Event()
    other = TaskSlot(runner, "Training")
    other.start(_blocking_job(release, None))  # keeps the runner busy, so the next ones queue
    results = []
    slot = TaskSlot(runner, "Summary", on_done=results.append)
    queued = slot.start(lambda reporter, cancel: "old")
    slot.start(lambda reporter, cancel: "new")
    assert queued.outcome == "cancelled" and queued not in runner.queued()
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    qtbot.wait(50)
    assert results == ["new"]


def test_failure_carries_the_exception_for_decisions_by_type(qtbot, runner):
    class Tired(WorkbenchError):
        pass

    failures: list[TaskFailure] = []

    def job(reporter, cancel):
        raise Tired("Too tired to go on.", detail="tech")

    slot = TaskSlot(runner, "Job", on_failed=failures.append)
    slot.start(job)
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert failures[0].message == "Too tired to go on."
    assert isinstance(failures[0].error, Tired)
    assert not slot.running


def test_per_start_callbacks_and_progress_in_the_gui_thread(qtbot, runner):
    seen, threads = [], []
    gui_thread = threading.get_ident()

    def job(reporter, cancel):
        reporter.on_progress(1, 1, "one")
        return 7

    def progress(done, total, what):
        threads.append(threading.get_ident())
        seen.append((done, total, what))

    slot = TaskSlot(runner, "Job", on_done=lambda r: seen.append(("default", r)))
    slot.start(job, on_done=lambda r: seen.append(("bound", r)), on_progress=progress)
    qtbot.waitUntil(lambda: ("bound", 7) in seen, timeout=10_000)
    assert (1, 1, "one") in seen and ("default", 7) not in seen
    assert threads == [gui_thread]
    with pytest.raises(TypeError):
        slot.start(job, on_finish=print)


def test_extra_signals_of_a_worker_are_cut_off_too(qtbot, runner):
    release = threading.Event()
    ticks = []

    def job(reporter, cancel):
        worker.tick.emit(1, "a")
        release.wait(5)
        worker.tick.emit(2, "b")  # after the slot moved on: must not arrive
        return None

    worker = Ticker(job, name="Ticker")
    slot = TaskSlot(runner, "Ticker")
    slot.start(worker, signals={"tick": lambda n, what: ticks.append((n, what, threading.get_ident()))})
    qtbot.waitUntil(lambda: bool(ticks), timeout=10_000)
    slot.cancel()
    assert not slot.running
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    qtbot.wait(50)
    assert [(n, what) for n, what, _ in ticks] == [(1, "a")]
    assert ticks[0][2] == threading.get_ident()


def test_busy_follows_the_current_task(qtbot, runner):
    states = []
    slot = TaskSlot(runner, "Job")
    slot.busy_changed.connect(states.append)
    slot.start(lambda reporter, cancel: 1)
    qtbot.waitUntil(lambda: not slot.running, timeout=10_000)
    assert states == [True, False]


def test_stop_keeps_listening_and_delivers_the_partial_result(qtbot, runner):
    ended = []
    running = threading.Event()

    def job(reporter, cancel):
        running.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        return "partial"

    slot = TaskSlot(runner, "Batch", on_cancelled=lambda r: ended.append(("cancelled", r)), on_done=ended.append)
    worker = Partial(job, name="Batch")
    slot.start(worker)
    qtbot.waitUntil(running.is_set, timeout=10_000)
    slot.stop()
    assert slot.running, "a stopped task is still the slot's until it ends"
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert ended == [("cancelled", "partial")] and not slot.running
