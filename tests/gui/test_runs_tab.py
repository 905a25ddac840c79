"""The Runs tab: the table, the comparison, the prediction diff, delete/undo, export, the crash prompt.

Two tiny real runs (core.training.train on a tiny in-memory dataset, trained once per module)
differ in one setting; the other tests use hand-written run folders shaped like real ones
(bench/bench_runs_table.py's ``make_fake_run``), which need no TensorFlow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from bench.bench_runs_table import make_fake_run
from core import paths, runs
from gui.runs.table_model import PathRole

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Two tiny finished runs that differ only in the learning rate (trained once for the module)."""
    from core.config import TrainConfig
    from core.datasets.base import Dataset, Split
    from core.training import train

    rng = np.random.default_rng(0)
    n = 60
    y = (np.arange(n) % 3).astype(np.int32)
    x = rng.integers(0, 40, size=(n, 16, 16, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8, 0] += 200
    dataset = Dataset(
        name="tiny",
        title="tiny quadrants",
        class_names=["top-left", "top-right", "bottom-left"],
        image_shape=(16, 16, 1),
        train=Split(y[:36], images=x[:36]),
        val=Split(y[36:48], images=x[36:48]),
        test=Split(y[48:], images=x[48:]),
    )
    workspace = tmp_path_factory.mktemp("real-runs")
    made = []
    for lr in (3e-3, 1e-2):
        config = TrainConfig(
            dataset="tiny", model="simple-cnn-1", epochs=2, batch_size=8, learning_rate=lr, tensorboard=False
        )
        made.append(train(config, workspace=workspace, dataset=dataset).run_dir)
    return workspace, made


@pytest.fixture(autouse=True)
def system_trash(monkeypatch):
    """What went to the system trash (send2trash), recorded: no test touches the user's real trash."""
    import send2trash

    sent: list[Path] = []
    monkeypatch.setattr(send2trash, "send2trash", lambda path: sent.append(Path(path)))
    return sent


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "workspace"
    (ws / "runs").mkdir(parents=True)
    return ws


@pytest.fixture
def make_tab(qtbot):
    from gui.runs import RunsTab
    from gui.settings import AppSettings
    from gui.workers import JobRunner

    made = []

    def make(workspace: Path, *, show: bool = True):
        jobs = JobRunner()
        tab = RunsTab(jobs, AppSettings(), workspace=workspace)
        tab.resize(1300, 850)
        made.append((tab, jobs))
        if show:
            with qtbot.waitSignal(tab.refreshed, timeout=20_000):
                tab.show()
        return tab

    yield make
    for tab, jobs in made:
        for dialog in list(tab.export_dialogs):
            dialog.close()
        assert jobs.shutdown(120_000), "an export did not end"
        tab.shutdown()
        tab.close()
        tab.deleteLater()
    qtbot.wait(10)


def row_texts(tab, column_id: str) -> list[str]:
    """The texts of one column, in the order the table shows the rows."""
    shown = tab.proxy.source_columns()
    column = shown.index(tab.model.column_of(column_id))
    return [tab.proxy.index(r, column).data() for r in range(tab.proxy.rowCount())]


def headers(tab) -> list[str]:
    return [tab.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(tab.proxy.columnCount())]


def select(qtbot, tab, paths_):
    with qtbot.waitSignal(tab.compared, timeout=20_000):
        tab.select_paths(paths_)


# ------------------------------------------------------------------------------------------------
# The table


def test_two_runs_differing_in_one_setting_show_exactly_that_column(make_tab, real_runs):
    workspace, (first, second) = real_runs
    tab = make_tab(workspace)
    assert tab.proxy.rowCount() == 2
    assert tab.model.diff_keys == ["learning_rate"] and tab.proxy.visible_keys == ["learning_rate"]
    setting_columns = [c for c in tab.model.columns if c.startswith("setting:")]
    assert setting_columns == ["setting:learning_rate"]
    assert headers(tab) == [
        "Run",
        "Best val. acc.",
        "Test acc.",
        "Time",
        "State",
        "Epochs",
        "Date",
        "Dataset",
        "Model",
        "Parameters",
        "Learning rate",
        "Note",
    ]
    shown = [tab.proxy.index(r, 0).data(PathRole) for r in range(2)]
    assert dict(zip(shown, row_texts(tab, "setting:learning_rate"), strict=True)) == {first: "0.003", second: "0.01"}
    assert set(row_texts(tab, "state")) == {"finished"}
    assert row_texts(tab, "epochs") == ["2 / 2", "2 / 2"]
    assert all(t.endswith("%") for t in row_texts(tab, "test") + row_texts(tab, "best_val"))
    assert all(t and t[0].isdigit() for t in row_texts(tab, "params"))
    assert set(row_texts(tab, "dataset")) == {"tiny"} and set(row_texts(tab, "model")) == {"simple-cnn-1"}
    assert not any(r.problems for r in tab.model.rows)
    assert tab.count_label.text() == "2 runs"


def test_a_corrupt_run_folder_is_listed_with_its_problem_and_the_others_still_show(make_tab, workspace):
    root = workspace / "runs"
    good = [make_fake_run(root, i) for i in range(3)]
    damaged = {
        kind: make_fake_run(root, 10 + i, damage=kind)
        for i, kind in enumerate(("history", "config", "status-empty", "status-list", "metrics", "model"))
    }
    (root / "not-a-run").mkdir()  # an empty folder: listed, says what is missing
    tab = make_tab(workspace)
    rows = {r.path: r for r in tab.model.rows}
    assert tab.proxy.rowCount() == 3 + 6 + 1
    assert all(not rows[p].problems for p in good)
    expect = {
        "history": "history.csv is damaged after epoch",
        "config": "config.json cannot be read",
        "status-empty": "status file",
        "status-list": "cannot be read",
        "metrics": "metrics.json cannot be read",
        "model": "model.keras is damaged",
    }
    for kind, text in expect.items():
        problems = " | ".join(rows[damaged[kind]].problems)
        assert text in problems, (kind, problems)
    assert "config.json is missing" in " | ".join(rows[root / "not-a-run"].problems)
    # What still works is said next to what is wrong: the half-written history still has its curves.
    history_row = rows[damaged["history"]]
    tip = tab.model.index(tab.model.row_of(history_row.path), 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "What is wrong" in tip and "What still works" in tip and "its curves" in tip
    assert history_row.history_rows == 12 and history_row.has_model
    icon = tab.model.index(tab.model.row_of(history_row.path), 0).data(Qt.ItemDataRole.DecorationRole)
    assert icon is not None and not icon.isNull()
    assert not rows[damaged["model"]].has_model  # Predict/Export are not offered for a broken model file
    # "With problems" lists just those.
    tab.set_filter("", "problems")
    assert tab.proxy.rowCount() == 7
    tab.set_filter("", "all")
    # The details say it too.
    tab.select_paths([damaged["metrics"]])
    tab._selection_settled()
    text = tab.details.toPlainText()
    assert "What is wrong" in text and "metrics.json" in text and "What still works" in text
    assert "3 with problems" not in tab.count_label.text() and "7 with problems" in tab.count_label.text()


def test_filter_by_words_and_settings_and_sort_by_a_column(make_tab, workspace):
    root = workspace / "runs"
    for i in range(6):  # optimizers adam, sgd, rmsprop; batch 32/64/128/256
        make_fake_run(root, i)
    make_fake_run(root, 20, state="running")  # no test accuracy yet (dead pid: interrupted)
    tab = make_tab(workspace)
    assert tab.proxy.rowCount() == 7
    assert {"Optimizer", "Batch", "Flip"} <= set(headers(tab))
    tab.set_filter("optimizer=sgd")
    assert tab.proxy.rowCount() == 2  # runs 1 and 4 (make_fake_run: adam, sgd, rmsprop by turns)
    assert {r.config["optimizer"] for r in tab.proxy.shown_rows()} == {"sgd"}
    # Among the sgd runs the optimizer no longer differs, so its column is gone; the batch still differs.
    assert "Optimizer" not in headers(tab) and "Batch" in headers(tab)
    tab.set_filter("")
    tab.set_filter("simple-cnn-2 lenet")  # every word must match
    assert tab.proxy.rowCount() == 0
    tab.set_filter("", "interrupted")
    assert [r.state for r in tab.proxy.shown_rows()] == ["interrupted"]
    tab.set_filter("", "all")
    # Sorting by test accuracy: numbers in order, the run without one last both ways.
    column = tab.proxy.source_columns().index(tab.model.column_of("test"))
    tab.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    assert (tab.state.sort_column, tab.state.sort_descending) == ("test", True)
    values = [tab.proxy.index(r, column).data(Qt.ItemDataRole.UserRole + 1) for r in range(tab.proxy.rowCount())]
    assert values[-1] is None and values[:-1] == sorted(values[:-1], reverse=True)
    tab.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    values = [tab.proxy.index(r, column).data(Qt.ItemDataRole.UserRole + 1) for r in range(tab.proxy.rowCount())]
    assert values[-1] is None and values[:-1] == sorted(values[:-1])


def test_the_table_model_and_the_proxy_pass_the_model_tester(qtmodeltester, workspace):
    from gui.runs.table_model import RunsFilterProxy, RunsTableModel

    root = workspace / "runs"
    for i in range(5):
        make_fake_run(root, i, damage="history" if i == 3 else None)
    model = RunsTableModel()
    model.set_rows(runs.list_runs(workspace))
    qtmodeltester.check(model, force_py=True)
    proxy = RunsFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("adam")
    qtmodeltester.check(proxy, force_py=True)


def test_rename_and_note_are_saved_in_the_run(make_tab, workspace, qtbot):
    run = make_fake_run(workspace / "runs", 0)
    tab = make_tab(workspace)
    tab.select_paths([run])
    tab._selection_settled()
    name_index = tab.model.index(0, tab.model.column_of("name"))
    assert tab.model.setData(name_index, "  Adam, batch 32  ")
    assert runs.read_meta(run)["name"] == "Adam, batch 32"
    tab.ask_note = lambda row: "baseline for the\nschedule experiments"
    tab.note_action.trigger()
    assert runs.read_meta(run)["note"] == "baseline for the\nschedule experiments"
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.refresh()
    row = tab.model.rows[0]
    assert row.label == "Adam, batch 32" and row.note.startswith("baseline")
    assert row_texts(tab, "note") == ["baseline for the ⏎ schedule experiments"]
    tab.set_filter("schedule")  # notes are searchable
    assert tab.proxy.rowCount() == 1
    # F2 opens the editor on the name.
    tab.set_filter("")
    tab.select_paths([run])
    tab._selection_settled()
    tab.rename_action.trigger()
    assert tab.table.state() == tab.table.State.EditingState


def test_delete_asks_then_moves_to_the_trash_and_undo_brings_it_back(make_tab, workspace, qtbot, monkeypatch):
    keep = make_fake_run(workspace / "runs", 0)
    gone = make_fake_run(workspace / "runs", 1)
    tab = make_tab(workspace)
    asked = []
    answer = {"value": QMessageBox.StandardButton.No}

    def question(*args, **kwargs):
        asked.append(args[2])
        return answer["value"]

    monkeypatch.setattr(QMessageBox, "question", question)
    tab.select_paths([gone])
    tab._selection_settled()
    tab.delete_action.trigger()
    assert len(asked) == 1 and "trash" in asked[0]
    assert gone.exists() and tab.proxy.rowCount() == 2  # "No": nothing happened

    answer["value"] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.delete_action.trigger()
    trashed = workspace / "trash" / gone.name
    assert not gone.exists() and trashed.is_dir() and (trashed / "config.json").exists()
    assert [r.path for r in tab.model.rows] == [keep]
    assert tab.undo_bar.isVisibleTo(tab) and "trash" in tab.undo_label.text()

    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.undo_action.trigger()
    assert gone.is_dir() and not trashed.exists()
    assert {r.path for r in tab.model.rows} == {keep, gone}
    assert not tab.undo_bar.isVisibleTo(tab)


def test_the_delete_key_deletes_with_confirmation(make_tab, workspace, qtbot, monkeypatch):
    run = make_fake_run(workspace / "runs", 0)
    tab = make_tab(workspace)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    tab.select_paths([run])
    tab._selection_settled()
    tab.activateWindow()
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Delete)
    assert len(asked) == 1 and run.exists()
    qtbot.keyClick(tab.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert tab.filter_edit.hasFocus()


def test_a_new_run_appears_by_itself(make_tab, workspace, qtbot):
    make_fake_run(workspace / "runs", 0)
    tab = make_tab(workspace)
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        make_fake_run(workspace / "runs", 1)  # the watcher sees the runs folder change
    assert tab.proxy.rowCount() == 2


# ------------------------------------------------------------------------------------------------
# Comparing


def test_selected_runs_get_one_overlaid_curve_each_with_their_points(make_tab, real_runs, qtbot):
    workspace, (first, second) = real_runs
    tab = make_tab(workspace)
    select(qtbot, tab, [first, second])
    curves = tab.compare.curves()
    assert len(curves) == 2 * 2 * 2  # runs x (loss, accuracy) x (train, val)
    for run in (first, second):
        history = runs.read_history(run)
        for metric in ("loss", "accuracy"):
            for kind, key in (("train", metric), ("val", f"val_{metric}")):
                (curve,) = [c for c in curves if c["path"] == run and c["metric"] == metric and c["kind"] == kind]
                assert curve["x"] == [1.0, 2.0]
                assert curve["y"] == pytest.approx([r[key] for r in history])
    colors = {c["path"]: c["color"] for c in curves if c["kind"] == "val"}
    assert len(set(colors.values())) == 2  # one colour per run
    items = tab.compare._items
    assert items[("loss", "train")][0].opts["pen"].style() == Qt.PenStyle.DashLine
    assert items[("loss", "val")][0].opts["pen"].style() == Qt.PenStyle.SolidLine
    # The legend names both, the table of differences has the learning rate and the results.
    legend = tab.compare.legend.text()
    assert first.name in legend and second.name in legend
    text = tab.compare.table_text().splitlines()
    assert text[0].split("\t") == ["Run", "Learning rate", "Epochs", "Best val. acc.", "Test acc.", "Time", "State"]
    assert len(text) == 3
    # Hiding the loss and the training curves leaves one validation-accuracy curve per run.
    tab.compare.show_loss.setChecked(False)
    tab.compare.show_train.setChecked(False)
    assert sorted((c["metric"], c["kind"]) for c in tab.compare.curves()) == [("accuracy", "val")] * 2
    # One run: its own settings and results.
    select(qtbot, tab, [first])
    assert len(tab.compare.curves()) == 1
    assert "Settings and results" in tab.compare.table_title.text()


def test_prediction_diff_of_two_real_runs_without_their_dataset(make_tab, real_runs, qtbot):
    workspace, (first, second) = real_runs
    tab = make_tab(workspace)
    select(qtbot, tab, [first, second])
    assert tab.diff_action.isEnabled()
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    diff = tab.diff.diff
    assert diff is not None and diff.total == 12, tab.diff.message
    assert tab.diff.run_a == first and tab.diff.run_b == second  # the older run is A
    # The "tiny" dataset only lived in the test's memory: no pictures, and the view says why.
    assert "No pictures" in tab.diff.note.text()


def _fake_evaluated_run(root: Path, index: int, wrong: np.ndarray, dataset) -> Path:
    """A finished run on the bundled sample whose saved predictions are wrong exactly at ``wrong``."""
    run = make_fake_run(root, index, overrides={"dataset": "mnist-sample", "learning_rate": 0.001 * (index + 1)})
    y = np.asarray(dataset.test.labels, dtype=np.int64)
    pred = y.copy()
    pred[wrong] = (y[wrong] + 1) % 10
    probs = np.full((len(y), 10), 0.01, np.float32)
    probs[np.arange(len(y)), pred] = 0.91
    np.savez_compressed(run / "evaluation.npz", y_true=y, probs=probs, indices=np.arange(len(y)))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["accuracy"] = float(np.mean(pred == y))
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_prediction_diff_shows_what_the_second_run_fixed_and_broke_in_the_gallery_grid(make_tab, workspace, qtbot):
    from core.datasets import load_dataset
    from gui.widgets.gallery_view import SUBCAPTION_ROLE

    dataset = load_dataset("mnist-sample")
    root = workspace / "runs"
    a = _fake_evaluated_run(root, 0, np.array([1, 2, 3, 4]), dataset)  # older (January)
    b = _fake_evaluated_run(root, 1, np.array([3, 4, 5]), dataset)  # newer (February)
    tab = make_tab(workspace)
    select(qtbot, tab, [b, a])
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    view = tab.diff
    assert (view.run_a, view.run_b) == (a, b)
    assert list(view.diff.fixed) == [1, 2] and list(view.diff.broken) == [5] and list(view.diff.both_wrong) == [3, 4]
    assert list(view.shown_rows()) == [1, 2]
    assert view.buttons["fixed"].text() == "Fixed by B: 2" and view.buttons["broken"].text() == "Broken by B: 1"
    assert "B fixed 2, broke 1" in view.summary.text()
    index = view.model.index(0, 0)
    y1 = str(dataset.test.labels[1])
    assert index.data().startswith(y1)  # B is right: its caption is the true class
    assert index.data(SUBCAPTION_ROLE) == f"A: {(int(y1) + 1) % 10} ✗ · #1"
    if hasattr(view.model, "cell"):  # what the gallery's delegate paints
        assert view.model.cell(index)[2] == index.data(SUBCAPTION_ROLE)
    assert view.model.gallery.has_images  # the sample's test images are there
    view.show_list("broken")
    assert list(view.shown_rows()) == [5]
    y5 = dataset.class_names[int(dataset.test.labels[5])]
    assert view.model.index(0, 0).data(SUBCAPTION_ROLE) == f"true {y5} · A ✓"
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.swap()
    assert (view.run_a, view.run_b) == (b, a) and list(view.diff.fixed) == [5]


def test_prediction_diff_refuses_runs_tested_on_different_images(make_tab, workspace, qtbot):
    from core.datasets import load_dataset

    dataset = load_dataset("mnist-sample")
    root = workspace / "runs"
    a = _fake_evaluated_run(root, 0, np.array([1]), dataset)
    b = _fake_evaluated_run(root, 1, np.array([2]), dataset)
    with np.load(b / "evaluation.npz") as data:
        arrays = {k: data[k][:500] for k in data.files}
    np.savez_compressed(b / "evaluation.npz", **arrays)
    tab = make_tab(workspace)
    select(qtbot, tab, [a, b])
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    assert tab.diff.diff is None and "not tested on the same images" in tab.diff.message
    assert "not tested on the same images" in tab.diff.note.text()


# ------------------------------------------------------------------------------------------------
# Handing runs to the other tabs


def test_the_tab_asks_the_other_tabs_through_signals(make_tab, workspace, qtbot):
    root = workspace / "runs"
    finished = make_fake_run(root, 0)
    (finished / "backup").mkdir()
    (finished / "backup" / "training_metadata.json").write_text('{"epoch": 12, "batch": -1}')
    stopped = make_fake_run(root, 1, state="stopped")
    (stopped / "backup").mkdir()
    (stopped / "backup" / "training_metadata.json").write_text('{"epoch": 6, "batch": -1}')
    np.savez(finished / "evaluation.npz", y_true=np.zeros(2, int), probs=np.ones((2, 2)) / 2, indices=np.arange(2))
    tab = make_tab(workspace)
    got = []
    tab.open_in_gallery.connect(lambda p: got.append(("gallery", p)))
    tab.open_in_predict.connect(lambda p: got.append(("predict", p)))
    tab.train_again.connect(lambda c: got.append(("again", c["optimizer"])))
    tab.continue_run.connect(lambda p, n: got.append(("continue", p, n)))
    tab.resume_run.connect(lambda p: got.append(("resume", p)))

    tab.select_paths([finished])
    tab._selection_settled()
    assert not tab.resume_action.isEnabled() and tab.continue_action.isEnabled()
    tab.ask_extra_epochs = lambda row: 5
    for action in (tab.gallery_action, tab.predict_action, tab.train_again_action, tab.continue_action):
        action.trigger()
    assert got == [
        ("gallery", finished),
        ("predict", finished / "model.keras"),
        ("again", "adam"),
        ("continue", finished, 5),
    ]
    got.clear()
    tab.select_paths([stopped])
    tab._selection_settled()
    assert tab.resume_action.isEnabled() and tab.resume_action.text() == "Re&sume from epoch 6"
    assert not tab.gallery_action.isEnabled()  # no evaluation in this one
    tab.resume_action.trigger()
    assert got == [("resume", stopped)]


# ------------------------------------------------------------------------------------------------
# Export


@pytest.mark.parametrize("fmt", ["tflite", "keras"])
def test_export_dialog_exports_the_shipped_model_and_shows_the_check(qtbot, tmp_path, fmt):
    from gui.export_dialog import ExportDialog
    from gui.workers import JobRunner

    jobs = JobRunner()
    dialog = ExportDialog(jobs, SHIPPED, name="digits")
    qtbot.addWidget(dialog)
    dialog.set_target(tmp_path / "out" / "digits.keras")
    dialog.set_format(fmt)
    assert dialog.target.name == ("digits.tflite" if fmt == "tflite" else "digits.keras")  # follows the format
    with qtbot.waitSignal(dialog.exported, timeout=120_000) as sig:
        assert dialog.start_export()
        assert not dialog.export_button.isEnabled()
    report = sig.args[0]
    assert report.ok and report.path == dialog.target and dialog.target.exists()
    assert dialog.result.text().startswith("OK:") and "top-1 agrees on 300" in dialog.result.text()
    assert dialog.show_button.isEnabled() and dialog.export_button.isEnabled()
    assert jobs.shutdown(30_000)


def test_export_dialog_shows_a_refusal_and_asks_before_replacing(qtbot, tmp_path, monkeypatch):
    import core.export
    from core.errors import WorkbenchError
    from gui.export_dialog import ExportDialog
    from gui.workers import JobRunner

    def refuse(model, target, fmt, **options):
        assert options == {"overwrite": True}  # asked below, before the job started
        raise WorkbenchError("The TensorFlow Lite export did not reproduce the model: it was removed.")

    monkeypatch.setattr(core.export, "export_model", refuse)
    jobs = JobRunner()
    dialog = ExportDialog(jobs, SHIPPED)
    qtbot.addWidget(dialog)
    target = tmp_path / "m.tflite"
    target.write_bytes(b"old")
    dialog.set_format("tflite")
    dialog.set_target(target)
    dialog.confirm_replace = lambda path: False
    assert not dialog.start_export() and target.read_bytes() == b"old"
    dialog.confirm_replace = lambda path: True
    with qtbot.waitSignal(dialog.export_failed, timeout=30_000):
        assert dialog.start_export()
    assert dialog.result.text().startswith("Not exported: The TensorFlow Lite export did not reproduce")
    dialog.set_target(SHIPPED)
    assert not dialog.start_export() and "model file itself" in dialog.result.text()
    album = tmp_path / "album"
    album.mkdir()
    (album / "a.png").write_bytes(b"png")
    dialog.set_format("savedmodel")
    dialog.set_target(album)
    asked = []
    dialog.confirm_replace = lambda path: asked.append(path) or True
    assert not dialog.start_export() and "not a SavedModel" in dialog.result.text()
    assert asked == [] and [p.name for p in album.iterdir()] == ["a.png"], "never offered to replace a user's folder"
    assert jobs.shutdown(30_000)


def test_export_from_the_tab_opens_the_dialog_for_the_run(make_tab, workspace):
    run = make_fake_run(workspace / "runs", 0)
    tab = make_tab(workspace)
    tab.select_paths([run])
    tab._selection_settled()
    assert tab.export_action.isEnabled()
    tab.export_action.trigger()
    (dialog,) = tab.export_dialogs
    assert dialog.model_path == run / "model.keras" and dialog.isVisible()
    assert dialog.target.parent == run  # beside the model unless an export folder was remembered
    dialog.reject()


# ------------------------------------------------------------------------------------------------
# After a crash


def test_resume_prompt_lists_an_interrupted_run_and_resumes_it(make_tab, workspace, qtbot):
    root = workspace / "runs"
    crashed = make_fake_run(root, 0, state="running", epochs=12)  # a dead pid: interrupted
    (crashed / "backup").mkdir()
    (crashed / "backup" / "training_metadata.json").write_text('{"epoch": 4, "batch": -1}')
    make_fake_run(root, 1)
    alive = make_fake_run(root, 2, state="running")
    status = json.loads((alive / "status.json").read_text())
    status["pid"] = os.getpid()
    (alive / "status.json").write_text(json.dumps(status))

    tab = make_tab(workspace)
    assert tab.interrupted_bar.isVisibleTo(tab) and "1 interrupted run" in tab.interrupted_label.text()
    resumed = []
    tab.resume_run.connect(resumed.append)
    tab.check_interrupted()
    qtbot.waitUntil(lambda: tab.resume_prompt is not None and tab.resume_prompt.isVisible(), timeout=10_000)
    prompt = tab.resume_prompt
    assert prompt.tree.topLevelItemCount() == 1
    item = prompt.tree.topLevelItem(0)
    assert item.text(2) == "epoch 4 of 12" and "simple-cnn-2 on mnist-sample" == item.text(1)
    assert prompt.checked_paths() == [crashed]
    prompt.resume_button.click()
    assert resumed == [crashed] and prompt.action == "resume"


def test_resume_prompt_can_mark_runs_stopped(make_tab, workspace, qtbot):
    crashed = make_fake_run(workspace / "runs", 0, state="running")
    tab = make_tab(workspace)
    tab.check_interrupted()
    qtbot.waitUntil(lambda: tab.resume_prompt is not None and tab.resume_prompt.isVisible(), timeout=10_000)
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.resume_prompt.stop_button.click()
    assert runs.read_run(crashed).state == "stopped"
    assert not tab.interrupted_bar.isVisibleTo(tab)
    # Nothing interrupted any more: no prompt.
    tab.resume_prompt = None
    tab.check_interrupted()
    assert tab.io_jobs.wait_idle(10_000)
    qtbot.wait(50)
    assert tab.resume_prompt is None


def test_refresh_keeps_selection_sort_and_draws_at_most_twenty_runs(make_tab, workspace, qtbot):
    root = workspace / "runs"
    made = [make_fake_run(root, i) for i in range(23)]
    tab = make_tab(workspace)
    column = tab.proxy.source_columns().index(tab.model.column_of("best_val"))
    tab.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    select(qtbot, tab, made)
    assert len(tab.compare.entries) == 23 and tab.compare.left_out == 3
    assert len(tab.compare.curves()) == 20 * 4 and "3 more selected run(s)" in tab.compare.legend.text()
    assert tab.compare.table.rowCount() == 23
    order = [tab.proxy.index(r, 0).data(PathRole) for r in range(tab.proxy.rowCount())]
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.refresh()
    assert set(tab.selected_paths()) == set(made)
    assert [tab.proxy.index(r, 0).data(PathRole) for r in range(tab.proxy.rowCount())] == order
    assert tab.table.horizontalHeader().sortIndicatorSection() == column
    messages = []
    tab.status_message.connect(lambda text, ms: messages.append(text))
    tab.check_interrupted(quiet=False)  # nothing interrupted here: it says so
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert messages == ["No run is interrupted any more."] and tab.resume_prompt is None


def test_a_training_run_is_followed_while_the_tab_is_shown(make_tab, workspace, qtbot):
    run = make_fake_run(workspace / "runs", 0, state="running", epochs=12)
    status_file = run / "status.json"
    status = json.loads(status_file.read_text())
    status["pid"] = os.getpid()  # alive: it trains
    status_file.write_text(json.dumps(status))
    tab = make_tab(workspace)
    assert tab.model.rows[0].state == "running" and tab._poll_timer.isActive()
    tab.select_paths([run])
    tab._selection_settled()
    assert not tab.delete_action.isEnabled()  # a training run cannot be deleted
    status["epochs_done"] = 9
    status_file.write_text(json.dumps(status))
    tab._poll()
    qtbot.waitUntil(lambda: tab.model.rows[0].epochs_done == 9, timeout=10_000)
    assert row_texts(tab, "epochs") == ["9 / 12"]
    status.update(state="finished", epochs_done=12)
    status_file.write_text(json.dumps(status))
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab._poll()  # it ended: everything is read again
    assert tab.model.rows[0].state == "finished"
    qtbot.waitUntil(lambda: not tab._poll_timer.isActive(), timeout=10_000)


# ------------------------------------------------------------------------------------------------
# One rule per fact; the system trash; settings


def test_table_command_line_and_model_lists_agree_on_a_run_with_epochs_without_validation(
    make_tab, workspace, monkeypatch, capsys
):
    from core import cli
    from gui.predict.model_picker import list_entries

    run = make_fake_run(workspace / "runs", 0)
    # Epochs 1-2 had no validation; their training accuracy (0.99) is not a validation accuracy.
    (run / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"
        "1,1.0,0.98,,,0.001,2\n2,0.9,0.99,,,0.001,2\n3,0.8,0.9,0.7,0.8,0.001,2\n"
        "4,0.7,0.93,0.6,0.85,0.001,2\n5,0.6,0.95,0.65,0.84,0.001,2\n"
    )
    status = json.loads((run / "status.json").read_text())
    status.update(best_epoch=2, best_val_accuracy=0.99)  # what the per-epoch fallback of old wrote
    (run / "status.json").write_text(json.dumps(status))

    tab = make_tab(workspace)
    (row,) = tab.model.rows
    assert (row.best_epoch, row.best_val) == (4, 0.85)
    assert row_texts(tab, "best_val") == ["85.00 %"]
    index = tab.model.index(0, tab.model.column_of("best_val"))
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "Best epoch: 4"

    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(workspace))
    capsys.readouterr()
    assert cli.cmd_runs(None) == 0
    assert "best epoch 4 (val 0.8500)" in capsys.readouterr().out

    # The model lists (the Predict tab's picker) list the run from the same reader.
    (listed,) = runs.list_runs(workspace)
    assert (listed.best_epoch, listed.best_val) == (4, 0.85)
    assert any(e.path == run / "model.keras" and e.source == "run" for e in list_entries(workspace))


def test_undo_lasts_until_the_next_delete_then_the_runs_go_to_the_system_trash(
    make_tab, workspace, qtbot, monkeypatch, system_trash
):
    a, b, keep = (make_fake_run(workspace / "runs", i) for i in range(3))
    tab = make_tab(workspace)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    for run in (a, b):
        tab.select_paths([run])
        tab._selection_settled()
        with qtbot.waitSignal(tab.refreshed, timeout=10_000):
            tab.delete_action.trigger()
    # a's delete can no longer be undone: it went on to the system trash; b's still can.
    assert system_trash == [workspace / "trash" / a.name]
    assert tab.undo_action.isEnabled() and (workspace / "trash" / b.name).is_dir()
    assert "system trash" in tab.undo_label.text()
    tab.shutdown()  # closing the app ends the Undo too
    assert system_trash == [workspace / "trash" / a.name, workspace / "trash" / b.name]
    assert keep.is_dir()


def test_runs_tab_and_export_dialog_settings_round_trip(make_tab, workspace, qtbot, tmp_path, monkeypatch):
    import core.export
    from core.errors import WorkbenchError
    from gui.export_dialog import ExportDialog
    from gui.settings import AppSettings, open_qsettings
    from gui.workers import JobRunner

    make_fake_run(workspace / "runs", 0)
    tab = make_tab(workspace)
    tab.splitter.setSizes([250, 550])
    tab.compare.splitter.setSizes([300, 100])
    sizes = (tab.splitter.sizes(), tab.compare.splitter.sizes())
    tab.save_settings()
    again = make_tab(workspace)
    again.restore_layout()
    assert (again.splitter.sizes(), again.compare.splitter.sizes()) == sizes

    # A version-1 settings file: the export dialog's format and folder were loose keys.
    path = tmp_path / "old.ini"
    q = open_qsettings(path)
    q.setValue("exports/format", "savedmodel")
    q.setValue("dirs/exports", str(tmp_path / "exports"))
    q.sync()
    settings = AppSettings(open_qsettings(path))
    assert settings.tab_value("export", "format", "keras", str) == "savedmodel"
    jobs = JobRunner()
    dialog = ExportDialog(jobs, SHIPPED, settings=settings, name="digits")
    qtbot.addWidget(dialog)
    assert dialog.format == "savedmodel" and dialog.target == tmp_path / "exports" / "digits-savedmodel"

    def refuse(model, target, fmt, **options):
        assert options == {"overwrite": True}  # asked below, before the job started
        raise WorkbenchError("not now")

    monkeypatch.setattr(core.export, "export_model", refuse)
    dialog.set_format("tflite")
    with qtbot.waitSignal(dialog.export_failed, timeout=30_000):
        assert dialog.start_export()
    assert AppSettings(open_qsettings(path)).tab_value("export", "format", "keras", str) == "tflite"
    reopened = ExportDialog(jobs, SHIPPED, settings=AppSettings(open_qsettings(path)))
    qtbot.addWidget(reopened)
    assert reopened.format == "tflite"
    assert jobs.shutdown(30_000)


def test_prediction_diff_counts_follow_the_runs_when_they_change(make_tab, workspace, qtbot):
    from core.datasets import load_dataset

    dataset = load_dataset("mnist-sample")
    root = workspace / "runs"
    a = _fake_evaluated_run(root, 0, np.array([1, 2, 3, 4]), dataset)
    b = _fake_evaluated_run(root, 1, np.array([3, 4, 5]), dataset)
    tab = make_tab(workspace)
    select(qtbot, tab, [a, b])
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    assert tab.diff.buttons["fixed"].text() == "Fixed by B: 2"
    # Run B is evaluated again (continued, say): now it also gets image 1 wrong and 2 right.
    import os

    y = np.asarray(dataset.test.labels, dtype=np.int64)
    pred = y.copy()
    pred[[1, 3, 4, 5, 6]] = (y[[1, 3, 4, 5, 6]] + 1) % 10
    probs = np.full((len(y), 10), 0.01, np.float32)
    probs[np.arange(len(y)), pred] = 0.91
    np.savez_compressed(b / "evaluation.npz", y_true=y, probs=probs, indices=np.arange(len(y)))
    later = os.stat(b / "evaluation.npz").st_mtime_ns + 10**9
    os.utime(b / "evaluation.npz", ns=(later, later))
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    assert tab.diff.buttons["fixed"].text() == "Fixed by B: 1"
    assert tab.diff.buttons["broken"].text() == "Broken by B: 2"
    # A refused pair shows no counts of the comparison before.
    with np.load(b / "evaluation.npz") as data:
        arrays = {k: data[k][:500] for k in data.files}
    np.savez_compressed(b / "evaluation.npz", **arrays)
    with qtbot.waitSignal(tab.diff.loaded, timeout=30_000):
        tab.show_diff()
    assert tab.diff.diff is None
    assert [button.text() for button in tab.diff.buttons.values()] == ["Fixed by B", "Broken by B", "Wrong in both"]
