"""The live training plots: how the x axis follows a run (each change of range is a costly frame),
and how a run's frames share out the work (one plot or one frame task per frame)."""

from __future__ import annotations

import numpy as np
import pytest

from gui.train.training_plots import WHOLE_RUN_EPOCHS, TrainingPlots


@pytest.fixture
def plots(qtbot):
    widget = TrainingPlots()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    return widget


def feed(plots: TrainingPlots, epochs: int, steps: int = 10) -> list[float]:
    """Feed ``epochs`` epochs of batches and epoch ends; the x range's right end after each redraw."""
    ends = []
    for e in range(epochs):
        for s in range(steps):
            x = e + (s + 1) / steps
            plots.add_batches(np.array([x]), np.array([1.0 / (x + 1)]), np.array([x / (x + 1)]))
            plots.redraw()
            ends.append(plots.loss.plot.getViewBox().viewRange()[0][1])
        plots.add_epoch(e + 1, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7, "lr": 1e-3})
        plots.redraw()
        ends.append(plots.loss.plot.getViewBox().viewRange()[0][1])
    return ends


def test_a_short_run_shows_its_whole_length_from_the_first_batch(plots):
    plots.start_run(steps_per_epoch=10, epochs=5)
    ends = feed(plots, 5)
    assert len(set(np.round(ends, 6))) == 1  # the range never changed
    assert 5.0 <= ends[0] <= 5.0 * 1.05  # [0, 5] with pyqtgraph's small padding
    # The learning-rate plot below shares the x range.
    assert plots.lr_plot.getViewBox().viewRange()[0][1] == pytest.approx(ends[-1])


def test_a_long_run_widens_in_a_few_steps_and_always_shows_the_newest_point(plots):
    epochs = 4 * WHOLE_RUN_EPOCHS
    plots.start_run(steps_per_epoch=10, epochs=epochs)
    ends = feed(plots, 12)
    for i, end in enumerate(ends):
        assert end >= min(12, i // 11 + 1) - 1e-9  # the newest point is in view
    changes = len(set(np.round(ends, 6)))
    assert 2 <= changes <= 5  # doubling: 1, 2, 4, 8, 16 epochs, not one change per epoch
    assert max(ends) <= epochs * 1.05


def frame_log(plots: TrainingPlots, frames: int) -> list[str]:
    """Run ``frames`` frames by hand; the plot each one drew, or "-" when it drew none."""
    points = {"loss": "loss_batch", "accuracy": "accuracy_batch", "lr": "lr"}
    log = []
    for _ in range(frames):
        before, redraws = plots.curve_points(), plots.redraws
        plots._on_frame()
        after = plots.curve_points()
        drawn = [name for name, key in points.items() if after[key] != before[key]]
        assert plots.redraws - redraws == len(drawn) <= 1  # at most one plot drawn per frame
        log.append(drawn[0] if drawn else "-")
    return log


def add_batch(plots: TrainingPlots, n: int) -> None:
    x = np.arange(n) / 10 + 0.1
    plots.add_batches(x, 1 / (x + 1), x / (x + 1))


def test_a_frame_draws_one_plot_and_the_plots_take_turns(plots):
    plots.start_run(steps_per_epoch=10, epochs=5)
    plots._timer.stop()  # frames by hand
    add_batch(plots, 3)
    assert frame_log(plots, 3) == ["loss", "accuracy", "-"]  # nothing new for the third frame
    add_batch(plots, 5)
    plots.add_epoch(1, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7, "lr": 1e-3})
    # Batches and an epoch's points: each plot once, in turn after the last one drawn (accuracy),
    # the learning rate in a frame of its own.
    assert frame_log(plots, 4) == ["lr", "loss", "accuracy", "-"]
    assert plots.curve_points()["loss_val"] == 1 and plots.curve_points()["accuracy_val"] == 1


def test_a_frame_task_with_work_gets_a_frame_of_its_own(plots):
    plots.start_run(steps_per_epoch=10, epochs=5)
    plots._timer.stop()
    answers = [True, False, True, False, True]  # the task has work every other time it is asked
    plots.add_frame_task(lambda: answers.pop(0))
    log = []
    for _ in range(6):
        add_batch(plots, 1)  # the plots always have new points
        redraws = plots.redraws
        plots._on_frame()
        log.append("plot" if plots.redraws > redraws else "task")
    # loss, accuracy, the task (it had work), loss, accuracy, then the task again: no work this
    # time, so that frame draws the loss plot instead.
    assert log == ["plot", "plot", "task", "plot", "plot", "plot"]
    assert answers == [True, False, True]  # asked exactly twice


def test_a_resumed_run_draws_its_restored_epochs_where_they_were(plots):
    """Resume or Continue: the restored epochs sit at 1..3 (not 0..2), the star on the best of
    them, the training line goes on into the new batches without a gap, and the accuracy axis
    stops at 1 (it reached 1.2)."""
    restored = [
        {"epoch": 1.0, "loss": 1.6, "accuracy": 0.35, "val_loss": 1.2, "val_accuracy": 0.55, "lr": 1e-3},
        {"epoch": 2.0, "loss": 0.7, "accuracy": 0.8, "val_loss": 0.5, "val_accuracy": 0.91, "lr": 1e-3},
        {"epoch": 3.0, "loss": 0.3, "accuracy": 0.99, "val_loss": 0.45, "val_accuracy": 0.88, "lr": 1e-3},
    ]
    plots.start_run(steps_per_epoch=4, epochs=5)
    plots._timer.stop()  # frames by hand
    plots.add_restored_epochs(restored)
    plots.redraw()
    x, _ = plots.accuracy.val.getData()
    assert list(x) == [1.0, 2.0, 3.0]
    assert plots.best_epoch == 2
    star_x, star_y = plots.accuracy.best_point.getData()
    assert list(star_x) == [2.0] and list(star_y) == [0.91]
    assert plots.accuracy.best_line.value() == 2.0

    # The fourth epoch (0-based 3) trains: its batches sit between 3 and 4.
    xb = 3 + np.arange(1, 5) / 4
    plots.add_batches(xb, np.full(4, 0.1), np.full(4, 1.0))
    plots.add_epoch(4, {"loss": 0.1, "accuracy": 1.0, "val_loss": 0.2, "val_accuracy": 0.97, "lr": 1e-3})
    plots.redraw()
    x, _ = plots.accuracy.val.getData()
    assert list(x) == [1.0, 2.0, 3.0, 4.0]
    assert plots.best_epoch == 4 and list(plots.accuracy.best_point.getData()[0]) == [4.0]
    line_x, _ = plots.accuracy.smooth.getData()
    assert line_x[0] == 1.0 and line_x[-1] == 4.0
    assert np.max(np.diff(line_x)) <= 1.0  # no gap between the restored epochs and the new batches
    low, high = plots.accuracy.plot.getViewBox().viewRange()[1]
    assert high <= 1.0 + 0.03 and low >= -0.03  # 1 plus pyqtgraph's small padding
    lr_x, _ = plots.lr_curve.getData()
    assert list(lr_x) == [1.0, 2.0, 3.0, 4.0]
    plots.stop_run()


def test_the_monitor_hands_a_resumed_runs_epochs_over_as_they_are_numbered(qtbot):
    """history.csv numbers epochs from 1, as the plots do: the monitor passed ``epoch - 1``."""
    from PySide6.QtWidgets import QWidget

    from gui.train.monitor import RunMonitor

    class Plots:  # records what the monitor hands over (the real plots are tested above)
        live, best_epoch = False, None

        def __init__(self):
            self.epochs = []

        def start_run(self, steps, epochs):
            pass

        def add_epoch(self, epoch, logs):
            self.epochs.append(epoch)

        def add_restored_epochs(self, rows):
            self.epochs += [int(r["epoch"]) for r in rows]

        def stop_run(self):
            pass

    monitor = RunMonitor(QWidget())
    qtbot.addWidget(monitor)
    monitor.plots = Plots()
    rows = [{"epoch": float(e), "loss": 1.0 / e, "val_accuracy": 0.5 + e / 10} for e in (1, 2, 3)]
    monitor.on_run_started({"epochs": 5, "steps_per_epoch": 4, "history": rows, "run_dir": "r"})
    assert monitor.plots.epochs == [1, 2, 3]
    monitor.shutdown()


def test_the_learning_rate_plot_keeps_a_rate_of_zero(plots):
    plots.start_run(steps_per_epoch=10, epochs=3)
    plots._timer.stop()
    for epoch, lr in ((1, 1e-3), (2, 5e-4), (3, 0.0)):
        plots.add_epoch(epoch, {"loss": 0.5, "accuracy": 0.8, "lr": lr})
    plots.redraw()
    x, y = plots.lr_curve.getData()
    assert list(x) == [1.0, 2.0, 3.0] and list(y) == [1e-3, 5e-4, 0.0]
