"""Studies (core/studies, issue 17) in this process: plans, designs, bad input, a grid through the
command line with its table, OFAT rows, a pruned trial and a failed trial. Trials train a tiny
simple-cnn-1 for one epoch on 100 images of the bundled MNIST sample; the multi-process checks
(several workers, gRPC, SIGKILL) are in test_studies_workers.py."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from core import runs
from core.cli import run_cli
from core.studies import designs
from core.studies.plan import StudyError, StudyPlan, bundled_plans, load_plan_file, parse_duration, parse_vary

TINY = ["--model", "simple-cnn-1", "--epochs", "1", "--limit", "100", "--batch-size", "50"]
TINY += ["--option", "filters=4", "--option", "dense_units=8", "--set", "tensorboard=false"]


def tiny_base(**extra) -> dict:
    from core.config import TrainConfig

    base = TrainConfig(model="simple-cnn-1", epochs=1, limit=100, batch_size=50, tensorboard=False).to_dict()
    base["model_options"] = {"filters": 4, "dense_units": 8}
    base.update(extra)
    return base


# --------------------------------------------------------------------------------------------
# Plans and designs (no training)


def test_vary_syntax_lists_ranges_and_conditions():
    f = parse_vary("batch_size=64,128")
    assert (f.key, f.values, f.is_range) == ("batch_size", ["64", "128"], False)
    f = parse_vary("learning_rate=1e-4..1e-2:log")
    assert (f.low, f.high, f.log, f.is_range) == (1e-4, 1e-2, True, True)
    f = parse_vary("momentum=0,0.9@optimizer=sgd")
    assert f.values == ["0", "0.9"] and f.when == {"optimizer": ["sgd"]}
    f = parse_vary("conv_layers=[32x5,64x3],[16x3]")
    assert f.values == ["32x5,64x3", "16x3"]
    assert parse_duration("10m") == 600 and parse_duration("1h30m") == 5400 and parse_duration("90s") == 90


def test_grid_with_a_conditional_factor_and_ranges_for_tpe():
    plan = StudyPlan(
        "g",
        tiny_base(),
        [parse_vary(v) for v in ("optimizer=adam,sgd", "momentum=0.5,0.9@optimizer=sgd", "batch_size=32,64")],
    ).check()
    trials = designs.planned_trials(plan)
    assert len(trials) == 6  # adam x 2 batch sizes, sgd x 2 momenta x 2 batch sizes
    assert all(("momentum" in t) == (t["optimizer"] == "sgd") for t in trials)
    assert {type(t["batch_size"]) for t in trials} == {int}
    tpe = StudyPlan("t", tiny_base(), [parse_vary("learning_rate=1e-4..1e-2:log")], design="tpe", trials=3).check()
    assert designs.planned_trials(tpe) is None and tpe.factors[0].integer is False


def test_random_and_tpe_suggest_conditional_factors_only_when_they_apply():
    import optuna

    for design in ("random", "tpe"):
        plan = StudyPlan(
            "c",
            tiny_base(),
            [parse_vary(v) for v in ("optimizer=adam,sgd", "momentum=0..0.99@optimizer=sgd", "batch_size=16..256:log")],
            design=design,
            trials=12,
        ).check()
        study = optuna.create_study(sampler=designs.make_sampler(plan), direction=plan.direction)
        seen = set()
        for i in range(12):
            trial = study.ask()
            params = designs.suggest(trial, plan)
            assert ("momentum" in params) == (params["optimizer"] == "sgd")
            assert isinstance(params["batch_size"], int) and 16 <= params["batch_size"] <= 256
            config = plan.config_for(params)
            assert config.batch_size == params["batch_size"] and config.optimizer == params["optimizer"]
            seen.add(params["optimizer"])
            study.tell(trial, 0.1 * (i % 3))
        assert seen == {"adam", "sgd"}


def test_pruners_and_samplers_for_each_plan():
    import optuna

    plan = StudyPlan("p", tiny_base(epochs=9), [parse_vary("dropout=0.0..0.5")], design="tpe", trials=8)
    for name, kind in (("none", "NopPruner"), ("median", "MedianPruner"), ("hyperband", "HyperbandPruner")):
        plan.pruner = name
        assert type(designs.make_pruner(plan)).__name__ == kind
    assert isinstance(designs.make_sampler(plan), optuna.samplers.TPESampler)
    plan.design = "random"
    assert isinstance(designs.make_sampler(plan), optuna.samplers.RandomSampler)


def test_ofat_is_the_baseline_then_each_value_alone():
    plan = StudyPlan(
        "o", tiny_base(), [parse_vary("batch_size=32,50,64"), parse_vary("optimizer=sgd,rmsprop")], design="ofat"
    ).check()
    trials = designs.planned_trials(plan)
    labels = [designs.row_label(plan, t) for t in trials]
    # batch size 50 is the baseline's own value: no row of its own
    assert labels == [
        ("baseline", ""),
        ("batch_size", "32"),
        ("batch_size", "64"),
        ("optimizer", "sgd"),
        ("optimizer", "rmsprop"),
    ]
    assert trials[0] == {"batch_size": 50, "optimizer": "adam"}


def test_the_ofat_table_is_the_seeds_table_with_differences_to_the_baseline():
    from core.studies import table

    plan = StudyPlan("o", tiny_base(), [parse_vary("batch_size=32,64"), parse_vary("optimizer=sgd")], design="ofat")
    plan.check()
    rows = []
    for number, (params, val, test, state) in enumerate(
        [
            ({"batch_size": 50, "optimizer": "adam"}, 0.90, 0.91, "complete"),
            ({"batch_size": 32, "optimizer": "adam"}, 0.92, 0.90, "complete"),
            ({"batch_size": 64, "optimizer": "adam"}, 0.85, 0.86, "pruned"),
            ({"batch_size": 50, "optimizer": "sgd"}, None, None, "failed"),
        ]
    ):
        label = designs.row_label(plan, params)
        rows.append(table.TrialRow(number, state, params, val, val, None, test, 2, 1.0, None, row=label))
    header, body = table.table_data(rows, plan)
    assert header[:6] == ["factor", "value", "val acc", "test acc", "val diff", "test diff"]
    assert [r[:6] for r in body] == [
        ["baseline", "", "0.9000", "0.9100", "", ""],
        ["batch_size", "32", "0.9200", "0.9000", "+0.0200", "-0.0100"],
        ["batch_size", "64", "0.8500", "0.8600", "-0.0500", "-0.0500"],
        ["optimizer", "sgd", "", "", "", ""],
    ]
    md = table.to_markdown(header, body).splitlines()
    assert md[0].startswith("| factor | value | val acc | test acc |") and len(md) == 6
    assert table.best_line(rows, plan, "F") == (
        "best: trial 1 val_accuracy 0.9200 test accuracy 0.9000 (batch_size=32), study saved in F"
    )


def test_the_ready_made_studies_parse_and_fit_the_sample():
    files = {p.stem: p for p in bundled_plans()}
    assert {"photos", "cifar-tricks"} <= set(files)
    for path in files.values():
        plan = StudyPlan(**load_plan_file(path)).check()
        assert plan.design == "ofat" and plan.base["dataset"] == "mnist-sample"
        trials = designs.planned_trials(plan)
        assert len(trials) >= 8
        from core.models import check_input

        for t in trials:  # every row can take the sample's 28x28 images
            config = plan.config_for(t)
            check_input(config.model, (28, 28, 1), config.model_options)
    text = files["photos"].read_text()
    assert len(re.findall(r'^dataset = "mnist-sample"$', text, re.M)) == 1  # one line to change
    photos = StudyPlan(**load_plan_file("photos")).check()  # also found by name
    assert {f.key for f in photos.factors} == {"stride", "dense_layers", "batch_size", "conv_layers", "rescale_input"}
    cifar = StudyPlan(**load_plan_file(files["cifar-tricks"])).check()
    assert cifar.factor("learning_rate").when == {"optimizer": ["sgd"]}  # SGD at its own rate too


# --------------------------------------------------------------------------------------------
# Bad input: one sentence, nothing started

BAD = [
    (["--vary", "bogus=1,2"], r"'bogus' is not a setting or an option of simple-cnn-1"),
    (["--vary", "batch_size=64,abc"], r"Factor batch_size takes a whole number; 'abc' is not one\."),
    (["--vary", "dropout=lots"], r"Factor dropout: .*option 'dropout' must be a number"),
    (["--vary", "optimizer=adam,adagrad"], r"Factor optimizer=adagrad: Check the settings: optimizer must be one of"),
    (["--vary", "learning_rate=1e-2..1e-4:log", "--design", "tpe", "--trials", "3"], r"range 0\.01\.\.0\.0001 .*empty"),
    (["--vary", "learning_rate=1e-4..1e-2"], r"is a range; the full grid design needs a list"),
    (["--vary", "batch_size=50", "--design", "ofat"], r"design yields no trial"),
    (["--vary", "learning_rate=1e-4..1e-2", "--design", "tpe"], r"needs a budget"),
    (["--vary", "momentum=0,0.9@optimizer=sgd"], r"depends on optimizer, which is not another factor"),
    (["--vary", "batch_size=32", "--storage", "sqlite:////no/such/folder/s.db"], r"cannot be reached"),
    (["--vary", "batch_size=32", "--storage", "ftp://x"], r"is not a study storage"),
    (["--vary", "batch_size=32", "--name", "bad name!"], r"is not one\."),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_sentence_and_starts_nothing(args, message, capsys):
    from core import paths

    rc = run_cli(["sweep", *TINY, *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert err[-1].startswith("error: ") and re.search(message, err[-1]), err[-1]
    assert not paths.runs_dir().exists() or not any(paths.runs_dir().iterdir())


def test_unreachable_grpc_storage(monkeypatch, capsys):
    import socket

    from core.studies import storage

    monkeypatch.setattr(storage, "GRPC_CONNECT_TIMEOUT", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = run_cli(["sweep", *TINY, "--vary", "batch_size=32", "--storage", f"grpc://127.0.0.1:{port}"])
    assert rc == 2
    assert "no Optuna gRPC proxy answers there" in capsys.readouterr().err


def test_a_database_url_without_its_driver_names_the_package_to_install(monkeypatch):
    import builtins

    from core.studies.storage import open_storage

    real_import = builtins.__import__

    def no_driver(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.split(".")[0] in ("psycopg", "psycopg2"):  # the driver, not SQLAlchemy's own module
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_driver)
    with pytest.raises(StudyError, match=r"driver 'psycopg2?'.*pip install ('psycopg\[binary\]'|psycopg2-binary)"):
        open_storage("postgresql://user@127.0.0.1:1/studies")


def test_a_study_name_with_another_search_space_is_refused_with_the_difference():
    from core.studies.runner import prepare

    prepare(StudyPlan("same", tiny_base(), [parse_vary("batch_size=32,64")]))
    prepare(StudyPlan("same", tiny_base(), [parse_vary("batch_size=32,64")]))  # same space: continues
    with pytest.raises(StudyError) as err:
        prepare(StudyPlan("same", tiny_base(epochs=2), [parse_vary("batch_size=64,128")]))
    text = str(err.value)
    assert text.startswith("A study called same already exists with a different search space")
    assert "batch_size=32,64 in the study, batch_size=64,128 now" in text
    assert "epochs 1 in the study, 2 now" in text


# --------------------------------------------------------------------------------------------
# Running


def test_grid_of_four_through_the_command_line(capsys):
    rc = run_cli(["sweep", *TINY, "--vary", "optimizer=adam,sgd", "--vary", "batch_size=25,50", "--name", "g4"])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.strip().splitlines()
    progress = [ln for ln in lines if re.match(r"trial \d+ \(", ln)]
    assert len(progress) == 4 and all(" complete " in ln for ln in progress), progress
    best = re.match(
        r"best: trial (\d) val_accuracy (\d\.\d{4}) test accuracy (\d\.\d{4}) "
        r"\(optimizer=(adam|sgd) batch_size=(25|50)\), study saved in (.+)$",
        lines[-1],
    )
    assert best, lines[-1]
    assert Path(best.group(6)).name == "g4" and (Path(best.group(6)) / "journal.log").is_file()

    # each trial is a run folder in the Runs list, tagged with its study, trial number and values
    listed = runs.list_runs()
    assert len(listed) == 4
    seen = {}
    for info in listed:
        meta = runs.read_meta(info.path)
        assert meta["study"] == "g4" and info.state == "finished"
        assert runs.display_name(info) == f"g4 #{meta['trial']}"
        assert info.config["optimizer"] == meta["params"]["optimizer"]
        assert info.config["batch_size"] == meta["params"]["batch_size"]
        seen[meta["trial"]] = info
    assert sorted(seen) == [0, 1, 2, 3]

    assert run_cli(["study", "g4", "--markdown"]) == 0
    md = capsys.readouterr().out.strip().splitlines()
    assert md[0] == "| trial | optimizer | batch_size | val_accuracy | test acc | epochs | seconds | state |"
    assert len(md) == 6 and all(ln.endswith("| complete |") for ln in md[2:])
    assert run_cli(["study", "g4", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["optimizer"], r["batch_size"]) for r in rows) == [
        ("adam", "25"),
        ("adam", "50"),
        ("sgd", "25"),
        ("sgd", "50"),
    ]
    assert run_cli(["studies"]) == 0
    assert re.search(r"^g4\s+grid\s+simple-cnn-1\s+vary optimizer batch_size", capsys.readouterr().out, re.M)

    # the same command again continues the study: nothing left to run
    rc = run_cli(["sweep", *TINY, "--vary", "optimizer=adam,sgd", "--vary", "batch_size=25,50", "--name", "g4"])
    assert rc == 0 and not [ln for ln in capsys.readouterr().out.splitlines() if re.match(r"trial \d+ \(", ln)]
    assert len(runs.list_runs()) == 4


def test_pruned_and_failed_trials_are_recorded_and_the_study_goes_on(monkeypatch):
    import optuna

    from core.studies import table
    from core.studies.runner import run_study

    # Always prune after the first epoch (a threshold no accuracy reaches), so the test is exact.
    monkeypatch.setattr(designs, "make_pruner", lambda plan: optuna.pruners.ThresholdPruner(lower=2.0))
    base = tiny_base(model="custom-cnn", epochs=3)
    base["model_options"] = {"conv_layers": "4x3,4x3,4x3", "dense_units": 8}
    # pool_every=1 makes 3 pools after 3 convs: fine for 28x28; stride 8 leaves nothing to pool: fails
    plan = StudyPlan("pf", base, [parse_vary("stride=1,8")], pruner="median")
    seen = []
    result = run_study(plan, on_trial=seen.append)
    by_stride = {r.params["stride"]: r for r in result.rows}
    failed, pruned = by_stride["8"], by_stride["1"]
    assert failed.state == "failed" and "needs images of at least" in failed.error
    assert pruned.state == "pruned" and pruned.epochs == 1 and pruned.test_accuracy is not None
    run_dir = Path(pruned.run_dir)
    assert runs.read_status(run_dir)["state"] == "stopped" and runs.read_status(run_dir)["epochs_done"] == 1
    assert runs.read_meta(run_dir)["pruned"] is True
    assert len(seen) == 2
    states = {table.progress_line(t, plan, 2).split("  ")[0].split(") ")[1] for t in seen}
    assert states == {"failed", "pruned after epoch 1"}
    header, body = table.table_data(result.rows, plan)
    assert sorted(row[-1] for row in body) == ["failed", "pruned"]
    assert json.loads(json.dumps(result.plan.to_dict()))["name"] == "pf"


def test_deleting_a_study_moves_its_runs_and_folder_to_the_trash():
    from core import paths
    from core.studies import storage
    from core.studies.runner import prepare
    from core.studies.worker import tag_run

    _, _, folder, _ = prepare(StudyPlan("gone", tiny_base(), [parse_vary("batch_size=32,64")]))
    mine = runs.create_run(tiny_base(), "mnist-sample")
    tag_run(mine, "gone", 0, {"batch_size": 32})
    other = runs.create_run(tiny_base(), "mnist-sample")
    runs.write_status(mine, state="finished")
    assert storage.study_runs("gone") == [mine]
    target = storage.delete_study("gone")
    assert not folder.exists() and (target / "plan.json").is_file()
    assert not mine.exists() and (paths.workspace_dir() / "trash" / mine.name).is_dir() and other.is_dir()
    assert storage.list_studies() == []
    with pytest.raises(StudyError, match="No study called gone"):
        storage.load_study("gone")


def test_deleting_a_study_can_send_it_on_to_the_system_trash(monkeypatch):
    from core.studies import storage
    from core.studies.runner import prepare
    from core.studies.worker import tag_run

    prepare(StudyPlan("binned", tiny_base(), [parse_vary("batch_size=32,64")]))
    mine = runs.create_run(tiny_base(), "mnist-sample")
    tag_run(mine, "binned", 0, {"batch_size": 32})
    runs.write_status(mine, state="finished")
    sent = []

    def send(path):
        sent.append(path)
        if len(sent) == 1:
            raise OSError("no trash on this volume")  # the run stays in the workspace's trash

    monkeypatch.setattr(runs, "send_to_system_trash", send)
    target = storage.delete_study("binned", system_trash=True)
    assert [p.name for p in sent] == [mine.name, target.name]
    assert storage.list_studies() == []


def test_a_factor_the_auto_recipe_chooses_is_refused_over_an_auto_baseline():
    """Auto would overwrite a trial's learning rate; the study says so instead of running equal trials."""
    with pytest.raises(StudyError, match="learning_rate is chosen by the baseline's Auto recipe"):
        StudyPlan("a", tiny_base(recipe="auto"), [parse_vary("learning_rate=1e-3,1e-2")], design="grid").check()
    # Factors Auto leaves alone still vary, and a manual baseline varies anything.
    StudyPlan("b", tiny_base(recipe="auto"), [parse_vary("dropout=0.1,0.3")], design="grid").check()
    StudyPlan("c", tiny_base(), [parse_vary("learning_rate=1e-3,1e-2")], design="grid").check()


def test_the_recipe_fields_a_study_refuses_are_exactly_those_auto_chooses():
    from core import auto

    fields, _ = auto.choose_recipe(
        auto.TrainConfig(model="auto", recipe="auto"), auto.facts_from_counts((8, 8, 1), [40, 40])
    )
    assert set(fields) == set(auto.RECIPE_FIELDS)
