"""Running a study: create (or continue) it, then run its trials in this process or in worker processes.

Worker processes are ``python -m core.studies.worker STUDY --storage URL`` with TensorFlow's thread
pools divided between them (each gets ``cpus // jobs`` threads), never threads of one process: each
has its own TensorFlow state and GIL. The parent only watches the storage and reports each finished
trial; a worker that dies is replaced while trials are left, and the trial it held comes back to the
queue through the heartbeat (see core/studies/storage.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import paths
from core.reporting import CancelToken
from core.studies import storage as storage_mod
from core.studies.plan import StudyError, StudyPlan
from core.studies.table import TrialRow, trial_rows
from core.studies.worker import work

FINISHED = ("COMPLETE", "PRUNED", "FAIL")


@dataclass
class StudyResult:
    study: Any  # optuna.Study
    plan: StudyPlan
    folder: Path
    rows: list[TrialRow]
    created: bool
    left: int  # trials still queued (time budget reached or stopped)


def prepare(plan: StudyPlan, workspace: Path | None = None):
    """Check the plan and create or load its study: ``(study, storage, folder, created)``."""
    plan.check()
    return storage_mod.create_or_load(plan, workspace)


def worker_command(name: str, url: str, *, index: int = 0, threads: int | None = None, deadline=None) -> list[str]:
    cmd = [sys.executable, "-m", "core.studies.worker", name, "--storage", url, "--index", str(index)]
    if threads:
        cmd += ["--threads", str(threads)]
    if deadline:
        cmd += ["--deadline", f"{deadline:.3f}"]
    return cmd


def worker_env(workspace: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    root = str(paths.ROOT)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if workspace is not None:
        env["CNN_WORKBENCH_HOME"] = str(workspace)
    return env


def _left(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)))


def run_workers(
    name: str,
    url: str,
    folder: Path,
    *,
    jobs: int,
    workspace: Path | None = None,
    deadline: float | None = None,
    cancel: CancelToken | None = None,
    on_trial: Callable[[Any], None] | None = None,
    poll: float = 0.5,
) -> None:
    """Run ``jobs`` worker processes on a study until they are done, reporting finished trials."""
    import optuna

    cancel = cancel or CancelToken()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "workers.log", "ab")  # noqa: SIM115 - closed below
    env = worker_env(workspace)

    def spawn(index: int) -> subprocess.Popen:
        return subprocess.Popen(
            worker_command(name, url, index=index, threads=threads, deadline=deadline),
            cwd=str(paths.ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    backend = storage_mod.open_storage(url)
    study = optuna.load_study(study_name=name, storage=backend)
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED}
    procs = [spawn(i) for i in range(jobs)]
    respawns, next_index = 0, jobs
    stopping = False
    try:
        while True:
            if cancel.cancelled and not stopping:
                stopping = True
                for p in procs:
                    if p.poll() is None:
                        p.terminate()  # the worker stops its trial, queues it again and exits
            for t in study.get_trials(deepcopy=False):
                if t.state.name in FINISHED and t.number not in seen:
                    seen.add(t.number)
                    if on_trial:
                        on_trial(t)
            alive = [p for p in procs if p.poll() is None]
            if not stopping:
                for p in procs:
                    died = p.returncode is not None and p.returncode < 0 and not getattr(p, "replaced", False)
                    if died and respawns < 2 * jobs and _left(study) and (deadline is None or time.time() < deadline):
                        p.replaced = True  # type: ignore[attr-defined]
                        procs.append(spawn(next_index))
                        next_index += 1
                        respawns += 1
                alive = [p for p in procs if p.poll() is None]
            if not alive:
                break
            time.sleep(poll)
        for t in study.get_trials(deepcopy=False):
            if t.state.name in FINISHED and t.number not in seen:
                seen.add(t.number)
                if on_trial:
                    on_trial(t)
        bad = [p.returncode for p in procs if p.returncode not in (0, None) and not getattr(p, "replaced", False)]
        if bad and all(p.returncode == 2 for p in procs):
            tail = (folder / "workers.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise StudyError(f"The study's workers could not start: {tail[0] if tail else 'see workers.log'}")
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # each worker stops its trial within a batch and queues it again
        raise
    finally:
        deadline_kill = time.time() + 60
        for p in procs:
            if p.poll() is None:
                try:
                    p.wait(timeout=max(0.1, deadline_kill - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        log.close()


def run_study(
    plan: StudyPlan,
    *,
    jobs: int = 1,
    workspace: Path | None = None,
    cancel: CancelToken | None = None,
    on_trial: Callable[[Any], None] | None = None,
    in_process: bool | None = None,
    serve: tuple[str, int] | None = None,
    reporter=None,
) -> StudyResult:
    """Create or continue ``plan``'s study and run its trials; see the module docstring.

    ``jobs`` worker processes (``in_process``: one job in this process, the default for ``jobs == 1``).
    ``serve=(host, port)`` also serves the study's storage through Optuna's gRPC proxy for workers on
    other machines (``python main.py sweep-worker STUDY --storage grpc://THIS_HOST:PORT``).
    """
    if jobs < 1:
        raise StudyError(f"--jobs must be at least 1, not {jobs}.")
    study, backend, folder, created = prepare(plan, workspace)
    url = storage_mod.storage_url(plan, folder)
    if serve is None:
        return _run(study, plan, folder, url, created, jobs, workspace, cancel, on_trial, in_process, reporter)
    start_server(url, *serve)
    seen: set[int] = set()

    def note(t) -> None:
        seen.add(t.number)
        if on_trial:
            on_trial(t)

    result = _run(study, plan, folder, url, created, jobs, workspace, cancel, note, in_process, reporter)
    return wait_for_others(result, url, seen, cancel, note)


def wait_for_others(result: StudyResult, url: str, seen: set[int], cancel, on_trial, poll: float = 1.0):
    """Keep serving while workers elsewhere still run trials of the study (reporting them), then return."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=result.plan.name, storage=storage_mod.open_storage(url, result.plan.retries))
    while not (cancel is not None and cancel.cancelled):
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        for t in trials:
            if t.state.name in FINISHED and t.number not in seen:
                on_trial(t)
        if not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]:
            break
        time.sleep(poll)
    return StudyResult(study, result.plan, result.folder, trial_rows(study), result.created, _left(study))


def join_study(
    name: str,
    url: str | None = None,
    *,
    jobs: int = 1,
    workspace: Path | None = None,
    cancel: CancelToken | None = None,
    on_trial: Callable[[Any], None] | None = None,
    in_process: bool | None = None,
) -> StudyResult:
    """Work on an existing study (from this or another machine) until its queue is empty."""
    if jobs < 1:
        raise StudyError(f"--jobs must be at least 1, not {jobs}.")
    study, plan, backend, folder = storage_mod.load_study(name, url, workspace)
    url = url or storage_mod.storage_url(plan, folder)
    return _run(study, plan, folder, url, False, jobs, workspace, cancel, on_trial, in_process, None)


def _run(study, plan, folder, url, created, jobs, workspace, cancel, on_trial, in_process, reporter) -> StudyResult:
    deadline = time.time() + plan.time_budget if plan.time_budget else None
    if in_process is None:
        in_process = jobs == 1
    if in_process:
        work(
            study.study_name,
            url,
            workspace=workspace,
            deadline=deadline,
            stop=cancel,
            on_trial=on_trial,
            inner_reporter=reporter,
        )
    else:
        run_workers(
            study.study_name,
            url,
            folder,
            jobs=jobs,
            workspace=workspace,
            deadline=deadline,
            cancel=cancel,
            on_trial=on_trial,
        )
    import optuna

    study = optuna.load_study(study_name=study.study_name, storage=storage_mod.open_storage(url, plan.retries))
    return StudyResult(study, plan, folder, trial_rows(study), created, _left(study))


def start_server(url: str, host: str, port: int) -> threading.Thread:
    """Serve ``url`` through Optuna's gRPC proxy on ``host:port`` in a background thread of this process."""
    thread = threading.Thread(
        target=storage_mod.serve_storage, args=(url, host, port), name="optuna-grpc-proxy", daemon=True
    )
    thread.start()
    return thread
