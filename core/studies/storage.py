"""Where a study lives: its folder in the workspace and its Optuna storage.

``<workspace>/studies/<name>/`` holds ``plan.json`` (the plan and the storage URL, so the study can be
found again) and, by default, ``journal.log``: Optuna's journal file storage, safe for several
processes on one machine. Any Optuna storage URL (``sqlite:///...``, ``postgresql://...``,
``mysql://...``) or Optuna's gRPC storage proxy (``grpc://host:port``) can be given instead.

Heartbeats. In Optuna 5.1 only ``RDBStorage`` implements heartbeats (``BaseHeartbeat``); the journal
storage and the gRPC proxy do not. For those this module adds the same protocol (``_Heartbeat``): a
running trial's worker writes a system attribute every few seconds; a trial whose heartbeat is older
than the grace period, or whose worker process on this machine is gone, is stale, and
``optuna.storages.fail_stale_trials`` fails it and queues it again through Optuna's
``RetryHeartbeatStaleTrialCallback``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from core import atomic, paths
from core.runs import pid_alive
from core.studies import designs
from core.studies.designs import quiet_optuna
from core.studies.plan import StudyError, StudyPlan

HEARTBEAT_ATTR = "workbench:heartbeat"
HEARTBEAT_INTERVAL = 5  # seconds between a running trial's heartbeats
GRACE_PERIOD = 30  # a trial whose heartbeat is older than this is stale (also across machines)
GRPC_CONNECT_TIMEOUT = 10.0  # seconds to wait for a gRPC proxy to answer
DATABASES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")  # SQLAlchemy URLs
# The pip package of each database driver SQLAlchemy may ask for (postgresql:// is psycopg2's,
# postgresql+psycopg:// psycopg 3's, mysql:// mysqlclient's, mysql+pymysql:// PyMySQL's).
DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary", "psycopg": "'psycopg[binary]'", "MySQLdb": "mysqlclient", "pymysql": "pymysql",
}  # fmt: skip
PLAN_FILE = "plan.json"
JOURNAL_FILE = "journal.log"
HOST = socket.gethostname()


def studies_dir(workspace: Path | None = None) -> Path:
    return (workspace or paths.workspace_dir()) / "studies"


def study_dir(name: str, workspace: Path | None = None) -> Path:
    return studies_dir(workspace) / name


def storage_url(plan_or_url: StudyPlan | str | None, folder: Path) -> str:
    """The storage URL a study uses: its own, or ``journal:`` + the journal file in its folder."""
    url = plan_or_url.storage if isinstance(plan_or_url, StudyPlan) else plan_or_url
    return url or f"journal:{folder / JOURNAL_FILE}"


def _make_heartbeat_class(base: type) -> type:
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.trial import TrialState

    class _Heartbeat(base, BaseHeartbeat):  # type: ignore[misc, valid-type]
        """Optuna's heartbeat protocol on a storage that lacks it, kept in a trial system attribute."""

        hb_interval = HEARTBEAT_INTERVAL
        hb_grace = GRACE_PERIOD
        hb_callback = None

        def record_heartbeat(self, trial_id: int) -> None:
            beat = {"trial_id": trial_id, "time": time.time(), "host": HOST, "pid": os.getpid()}
            try:
                self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, beat)
            except (UpdateFinishedTrialError, KeyError):
                pass

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            now = time.time()
            stale = []
            for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
                beat = t.system_attrs.get(HEARTBEAT_ATTR)
                if isinstance(beat, dict) and beat.get("trial_id") == t._trial_id:
                    if beat.get("host") == HOST and not pid_alive(beat.get("pid")):
                        stale.append(t._trial_id)
                        continue
                    last = float(beat.get("time") or now)
                else:  # copied from a retried trial, or not yet written: count from the start
                    last = t.datetime_start.timestamp() if t.datetime_start else now
                if now - last > self.hb_grace:
                    stale.append(t._trial_id)
            return stale

        def get_heartbeat_interval(self) -> int | None:
            return self.hb_interval

        def get_heartbeat_stale_trial_callback(self):
            return self.hb_callback

    _Heartbeat.__name__ = f"Heartbeat{base.__name__}"
    return _Heartbeat


def _mark_lost_run(trial) -> None:
    """The run folder of a trial whose worker died (if on this machine): stopped, tagged ``lost``."""
    from core import runs

    run_dir = Path(trial.user_attrs.get("run_dir") or "")
    if not str(run_dir) or not (run_dir / "status.json").is_file():
        return
    try:
        meta = runs.read_meta(run_dir)
        meta["lost"] = True
        atomic.write_json(run_dir / runs.META, meta)
        runs.mark_stopped(run_dir)
    except Exception:  # noqa: BLE001 - a damaged or foreign folder must not stop the retry
        pass


class _RetryAndMark:
    """Optuna's RetryHeartbeatStaleTrialCallback, and the dead trial's run folder marked as lost."""

    def __init__(self, max_retry: int) -> None:
        import optuna

        self._retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study, trial) -> None:
        self._retry(study, trial)
        _mark_lost_run(trial)


def _missing_module(exc: BaseException) -> str | None:
    """The module a ModuleNotFoundError in ``exc``'s chain names (Optuna wraps the driver's), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name.split(".")[0]
        exc = exc.__cause__ or exc.__context__
    return None


def open_storage(url: str, retries: int = 2, *, create_folder: Path | None = None):
    """An Optuna storage with heartbeats for ``url``; StudyError with one sentence when it cannot be reached."""
    import optuna

    quiet_optuna()
    callback = _RetryAndMark(max_retry=retries)
    try:
        if url.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend

            path = Path(url[len("journal:") :]).expanduser()
            if create_folder is not None:
                create_folder.mkdir(parents=True, exist_ok=True)
            if not path.parent.is_dir():
                raise StudyError(f"The folder of the study journal {path} does not exist.")
            storage = _make_heartbeat_class(optuna.storages.JournalStorage)(JournalFileBackend(str(path)))
        elif url.startswith("grpc://"):
            host, _, port = url[len("grpc://") :].rstrip("/").rpartition(":")
            if not host or not port.isdigit():
                raise StudyError(f"A gRPC storage is grpc://HOST:PORT (e.g. grpc://10.0.0.5:13000); got {url}.")
            try:
                import grpc  # noqa: F401
            except ImportError as exc:
                raise StudyError("The gRPC storage proxy needs the grpcio package: pip install grpcio.") from exc
            storage = _make_heartbeat_class(optuna.storages.GrpcStorageProxy)(host=host, port=int(port))
            try:
                storage.wait_server_ready(timeout=GRPC_CONNECT_TIMEOUT)
            except ConnectionError as exc:
                raise StudyError(
                    f"The study storage {url} cannot be reached: no Optuna gRPC proxy answers there "
                    f"(start one with: python main.py sweep ... --serve {port})."
                ) from exc
        elif url.split("://")[0].split("+")[0] in DATABASES and "://" in url:
            storage = optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=GRACE_PERIOD,
                heartbeat_stale_trial_callback=callback,
            )
        else:
            raise StudyError(
                f"'{url}' is not a study storage: give sqlite:///FILE, postgresql://..., mysql://... or grpc://HOST:PORT."
            )
    except StudyError:
        raise
    except Exception as exc:  # noqa: BLE001 - a driver, a network or a file error: one sentence
        missing = _missing_module(exc)  # SQLAlchemy imports the database's driver only now
        if missing:
            raise StudyError(
                f"The study storage {url} needs the Python database driver '{missing}', which is not "
                f"installed: pip install {DRIVER_PACKAGES.get(missing, missing)} (in this app's environment), "
                "then try again.",
                detail=repr(exc),
            ) from exc
        raise StudyError(
            f"The study storage {url} cannot be reached ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).",
            detail=repr(exc),
        ) from exc
    if hasattr(storage, "hb_callback"):
        storage.hb_callback = callback
    return storage


def serve_storage(url: str, host: str, port: int) -> None:  # pragma: no cover - runs until killed
    """Serve a storage through Optuna's gRPC proxy (blocks)."""
    import optuna

    quiet_optuna()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:") :]))
    else:
        storage = optuna.storages.get_storage(url)
    optuna.storages.run_grpc_proxy_server(storage, host=host, port=port)


# --------------------------------------------------------------------------------------------
# Studies in the storage


def search_space_difference(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Readable differences between two ``StudyPlan.search_space()`` dicts."""
    out = []
    for key in ("design", "objective"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)} in the study, {new.get(key)} now")
    of, nf = old.get("factors", {}), new.get("factors", {})
    for k in list(of) + [k for k in nf if k not in of]:
        if of.get(k) != nf.get(k):
            out.append(f"{of.get(k) or k + ' not varied'} in the study, {nf.get(k) or k + ' not varied'} now")
    ob, nb = old.get("base", {}), new.get("base", {})
    for k in list(ob) + [k for k in nb if k not in ob]:
        if k in nf or k in of:
            continue
        if json.dumps(ob.get(k), sort_keys=True) != json.dumps(nb.get(k), sort_keys=True):
            out.append(f"{k} {ob.get(k)!r} in the study, {nb.get(k)!r} now")
    return out


def create_or_load(plan: StudyPlan, workspace: Path | None = None):
    """The Optuna study of ``plan`` (created, or the existing one when its search space is the same).

    Returns ``(study, storage, folder, created)``. A new study gets its trials queued. An existing
    study with another search space is refused with the difference shown.
    """
    import optuna

    folder = study_dir(plan.name, workspace)
    url = storage_url(plan, folder)
    storage = open_storage(url, plan.retries, create_folder=folder if url.startswith("journal:") else None)
    space = plan.search_space()
    try:
        study = optuna.load_study(study_name=plan.name, storage=storage)
    except KeyError:
        study = None
    created = study is None
    if study is not None:
        old = study.user_attrs.get("search_space")
        diff = search_space_difference(old or {}, space) if old is not None else ["it was not made by this app"]
        if diff:
            raise StudyError(
                f"A study called {plan.name} already exists with a different search space ({'; '.join(diff)}): "
                f"give another --name, or the same settings to continue it."
            )
    else:
        study = optuna.create_study(study_name=plan.name, storage=storage, direction=plan.direction)
        study.set_user_attr("search_space", space)
        study.set_user_attr("plan", plan.to_dict())
        planned = designs.planned_trials(plan)
        for params in planned or []:
            study.enqueue_trial(params)
        if planned is None and plan.trials:
            for _ in range(plan.trials):
                study.enqueue_trial({})
        study.set_user_attr("slots", len(planned) if planned is not None else (plan.trials or 0))
    if not created and plan.design in ("random", "tpe") and plan.trials:
        slots = int(study.user_attrs.get("slots") or 0)
        for _ in range(max(0, plan.trials - slots)):  # asked for more trials than before
            study.enqueue_trial({})
        if plan.trials > slots:
            study.set_user_attr("slots", plan.trials)
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(folder / PLAN_FILE, {**plan.to_dict(), "storage_url": url})
    return study, storage, folder, created


def load_study(name_or_folder: str, storage: str | None = None, workspace: Path | None = None):
    """``(study, plan, storage, folder)`` of an existing study, by name (or folder) and optional storage URL."""
    import optuna

    folder = Path(name_or_folder).expanduser()
    if not (folder / PLAN_FILE).is_file():
        folder = study_dir(name_or_folder, workspace)
    plan_data: dict[str, Any] = {}
    if (folder / PLAN_FILE).is_file():
        plan_data = atomic.read_json(folder / PLAN_FILE)
    name = plan_data.get("name") or Path(name_or_folder).name
    url = storage or plan_data.get("storage_url")
    if not url:
        raise StudyError(
            f"No study called {name} in {studies_dir(workspace)}; give its storage with --storage URL "
            f"('python main.py studies' lists the local ones)."
        )
    backend = open_storage(url, int(plan_data.get("retries", 2)))
    try:
        study = optuna.load_study(study_name=name, storage=backend)
    except KeyError as exc:
        raise StudyError(f"The storage {url} has no study called {name}.") from exc
    data = study.user_attrs.get("plan") or plan_data
    if not data:
        raise StudyError(f"Study {name} was not made by this app: it has no plan.")
    plan = StudyPlan.from_dict(data)
    if storage:
        plan.storage = storage if not storage.startswith("journal:") else plan.storage
    if not (folder / PLAN_FILE).is_file():  # joined from another machine: remember where it lives
        folder = study_dir(name, workspace)
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_json(folder / PLAN_FILE, {**plan.to_dict(), "storage_url": url})
    return study, plan, backend, folder


def list_studies(workspace: Path | None = None) -> list[dict[str, Any]]:
    """The studies of the workspace (their plan files), newest first."""
    root = studies_dir(workspace)
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        try:
            data = atomic.read_json(folder / PLAN_FILE)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append({"folder": folder, "mtime": (folder / PLAN_FILE).stat().st_mtime, **data})
    return sorted(out, key=lambda d: d["mtime"], reverse=True)


def study_runs(name: str, workspace: Path | None = None) -> list[Path]:
    """The run folders of the workspace that are trials of study ``name`` (their meta.json says so)."""
    from core import runs

    root = paths.runs_dir(workspace)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and runs.read_meta(p).get("study") == name)


def delete_study(
    name: str, workspace: Path | None = None, *, storage: str | None = None, system_trash: bool = False
) -> Path:
    """Move a study's runs and folder to the workspace's trash and delete it from its storage.

    Refused while a trial of it is running. Returns where the study folder went. ``system_trash``:
    then on to the system's trash (send2trash, as the app does with deleted runs); what the system
    cannot take stays in the workspace's trash folder.
    """
    import optuna
    from optuna.trial import TrialState

    from core import runs

    study, plan, backend, folder = load_study(name, storage, workspace)
    if study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        raise StudyError(f"Study {name} has trials running; stop its workers before deleting it.")
    trashed = [runs.trash_run(run_dir, workspace) for run_dir in study_runs(study.study_name, workspace)]
    optuna.delete_study(study_name=study.study_name, storage=backend)
    trash = (workspace or paths.workspace_dir()) / "trash" / "studies"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / folder.name
    i = 1
    while target.exists():
        target = trash / f"{folder.name}-{i}"
        i += 1
    os.replace(folder, target)
    if system_trash:
        for path in [*trashed, target]:
            try:
                runs.send_to_system_trash(path)
            except OSError:
                pass  # no system trash here: it stays in the workspace's trash folder
    return target
