"""The workspace: CNN_WORKBENCH_HOME, else the per-user data folder the README documents."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs.windows
import pytest

from core import paths


@pytest.fixture
def no_home(monkeypatch, tmp_path):
    monkeypatch.delenv("CNN_WORKBENCH_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_cnn_workbench_home_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.workspace_dir() == tmp_path / "mine"
    assert paths.runs_dir() == tmp_path / "mine" / "runs"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's")
def test_linux_uses_xdg_data_home_when_set(monkeypatch, tmp_path, no_home):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.workspace_dir() == tmp_path / "xdg" / "cnn-workbench"
    assert not paths.workspace_dir().exists()  # asking does not create it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG folders are Linux's")
def test_linux_defaults_to_local_share(monkeypatch, no_home):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert paths.workspace_dir() == no_home / ".local" / "share" / "cnn-workbench"


def test_macos_keeps_application_support_even_with_xdg_set(monkeypatch, tmp_path, no_home):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.workspace_dir() == Path.home() / "Library" / "Application Support" / "cnn-workbench"
    assert Path.home() == no_home


def test_windows_arguments_give_appdata_roaming_without_a_publisher_folder(monkeypatch):
    """The arguments paths.py passes to platformdirs, asked of its Windows rules (folders pinned by
    platformdirs' own override variables, so this runs on any system)."""
    roaming, local = r"C:\Users\me\AppData\Roaming", r"C:\Users\me\AppData\Local"
    monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", roaming)
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", local)
    folder = platformdirs.windows.Windows(**paths.PLATFORMDIRS_ARGS).user_data_dir
    assert folder == os.path.join(roaming, "cnn-workbench")
