"""The Runs tab's state without widgets or TensorFlow: filter, columns, selection, actions, Undo."""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
from pathlib import Path

from core.runs import BestEpoch, RunInfo
from gui.runs.state import ACTIONS, RunsState


def run(name: str, state: str = "finished", **fields) -> RunInfo:
    config = {"dataset": "mnist", "model": "lenet-5", "optimizer": "adam", "batch_size": 32, "epochs": 10}
    config.update(fields.pop("config", {}))
    info = RunInfo(Path("/ws/runs") / name, config=config, status={"state": state}, label=name)
    info.dataset, info.model, info.epochs = config["dataset"], config["model"], config["epochs"]
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def test_the_state_module_imports_neither_qt_nor_tensorflow():
    code = "import sys, gui.runs.state; print('PySide6' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_filter_by_words_settings_and_state_and_the_columns_that_differ():
    state = RunsState()
    a = run("a", config={"optimizer": "sgd", "batch_size": 64})
    b = run("b", config={"optimizer": "sgd"})
    c = run("c", state="failed", problems=["history.csv is damaged"])
    assert not state.set_runs([a, b, c])  # new runs: not the same as before
    assert state.loaded and state.scans == 1 and not state.stale
    assert state.diff_keys == ["optimizer", "batch_size"]  # dataset/model have their own columns
    assert state.set_runs([a, b, c])  # the same runs and columns again: updated in place
    assert state.visible_keys() == ["optimizer", "batch_size"]

    assert state.set_filter("optimizer=sgd") and not state.set_filter("optimizer=sgd")
    assert [r.name for r in state.shown()] == ["a", "b"]
    assert state.visible_keys() == ["batch_size"]  # among the sgd runs only the batch differs
    assert state.count_text(2, "~/ws") == "2 of 3 runs shown"
    state.set_filter("", "problems")
    assert [r.name for r in state.shown()] == ["c"]
    state.set_filter("problem")  # the word "problem" matches damaged runs too
    assert [r.name for r in state.shown()] == ["c"]
    state.set_filter("", "all")
    assert state.count_text(3, "~/ws") == "3 runs, 1 with problems"
    state.set_filter(None, "failed")
    assert [r.name for r in state.shown()] == ["c"]


def test_a_changed_note_is_found_by_the_filter():
    state = RunsState()
    a = run("a")
    state.set_runs([a])
    state.set_filter("baseline")
    assert state.shown() == []
    a.note = "the baseline"
    state.changed(a.path)
    assert state.shown() == [a]


def test_actions_follow_the_selection():
    state = RunsState()
    done = run("done", has_model=True, has_evaluation=True, backup_epoch=10)
    crashed = run("crashed", state="interrupted", backup_epoch=4)
    training = run("training", state="running")
    state.set_runs([done, crashed, training])
    assert set(state.enabled()) == set(ACTIONS)
    assert not any(state.enabled()[k] for k in ("rename", "delete", "gallery", "export", "resume"))

    state.select([done.path])
    on = state.enabled()
    assert on["gallery"] and on["predict"] and on["export"] and on["continue"] and on["delete"]
    assert not on["resume"] and not on["mark_stopped"] and state.resume_text() == "Re&sume"

    state.select([crashed.path])
    on = state.enabled()
    assert on["resume"] and on["mark_stopped"] and not on["gallery"] and not on["continue"]
    assert state.resume_text() == "Re&sume from epoch 4"

    state.select([training.path, done.path])
    assert not state.enabled()["delete"]  # a training run cannot be deleted
    assert state.one() is None and not state.enabled()["rename"]


def test_the_diff_pair_puts_the_older_run_first_and_needs_two_evaluations():
    state = RunsState()
    old = run("old", has_evaluation=True, started=_dt.datetime(2026, 1, 1))
    new = run("new", has_evaluation=True, started=_dt.datetime(2026, 2, 1))
    state.set_runs([old, new])
    state.select([new.path, old.path])
    assert state.diff_pair() == (old, new) and state.enabled()["diff"]
    new.has_evaluation = False
    assert not state.enabled()["diff"]
    state.select([new.path])
    assert state.diff_pair() is None


def test_the_comparison_is_redrawn_only_when_what_it_shows_changes():
    state = RunsState()
    a = run("a", best=BestEpoch(3, 0.9, "val_accuracy"))
    state.set_runs([a])
    key = state.compare_key([a], {a.path: (1, 100)})
    assert state.needs_compare(key) and not state.needs_compare(key)
    assert state.needs_compare(state.compare_key([a], {a.path: (2, 120)}))  # the history grew
    state.changed(a.path)  # renamed: drawn again
    assert state.needs_compare(state.compare_key([a], {a.path: (2, 120)}))


def test_undo_holds_the_last_delete_and_hands_back_the_one_before():
    state = RunsState()
    first = [(Path("/ws/runs/a"), Path("/ws/trash/a"))]
    second = [(Path("/ws/runs/b"), Path("/ws/trash/b"))]
    assert state.deleted(first) == []
    assert state.enabled()["undo"]
    assert state.deleted(second) == [Path("/ws/trash/a")]  # no longer undoable: on to the system trash
    assert state.take_undo() == second and state.trashed == [] and not state.enabled()["undo"]


def test_a_running_run_is_updated_in_place():
    state = RunsState()
    a = run("a", state="running", epochs_done=3)
    state.set_runs([a])
    assert state.running() == [a.path]
    newer = run("a", state="running", epochs_done=4)
    assert state.update_run(newer) and state.run(a.path).epochs_done == 4
    assert not state.update_run(run("elsewhere"))


def test_a_run_cut_short_in_its_final_save_offers_to_finish(tmp_path):
    """Issue 13 item 2: all epochs trained, no model.keras: Resume finishes it (and says so)."""
    state = RunsState()
    unsaved = run("unsaved", state="interrupted", backup_epoch=10, best=BestEpoch(7, 0.9, "val_accuracy"))
    unsaved.path = tmp_path / "unsaved"  # a folder without model.keras
    unsaved.path.mkdir()
    state.set_runs([unsaved])
    state.select([unsaved.path])
    assert unsaved.can_finish and state.enabled()["resume"]
    assert state.resume_text() == "Fini&sh: save the model and evaluate"
    assert unsaved.finish_text() == "Finish this run: save its model from epoch 7 and evaluate it."
    (unsaved.path / "model.keras").write_bytes(b"PK")
    assert not unsaved.can_finish and not unsaved.can_resume  # a model is there: nothing to finish
