"""Time from process start to the window on screen, and to TensorFlow ready, of `python main.py`.

Each launch runs ``python main.py`` with ``CNN_WORKBENCH_STARTUP_PROBE=1`` (offscreen unless a
display is set), which prints the seconds since the process started when the window is first
painted and when the background TensorFlow import has finished, then quits. Baselines measured in
the same run: the bare interpreter (``python -c pass``) and ``python -c "import tensorflow"``. The
stages before the window (Qt imported, the app's modules imported, the window built) are printed
too, to show where the time goes.

Target: window shown within 1.0 s of process start.

    python -m bench.bench_startup [--launches 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def launch(env: dict) -> dict[str, float]:
    """One `python main.py` with the probe; seconds since process start per probe line."""
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"main.py exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("window-shown", "ready"):
            out[parts[0]] = float(parts[1])
        elif parts and "=" in parts[0]:  # the stages before the window: qt-imported=0.150 ...
            out.update((k, float(v)) for k, v in (p.split("=", 1) for p in parts))
    return out


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):5.2f} s  min {min(values):5.2f} s  max {max(values):5.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--launches", type=int, default=5)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["CNN_WORKBENCH_STARTUP_PROBE"] = "1"
        env["CNN_WORKBENCH_SETTINGS"] = str(Path(tmp) / "settings.ini")
        env["CNN_WORKBENCH_HOME"] = str(Path(tmp) / "workspace")
        # An installed app starts from compiled bytecode (pip compiles it; Python caches it in
        # __pycache__). Some sandboxes set PYTHONDONTWRITEBYTECODE, which would make every launch
        # recompile the app's sources (~0.1-0.2 s); the warm-up launch below writes the cache.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Warm the disk cache once (a cold first start after boot is not what we measure).
        launch(env)
        interpreter = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.launches)]
        tf_import = [timed([sys.executable, "-c", "import tensorflow"], env) for _ in range(3)]
        shown, ready, stages = [], [], []
        for _ in range(args.launches):
            probe = launch(env)
            shown.append(probe["window-shown"])
            ready.append(probe["ready"])
            stages.append(probe)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Start-up of `python main.py`, {args.launches} launches (load average {load:.2f} on {os.cpu_count()} CPUs)")
    print(f"  {'bare interpreter (python -c pass)':<42} {summary(interpreter)}")
    print(f"  {'python -c import tensorflow':<42} {summary(tf_import)}")
    for key, text in (
        ("qt-imported", "Qt imported"),
        ("modules-imported", "app modules imported"),
        ("window-built", "main window built"),
    ):
        values = [st[key] for st in stages if key in st]
        if values:
            print(f"  {text + ' (from process start)':<42} {summary(values)}")
    print(f"  {'window shown (from process start)':<42} {summary(shown)}")
    print(f"  {'TensorFlow ready in the app':<42} {summary(ready)}")
    median_shown = statistics.median(shown)
    worst = max(shown) / TARGET_S
    print(f"  window shown / target {TARGET_S:.1f} s: ratio {median_shown / TARGET_S:.2f} (worst {worst:.2f})")
    print(f"  window shown / import tensorflow: ratio {median_shown / statistics.median(tf_import):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
