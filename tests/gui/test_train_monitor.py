"""The run monitor on its own: its time line across resumes and pauses."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

import gui.train.monitor as monitor_module
from gui.train.monitor import RunMonitor


def test_the_time_line_shows_training_and_wall_time_across_resumes(qtbot, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(monitor_module.time, "monotonic", lambda: now[0])
    monitor = RunMonitor(QWidget())
    qtbot.addWidget(monitor)
    monitor.begin("Resuming a run", 4)
    # The earlier sessions trained 1:40 and took 2:40 of wall time (a minute paused).
    monitor.on_run_started({"epochs": 4, "steps_per_epoch": 10, "seconds_before": 100.0, "wall_seconds_before": 160.0})
    now[0] += 20.0
    monitor.paused()
    now[0] += 30.0
    monitor.resumed()
    now[0] += 10.0
    monitor.end("Finished")
    text = monitor.time_label.text()
    # This session: 60 s, 30 of them paused.
    assert "Training time 2:10" in text and "wall time 3:40" in text
    monitor.shutdown()


def test_the_log_keeps_its_last_line_in_view_when_a_long_line_brings_a_scroll_bar(qtbot):
    """The closing line is long: the horizontal scroll bar it brings must not hide it."""
    monitor = RunMonitor(QWidget())
    qtbot.addWidget(monitor)
    monitor.resize(700, 600)
    monitor.show()
    qtbot.waitExposed(monitor)
    for i in range(30):
        monitor.log_line(f"Epoch {i + 1}/30  loss 0.1")
    monitor.log_line("Test accuracy 0.9380 (loss 0.254) on 1,000 images; run saved in " + "/a/long/path" * 20)
    qtbot.wait(50)
    bar = monitor.log.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    monitor.shutdown()
