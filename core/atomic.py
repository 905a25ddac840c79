"""Atomic writes: a file is either the old good one or the new complete one, never half-written.

Everything is written to a temporary file in the same folder and renamed over the target with
``os.replace`` (atomic on POSIX and Windows). If writing fails (full disk, an exception in a
serializer) the temporary file is removed and the target is untouched.

A process killed mid-write (``kill -9``, a power cut) cannot remove its temporary file: it stays as
a hidden ``.<target>.<8 random characters><suffix>`` beside the target (``.history.csv.k2x9_a0q.csv``).
:func:`is_temp_name` recognises exactly these names and :func:`remove_stale_temp_files` removes the
ones old enough that no writer can still be busy with them (core.runs does so for run folders whose
own process is gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: A temporary file younger than this may still be written by a live process: it is never removed.
STALE_TEMP_S = 30.0
_TEMP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")  # what tempfile.mkstemp draws its names from
_TEMP_RANDOM = 8  # ... and how many


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``.

    ``suffix`` defaults to the target's own suffix (Keras insists on ``.keras`` for model files).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644  # mkstemp makes 0600
        yield tmp_path
        _fsync_file(tmp_path)
        with contextlib.suppress(OSError):
            os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_path`: ``.<target>.<8 random><suffix>``.

    The suffix is the target's own (or, as for Keras weights, a longer ending of the target's name:
    ``.best.weights.h5.ab12cd34.weights.h5``), so a name matches only when its target ends with it.
    """
    if not name.startswith(".") or len(name) < _TEMP_RANDOM + 3:
        return False
    body = name[1:]
    for i in range(1, len(body)):
        if body[i] != ".":
            continue
        target, rest = body[:i], body[i + 1 :]
        random, suffix = rest[:_TEMP_RANDOM], rest[_TEMP_RANDOM:]
        if (
            len(random) == _TEMP_RANDOM
            and set(random) <= _TEMP_CHARS
            and (suffix == "" or suffix.startswith("."))
            and target.endswith(suffix)
            and (suffix or "." not in target.lstrip("."))  # no suffix: only for a target without one
        ):
            return True
    return False


def remove_stale_temp_files(folder: str | os.PathLike, min_age_s: float = STALE_TEMP_S) -> list[Path]:
    """Remove the temporary files of interrupted atomic writes in ``folder`` (not below it).

    Only names :func:`is_temp_name` recognises, and only regular files last written more than
    ``min_age_s`` seconds ago: a younger one may belong to a write still going on. The caller makes
    sure that the process that owns the folder is gone. Returns what was removed; never raises.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < min_age_s:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _fsync_file(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    # Serialize first: a value json cannot encode must not cost the old file.
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_with(target: str | os.PathLike, writer: Callable[[Path], None], suffix: str | None = None) -> None:
    """Let ``writer(tmp_path)`` write the file (e.g. ``model.save`` or ``np.savez``), then rename.

    ``suffix`` is the temporary file's ending when the writer insists on one longer than the
    target's own (Keras wants ``.weights.h5``).
    """
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)


def copy_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy ``source`` over ``target`` (a file written once and needed under two names)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, paths
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
