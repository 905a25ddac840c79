"""The worker contract: exactly one final signal on every path, throttled batches, one job at a time."""

from __future__ import annotations

import time

import pytest

from core.errors import DatasetError
from core.reporting import Cancelled
from gui.workers import JobRunner, JobWorker, TrainWorker


class Recorder:
    """Connects to every final signal of a worker and records what arrived, in order."""

    def __init__(self, worker: JobWorker) -> None:
        self.finals: list[tuple] = []
        self.done = 0
        worker.finished.connect(lambda r: self.finals.append(("finished", r)))
        worker.cancelled.connect(lambda r: self.finals.append(("cancelled", r)))
        worker.failed.connect(lambda m, d: self.finals.append(("failed", m, d)))
        worker.done.connect(self._done)

    def _done(self) -> None:
        self.done += 1


def run_job(qtbot, runner: JobRunner, worker: JobWorker) -> Recorder:
    rec = Recorder(worker)
    runner.submit(worker)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    return rec


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    assert r.shutdown(10_000)


def test_finished_is_the_only_final_signal(qtbot, runner):
    rec = run_job(qtbot, runner, JobWorker(lambda reporter, cancel: 42, name="answer"))
    assert rec.finals == [("finished", 42)]
    assert rec.done == 1


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (DatasetError("The folder has no class folders.", detail="scan log"), "The folder has no class folders."),
        (RuntimeError("boom"), "Job failed: RuntimeError: boom"),
    ],
)
def test_failure_is_one_failed_signal_with_detail(qtbot, runner, exc, expected):
    def job(reporter, cancel):
        raise exc

    worker = JobWorker(job, name="Job")
    rec = run_job(qtbot, runner, worker)
    assert len(rec.finals) == 1 and rec.finals[0][0] == "failed"
    assert rec.finals[0][1] == expected
    assert rec.finals[0][2]  # the detail (or traceback) is there to copy
    assert worker.error is exc
    assert rec.done == 1


def test_cancel_is_one_cancelled_signal(qtbot, runner):
    started = []

    def job(reporter, cancel):
        started.append(True)
        while not cancel.cancelled:
            time.sleep(0.005)
        raise Cancelled()

    worker = JobWorker(job)
    rec = Recorder(worker)
    runner.submit(worker)
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    runner.cancel()
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert rec.finals == [("cancelled", None)]
    assert rec.done == 1


def test_runner_runs_one_job_at_a_time_and_replaces_queued_jobs_with_the_same_key(qtbot, runner):
    running = []
    overlap = []

    def slow(tag):
        def job(reporter, cancel):
            if running:
                overlap.append(tag)
            running.append(tag)
            time.sleep(0.05)
            running.remove(tag)
            return tag

        return job

    first = JobWorker(slow("first"), key="summary")
    second = JobWorker(slow("second"), key="summary")
    third = JobWorker(slow("third"), key="summary")
    other = JobWorker(slow("other"), key="train")
    recs = [Recorder(w) for w in (first, second, third, other)]
    for w in (first, second, third, other):
        runner.submit(w)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert not overlap
    assert recs[0].finals == [("finished", "first")]  # already running: not replaced
    assert recs[1].finals == [("cancelled", None)]  # queued, then replaced by 'third'
    assert recs[2].finals == [("finished", "third")]
    assert recs[3].finals == [("finished", "other")]
    assert all(r.done == 1 for r in recs)


def fake_train(batches_per_epoch: int, epochs: int, pause: float = 0.0):
    """A stand-in for core.training.train that reports like Keras does (epoch-to-date means)."""

    def train(config, reporter, cancel, *, workspace=None, dataset=None):
        reporter.on_start({"epochs": epochs, "steps_per_epoch": batches_per_epoch, "run_dir": "x"})
        for epoch in range(epochs):
            total = 0.0
            for step in range(batches_per_epoch):
                value = 1.0 + (step % 2)  # batch losses alternate 1, 2, 1, 2, ...
                total += value
                reporter.on_batch(epoch, step, batches_per_epoch, {"loss": total / (step + 1), "accuracy": 0.5})
                if pause:
                    time.sleep(pause)
                if cancel.cancelled:
                    return "stopped early"
            reporter.on_epoch(epoch, {"loss": total / batches_per_epoch, "val_loss": 1.0, "lr": 1e-3})
        return "trained"

    return train


def test_train_worker_throttles_batches_but_delivers_every_point(qtbot, runner):
    worker = TrainWorker(None, train_fn=fake_train(batches_per_epoch=400, epochs=3, pause=0.0005), rate_hz=20)
    updates, epochs = [], []
    worker.batch_progress.connect(updates.append)
    worker.epoch_end.connect(lambda e, logs: epochs.append(e))
    started = time.monotonic()
    rec = run_job(qtbot, runner, worker)
    seconds = time.monotonic() - started
    assert rec.finals == [("finished", "trained")]
    assert epochs == [0, 1, 2]
    points = sum(len(u.x) for u in updates)
    assert points == 1200 == worker.batches_seen
    # At most 20 a second, plus one flush at the end of each epoch.
    assert len(updates) <= 20 * seconds + 3 + 2
    assert len(updates) < 1200 / 10
    # Each batch's own loss is recovered from Keras' running means: 1, 2, 1, 2, ...
    losses = [v for u in updates for v in u.loss]
    assert losses[:6] == pytest.approx([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
    xs = [v for u in updates for v in u.x]
    assert xs[399] == pytest.approx(1.0) and xs[-1] == pytest.approx(3.0)


def test_train_worker_stopped_result_is_cancelled(qtbot, runner):
    def train(config, reporter, cancel, **kwargs):
        cancel.cancel()
        return type("Result", (), {"state": "stopped"})()

    rec = run_job(qtbot, runner, TrainWorker(None, train_fn=train))
    assert [f[0] for f in rec.finals] == ["cancelled"]
    assert rec.done == 1


def test_job_threads_run_at_lower_priority_and_the_gui_thread_keeps_its_own(qtbot, runner):
    import os
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread priorities are set on Linux only")
    gui_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def job(reporter, cancel):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    first = JobWorker(lambda r, c: time.sleep(0.1), key="k")
    dropped = JobWorker(job, key="k")
    kept = JobWorker(job, key="k")
    recs = [Recorder(w) for w in (first, dropped, kept)]
    for w in (first, dropped, kept):
        runner.submit(w)  # 'dropped' is replaced by 'kept' while 'first' runs: dropped in the GUI thread
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert recs[1].finals == [("cancelled", None)]
    from gui.workers import JOB_NICENESS

    assert recs[2].finals == [("finished", min(19, gui_nice + JOB_NICENESS))]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui_nice
