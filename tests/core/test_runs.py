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
