"""What the app remembers between launches, kept in a ``QSettings`` INI file.

Every tab reads and writes through :class:`AppSettings`; nothing else touches ``QSettings``.
Values are stored as JSON (INI files turn numbers into strings; JSON brings back ints, floats,
booleans and ``None`` as they were). Each tab keeps one JSON object under ``tabs/<name>``
(:meth:`AppSettings.tab_state`), so a tab's settings are one record that a test can round-trip.

The file carries a version (``meta/version``). Opening an older file runs the migration steps
in :data:`MIGRATIONS` once, in order, then writes the new version, in the spirit of Orange3's
``settings_version`` / ``migrate_settings``: an old file keeps working, and a damaged value falls
back to its default rather than failing.

``CNN_WORKBENCH_SETTINGS`` (or the ``path`` argument) points the app at another file; the tests
use it for a temporary one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QSplitter

ORGANIZATION = "CNN Workbench"
APPLICATION = "CNN Workbench"
SETTINGS_ENV = "CNN_WORKBENCH_SETTINGS"
MAX_RECENT = 8

#: The version this code writes. Version 1 (no ``meta/version`` key) kept each tab's values as
#: loose keys; version 2 keeps one JSON object per tab under ``tabs/<name>``.
SETTINGS_VERSION = 2


def open_qsettings(path: str | os.PathLike | None = None) -> QSettings:
    """The app's QSettings: ``path`` or ``$CNN_WORKBENCH_SETTINGS`` if given, else the per-user file."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _loads(raw: Any, default: Any = None) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return json.loads(str(raw))
    except (TypeError, ValueError):
        return default


def _int_or_none(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _migrate_1_to_2(q: QSettings) -> None:
    """Loose per-tab keys of version 1 become one JSON object per tab."""
    moves: dict[str, dict[str, Callable[[Any], Any]]] = {
        "train": {"train/config": lambda raw: _loads(raw)},
        "gallery": {
            "gallery/thumb_size": _int_or_none,
            "gallery/row_percent": lambda raw: None if raw is None else str(raw).lower() == "true",
            "gallery/sort": _int_or_none,
        },
        "predict": {"predict/models": lambda raw: _loads(raw), "predict/opened_models": lambda raw: _loads(raw)},
        "export": {"exports/format": lambda raw: None if raw is None else str(raw)},
    }
    for tab, keys in moves.items():
        state = _loads(q.value(f"tabs/{tab}"), {})
        state = state if isinstance(state, dict) else {}
        for old_key, convert in keys.items():
            if not q.contains(old_key):
                continue
            value = convert(q.value(old_key))
            q.remove(old_key)
            if value is not None:
                state.setdefault(old_key.split("/", 1)[1], value)
        if state:
            q.setValue(f"tabs/{tab}", json.dumps(state, default=str))
    # Class names given to card-less models: one key per model, "predict/class_names/<hash>".
    names = {}
    for key in [k for k in q.allKeys() if k.startswith("predict/class_names/")]:
        value = _loads(q.value(key))
        q.remove(key)
        if isinstance(value, dict):
            names[key.rsplit("/", 1)[1]] = value
    if names:
        state = _loads(q.value("tabs/predict"), {})
        state = state if isinstance(state, dict) else {}
        state.setdefault("class_names", names)
        q.setValue("tabs/predict", json.dumps(state, default=str))


#: ``MIGRATIONS[v]`` turns a version-``v`` file into version ``v + 1``.
MIGRATIONS: dict[int, Callable[[QSettings], None]] = {1: _migrate_1_to_2}


class AppSettings:
    """Typed access to what the app keeps: window, per-tab state, folders."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else open_qsettings()
        self.migrated_from: int | None = None  # the version found, when a migration ran
        self._migrate()

    @property
    def path(self) -> str:
        return self.q.fileName()

    # -- version -----------------------------------------------------------------------------
    @property
    def version(self) -> int:
        found = _int_or_none(self.q.value("meta/version"))
        if found is None:
            # A file without a version is version 1 when it holds anything, else a new file.
            return 1 if self.q.allKeys() else SETTINGS_VERSION
        return found

    def _migrate(self) -> None:
        version = self.version
        if version >= SETTINGS_VERSION:
            if _int_or_none(self.q.value("meta/version")) is None:
                self.q.setValue("meta/version", SETTINGS_VERSION)
            return
        self.migrated_from = version
        while version < SETTINGS_VERSION:
            step = MIGRATIONS.get(version)
            if step is not None:
                step(self.q)
            version += 1
        self.q.setValue("meta/version", SETTINGS_VERSION)

    # -- one JSON object per tab -----------------------------------------------------------------
    def tab_state(self, tab: str) -> dict[str, Any]:
        """The values ``tab`` saved last time (``{}`` when none, or when the value was damaged)."""
        state = _loads(self.q.value(f"tabs/{tab}"), {})
        return state if isinstance(state, dict) else {}

    def set_tab_state(self, tab: str, values: Mapping[str, Any], *, replace: bool = False) -> None:
        """Store ``values`` for ``tab``, merged into what it had (``replace=True``: instead of it)."""
        state = {} if replace else self.tab_state(tab)
        state.update(values)
        self.q.setValue(f"tabs/{tab}", json.dumps(state, default=str))

    def tab_value(self, tab: str, key: str, default: Any = None, kind: type | tuple[type, ...] | None = None) -> Any:
        """One value of a tab's state; ``default`` when missing or not of ``kind`` (bool is no int)."""
        value = self.tab_state(tab).get(key, default)
        if kind is None or value is default:
            return value
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            return default
        if float in kinds and isinstance(value, int):
            return value
        return value if isinstance(value, kinds) else default

    # -- training configuration ------------------------------------------------------------
    def train_config(self) -> dict[str, Any] | None:
        data = self.tab_state("train").get("config")
        return data if isinstance(data, dict) else None

    def set_train_config(self, config: dict[str, Any]) -> None:
        self.set_tab_state("train", {"config": config})

    # -- window ------------------------------------------------------------------------------
    def _bytes(self, key: str) -> QByteArray | None:
        value = self.q.value(key, None)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def set_geometry(self, value: QByteArray) -> None:
        self.q.setValue("window/geometry", value)

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def set_window_state(self, value: QByteArray) -> None:
        self.q.setValue("window/state", value)

    def splitter(self, name: str) -> QByteArray | None:
        return self._bytes(f"splitters/{name}")

    def set_splitter(self, name: str, value: QByteArray) -> None:
        self.q.setValue(f"splitters/{name}", value)

    def save_splitters(self, splitters: Mapping[str, QSplitter]) -> None:
        """Remember the sizes of each named splitter (a tab's layout)."""
        for name, splitter in splitters.items():
            self.set_splitter(name, splitter.saveState())

    def restore_splitters(self, splitters: Mapping[str, QSplitter]) -> None:
        """Give each named splitter the sizes it had last time, where there were any."""
        for name, splitter in splitters.items():
            state = self.splitter(name)
            if state is not None:
                splitter.restoreState(state)

    def current_tab(self) -> int:
        found = _int_or_none(self.q.value("window/tab", 0))
        return 0 if found is None else found

    def set_current_tab(self, index: int) -> None:
        self.q.setValue("window/tab", int(index))

    # -- folders -----------------------------------------------------------------------------
    def recent_folders(self) -> list[str]:
        folders = _loads(self.q.value("datasets/recent", "[]"), [])
        return [str(f) for f in folders if isinstance(f, str)][:MAX_RECENT] if isinstance(folders, list) else []

    def add_recent_folder(self, folder: str | os.PathLike) -> None:
        folder = str(Path(folder))
        folders = [f for f in self.recent_folders() if f != folder]
        self.q.setValue("datasets/recent", json.dumps([folder, *folders][:MAX_RECENT]))

    def last_dir(self, kind: str, default: str = "") -> str:
        return str(self.q.value(f"dirs/{kind}", default) or default)

    def set_last_dir(self, kind: str, folder: str | os.PathLike) -> None:
        self.q.setValue(f"dirs/{kind}", str(folder))

    def sync(self) -> None:
        self.q.sync()
