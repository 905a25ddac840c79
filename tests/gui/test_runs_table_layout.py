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


def test_results_stay_in_view_at_1280_px_and_long_names_keep_both_ends(qtbot, tmp_path):
    from bench.bench_runs_table import make_fake_run
    from core import runs
    from gui.runs import RunsTab
    from gui.runs.table_model import BEST_VAL, NAME, STATE, TEST
    from gui.settings import AppSettings
    from gui.workers import JobRunner

    runs_dir = tmp_path / "workspace" / "runs"
    settings = [
        {"learning_rate": 1e-3, "schedule": "cosine", "augment_rotation": 10.0, "momentum": 0.9},
        {"learning_rate": 3e-4, "schedule": "step", "augment_zoom": 0.1, "validation_split": 0.2},
        {"learning_rate": 1e-2, "schedule": "plateau", "augment_translation": 0.1, "seed": 7},
        {"learning_rate": 1e-4, "schedule": "none", "test_split": 0.25, "limit": 1000},
    ]
    made = [make_fake_run(runs_dir, i, overrides=settings[i]) for i in range(4)]
    long_name = "Adam with a cosine schedule, rotation 10 and momentum 0.9 - the long one"
    runs.set_meta(made[0], name=long_name)
    jobs = JobRunner()
    tab = RunsTab(jobs, AppSettings(), workspace=tmp_path / "workspace")
    tab.resize(1280, 800)
    with qtbot.waitSignal(tab.refreshed, timeout=20_000):
        tab.show()
    try:
        view = tab.table
        header = view.horizontalHeader()
        shown = tab.proxy.source_columns()
        assert len(tab.proxy.visible_keys) >= 8  # many setting columns, as in the issue
        for column_id in (BEST_VAL, TEST, TIME, STATE):
            column = shown.index(tab.model.column_of(column_id))
            right = header.sectionViewportPosition(column) + header.sectionSize(column)
            assert 0 < right <= view.viewport().width(), column_id
        assert view.textElideMode() == Qt.TextElideMode.ElideMiddle
        row = tab.model.row_of(made[0])
        assert long_name in tab.model.index(row, tab.model.column_of(NAME)).data(Qt.ItemDataRole.ToolTipRole)
    finally:
        jobs.shutdown(10_000)
        tab.shutdown()
        tab.close()
        tab.deleteLater()
