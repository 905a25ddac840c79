"""Before Qt starts on Linux: are the system libraries of its X11 (xcb) platform plugin there?

pip brings Qt but not the X11 client libraries its xcb plugin loads, and the set a fresh system
lacks differs by distribution. When one is missing, Qt aborts the process with a generic message
that names at most one of them ("xcb-cursor0 or libxcb-cursor0 is needed ..."): on a fresh
Debian 12 machine `libxcb-cursor0`, `libxcb-icccm4` and `libxcb-keysyms1` were all missing. This
module asks the dynamic linker (``ldd``) which libraries of the plugin cannot be found, before Qt
is imported, so ``main.py`` can print every missing one and the command that installs them.

Nothing here imports Qt; it must run before the first Qt import.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: Shared library -> (Debian/Ubuntu package, Fedora package), for what Qt's xcb plugin loads.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

#: Qt 6.5+ refuses to load the xcb plugin without this one, which it opens itself (not in ldd).
CURSOR_LIBRARY = "libxcb-cursor.so.0"

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def parse_ldd(output: str) -> list[str]:
    """The libraries ``ldd`` reports as ``not found``, each once, in order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def qt_plugin_files() -> list[Path]:
    """Qt's xcb platform plugin and its xcb support library, in the installed PySide6 (not imported)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return []
    qt = Path(spec.origin).parent / "Qt"
    return [p for p in (qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6") if p.exists()]


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_xcb_libraries(files: list[Path] | None = None) -> list[str]:
    """The shared libraries Qt's xcb plugin needs that this system cannot find (empty when fine)."""
    files = qt_plugin_files() if files is None else files
    ldd = shutil.which("ldd")
    missing: list[str] = []
    if ldd is not None:
        for path in files:
            try:
                out = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            missing += parse_ldd(out)
    if files and not _loadable(CURSOR_LIBRARY):
        missing.insert(0, CURSOR_LIBRARY)
    return list(dict.fromkeys(missing))


def install_commands(missing: list[str]) -> list[str]:
    """One install line for Debian/Ubuntu and one for Fedora, for the given libraries."""
    known = [PACKAGES[name] for name in missing if name in PACKAGES]
    debian = list(dict.fromkeys(deb for deb, _ in known))
    fedora = list(dict.fromkeys(fed for _, fed in known))
    lines = []
    if debian:
        lines.append("Debian/Ubuntu:  sudo apt-get install " + " ".join(debian))
    if fedora:
        lines.append("Fedora:         sudo dnf install " + " ".join(fedora))
    return lines


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin in this environment, on this system."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    # On a Wayland session Qt 6 takes its Wayland plugin first.
    wayland = environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def startup_problem(environ: Mapping[str, str] | None = None, files: list[Path] | None = None) -> str | None:
    """A message for a person when Qt's xcb plugin could not start here, else None."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ):
        return None
    missing = missing_xcb_libraries(files)
    if not missing:
        return None
    lines = [
        "CNN Workbench cannot open its window: Qt's X11 platform plugin needs system libraries that "
        "are not installed (pip cannot install them).",
        "Missing: " + ", ".join(missing) + ".",
        "Install them with:",
        *("  " + line for line in install_commands(missing)),
    ]
    unknown = [name for name in missing if name not in PACKAGES]
    if unknown:
        lines.append("  (and the package that provides " + ", ".join(unknown) + " on your system)")
    lines.append("The command line works without them: python main.py --help")
    return "\n".join(lines)
