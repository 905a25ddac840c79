"""core/ is a library: importing every core module must not load Qt, pyqtgraph or gui/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def core_modules() -> list[str]:
    mods = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


def test_core_modules_exist():
    mods = core_modules()
    for expected in ("core.config", "core.training", "core.evaluation", "core.runs", "core.cli"):
        assert expected in mods


def test_importing_core_loads_no_gui_toolkit():
    code = (
        "import importlib, json, sys\n"
        f"mods = {core_modules()!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'gui'))\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240, check=True
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"core/ pulled in GUI modules: {loaded}"


def test_no_gui_import_statements_in_core():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if s.startswith(("import ", "from ")) and any(
                s.split()[1].split(".")[0] == name for name in ("PySide6", "pyqtgraph", "gui", "shiboken6")
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {s}")
    assert offenders == []
