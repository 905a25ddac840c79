"""The live training plots: how the x axis follows a run (each change of range is a costly frame)."""

from __future__ import annotations

import numpy as np
import pytest

from gui.widgets.training_plots import WHOLE_RUN_EPOCHS, TrainingPlots


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
