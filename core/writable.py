"""Can a folder take what is about to be written? Free space before each save, and a workspace
that is read-only, a file, or on a full disk, each said in one sentence before anything is lost.

A disk that filled while a backup was written crashed the process inside h5py (and left the run
"running"); so every save of a run (backup, best weights, model, history, evaluation) first asks
:func:`ensure_space` for the bytes it is about to write, and a full disk is the one
:func:`disk_full` sentence, whether this check or the operating system (``ENOSPC``) found it.
:func:`check_workspace` and :func:`check_folder` are the one place folders are checked before a
command writes there (``train``, ``evaluate``, ``--save-model``, ``export``, a new run folder).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from core import paths
from core.errors import WorkbenchError

#: Room left over on top of what a save needs: file-system blocks, HDF5 and zip overhead.
MARGIN_BYTES = 1024 * 1024
CHOOSE_ANOTHER = "choose another by setting CNN_WORKBENCH_HOME to a folder you can write (see Settings in the guide)"


class DiskFullError(WorkbenchError):
    """The disk a run, an evaluation or an export is written to is full."""


class NotWritableError(WorkbenchError):
    """A folder (the workspace, an export's or a model copy's folder) cannot be written."""


def free_bytes(folder: str | os.PathLike) -> int | None:
    """Free bytes on the disk of ``folder`` (None when it cannot be asked); tests fake this."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full(what_next: str = "resume the run", detail: str = "") -> DiskFullError:
    """THE full-disk sentence, for this module's check and for ``ENOSPC`` from anywhere in a run."""
    return DiskFullError(f"The disk is full: free some space (or move the workspace) and {what_next}.", detail)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)


def ensure_space(folder: str | os.PathLike, needed: int, what_next: str = "resume the run") -> None:
    """Raise :class:`DiskFullError` unless the disk of ``folder`` has ``needed`` bytes free (and a margin)."""
    free = free_bytes(folder)
    wanted = int(needed) + int(needed) // 10 + MARGIN_BYTES
    if free is not None and free < wanted:
        raise disk_full(what_next, detail=f"{Path(folder)}: {wanted:,} bytes wanted, {free:,} free")


def probe_write(folder: Path) -> None:
    """Make ``folder`` (and its parents) and write and remove a small file in it: the one place a
    folder is tried for writing. Raises OSError as the operating system says (tests fake it, since
    a read-only folder stays writable for root)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".write-check.", dir=folder)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
        os.unlink(name)


def _reason(folder: Path, exc: OSError) -> str:
    """Why ``folder`` cannot be written: "read-only", "a file, not a folder" or "on a full disk"."""
    if exc.errno == errno.ENOSPC:
        return "on a full disk"
    for part in (folder, *folder.parents):
        if part.is_file():
            return "a file, not a folder" if part == folder else f"inside {part}, which is a file, not a folder"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file, not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "read-only"
    return f"not writable ({exc.strerror or exc})"


def cannot_write(
    folder: Path, exc: OSError, what: str = "", choose: str = "", workspace: Path | None = None
) -> WorkbenchError:
    """The sentence for ``exc`` from writing in ``folder``: about the workspace when ``folder`` is in it
    ("The workspace … is read-only: choose another ..."), else about ``folder``, for ``what`` it was
    written ("--save-model", "The export") and how to ``choose`` another place."""
    folder = Path(folder)
    workspace = Path(workspace) if workspace is not None else paths.workspace_dir()
    in_workspace = folder == workspace or workspace in folder.parents
    reason = _reason(workspace if in_workspace and not workspace.is_dir() else folder, exc)
    full = reason == "on a full disk"
    klass = DiskFullError if full else NotWritableError
    if in_workspace:
        fix = f"free some space, or {CHOOSE_ANOTHER}" if full else CHOOSE_ANOTHER
        return klass(f"The workspace {workspace} is {reason}: {fix}.", str(exc))
    fix = f"free some space or {choose}" if full else choose
    return klass(f"{what}: the folder {folder} is {reason}; {fix}.", str(exc))


def check_folder(folder: Path, what: str = "", choose: str = "", workspace: Path | None = None) -> None:
    """``folder`` can be written (it is made if needed) and its disk is not full, or the
    :func:`cannot_write` sentence: the check before a command writes anything there."""
    folder = Path(folder)
    try:
        probe_write(folder)
    except OSError as exc:
        raise cannot_write(folder, exc, what, choose, workspace) from exc
    free = free_bytes(folder)
    if free is not None and free < MARGIN_BYTES:
        full = OSError(errno.ENOSPC, f"No space left on device ({free:,} bytes free)")
        raise cannot_write(folder, full, what, choose, workspace)


def check_workspace(workspace: Path | None = None) -> Path:
    """The workspace's runs folder, made if needed, when it can be written; otherwise
    :class:`NotWritableError` ("The workspace … is read-only: choose another ...") or
    :class:`DiskFullError`. Called before a command writes anything, so nothing is left behind."""
    workspace = Path(workspace) if workspace is not None else paths.workspace_dir()
    runs = paths.runs_dir(workspace)
    check_folder(runs, workspace=workspace)
    return runs
