"""Where things live: the workspace (runs), bundled resources and shipped weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "cnn-workbench"
ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DIR = ROOT / "resources"
WEIGHTS_DIR = ROOT / "weights"


def workspace_dir() -> Path:
    """The workspace that holds runs.

    ``CNN_WORKBENCH_HOME`` wins; otherwise the per-user data folder of the platform
    (``%APPDATA%``, ``~/Library/Application Support`` or ``$XDG_DATA_HOME`` / ``~/.local/share``).
    """
    env = os.environ.get("CNN_WORKBENCH_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / APP_DIR_NAME


def runs_dir(workspace: Path | None = None) -> Path:
    return (workspace or workspace_dir()) / "runs"


def keras_cache_dir() -> Path:
    """The folder where ``keras.datasets`` keeps downloaded files (``$KERAS_HOME/datasets``)."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return Path(home) / "datasets"
    return Path.home() / ".keras" / "datasets"
