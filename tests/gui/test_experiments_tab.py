"""The Experiments tab (pytest-qt): a tiny study started through the tab fills the trials table, the
plots and the seeds' table; selecting trials overlays their curves; double-click asks for the Gallery;
the table exports; bad input and an unreachable storage are sentences in the view; "Sweep these
settings..." on the Train tab carries its settings over as the baseline. Trials run in a worker process
(the GUI process never trains): 3 trials of one epoch of simple-cnn-1 on 100 images of the sample."""

from __future__ import annotations

import csv
import io

import pytest
from PySide6.QtCore import Qt


def tiny_baseline() -> dict:
    from core.config import TrainConfig

    base = TrainConfig(model="simple-cnn-1", epochs=1, limit=100, batch_size=50, tensorboard=False).to_dict()
    base["model_options"] = {"filters": 4, "dense_units": 8}
    return base


@pytest.fixture
def tab(qtbot):
    from gui.experiments import ExperimentsTab

    tab = ExperimentsTab(None)
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.show()
    yield tab
    tab.shutdown()


def test_a_tiny_study_through_the_tab_fills_the_table_and_the_plots(tab, qtbot, tmp_path):
    tab.set_baseline(tiny_baseline(), "the test")
    tab.setup.key_box.setCurrentIndex(tab.setup.key_box.findData("batch_size"))
    tab.setup.values_edit.setText("32")
    tab.setup.add_button.click()
    tab.setup.key_box.setCurrentIndex(tab.setup.key_box.findData("optimizer"))
    tab.setup.values_edit.setText("sgd")
    tab.setup.add_button.click()
    tab.setup.name.setText("tiny")
    tab.setup.name.textEdited.emit("tiny")
    assert [f.key for f in tab.state.factors] == ["batch_size", "optimizer"]
    assert tab.setup.preview_label.text().startswith("3 trials (one factor at a time)")  # before starting
    assert tab.setup.start_button.isEnabled()

    with qtbot.waitSignal(tab.study_ended, timeout=240_000):
        tab.setup.start_button.click()
        assert tab.running and tab.stop_button.isEnabled() and not tab.setup.start_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.running, timeout=60_000)

    rows = tab.state.visible_rows()
    assert [r.state for r in rows] == ["complete"] * 3, [(r.state, r.error) for r in rows]
    model = tab.trials.model_
    assert model.rowCount() == 3 and model.columns[:3] == ["trial", "batch_size", "optimizer"]
    assert all(r.curve and r.test_accuracy is not None for r in rows)
    drawn = tab.plots.drawn()
    assert drawn["objective"] == 3 and drawn["parallel"] == 3
    assert drawn["importance"] == 2 or "importance" in tab.plots.note.text().lower()
    header = [tab.table_view.horizontalHeaderItem(c).text() for c in range(tab.table_view.columnCount())]
    assert header[:4] == ["factor", "value", "val acc", "test acc"]
    factors = [tab.table_view.item(r, 0).text() for r in range(tab.table_view.rowCount())]
    assert factors == ["baseline", "batch_size", "optimizer"]
    assert "3 of 3 trials finished" in tab.summary.text() and tab.progress.value() == 3

    # sorting by a column keeps the rows' content together
    tab.trials.sortByColumn(model.columns.index("best val"), Qt.SortOrder.DescendingOrder)
    values = [tab.trials.proxy.index(r, model.columns.index("best val")).data() for r in range(3)]
    assert values == sorted(values, key=lambda t: float(t.split()[0]), reverse=True)
    numbers = [int(tab.trials.proxy.index(r, 0).data()) for r in range(3)]
    best = {r.number: f"{100 * r.val_accuracy:.2f} %" for r in rows}
    assert [best[n] for n in numbers] == values

    # selecting two trials overlays their curves (the Runs tab's comparison)
    tab.trials.select([0, 2])
    qtbot.waitUntil(lambda: len(tab.compare.entries) == 2, timeout=20_000)
    assert {str(c["path"]) for c in tab.compare.curves()} == {tab.state.row(0).run_dir, tab.state.row(2).run_dir}

    # double-click asks for the Gallery with the trial's run folder
    with qtbot.waitSignal(tab.open_in_gallery) as opened:
        tab.trials.open_trial.emit(1)
    assert str(opened.args[0]) == tab.state.row(1).run_dir

    # exports: CSV and Markdown of the seeds' table
    csv_path = tab.export_table("csv", tmp_path / "tiny.csv")
    md_path = tab.export_table("md", tmp_path / "tiny")
    assert md_path.name == "tiny.md"
    parsed = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert parsed[0][:2] == ["factor", "value"] and [r[0] for r in parsed[1:]] == factors
    assert md_path.read_text().startswith("| factor | value |")

    # the study is listed and can be shown again, and deleted with its runs
    qtbot.waitUntil(lambda: tab.study_box.findData("tiny") >= 0, timeout=20_000)
    tab.confirm_delete = lambda name, n: n == 3
    with qtbot.waitSignal(tab.delete_task.busy_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        tab.delete_button.click()
    qtbot.waitUntil(lambda: tab.study_box.findData("tiny") < 0, timeout=20_000)
    assert tab.state.shown is None and tab.trials.model_.rowCount() == 0


def test_bad_input_is_a_sentence_in_the_view_and_starts_nothing(tab, qtbot, tmp_path):
    tab.set_baseline(tiny_baseline(), "the test")
    tab.state.add_factor("strides_typo", "1,2")
    tab._refresh_setup()
    assert "'strides_typo' is not a setting or an option of simple-cnn-1" in tab.setup.preview_label.text()
    assert not tab.setup.start_button.isEnabled() and not tab.start_study()
    tab.state.remove_factor("strides_typo")
    tab.state.add_factor("learning_rate", "1e-2..1e-4")
    tab.state.design = "tpe"
    tab.state.trials = 4
    tab._refresh_setup()
    assert "is empty: the low end must be below the high end" in tab.setup.preview_label.text()
    tab.state.factors[0].values = "0.01,0.001"
    tab.state.design = "grid"
    tab.state.storage = f"sqlite:///{tmp_path}/missing/folder/study.db"
    tab._refresh_setup()
    assert tab.setup.start_button.isEnabled()
    with qtbot.waitSignal(tab.study_ended, timeout=60_000):
        assert tab.start_study()
    assert not tab.running and tab.state.shown is None
    assert "cannot be reached" in tab.message.text() and tab.message.isVisible()


def test_opening_a_ready_made_study_file_fills_the_setup(tab):
    from core.paths import RESOURCES_DIR

    tab.open_study_file(RESOURCES_DIR / "studies" / "cifar-tricks.toml")
    assert tab.state.design == "ofat" and tab.state.baseline["model"] == "bn-gap-cnn"
    assert tab.setup.factor_table.rowCount() == 7
    assert tab.setup.preview_label.text().startswith("9 trials (one factor at a time)")
    tab.open_study_file(RESOURCES_DIR / "studies" / "nothing-here.toml")
    assert "There is no study file" in tab.message.text()


def test_sweep_these_settings_carries_the_train_tab_settings_over(make_window, qtbot):
    window = make_window(wait_for_tf=False)
    train = window.train_tab
    train.apply_config(train.current_config().__class__(model="lenet-5", batch_size=64, learning_rate=0.005))
    train.monitor.sweep_button.click()
    experiments = window.experiments_tab
    assert window.tabs.currentWidget().isAncestorOf(experiments)
    base = experiments.state.baseline
    assert (base["model"], base["batch_size"], base["learning_rate"]) == ("lenet-5", 64, 0.005)
    assert "From the Train tab" in experiments.setup.baseline_label.text()
    keys = [experiments.setup.key_box.itemData(i) for i in range(experiments.setup.key_box.count())]
    assert "batch_size" in keys and "dropout" in keys  # settings and lenet-5's own options


def test_stop_keeps_the_study_and_continue_finishes_it(tab, qtbot):
    from core import runs

    base = tiny_baseline()
    base["epochs"] = 20  # long enough to be stopped mid-trial (each epoch is two batches)
    tab.set_baseline(base, "the test")
    tab.state.add_factor("batch_size", "50")
    tab.state.design, tab.state.name = "grid", "halted"
    tab._refresh_setup()
    assert tab.start_study()
    qtbot.waitUntil(lambda: any(r.state == "running" and len(r.curve) >= 1 for r in tab.state.rows), timeout=120_000)
    stopped_dir = next(r.run_dir for r in tab.state.rows if r.state == "running")
    with qtbot.waitSignal(tab.study_ended, timeout=120_000):
        tab.stop_button.click()
        assert not tab.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.running, timeout=30_000)
    # the trial went back to the queue; its run was stopped within a batch, not finished
    assert [r.state for r in tab.state.visible_rows()] == ["waiting"]
    info = runs.read_run(stopped_dir)
    assert info.state == "stopped" and info.epochs_done < 20
    qtbot.waitUntil(lambda: tab.study_box.findData("halted") >= 0, timeout=20_000)
    assert tab.continue_button.isEnabled()

    # as after closing the app: show the listed study, then continue it
    tab.state.shown = None
    with qtbot.waitSignal(tab.study_read, timeout=30_000):
        tab.show_study("halted")
    assert tab.state.shown.name == "halted" and tab.continue_button.isEnabled()
    tab.state.set_field("epochs", 1)  # the setup changes; the study keeps its own plan
    with qtbot.waitSignal(tab.study_ended, timeout=240_000):
        assert tab.continue_study()
    qtbot.waitUntil(lambda: not tab.running, timeout=30_000)
    assert [r.state for r in tab.state.visible_rows()] == ["complete"]
    assert not tab.continue_button.isEnabled()


def test_failed_and_pruned_trials_say_so_in_the_table(qtbot):
    from core.studies.table import TrialRow
    from gui.experiments.trials_view import CURVE, CurveRole, TrialsView

    view = TrialsView()
    qtbot.addWidget(view)
    rows = [
        TrialRow(0, "pruned", {"dropout": 0.5}, 0.4, 0.4, None, None, 1, 2.0, None, curve=[0.3, 0.4]),
        TrialRow(1, "failed", {"dropout": 0.9}, None, None, None, None, None, None, None, error="Needs 32x32."),
    ]
    view.show_rows(rows, ["dropout"])
    model = view.model_
    state = model.columns.index("state")
    assert model.data(model.index(0, state)) == "pruned (epoch 1)"
    assert model.data(model.index(1, state), Qt.ItemDataRole.ToolTipRole) == "Trial 1 failed: Needs 32x32."
    assert model.data(model.index(0, model.columns.index(CURVE)), CurveRole) == [0.3, 0.4]


def test_fit_widths_narrows_the_widest_columns_first():
    from gui.experiments.trials_view import fit_widths

    assert fit_widths([50, 300, 80], 500, 64) == [50, 300, 80]  # room for all: unchanged
    assert fit_widths([50, 300, 80], 300, 64) == [50, 170, 80]  # only the widest gives way
    assert fit_widths([50, 300, 200], 300, 64) == [50, 125, 125]  # two wide ones share the rest
    assert fit_widths([50, 300, 200], 100, 64) == [50, 64, 64]  # never below the least


def test_the_trials_table_fits_1280_without_scrolling_sideways(tab, qtbot):
    """The photos study's five factors (one with long conv-layer lists) fit the table at 1280x800:
    nothing scrolls sideways, the long values are elided and whole in their tooltips; a column the
    user drags keeps its width (the table may then scroll)."""
    from core.paths import RESOURCES_DIR
    from core.studies.table import TrialRow
    from gui.experiments.trials_view import CURVE

    tab.open_study_file(RESOURCES_DIR / "studies" / "photos.toml")
    plan = tab.state.preview().plan
    factors = [f.key for f in plan.factors]
    long = "32x5,32x5,64x4,64x3,128x3,128x2,128x2"
    params = {"stride": "1", "dense_layers": 1, "batch_size": 32, "conv_layers": long, "rescale_input": True}
    rows = [
        TrialRow(i, "pruned" if i == 1 else "complete", params, 0.9, 0.9, 0.3, 0.91, 2, 73.0, None, curve=[0.5, 0.9])
        for i in range(10)
    ]
    tab.state.show_study(plan, None)
    tab.state.set_rows(rows)
    tab._show_study()
    tab.window().resize(1280, 760)
    qtbot.waitUntil(lambda: tab.trials.viewport().width() > 0)
    view = tab.trials
    qtbot.waitUntil(lambda: view.horizontalScrollBar().maximum() == 0)
    widths = [view.columnWidth(c) for c in range(view.model_.columnCount())]
    assert sum(widths) <= view.viewport().width()
    natural = view.natural_widths()
    conv = view.model_.columns.index("conv_layers")
    state = view.model_.columns.index("state")
    assert widths[conv] < natural[conv]  # elided ...
    assert widths[state] == natural[state]  # ... the results are not
    assert view.columnWidth(view.model_.columns.index(CURVE)) <= 80
    index = view.model_.index(0, conv)
    assert long in view.model_.data(index, Qt.ItemDataRole.ToolTipRole)
    view.setColumnWidth(conv, 400)  # the user widens it: kept
    tab.window().resize(1300, 760)
    qtbot.wait(50)
    assert view.columnWidth(conv) == 400
    assert factors == [c for c in view.model_.columns if c in factors]


def test_the_study_list_names_a_study_only_when_its_trials_are_shown(tab):
    studies = [{"name": "a", "design": "grid", "factors": [{}]}, {"name": "b", "design": "tpe", "factors": []}]
    tab.view.set_studies(studies, None)
    assert tab.study_box.currentData() is None
    assert tab.study_box.currentText() == "Choose a study to show (2 in this workspace)"
    tab.view.set_studies(studies, "b")
    assert tab.study_box.currentData() == "b" and tab.study_box.findData(None) < 0
    tab.view.set_studies([], None)
    assert tab.study_box.currentText() == "No studies yet"
