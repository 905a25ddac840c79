"""How fast the Runs tab lists a big workspace: 200 runs (some damaged) must show within 1 s.

A temporary workspace gets ``--runs`` fake run folders (config, status, history, metrics, model card
and a stand-in model file, as training writes them; every tenth one damaged in a different way:
half-written history, unreadable config, empty status, garbage metrics, a model file that is not a
Keras archive). Then, each ``--repeat`` times:

* baseline: the bare ``core.runs.list_runs(workspace)``, the one reader of run folders (since the
  Runs tab's split it reads everything the table shows: before, the table read history, cards and
  model files on its own, and this baseline read only the JSON files);
* the tab: ``RunsTab.refresh()`` until the table has taken the rows in and painted them (reading
  in the worker, the model, sorting, column sizes, the first paint of the shown window).

Printed: medians, the ratio tab / baseline, and whether the median is within the 1 s target.

    python -m bench.bench_runs_table [--runs 200] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S = 1.0
# (A status.json holding a JSON list is left out so the workload stays the one measured before;
# tests/gui/test_runs_tab.py shows the table surviving it.)
DAMAGES = ("history", "config", "status-empty", "metrics", "model")
DEAD_PID = 2**22 + 12345  # above the kernel's pid limit: no such process


def make_fake_run(
    runs_dir: Path,
    index: int,
    *,
    overrides: dict | None = None,
    epochs: int = 12,
    state: str = "finished",
    damage: str | None = None,
    name: str | None = None,
) -> Path:
    """A run folder shaped like the ones core.training writes (no TensorFlow needed)."""
    from core.config import TrainConfig

    config = TrainConfig(
        dataset="mnist-sample",
        model=("simple-cnn-2", "lenet-5", "simple-cnn-1")[index % 3],
        optimizer=("adam", "sgd", "rmsprop")[index % 3],
        batch_size=(32, 64, 128, 256)[index % 4],
        epochs=epochs,
        augment_flip=bool(index % 2),
    ).to_dict()
    config.update(overrides or {})
    stamp = f"2026{1 + index % 12:02d}{1 + index % 28:02d}-{index % 24:02d}{index % 60:02d}{(7 * index) % 60:02d}"
    run = runs_dir / (name or f"{stamp}-{config['model']}-mnist-sample-{index}")
    run.mkdir(parents=True)
    done = epochs if state == "finished" else max(1, epochs // 2)
    rate = 0.25 + 0.05 * (index % 5)
    rows = []
    for e in range(1, done + 1):
        loss = 2.3 * math.exp(-rate * e) + 0.05
        acc = 1 - 0.9 * math.exp(-rate * e) - 0.01 * (index % 3)
        rows.append(
            {
                "epoch": e,
                "loss": loss,
                "accuracy": acc,
                "val_loss": loss * 1.1 + 0.02,
                "val_accuracy": acc - 0.015,
                "lr": config["learning_rate"],
                "seconds": 2.0 + 0.1 * (index % 7),
            }
        )
    best = max(rows, key=lambda r: r["val_accuracy"])
    header = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"
    lines = [",".join(str(r[k]) for k in header.strip().split(",")) for r in rows]
    (run / "history.csv").write_text(header + "\n".join(lines) + "\n")
    status = {
        "state": state,
        "started": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}+00:00",
        "pid": DEAD_PID,
        "epochs_done": done,
        "best_epoch": int(best["epoch"]),
    }
    if state in ("finished", "stopped"):
        status.update(
            seconds=sum(r["seconds"] for r in rows) + 3.0,
            test_accuracy=best["val_accuracy"] + 0.004,
            test_loss=best["val_loss"],
            best_val_accuracy=best["val_accuracy"],
            epochs=done,
        )
    (run / "config.json").write_text(json.dumps(config, indent=2))
    (run / "status.json").write_text(json.dumps(status, indent=2))
    names = [str(d) for d in range(10)]
    if state in ("finished", "stopped"):
        (run / "metrics.json").write_text(
            json.dumps(
                {
                    "accuracy": status["test_accuracy"],
                    "loss": status["test_loss"],
                    "class_names": names,
                    "report": {n: {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": 100} for n in names},
                    "confusion": [[90 if i == j else 1 for j in range(10)] for i in range(10)],
                    "test_size": 1000,
                    "dataset": "mnist-sample",
                }
            )
        )
        with zipfile.ZipFile(run / "model.keras", "w") as zf:  # a stand-in: the table only checks it is an archive
            zf.writestr("metadata.json", "{}")
        card = {
            "class_names": names,
            "input_shape": [28, 28, 1],
            "architecture": {"name": config["model"], "params": 34826 + 1000 * (index % 50)},
            "hyperparameters": config,
            "metrics": {"test_accuracy": status["test_accuracy"]},
        }
        (run / "model.json").write_text(json.dumps(card))
    if damage == "history":
        with open(run / "history.csv", "a") as fh:
            fh.write(f"{done + 1},0.3,garb")
    elif damage == "config":
        (run / "config.json").write_text('{"dataset": "mnist-sa')
    elif damage == "status-empty":
        (run / "status.json").write_text("")
    elif damage == "status-list":
        (run / "status.json").write_text("[1, 2, 3]")
    elif damage == "metrics":
        (run / "metrics.json").write_bytes(b"\x00\xff garbage")
    elif damage == "model":
        (run / "model.keras").write_bytes(b"")
    return run


def make_workspace(root: Path, n: int) -> Path:
    runs_dir = root / "runs"
    runs_dir.mkdir(parents=True)
    for i in range(n):
        damage = DAMAGES[(i // 10) % len(DAMAGES)] if i % 10 == 9 else None
        state = "interrupted" if i % 17 == 5 else "stopped" if i % 13 == 4 else "finished"
        state = "running" if state == "interrupted" else state  # a dead pid: it reads as interrupted
        make_fake_run(runs_dir, i, epochs=12 + (i % 4) * 6, state=state, damage=damage)
    return root


def median_ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QApplication

    from core import runs
    from gui.runs import RunsTab
    from gui.workers import JobRunner

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        workspace = make_workspace(Path(tmp) / "workspace", args.runs)
        print(f"workspace: {args.runs} fake runs (every tenth damaged) in {workspace}")

        baseline, tab_times, scans, first = [], [], [], None
        runs.list_runs(workspace)  # warm the file cache for both
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            listed = f"{len(runs.list_runs(workspace))} runs"
            baseline.append(time.perf_counter() - t0)

            jobs = JobRunner()
            tab = RunsTab(jobs, workspace=workspace)
            tab.resize(1400, 900)
            # Wait in an event loop as the app does: a Python loop polling processEvents would hold the
            # GIL and slow the worker that reads the runs down by a factor of three.
            loop = QEventLoop()
            tab.refreshed.connect(loop.quit)
            t0 = time.perf_counter()
            tab.show()  # showing a never-loaded tab starts its reading
            if not tab.loaded:
                loop.exec()
            tab.table.viewport().repaint()  # the rows on screen, painted
            QCoreApplication.processEvents()
            elapsed = time.perf_counter() - t0
            tab_times.append(elapsed)
            scans.append(tab.last_scan_s)
            if first is None:
                first = elapsed
                shown = tab.proxy.rowCount()
                damaged = sum(1 for r in tab.model.rows if r.problems)
                print(
                    f"table: {shown} rows ({damaged} with problems), columns: "
                    + ", ".join(str(tab.proxy.headerData(c, _h())) for c in range(tab.proxy.columnCount()))
                )
                print(f"baseline list_runs: {listed}")
            tab.shutdown()
            tab.close()
            tab.deleteLater()
            jobs.shutdown()
            QCoreApplication.processEvents()

    b, t = median_ms(baseline), median_ms(tab_times)
    print(f"baseline core.runs.list_runs          median {b:8.1f} ms  (n={len(baseline)})")
    print(
        f"RunsTab: show -> table painted       median {t:8.1f} ms  "
        f"(first {1000 * first:.1f} ms, max {1000 * max(tab_times):.1f} ms)"
    )
    print(f"  of which reading the runs in the worker  median {median_ms(scans):8.1f} ms")
    verdict = "OK" if t / 1000 <= TARGET_S else "TOO SLOW"
    print(f"ratio tab / baseline: {t / b:.1f}x; target: within {TARGET_S:.0f} s -> {verdict}")
    app.quit()
    return 0


def _h():
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


if __name__ == "__main__":
    sys.exit(main())
