"""What the app remembers between launches, kept in a ``QSettings`` INI file.

The training configuration is stored as one JSON value (INI files turn numbers into strings;
JSON brings back ints, floats, booleans and ``None`` as they were). ``CNN_WORKBENCH_SETTINGS``
(or the ``path`` argument) points the app at another file; the tests use it for a temporary one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "CNN Workbench"
APPLICATION = "CNN Workbench"
SETTINGS_ENV = "CNN_WORKBENCH_SETTINGS"
MAX_RECENT = 8


def open_qsettings(path: str | os.PathLike | None = None) -> QSettings:
    """The app's QSettings: ``path`` or ``$CNN_WORKBENCH_SETTINGS`` if given, else the per-user file."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class AppSettings:
    """Typed access to the few things the app keeps."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else open_qsettings()

    @property
    def path(self) -> str:
        return self.q.fileName()

    # -- training configuration ------------------------------------------------------------
    def train_config(self) -> dict[str, Any] | None:
        raw = self.q.value("train/config", None)
        if not raw:
            return None
        try:
            data = json.loads(str(raw))
        except (TypeError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def set_train_config(self, config: dict[str, Any]) -> None:
        self.q.setValue("train/config", json.dumps(config, default=str))

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

    def current_tab(self) -> int:
        try:
            return int(self.q.value("window/tab", 0))
        except (TypeError, ValueError):
            return 0

    def set_current_tab(self, index: int) -> None:
        self.q.setValue("window/tab", int(index))

    # -- folders -----------------------------------------------------------------------------
    def recent_folders(self) -> list[str]:
        raw = self.q.value("datasets/recent", "[]")
        try:
            folders = json.loads(str(raw))
        except (TypeError, ValueError):
            return []
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
