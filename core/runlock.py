"""One run folder, one writer: the lock a process holds while it trains, resumes or evaluates a run.

``writer.lock`` (:data:`core.runs.LOCK_NAME`) in the run folder names its holder (pid, host, what
it does, since when). The exclusion itself is the operating system's lock on that file (``flock``;
``msvcrt.locking`` on Windows), which ends with the process, so the lock of a process that was
killed (``kill -9``, a power cut) is taken over by the next one, whatever the file still says. On a
filesystem without such locks, the pid in the file decides: the lock of a process that is gone
(:func:`core.runs.pid_alive`) is taken over.

Two resumes of one run started within a second both used to train in the same folder; now the
second is refused, saying who is writing the run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core import writable
from core.errors import RunError
from core.runs import LOCK_NAME, pid_alive

COPY_RUN = "copy the run folder into a workspace you can write"
_WINDOWS_LOCK_OFFSET = 1 << 30  # Windows locks a byte range: one far past the owner's text, which stays readable


def _os_lock(fd: int) -> bool | None:
    """Lock ``fd`` without waiting: True when locked, False when another holder has it, None when the
    filesystem has no such locks."""
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            return False
        return None  # ENOLCK, EOPNOTSUPP, ...: a filesystem without locks
    return True


def read_owner(run_dir: Path) -> dict[str, Any]:
    """Who holds (or last held) the run's lock: ``{"pid", "host", "what", "since"}``, or {}."""
    try:
        owner = json.loads((Path(run_dir) / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def describe_owner(owner: dict[str, Any]) -> str:
    """``process 4242 on host lab-3 (training since 2026-12-02 20:31)``."""
    who = f"process {owner.get('pid', '?')}"
    if owner.get("host") and owner.get("host") != socket.gethostname():
        who += f" on {owner['host']}"
    since = str(owner.get("since") or "")[:19].replace("T", " ")
    what = str(owner.get("what") or "")
    if what or since:
        who += f" ({what}{' since ' if what and since else ''}{since})"
    return who


def _alive_elsewhere(owner: dict[str, Any]) -> bool:
    """Whether the recorded owner may still be writing (only where the OS cannot tell)."""
    if not owner:
        return False
    if owner.get("host") not in (None, socket.gethostname()):
        return True  # another machine's process: its pid means nothing here
    return owner.get("pid") != os.getpid() and pid_alive(owner.get("pid"))


class RunLock:
    """A held lock; :meth:`release` (or leaving ``with``) gives it up and removes the file."""

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if os.name != "nt":  # remove it while still holding it (on Windows an open file cannot go)
                self.path.unlink()
        os.close(fd)
        if os.name == "nt":  # pragma: no cover - Windows
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(run_dir: str | Path, what: str = "training") -> RunLock:
    """Take the run's lock, or raise :class:`RunError` saying who holds it.

    ``what`` (training, evaluating, ...) is recorded for the message another process gets.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"There is no run folder at {run_dir}.")
    # A read-only workspace or a full disk: the one sentence for each, before anything starts.
    writable.check_folder(run_dir, f"Run {run_dir.name}", COPY_RUN)
    path = run_dir / LOCK_NAME
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise writable.cannot_write(run_dir, exc, f"Run {run_dir.name}", COPY_RUN) from exc
        locked = _os_lock(fd)
        if locked is False or (locked is None and _alive_elsewhere(read_owner(run_dir))):
            os.close(fd)
            owner = read_owner(run_dir)
            raise RunError(
                f"Run {run_dir.name} is being written by {describe_owner(owner)}: one run folder has one "
                "writer at a time. Wait for it to end (or stop it there), then try again."
            )
        try:  # the file locked must still be the lock file: a holder that just released it removed it
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if not same:
            os.close(fd)
            continue
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "what": what,
            "since": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(owner) + "\n").encode("utf-8"))
        return RunLock(run_dir, fd)
    raise RunError(f"Run {run_dir.name} cannot be locked: its lock file keeps changing.")  # pragma: no cover


@contextlib.contextmanager
def hold(run_dir: str | Path, what: str = "training") -> Iterator[RunLock]:
    """``with hold(run_dir):`` the run's lock for the block."""
    lock = acquire(run_dir, what)
    try:
        yield lock
    finally:
        lock.release()
