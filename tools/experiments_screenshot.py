"""Run a ready-made study through the Experiments tab offscreen and take screenshots of it.

    QT_QPA_PLATFORM=offscreen python tools/experiments_screenshot.py [--plan photos] [--jobs 2]

Writes ``experiments-tab.png`` (1280x800, during the study), ``experiments-tab-1600.png`` (1600x1000,
after it) and prints the study's table as Markdown: the seeds' study reproduced as a table in the app.
Settings and runs go to a temporary folder unless --workspace is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gui.waiting import wait_until  # noqa: E402 - after ROOT is on the path


def _wait(app, condition) -> None:
    wait_until(app, condition, 1800, what="the study", interval_s=0.02)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--plan", default="photos")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--during", type=int, default=4, help="take the first shot after this many finished trials")
    ap.add_argument("--workspace", default=None)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="experiments-shot-")
    os.environ["CNN_WORKBENCH_SETTINGS"] = str(Path(tmp) / "settings.ini")
    os.environ["CNN_WORKBENCH_HOME"] = args.workspace or str(Path(tmp) / "workspace")

    from PySide6.QtWidgets import QSizePolicy

    from core.paths import RESOURCES_DIR
    from gui.app import create_application
    from gui.main_window import MainWindow
    from gui.settings import AppSettings
    from gui.tensorflow_loader import TensorFlowLoader

    app = create_application([sys.argv[0]])
    window = MainWindow(AppSettings(), tf_loader=TensorFlowLoader())  # as the app: the status bar says when
    window.confirm_stop_on_close = lambda: True
    window.confirm_stop_study_on_close = lambda: True
    tab = window.experiments_tab
    for i in range(window.tabs.count()):
        if window.tabs.widget(i) is not window.plot_tabs.experiments_slot:
            window.tabs.widget(i).setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
    window.resize(1280, 800)
    window.show()
    window.finish_startup()
    window.tabs.setCurrentWidget(window.plot_tabs.experiments_slot)
    tab.open_study_file(RESOURCES_DIR / "studies" / f"{args.plan}.toml")
    tab.state.jobs = args.jobs
    tab._refresh_setup()
    print(tab.setup.preview_label.text(), flush=True)
    started = time.monotonic()
    assert tab.start_study(), tab.message.text()
    _wait(app, lambda: tab.state.progress()[0] >= args.during or not tab.running)
    tab.trials.select([r.number for r in tab.state.visible_rows() if r.state == "complete"][:3])
    _wait(app, lambda: True)
    for _ in range(50):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(Path(tmp) / "experiments-curves-1280.png"))
    tab.bottom.setCurrentIndex(0)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(out / "experiments-tab.png"))
    print(f"during: {tab.summary.text()}", flush=True)
    _wait(app, lambda: not tab.running)
    _wait(app, lambda: not tab.read_task.running)
    print(f"study took {time.monotonic() - started:.0f} s with {args.jobs} jobs", flush=True)
    window.resize(1600, 1000)
    tab.bottom.setCurrentIndex(1)
    for _ in range(50):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(out / "experiments-tab-1600.png"))
    tab.bottom.setCurrentIndex(0)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(Path(tmp) / "experiments-plots-1600.png"))
    print(f"also: {tmp}/experiments-plots-1600.png, {tmp}/experiments-curves-1280.png")
    print(tab.summary.text())
    print("baseline: " + tab.state.baseline_text())
    md = tab.export_table("md", Path(tmp) / f"{args.plan}.md")
    print(md.read_text())
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
