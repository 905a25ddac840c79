import os

import pytest

from core import paths, runs
from core.errors import RunError


def test_create_run_unique_and_listed(tmp_path):
    a = runs.create_run({"model": "lenet-5", "dataset": "mnist"}, "mnist", tmp_path)
    b = runs.create_run({"model": "lenet-5", "dataset": "mnist"}, "mnist", tmp_path)
    assert a != b and a.parent == paths.runs_dir(tmp_path)
    listed = runs.list_runs(tmp_path)
    assert {r.path for r in listed} == {a, b}
    assert all(r.state == "running" for r in listed)  # this process is alive


def test_dead_process_means_interrupted(tmp_path):
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    runs.write_status(run, pid=2**22 + 12345)  # no such process
    assert runs.read_run(run).state == "interrupted"


def test_history_rewritten_whole_and_damaged_tail_ignored(tmp_path):
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    h = runs.HistoryWriter(run)
    h.append({"epoch": 1, "loss": 0.5, "accuracy": 0.8, "lr": 0.001})
    h.append({"epoch": 2, "loss": 0.4, "accuracy": 0.85, "val_loss": 0.45, "lr": 0.001})
    rows = runs.read_history(run)
    assert [r["epoch"] for r in rows] == [1.0, 2.0]
    assert rows[1]["val_loss"] == 0.45 and "val_loss" not in rows[0]
    with open(run / "history.csv", "a") as fh:
        fh.write("3,0.3,garb")  # a crash mid-line
    assert len(runs.read_history(run)) == 2


def test_corrupt_files_are_listed_not_raised(tmp_path):
    good = runs.create_run({"model": "m"}, "d", tmp_path)
    bad = runs.create_run({"model": "m"}, "d", tmp_path)
    (bad / "config.json").write_text("{half")
    (bad / "status.json").write_text("")
    listed = {r.path: r for r in runs.list_runs(tmp_path)}
    assert listed[good].problems == []
    assert any("config.json" in p for p in listed[bad].problems)
    assert any("status" in p for p in listed[bad].problems)


def test_resolve_run_by_name_or_path(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path))
    run = runs.create_run({"model": "m"}, "d")
    assert runs.resolve_run(run.name) == run
    assert runs.resolve_run(str(run)) == run
    with pytest.raises(RunError, match="No run called"):
        runs.resolve_run("nope")


def test_workspace_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path / "ws"))
    assert paths.workspace_dir() == tmp_path / "ws"
    monkeypatch.delenv("CNN_WORKBENCH_HOME")
    assert paths.workspace_dir().name == "cnn-workbench"
    assert os.fspath(paths.workspace_dir()).startswith(os.fspath(os.path.expanduser("~"))) or os.environ.get(
        "XDG_DATA_HOME"
    )


def test_rename_note_and_trash_never_lose_a_run(tmp_path):
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    runs.write_status(run, state="finished")
    runs.set_meta(run, name="baseline", note="Adam, no augmentation")
    info = runs.read_run(run)
    assert runs.display_name(info) == "baseline" and runs.read_meta(run)["note"] == "Adam, no augmentation"
    trashed = runs.trash_run(run, tmp_path)
    assert not run.exists() and (trashed / "config.json").exists()
    assert runs.list_runs(tmp_path) == []
    assert runs.restore_run(trashed, tmp_path) == run and run.exists()


def test_running_run_cannot_be_trashed(tmp_path):
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    with pytest.raises(RunError, match="still training"):
        runs.trash_run(run, tmp_path)


def test_differing_settings_finds_exactly_the_changed_keys():
    a = {"model": "lenet-5", "optimizer": "adam", "batch_size": 32, "model_options": {"dropout": 0.5}}
    b = {**a, "optimizer": "sgd"}
    assert runs.differing_settings([a, b]) == ["optimizer"]
    c = {**a, "model_options": {"dropout": 0.3}}
    assert runs.differing_settings([a, b, c]) == ["optimizer", "model_options"]
    assert runs.differing_settings([a]) == []


def test_prediction_diff():
    import numpy as np

    from core.evaluation import Evaluation

    y = np.array([0, 1, 2, 0, 1])

    def ev(pred):
        return Evaluation(
            y_true=y, probs=np.eye(3, dtype=np.float32)[pred], class_names=list("abc"), indices=np.arange(5)
        )

    d = runs.prediction_diff(ev([0, 2, 2, 1, 0]), ev([0, 1, 1, 1, 1]))
    assert d.fixed.tolist() == [1, 4] and d.broken.tolist() == [2] and d.both_wrong.tolist() == [3] and d.total == 5
    other = Evaluation(
        y_true=y[:4], probs=np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], class_names=list("abc"), indices=np.arange(4)
    )
    with pytest.raises(RunError, match="same images"):
        runs.prediction_diff(ev([0, 1, 2, 0, 1]), other)


def test_json_that_is_not_an_object_is_a_problem_not_a_crash(tmp_path):
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    (run / "status.json").write_text("[1, 2]")
    (run / "config.json").write_text('"just a string"')
    (info,) = runs.list_runs(tmp_path)
    assert info.config == {} and any("config.json is damaged" in p for p in info.problems)
    assert any("status file" in p for p in info.problems)


# ------------------------------------------------------------------------------------------------
# One best-epoch rule, one reader


def test_best_epoch_is_the_best_validation_epoch_and_never_a_training_accuracy():
    # Epochs 1-2 had no validation (e.g. before a validation set was added): their training accuracy
    # (0.99) must not beat the validation epochs, because model.keras is the best validation epoch.
    history = [
        {"epoch": 1, "accuracy": 0.98},
        {"epoch": 2, "accuracy": 0.99},
        {"epoch": 3, "accuracy": 0.90, "val_accuracy": 0.80},
        {"epoch": 4, "accuracy": 0.95, "val_accuracy": 0.85},
        {"epoch": 5, "accuracy": 0.97, "val_accuracy": 0.85},
    ]
    assert runs.best_epoch(history) == runs.BestEpoch(4, 0.85, "val_accuracy")  # the earliest of equals
    # Of equal accuracies the lower validation loss wins (a small validation set often scores 1.0 early).
    settled = [{"epoch": 1, "val_accuracy": 1.0, "val_loss": 0.6}, {"epoch": 2, "val_accuracy": 1.0, "val_loss": 0.5}]
    assert runs.best_epoch(settled) == runs.BestEpoch(2, 1.0, "val_accuracy")
    assert runs.best_epoch([{**settled[0], "val_loss": float("nan")}, settled[1]]).epoch == 2
    # No validation at all: training accuracy decides, as training does.
    assert runs.best_epoch([{"epoch": 1, "accuracy": 0.5}, {"epoch": 2, "accuracy": 0.7}]) == runs.BestEpoch(
        2, 0.7, "accuracy"
    )
    assert runs.best_epoch([]) is None
    assert runs.best_epoch([{"epoch": 1, "loss": 2.0}]) is None


def test_read_run_has_every_fact_and_reads_history_as_the_table_did(tmp_path):
    run = runs.create_run({"model": "lenet-5", "dataset": "/data/flowers", "epochs": 6}, "flowers", tmp_path)
    runs.write_status(run, state="stopped", epochs_done=3, pid=2**22 + 12345, test_accuracy=0.75, seconds=12.5)
    (run / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"
        "1,1.0,0.99,,,0.001,4\n2,0.8,0.7,0.9,0.6,0.001,4\n3,0.7,0.8,0.8,0.65,0.001,4\n4,0.3,garb"
    )
    (run / "backup").mkdir()
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 3, "batch": -1}')
    runs.set_meta(run, name="flowers baseline", note="first try")
    info = runs.read_run(run)
    assert (info.label, info.note, info.dataset, info.model) == ("flowers baseline", "first try", "flowers", "lenet-5")
    assert (info.epochs_done, info.epochs, info.history_rows, info.backup_epoch) == (3, 6, 3, 3)
    assert (info.best_epoch, info.best_val) == (3, 0.65)
    assert info.test_accuracy == 0.75 and info.seconds == 12.5 and info.started is not None
    assert info.can_resume and info.can_continue and not info.has_model and not info.has_evaluation
    problems = " | ".join(info.problems)
    assert "history.csv is damaged after epoch 3" in problems and "model.keras is missing" in problems
    assert "its curves (3 epochs)" in info.problem_text() and "Resume from epoch 3" in info.problem_text()
    assert runs.read_history(run) == runs.parse_history((run / "history.csv").read_text())[0]
    assert runs.display_name(info) == "flowers baseline"


def test_a_folder_that_cannot_be_read_at_all_is_listed_with_its_problem(tmp_path, monkeypatch):
    good = runs.create_run({"model": "m"}, "d", tmp_path)
    bad = runs.create_run({"model": "m"}, "d", tmp_path)
    real = runs.read_run

    def read_run(path):
        if path == bad:
            raise PermissionError("no access")
        return real(path)

    monkeypatch.setattr(runs, "read_run", read_run)
    listed = {r.path: r for r in runs.list_runs(tmp_path)}
    assert listed[good].problems == [] and "PermissionError" in listed[bad].problems[0]
    assert listed[bad].state == "unknown" and listed[bad].label == bad.name


def test_trashed_runs_go_on_to_the_system_trash_through_send2trash(tmp_path, monkeypatch):
    import send2trash

    sent = []
    monkeypatch.setattr(send2trash, "send2trash", lambda path: sent.append(path))  # never the real trash
    run = runs.create_run({"model": "m"}, "d", tmp_path)
    runs.write_status(run, state="finished")
    trashed = runs.trash_run(run, tmp_path)
    runs.send_to_system_trash(trashed)
    assert sent == [str(trashed)]


def test_the_command_line_lists_the_best_epoch_by_the_same_rule(tmp_path, monkeypatch, capsys):
    from core import cli

    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(tmp_path))
    run = runs.create_run({"model": "lenet-5", "dataset": "mnist"}, "mnist")
    runs.write_status(run, state="finished", pid=2**22 + 12345, epochs_done=2)
    (run / "history.csv").write_text("epoch,loss,accuracy,val_accuracy\n1,1.0,0.99,\n2,0.5,0.9,0.8\n")
    assert cli.cmd_runs(None) == 0
    out = capsys.readouterr().out
    assert run.name in out and "best epoch 2 (val 0.8000)" in out and "model.keras is missing" in out
