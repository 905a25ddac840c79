"""The Runs table's columns: the results stay in view, names read whole, times say what they count."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from core.runs import RunInfo
from gui.runs.table_model import TIME, RunsTableModel


def test_the_time_column_says_training_and_wall_time(qtbot):
    model = RunsTableModel()
    row = RunInfo(Path("/tmp/run-a"), label="a", seconds=100.0, wall_seconds=160.0)
    model.set_rows([row], [])
    index = model.index(0, model.column_of(TIME))
    assert index.data(Qt.ItemDataRole.DisplayRole) == "1:40"
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "Training time 1:40" in tip and "wall time 2:40" in tip
