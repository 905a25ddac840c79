"""The one formatter of run names in lists (core.labels): runs that differ in one setting read apart."""

from types import SimpleNamespace

from core import ensemble, gallery, labels, runs
from core.config import TrainConfig


def _six_runs(tmp_path, **extra):
    """Six finished runs of the same model and dataset, differing only in their learning rate."""
    made = []
    for lr in [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003]:
        config = TrainConfig(learning_rate=lr, **extra).to_dict()
        run = runs.create_run(config, "mnist-sample", tmp_path)
        runs.write_status(run, state="finished", pid=None, test_accuracy=0.9)  # the same accuracy
        (run / "model.keras").write_bytes(b"")  # listed as a model file (never loaded here)
        made.append(run)
    return made


def test_six_runs_differing_in_one_setting_get_six_distinct_labels(tmp_path):
    made = _six_runs(tmp_path)
    infos = runs.list_runs(tmp_path)
    got = labels.run_labels(infos)
    assert len(set(got)) == 6
    by_path = dict(zip([i.path for i in infos], got, strict=True))
    assert by_path[made[3]].startswith("learning_rate=0.003 · simple-cnn-2 on mnist-sample")  # what differs first
    assert "test 90.00 %" in by_path[made[3]]
    assert all("seed" not in label for label in got)  # only what differs
    started = runs.read_run(made[0]).started
    assert started.strftime("%Y-%m-%d %H:%M") in by_path[made[0]]
    # the Gallery and Inside source lists use the same labels
    listed = gallery.run_entries(tmp_path)
    assert all(e.label.startswith(g) for e, g in zip(listed, got, strict=True))


def test_a_named_run_is_called_by_its_name_and_alike_runs_still_read_apart(tmp_path):
    a = runs.create_run(TrainConfig().to_dict(), "mnist-sample", tmp_path)
    b = runs.create_run(TrainConfig().to_dict(), "mnist-sample", tmp_path)
    runs.set_meta(a, name="my best")
    infos = runs.list_runs(tmp_path)
    got = dict(zip([i.path for i in infos], labels.run_labels(infos), strict=True))
    assert got[a].startswith("my best")
    assert got[b].startswith("simple-cnn-2 on mnist-sample")
    runs.create_run(TrainConfig().to_dict(), "mnist-sample", tmp_path)  # alike in every way
    infos = runs.list_runs(tmp_path)
    assert len(set(labels.run_labels(infos))) == 3


def test_ensemble_members_and_csv_headers_are_distinct(tmp_path):
    made = _six_runs(tmp_path)
    members = [SimpleNamespace(path=run / "model.keras", title="Simple CNN (2 conv) on MNIST sample") for run in made]
    names = ensemble.member_labels(members)
    assert len(set(names)) == 6 and "learning_rate=0.1" in names[0]
    # two copies of the same file outside any run still read apart
    other = [SimpleNamespace(path=tmp_path / d / "m.keras", title="Same") for d in ("x", "y")]
    assert len(set(ensemble.member_labels(other))) == 2
