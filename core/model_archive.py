"""What a ``.keras`` archive asks to load, read without TensorFlow.

A ``.keras`` file is a zip archive whose ``config.json`` names, for every layer and setting, the
Python module and class Keras should build it from. A crafted file can name any module (``os``,
``subprocess``); Keras' ``safe_mode`` refuses to run such code, but its messages say little
("name"). :func:`foreign_code` lists what a config names outside Keras' own modules, so the
model loader (core/inference.py) can say what was given and what is accepted, and the run store
(core/runs.py) can flag a run whose model holds code, without loading anything.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

#: The only top-level package a model's config may name: Keras' own layers, initialisers, ...
ACCEPTED_PACKAGE = "keras"
ACCEPTED = "models made only of Keras' own layers (modules keras.*), without Lambda layers"
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # a config.json larger than this is not read (a zip bomb)


def read_config(path: str | Path) -> Any:
    """The ``config.json`` of a ``.keras`` archive. Raises OSError, zipfile.BadZipFile, KeyError, ValueError."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
        if info.file_size > MAX_CONFIG_BYTES:
            raise ValueError(f"config.json is {info.file_size:,} bytes")
        return json.loads(archive.read(info).decode("utf-8"))


def foreign_code(config: Any) -> list[str]:
    """What ``config`` asks to load from outside Keras, e.g. ``["os.system", "a Lambda layer"]``
    (each once, in order of appearance); empty for a model of Keras' own layers."""
    found: list[str] = []
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
            continue
        if not isinstance(item, dict):
            continue
        module, name = item.get("module"), item.get("class_name")
        if isinstance(module, str) and module.split(".")[0] != ACCEPTED_PACKAGE:
            found.append(f"{module}.{name}" if isinstance(name, str) else module)
        elif name in ("Lambda", "__lambda__"):
            found.append("a Lambda layer (Python code)")
        stack.extend(reversed(list(item.values())))
    return list(dict.fromkeys(found))


def archive_foreign_code(path: str | Path) -> list[str]:
    """:func:`foreign_code` of the archive at ``path``; empty when its config cannot be read (the
    loader then says why the file is damaged)."""
    try:
        return foreign_code(read_config(path))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError):
        return []


def foreign_code_text(found: list[str]) -> str:
    """``'os.system'`` / ``'os.system' and 'subprocess.Popen'``, at most three named."""
    named = [f"'{f}'" if not f.startswith("a ") else f for f in found[:3]]
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return (", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]) + more
