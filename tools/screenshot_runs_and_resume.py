"""Render the Runs tab and the Train tab after "Continue training" to PNG files (works offscreen).

    QT_QPA_PLATFORM=offscreen python tools/screenshot_runs_and_resume.py [--out docs/screenshots]

A real tiny run (the bundled sample, 3 epochs) is trained, one of its epochs is paused for a few
seconds, then it is continued for 2 more epochs in the app: the Train tab shows the restored
epochs and the new ones on one curve, and the log's closing line. Beside it, five hand-made run
folders with differing settings fill the Runs table. Writes ``runs-tab-WxH.png`` and
``train-tab-continued-WxH.png`` for each ``--sizes``. Settings and runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gui.waiting import settle, wait_until  # noqa: E402 - after ROOT is on the path


def _hand_made_runs(workspace: Path) -> None:
    """Finished runs with differing settings and one long name (no TensorFlow needed)."""
    from bench.bench_runs_table import make_fake_run
    from core import runs

    runs_dir = workspace / "runs"
    variants = [
        {"learning_rate": 1e-3, "schedule": "cosine", "augment_rotation": 10.0},
        {"learning_rate": 1e-2, "momentum": 0.9, "validation_split": 0.2},
        {"learning_rate": 3e-4, "schedule": "step", "augment_zoom": 0.1},
        {"learning_rate": 1e-4, "schedule": "plateau", "seed": 7},
        {"learning_rate": 1e-3, "limit": 1000},
    ]
    made = [make_fake_run(runs_dir, i, overrides=v) for i, v in enumerate(variants)]
    runs.set_meta(made[1], name="SGD with momentum 0.9 and a 20 % validation split - a long name")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--sizes", nargs="+", default=["1280x800", "1600x1000"])
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        os.environ["CNN_WORKBENCH_SETTINGS"] = str(Path(tmp) / "settings.ini")
        workspace = Path(tmp) / "workspace"
        os.environ["CNN_WORKBENCH_HOME"] = str(workspace)
        from core.config import TrainConfig
        from core.reporting import CancelToken, NullReporter
        from core.training import train

        _hand_made_runs(workspace)
        cancel = CancelToken()

        class PauseOnce(NullReporter):
            def on_batch(self, epoch, step, steps, logs):
                if epoch == 1 and step == 2:
                    cancel.pause()
                    threading.Timer(3.0, cancel.resume).start()

        config = TrainConfig(model="simple-cnn-2", epochs=3, limit=1500, batch_size=64, tensorboard=False)
        first = train(config, PauseOnce(), cancel, workspace=workspace)

        from gui.app import create_application
        from gui.main_window import MainWindow
        from gui.settings import AppSettings
        from gui.tensorflow_loader import TensorFlowLoader

        app = create_application([sys.argv[0]])
        window = MainWindow(AppSettings(), tf_loader=TensorFlowLoader())
        w, h = (int(v) for v in args.sizes[0].split("x"))
        window.resize(w, h)
        window.show()
        window.finish_startup()
        tab = window.train_tab
        wait_until(app, lambda: tab.tf_ready and not window.jobs.busy)
        assert tab.resume_run(first.run_dir, extra_epochs=2)
        wait_until(app, lambda: tab.running)
        wait_until(app, lambda: not tab.running)
        tab.setup_tabs.setCurrentIndex(2)
        written = []
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            window.resize(w, h)
            window.tabs.setCurrentWidget(tab)
            settle(app)
            window.grab().save(str(out / f"train-tab-continued-{size}.png"))
            runs_page = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Runs")
            window.tabs.setCurrentIndex(runs_page)  # the Runs tab sits in a placeholder page
            wait_until(app, lambda: window.runs_tab.table.model_.rowCount() >= 6)
            settle(app)
            window.grab().save(str(out / f"runs-tab-{size}.png"))
            written += [f"train-tab-continued-{size}.png", f"runs-tab-{size}.png"]
        window.close()
        wait_until(app, lambda: not window.isVisible())
    print("wrote", ", ".join(str(out / name) for name in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
