"""Where things live: the workspace (runs), bundled resources and shipped weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_DIR_NAME = "cnn-workbench"
PLATFORMDIRS_ARGS = {"appname": APP_DIR_NAME, "appauthor": False, "roaming": True}
ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DIR = ROOT / "resources"
WEIGHTS_DIR = ROOT / "weights"


def workspace_dir() -> Path:
    """The workspace that holds runs (and the log file).

    ``CNN_WORKBENCH_HOME`` wins; otherwise :func:`user_data_dir`.
    """
    env = os.environ.get("CNN_WORKBENCH_HOME")
    if env:
        return Path(env).expanduser()
    return user_data_dir()


def user_data_dir() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/cnn-workbench`` or ``~/.local/share/cnn-workbench``
    on Linux, ``~/Library/Application Support/cnn-workbench`` on macOS, ``%APPDATA%\\cnn-workbench``
    on Windows (the roaming folder, with no publisher folder in between)."""
    if sys.platform == "darwin":
        # platformdirs also reads $XDG_DATA_HOME on macOS; the app's runs have always been in
        # Application Support there, whatever the environment says.
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    return platformdirs.user_data_path(**PLATFORMDIRS_ARGS)


def runs_dir(workspace: Path | None = None) -> Path:
    return (workspace or workspace_dir()) / "runs"


def keras_cache_dir() -> Path:
    """The folder where ``keras.datasets`` keeps downloaded files (``$KERAS_HOME/datasets``)."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return Path(home) / "datasets"
    return Path.home() / ".keras" / "datasets"
