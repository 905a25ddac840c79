"""Start-up on Linux: missing X11 libraries of Qt's xcb plugin are named, with the install lines, before Qt aborts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gui import platform_check as pc

LDD = """\
\tlinux-vdso.so.1 (0x00007ffc)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
"""

ROOT = Path(__file__).resolve().parents[1]


def test_ldd_output_gives_each_missing_library_once():
    assert pc.parse_ldd(LDD) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_missing_libraries_come_from_ldd_and_the_cursor_check(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")

    class Done:
        stdout = LDD

    monkeypatch.setattr(pc.subprocess, "run", lambda *a, **k: Done())
    monkeypatch.setattr(pc, "_loadable", lambda name: False)
    assert pc.missing_xcb_libraries([plugin]) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_the_message_names_every_library_and_both_install_lines(monkeypatch):
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libweird.so.2"]
    monkeypatch.setattr(pc, "missing_xcb_libraries", lambda files=None: missing)
    monkeypatch.setattr(pc.sys, "platform", "linux")
    text = pc.startup_problem({"DISPLAY": ":0"})
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1, libweird.so.2" in text
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms\n" in text
    assert "libweird.so.2" in text.splitlines()[-2]


def test_no_check_where_qt_will_not_use_xcb(monkeypatch):
    monkeypatch.setattr(pc, "missing_xcb_libraries", lambda files=None: ["libxcb-icccm.so.4"])
    monkeypatch.setattr(pc.sys, "platform", "linux")
    assert pc.startup_problem({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}) is None
    assert pc.startup_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert pc.startup_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}) is not None
    monkeypatch.setattr(pc.sys, "platform", "darwin")
    assert pc.startup_problem({"DISPLAY": ":0"}) is None


def test_main_prints_the_problem_and_exits_before_importing_qt():
    code = (
        "import sys\n"
        "import gui.platform_check as pc\n"
        "pc.missing_xcb_libraries = lambda files=None: ['libxcb-keysyms.so.1']\n"
        "import main\n"
        "code = main.main([])\n"
        "print('exit', code, 'qt-imported', 'PySide6.QtWidgets' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env["DISPLAY"] = ":0"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "exit 1 qt-imported False" in out.stdout
    assert "Missing: libxcb-keysyms.so.1." in out.stderr
    assert "sudo apt-get install libxcb-keysyms1" in out.stderr
