"""Render the Train tab during a real run to PNG files for the docs (works offscreen).

    QT_QPA_PLATFORM=offscreen python -m gui.screenshot [--out docs/screenshots] [--epochs 12]

Writes ``train-tab.png`` (the Dataset page beside the live plots, taken mid-run) and
``train-tab-model.png`` (the Model page with its summary, after the run). Settings and runs go to a
temporary folder, so the user's own are untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from gui.waiting import wait_until


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--at-epoch", type=int, default=5, help="take the shot after this many epochs")
    ap.add_argument("--size", default="1440x900")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        os.environ["CNN_WORKBENCH_SETTINGS"] = str(Path(tmp) / "settings.ini")
        os.environ["CNN_WORKBENCH_HOME"] = str(Path(tmp) / "workspace")
        from PySide6.QtWidgets import QSizePolicy

        from core.config import TrainConfig
        from gui.app import create_application
        from gui.main_window import MainWindow
        from gui.settings import AppSettings
        from gui.tensorflow_loader import TensorFlowLoader

        app = create_application([sys.argv[0]])
        loader = TensorFlowLoader()
        window = MainWindow(AppSettings(), tf_loader=loader)
        # Only the Train tab is in the picture: the other tabs' minimum sizes must not widen it.
        pages = [window.tabs.widget(i) for i in range(window.tabs.count())]
        for page in [*pages, window.runs_tab, window.inside_tab]:  # those two sit inside their pages
            if page is not window.train_tab:
                page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        window.resize(width, height)
        window.show()
        window.finish_startup()
        tab = window.train_tab
        wait_until(app, lambda: tab.tf_ready and not window.jobs.busy and tab.state.preview is not None)
        tab.apply_config(TrainConfig(model="auto", recipe="auto", epochs=args.epochs))  # Auto, by epochs
        wait_until(app, lambda: not window.jobs.busy and tab.state.preview is not None)
        tab.setup_tabs.setCurrentIndex(0)
        assert tab.start_training(), tab.start_problem()
        epochs: list[int] = []
        tab.worker.epoch_end.connect(lambda e, logs: epochs.append(e))
        wait_until(app, lambda: len(epochs) >= args.at_epoch)
        # Into the next epoch a little, so the epoch bar and the per-batch line are mid-way.
        target = tab.monitor.batches_done + max(1, tab.monitor.steps // 2)
        wait_until(app, lambda: tab.monitor.batches_done >= target)
        tab.plots.redraw()
        tab.monitor.refresh_progress()
        app.processEvents()
        window.grab().save(str(out / "train-tab.png"))
        tab.stop_training()
        wait_until(app, lambda: not tab.running)
        tab.setup_tabs.setCurrentIndex(1)
        wait_until(app, lambda: not window.jobs.busy and tab.model_page.summary.summary is not None)
        app.processEvents()
        window.grab().save(str(out / "train-tab-model.png"))
        window.close()
        wait_until(app, lambda: not window.isVisible())
    print(f"wrote {out / 'train-tab.png'} and {out / 'train-tab-model.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
