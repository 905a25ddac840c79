"""The Experiments tab's state without widgets: the setup as a plan, the trial count before starting,
the engine's sentences for bad input, study files, and the plots' data from trial rows."""

from __future__ import annotations

import math

from core.studies.table import TrialRow
from gui.experiments.state import ExperimentsState, Phase, candidates, draft


def tiny_state() -> ExperimentsState:
    from core.config import TrainConfig

    state = ExperimentsState()
    base = TrainConfig(model="simple-cnn-1", epochs=2, limit=100, batch_size=50, tensorboard=False).to_dict()
    state.set_baseline(base, "the test")
    return state


def row(number, state="complete", value=None, **params) -> TrialRow:
    return TrialRow(number, state, params, value, value, None, 0.5, 2, 3.0, None)


def test_candidates_are_settings_and_the_baseline_models_options():
    keys = {c.key: c for c in candidates(tiny_state().baseline)}
    assert {"batch_size", "optimizer", "learning_rate", "model"} <= set(keys)
    assert keys["filters"].kind == "option" and keys["batch_size"].kind == "setting"
    assert "name" not in keys and "model_options" not in keys and "dataset" not in keys


def test_the_trial_count_is_shown_before_starting_for_each_design():
    state = tiny_state()
    state.add_factor("batch_size", "32,64")
    state.add_factor("optimizer", "sgd,rmsprop")
    state.design = "ofat"
    preview = state.preview()
    assert preview.ok and preview.trials == 5 and preview.text.startswith("5 trials (one factor at a time)")
    state.design = "grid"
    assert state.preview().trials == 4
    state.trials = 3
    assert state.preview().trials == 3
    state.add_factor("learning_rate", "1e-4..1e-2:log")
    state.design, state.trials = "tpe", 0
    assert not state.preview().ok and "needs a budget" in state.preview().text
    state.time_budget = "10m"
    preview = state.preview()
    assert preview.ok and preview.trials is None and "time budget (10m)" in preview.text
    state.add_factor("optimizer", "sgd")  # the same key replaces its values
    assert [f.values for f in state.factors if f.key == "optimizer"] == ["sgd"]


def test_bad_input_gives_the_engines_sentence():
    state = tiny_state()
    assert "needs at least one factor" in state.preview().text
    state.add_factor("optimiser", "sgd")
    assert "'optimiser' is not a setting or an option of simple-cnn-1" in state.preview().text
    state.remove_factor("optimiser")
    state.add_factor("batch_size", "many")
    assert "Factor batch_size takes a whole number; 'many' is not one." in state.preview().text
    state.factors[0].values = "50"  # the baseline's own value
    assert "yields no trial" in state.preview().text
    state.factors[0].values = "8..64"
    assert "is a range; the one factor at a time design needs a list" in state.preview().text
    state.design, state.trials = "random", 2
    state.factors[0].values = "64..8"
    assert "is empty" in state.preview().text
    state.factors[0].values = "8..64"
    state.time_budget = "soon"
    assert "'soon' is not a duration" in state.preview().text
    assert not state.enabled(state.preview())["start"]


def test_a_name_in_use_with_another_search_space_is_refused_with_the_difference():
    state = tiny_state()
    state.add_factor("batch_size", "32,64")
    state.name = "mine"
    plan = state.preview().plan
    state.existing = {"mine": plan.to_dict()}
    same = state.preview()
    assert same.ok and same.text.startswith("Continues study mine")
    state.add_factor("batch_size", "32,128")
    refused = state.preview()
    assert not refused.ok and "already exists with a different search space" in refused.text
    assert "batch_size=32,64 in the study, batch_size=32,128 now" in refused.text
    state.add_factor("batch_size", "32,64")
    state.show_study(plan, None)
    state.set_rows([row(0, value=0.5), row(1, value=0.6), row(2, value=0.4)])
    done = state.preview()
    assert not done.ok and "has run all its trials: give another name" in done.text


def test_study_files_fill_the_setup_and_their_factors_read_back_the_same():
    from core.paths import RESOURCES_DIR
    from core.studies.plan import parse_vary

    state = ExperimentsState()
    state.load_plan_file(RESOURCES_DIR / "studies" / "photos.toml")
    assert state.baseline["model"] == "custom-cnn" and state.design == "ofat" and state.name == "photos"
    conv = next(f for f in state.factors if f.key == "conv_layers")
    assert parse_vary(conv.text()).values[0] == "32x5,128x5,512x3"  # commas kept inside brackets
    assert state.preview().trials == 10
    state.load_plan_file(RESOURCES_DIR / "studies" / "cifar-tricks.toml")
    rate = next(f for f in state.factors if f.key == "learning_rate")
    assert rate.values == "0.01@optimizer=sgd"
    assert parse_vary(rate.text()).when == {"optimizer": ["sgd"]}
    plan = state.preview().plan
    assert [draft(f).text() for f in plan.factors][-1] == "learning_rate=0.01@optimizer=sgd"


def test_objective_series_best_so_far_and_parallel_coordinates():
    state = tiny_state()
    state.add_factor("batch_size", "32,64")
    state.add_factor("learning_rate", "1e-4..1e-2:log")
    state.design, state.trials = "random", 4
    plan = state.preview().plan
    state.show_study(plan, None)
    state.set_rows(
        [
            row(0, value=0.5, batch_size=32, learning_rate=1e-4),
            row(1, value=0.7, batch_size=64, learning_rate=1e-2),
            row(2, "pruned", None, batch_size=64, learning_rate=1e-3),
            row(3, value=0.6, batch_size=64, learning_rate=1e-3),
            row(4, "running", None),
        ]
    )
    xs, ys, best = state.objective_series()
    assert (xs, ys, best) == ([0, 1, 3], [0.5, 0.7, 0.6], [0.5, 0.7, 0.7])
    axes, ticks, lines = state.parallel()
    assert axes == ["batch_size", "learning_rate", "val_accuracy"]
    first = lines[0][0]
    assert first[0] in (0.0, 0.5) and first[1] == 0.0 and first[2] == 0.0  # 1e-4 is the log range's low end
    assert math.isclose(lines[2][0][1], 0.5) and lines[1][0][2] == 1.0
    assert state.progress() == (4, 5) and state.best().number == 1
    assert "Best: trial 1" in state.summary()
    state.phase = Phase.RUNNING
    running = state.preview()
    assert running.info and not running.ok and "is running: Stop it" in running.text
    enabled = state.enabled()
    assert enabled["stop"] and not enabled["start"] and not enabled["delete"] and not enabled["continue"]
    state.phase = Phase.IDLE
    assert state.enabled()["continue"]  # a trial is still running or waiting: it can be continued


def test_retried_and_stopped_trials_show_once():
    state = tiny_state()
    state.add_factor("batch_size", "32,64")
    state.show_study(state.preview().plan, None)
    state.set_rows([row(0, "stopped"), row(1, value=0.5), row(2, "retried"), row(3, "waiting")])
    assert [r.number for r in state.visible_rows()] == [1, 3]
    assert state.counts() == {"complete": 1, "waiting": 1}


def test_the_setup_is_remembered_and_damaged_settings_are_left_out():
    state = tiny_state()
    state.add_factor("batch_size", "32,64")
    state.design, state.jobs, state.time_budget = "grid", 2, "5m"
    saved = state.settings()
    again = ExperimentsState()
    again.restore_settings(saved)
    assert again.settings() == saved and again.baseline_source == "the test"
    damaged = ExperimentsState()
    damaged.restore_settings({"jobs": "two", "factors": [["batch_size"], 5, ["lr", 1e-3]], "baseline": "x"})
    assert damaged.jobs == 1 and damaged.factors == [] and damaged.baseline["model"] == "simple-cnn-2"
