"""Studies across processes (issue 17): real worker processes on one journal file, on Optuna's gRPC
storage proxy over 127.0.0.1, and a worker killed with SIGKILL mid-trial. Every process started here
is killed in teardown; nothing listens beyond loopback.

Each test starts two or three fresh Python processes that import TensorFlow (about 40 s per test on
an idle 2-core machine, 1-2 minutes on a busy one). The SIGKILL test, which also has two workers on
one journal file, runs in ``make test``; the others are marked slow (``make test-slow``). The
PostgreSQL test runs a real PostgreSQL server (the ``pgserver`` package of the test extras: its own
binaries, a data folder in the test's temporary folder, a Unix socket; stopped in teardown). The
MySQL test runs a real MariaDB server when one is installed (Debian: ``apt install mariadb-server``;
skipped where there is none), on a free port of 127.0.0.1 with a fresh data folder, through the
``pymysql`` driver of the test extras.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core import paths, runs
from core.studies.plan import StudyPlan, parse_vary
from core.studies.runner import prepare, worker_command, worker_env

WAIT = 400  # seconds: a bound for a whole test on a busy 2-core machine


def tiny_base(**extra) -> dict:
    from core.config import TrainConfig

    base = TrainConfig(model="simple-cnn-1", epochs=1, limit=100, batch_size=50, tensorboard=False).to_dict()
    base["model_options"] = {"filters": 4, "dense_units": 8}
    base.update(extra)
    return base


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def _spawn(procs, cmd: list[str], log: Path) -> subprocess.Popen:
    p = subprocess.Popen(
        cmd, cwd=paths.ROOT, env=worker_env(paths.workspace_dir()), stdout=open(log, "ab"), stderr=subprocess.STDOUT
    )
    procs.append(p)
    return p


def _workers(procs, name: str, url: str, count: int, tmp_path: Path) -> list[subprocess.Popen]:
    return [
        _spawn(procs, worker_command(name, url, index=i, threads=1), tmp_path / f"worker{i}.log") for i in range(count)
    ]


def _wait(ps: list[subprocess.Popen], tmp_path: Path) -> None:
    deadline = time.time() + WAIT
    for p in ps:
        p.wait(timeout=max(1, deadline - time.time()))
    logs = "\n".join(f.read_text() for f in sorted(tmp_path.glob("worker*.log")))
    assert all(p.returncode == 0 for p in ps), logs


def _trials(name: str, url: str):
    import optuna

    from core.studies.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()


def _study_runs(name: str) -> list:
    return [info for info in runs.list_runs() if runs.read_meta(info.path).get("study") == name]


@pytest.mark.slow
def test_two_worker_processes_on_one_journal_file_run_each_trial_once(procs, tmp_path):
    plan = StudyPlan("two", tiny_base(), [parse_vary("optimizer=adam,sgd"), parse_vary("batch_size=25,50")])
    _, _, folder, _ = prepare(plan)
    url = f"journal:{folder / 'journal.log'}"
    _wait(_workers(procs, "two", url, 2, tmp_path), tmp_path)
    trials = _trials("two", url)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    done = _study_runs("two")
    assert sorted(runs.read_meta(r.path)["trial"] for r in done) == [0, 1, 2, 3]  # each exactly once
    assert len({(r.config["optimizer"], r.config["batch_size"]) for r in done}) == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_through_the_grpc_proxy_on_loopback(procs, tmp_path):
    port = _free_port()
    journal = tmp_path / "served.log"
    server = (
        "import sys; from core.studies.storage import serve_storage; "
        f"serve_storage('journal:{journal}', '127.0.0.1', {port})"
    )
    _spawn(procs, [sys.executable, "-c", server], tmp_path / "server.log")
    url = f"grpc://127.0.0.1:{port}"
    plan = StudyPlan("remote", tiny_base(), [parse_vary("batch_size=25,50,100")], storage=url)
    prepare(plan)  # created through the proxy, as from another machine
    _wait(_workers(procs, "remote", url, 2, tmp_path), tmp_path)
    assert [t.state.name for t in _trials("remote", url)] == ["COMPLETE"] * 3
    assert journal.stat().st_size > 0  # the server's storage holds the study
    assert sorted(runs.read_meta(r.path)["trial"] for r in _study_runs("remote")) == [0, 1, 2]


@pytest.fixture
def postgres(tmp_path):
    """The postgresql:// URL of a fresh PostgreSQL database, stopped after the test."""
    pgserver = pytest.importorskip("pgserver", reason="pip install pgserver (the test extras) runs PostgreSQL")
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (the test extras)")
    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.mark.slow
def test_two_workers_on_a_postgresql_database(procs, tmp_path, postgres):
    plan = StudyPlan(
        "pg", tiny_base(), [parse_vary("optimizer=adam,sgd"), parse_vary("batch_size=25,50")], storage=postgres
    )
    prepare(plan)  # the study and its queue live in the database, as for workers on other machines
    _wait(_workers(procs, "pg", postgres, 2, tmp_path), tmp_path)
    assert [t.state.name for t in _trials("pg", postgres)] == ["COMPLETE"] * 4
    assert sorted(runs.read_meta(r.path)["trial"] for r in _study_runs("pg")) == [0, 1, 2, 3]  # each exactly once


def _mysql_server() -> str | None:
    for name in ("mariadbd", "mysqld"):
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if found:
            return found
    return None


@pytest.fixture
def mysql(procs, tmp_path):
    """The mysql+pymysql:// URL of a database on a fresh MariaDB/MySQL server on 127.0.0.1."""
    pymysql = pytest.importorskip("pymysql", reason="pip install pymysql (the test extras)")
    server = _mysql_server()
    if server is None:
        pytest.skip("no MySQL or MariaDB server here (Debian: apt install mariadb-server)")
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if install is None:
        pytest.skip("no mariadb-install-db to make a data folder")
    short = Path(tempfile.mkdtemp(prefix="mysql"))  # a Unix socket's path must stay short
    data = tmp_path / "mysql-data"
    root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
         "--skip-test-db", *root],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = _free_port()
    log = tmp_path / "mysql.log"
    _spawn(
        procs,
        [server, "--no-defaults", f"--datadir={data}", f"--socket={short / 'sock'}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={short / 'pid'}", "--skip-log-bin",
         "--innodb-buffer-pool-size=32M", *root],
        log,
    )  # fmt: skip
    deadline = time.time() + 60
    user = "root"  # made without a password by --auth-root-authentication-method=normal
    while True:
        try:
            connection = pymysql.connect(host="127.0.0.1", port=port, user=user)
            break
        except pymysql.err.OperationalError:
            if time.time() > deadline:
                raise AssertionError(f"MySQL did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.3)
    with connection:
        connection.cursor().execute("CREATE DATABASE optuna")
    try:
        yield f"mysql+pymysql://{user}@127.0.0.1:{port}/optuna"
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_on_a_mysql_database(procs, tmp_path, mysql):
    plan = StudyPlan(
        "my", tiny_base(), [parse_vary("optimizer=adam,sgd"), parse_vary("batch_size=25,50")], storage=mysql
    )
    prepare(plan)
    _wait(_workers(procs, "my", mysql, 2, tmp_path), tmp_path)
    assert [t.state.name for t in _trials("my", mysql)] == ["COMPLETE"] * 4
    assert sorted(runs.read_meta(r.path)["trial"] for r in _study_runs("my")) == [0, 1, 2, 3]  # each exactly once


def test_a_worker_killed_mid_trial_leaves_no_trial_running_and_the_study_finishes(procs, tmp_path):
    from core.studies.storage import HEARTBEAT_ATTR

    plan = StudyPlan("killed", tiny_base(epochs=4), [parse_vary("batch_size=25,50,100")])
    _, _, folder, _ = prepare(plan)
    url = f"journal:{folder / 'journal.log'}"
    victim, survivor = _workers(procs, "killed", url, 2, tmp_path)
    deadline = time.time() + WAIT
    target = None
    while target is None and time.time() < deadline:  # the victim's trial, once an epoch is done
        for t in _trials("killed", url):
            beat = t.system_attrs.get(HEARTBEAT_ATTR) or {}
            if t.state.name == "RUNNING" and beat.get("pid") == victim.pid and t.user_attrs.get("run_dir"):
                if runs.read_history(Path(t.user_attrs["run_dir"])):
                    target = t
        time.sleep(0.3)
    assert target is not None, "the victim never got to the middle of a trial"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    _wait([survivor], tmp_path)
    trials = _trials("killed", url)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["batch_size"] for t in complete) == [25, 50, 100]
    lost = [t for t in trials if t.state.name == "FAIL"]
    assert [t.number for t in lost] == [target.number]
    retry = next(t for t in complete if t.system_attrs.get("failed_trial") == target.number)
    assert retry.params == target.params
    lost_run = Path(target.user_attrs["run_dir"])  # the dead worker's run: stopped, not left "interrupted"
    assert runs.read_meta(lost_run)["lost"] is True and runs.read_status(lost_run)["state"] == "stopped"
    assert Path(retry.user_attrs["run_dir"]) != lost_run
