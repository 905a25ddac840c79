"""A study worker: takes queued trials one by one until none is left, each an ordinary training run.

``work(...)`` runs in a worker process (``python -m core.studies.worker STUDY --storage URL``) or, for
one job, in the calling process. Each trial: the trial is claimed from the queue (exactly once: the
storage moves it from WAITING to RUNNING for one worker only), its values become a TrainConfig,
``core.training.train`` makes a run folder tagged with the study and trial number, each epoch's
validation metric goes to Optuna through the reporter (a pruned trial stops at once through the
CancelToken and is recorded as PRUNED), and test accuracy is recorded with the result. A trial that
fails is recorded with its message and the worker goes on. While a trial runs, a thread writes its
heartbeat; before each claim, stale trials (dead workers) are failed and queued again.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import atomic, runs
from core.errors import WorkbenchError
from core.reporting import CancelToken, NullReporter
from core.studies import designs
from core.studies.plan import StudyPlan
from core.studies.storage import load_study

POLL_SECONDS = 1.0  # how often an idle worker looks for retried trials while others still run


def set_thread_pools(threads: int | None) -> None:
    """Give this process's TensorFlow ``threads`` threads; call before TensorFlow starts."""
    if not threads:
        return
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(max(1, min(2, threads)))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
    except RuntimeError:  # TensorFlow already started in this process: keep what it has
        pass


def tag_run(run_dir: Path, study: str, trial: int, params: dict[str, Any], **extra: Any) -> None:
    """Mark a run folder as trial ``trial`` of ``study`` in its meta.json (keeps the user's name and note)."""
    meta = runs.read_meta(run_dir)
    meta.update({"study": study, "trial": trial, "params": params, **extra})
    atomic.write_json(Path(run_dir) / runs.META, meta)


class _TrialReporter(NullReporter):
    """Feeds each epoch's objective to the trial and stops the run when the pruner says so."""

    def __init__(self, trial, plan: StudyPlan, params: dict[str, Any], cancel: CancelToken, inner=None) -> None:
        self.trial, self.plan, self.params, self.cancel, self.inner = trial, plan, params, cancel, inner
        self.run_dir: Path | None = None
        self.pruned_at: int | None = None
        self.values: list[float] = []

    def on_start(self, info: dict) -> None:
        self.run_dir = Path(info["run_dir"])
        tag_run(self.run_dir, self.trial.study.study_name, self.trial.number, self.params)
        self.trial.set_user_attr("run_dir", str(self.run_dir))
        if self.inner:
            self.inner.on_start(info)

    def on_batch(self, epoch, step, steps, logs) -> None:
        if self.inner:
            self.inner.on_batch(epoch, step, steps, logs)

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        if self.inner:
            self.inner.on_epoch(epoch, logs)
        value = logs.get(self.plan.objective)
        if value is None or not math.isfinite(value):
            return
        self.values.append(float(value))
        self.trial.report(float(value), epoch)
        if self.cancel.cancelled or self.trial.should_prune():
            if not self.cancel.cancelled:
                self.pruned_at = epoch + 1
            self.cancel.cancel()  # Keras stops before the next batch

    def on_message(self, text: str) -> None:
        if self.inner:
            self.inner.on_message(text)


class _Heartbeat:
    def __init__(self, storage, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="trial-heartbeat", daemon=True)

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval() or 5
        while not self.stop.wait(interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 - a missed beat is not a failed trial
                pass

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _claim(study) -> int | None:
    """Move one WAITING trial to RUNNING for this worker; None when the queue is empty."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                return t._trial_id
        except UpdateFinishedTrialError:
            continue
    return None


class _DatasetCache:
    """The last dataset loaded, reused while trials load the same data (folders are scanned once)."""

    KEYS = ("dataset", "image_size", "color_mode", "validation_split", "test_split", "seed", "limit")

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.dataset = None

    def get(self, config, reporter):
        from core.config import load_config_dataset

        key = tuple(getattr(config, k) for k in self.KEYS)
        if key != self.key:
            self.dataset, self.key = None, None
            self.dataset, self.key = load_config_dataset(config, reporter), key
        return self.dataset


def run_trial(study, storage, plan: StudyPlan, trial_id: int, *, workspace=None, stop: CancelToken, cache, inner=None):
    """Run one claimed trial to the end and tell Optuna how it went; returns the frozen trial."""
    import optuna
    from optuna.trial import TrialState

    from core.training import train

    trial = optuna.trial.Trial(study, trial_id)
    cancel = CancelToken()
    watcher_stop = threading.Event()

    def watch() -> None:  # the worker's stop reaches the trial's own token
        while not watcher_stop.wait(0.2):
            if stop.cancelled:
                cancel.cancel()
                return

    threading.Thread(target=watch, daemon=True).start()
    state, value = TrialState.FAIL, None
    with _Heartbeat(storage, trial_id):
        try:
            params = designs.suggest(trial, plan)
            if plan.design == "ofat":
                trial.set_user_attr("row", list(designs.row_label(plan, params)))
            config = plan.config_for(params, label=f"{study.study_name} #{trial.number}")
            reporter = _TrialReporter(trial, plan, params, cancel, inner)
            dataset = cache.get(config, reporter)
            result = train(config, reporter, cancel, workspace=workspace, dataset=dataset)
            history = result.history
            losses = [r["val_loss"] for r in history if "val_loss" in r]
            trial.set_user_attr("test_accuracy", result.test_accuracy)
            trial.set_user_attr("test_loss", result.test_loss)
            trial.set_user_attr("best_val_accuracy", result.best_val_accuracy)
            trial.set_user_attr("best_val_loss", min(losses) if losses else None)
            trial.set_user_attr("epochs", result.epochs_done)
            trial.set_user_attr("seconds", round(result.seconds, 2))
            trial.set_user_attr("curve", [r.get("val_accuracy") for r in history])
            value = result.best_val_accuracy if plan.objective == "val_accuracy" else (min(losses) if losses else None)
            if reporter.pruned_at is not None:
                state = TrialState.PRUNED
                trial.set_user_attr("pruned_after_epoch", reporter.pruned_at)
                tag_run(result.run_dir, study.study_name, trial.number, params, pruned=True)
            elif stop.cancelled:
                state = None  # stopped by the user: queued again below
                tag_run(result.run_dir, study.study_name, trial.number, params, stopped=True)
            elif value is None:
                trial.set_user_attr("error", f"The run recorded no {plan.objective}.")
            else:
                state = TrialState.COMPLETE
        except WorkbenchError as exc:
            trial.set_user_attr("error", str(exc))
            if exc.detail:
                trial.set_user_attr("detail", exc.detail[-2000:])
        except Exception as exc:  # noqa: BLE001 - a trial's failure must not end the study
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            trial.set_user_attr("detail", traceback.format_exc()[-2000:])
        finally:
            watcher_stop.set()
    try:
        if state is None:
            requeue(study, trial_id)
            study.tell(trial, state=TrialState.FAIL)
        elif state == TrialState.COMPLETE:
            study.tell(trial, value)
        else:
            study.tell(trial, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass  # another worker declared this trial dead meanwhile (and queued it again)
    return study._storage.get_trial(trial_id)


def requeue(study, trial_id: int) -> None:
    """Queue a stopped trial again with the same values, so continuing the study runs it."""
    import optuna

    t = study._storage.get_trial(trial_id)
    study._storage.set_trial_user_attr(trial_id, "stopped", True)
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=t.params,
            distributions=t.distributions,
            system_attrs={k: v for k, v in t.system_attrs.items() if k == "fixed_params"},
        )
    )


def work(
    study_name: str,
    storage_url: str,
    *,
    workspace: Path | None = None,
    worker_index: int = 0,
    threads: int | None = None,
    deadline: float | None = None,
    stop: CancelToken | None = None,
    on_trial: Callable[[Any], None] | None = None,
    inner_reporter=None,
) -> int:
    """Run trials of a study until its queue is empty (and no other worker may still need help),
    ``deadline`` (a ``time.time()``) passes, or ``stop`` is cancelled. Returns the trials run here."""
    import optuna

    set_thread_pools(threads)
    stop = stop or CancelToken()
    study, plan, storage, _ = load_study(study_name, storage_url, workspace)
    study.sampler = designs.make_sampler(plan, worker_index)
    study.pruner = designs.make_pruner(plan)
    unbounded = plan.design in ("random", "tpe") and not plan.trials
    cache = _DatasetCache()
    done = 0
    while not stop.cancelled:
        if deadline is not None and time.time() >= deadline:
            break
        optuna.storages.fail_stale_trials(study)
        trial_id = _claim(study)
        if trial_id is None and unbounded:
            trial_id = study.ask()._trial_id
        if trial_id is None:
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if not running:
                break
            stop_wait = stop.cancelled or (deadline is not None and time.time() >= deadline)
            if stop_wait:
                break
            time.sleep(POLL_SECONDS)  # another worker's trial may die and come back to the queue
            continue
        frozen = run_trial(
            study, storage, plan, trial_id, workspace=workspace, stop=stop, cache=cache, inner=inner_reporter
        )
        done += 1
        if on_trial:
            on_trial(frozen)
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.studies.worker")
    ap.add_argument("study")
    ap.add_argument("--storage", required=True)
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--deadline", type=float, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stop = CancelToken()

    def on_term(signum, frame) -> None:  # finish the trial's epoch, queue it again, exit
        stop.cancel()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        n = work(
            args.study,
            args.storage,
            worker_index=args.index,
            threads=args.threads,
            deadline=args.deadline,
            stop=stop,
            on_trial=lambda t: print(f"worker {os.getpid()}: trial {t.number} {t.state.name}", flush=True),
        )
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"worker {os.getpid()}: {n} trial(s) done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
