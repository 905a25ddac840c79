"""The Train tab's state without widgets or TensorFlow: the run's phases, what is enabled, the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.config import TrainConfig
from core.errors import DatasetError, ModelError, OfflineError, OutOfMemoryError, WorkbenchError
from gui.train.state import (
    ACTIVE,
    AT_REST,
    PHASE_TEXT,
    READY_TEXT,
    TRANSITIONS,
    Fix,
    IllegalTransition,
    Phase,
    TrainState,
    fix_for,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {"name": "mnist-sample", "image_shape": [28, 28, 1], "classes": 10}


def ready_state(**config) -> TrainState:
    state = TrainState(TrainConfig(**config))
    state.datasets = {"mnist-sample": SAMPLE}
    state.specs = {"simple-cnn-2": object(), "lenet-5": object()}
    state.populated = state.tf_ready = True
    return state


def in_phase(phase: Phase) -> TrainState:
    state = ready_state()
    state.phase = phase
    return state


def test_importing_the_state_needs_neither_qt_nor_tensorflow():
    code = (
        "import sys, gui.train.state\n"
        "print(sorted(m for m in ('PySide6', 'tensorflow', 'keras', 'pyqtgraph') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("event", list(TRANSITIONS))
def test_every_legal_transition_leads_where_it_should(event):
    allowed, target = TRANSITIONS[event]
    assert allowed
    for phase in allowed:
        state = in_phase(phase)
        assert state.can(event)
        assert state.fire(event) is target and state.phase is target


@pytest.mark.parametrize("event", list(TRANSITIONS))
def test_illegal_transitions_are_refused_and_change_nothing(event):
    allowed, _ = TRANSITIONS[event]
    for phase in set(Phase) - allowed:
        state = in_phase(phase)
        assert not state.can(event)
        with pytest.raises(IllegalTransition):
            state.fire(event)
        assert state.phase is phase


def test_start_pause_resume_stop_and_what_is_enabled_on_the_way():
    state = ready_state()
    seen = []

    def snapshot():
        a = state.actions()
        seen.append((state.phase.value, a.start, a.pause, a.stop, a.form_editable, a.pause_resumes))

    snapshot()
    for event in ("start", "run_started", "pause", "resume", "stop", "stopped"):
        state.fire(event)
        snapshot()
    assert seen == [
        # phase       start  pause  stop   form   "Resume"
        ("idle", True, False, False, True, False),
        ("preparing", False, False, True, False, False),
        ("running", False, True, True, False, False),
        ("paused", False, True, True, False, True),
        ("running", False, True, True, False, False),
        ("stopping", False, False, False, False, False),
        ("stopped", True, False, False, True, False),
    ]


@pytest.mark.parametrize("phase", list(Phase))
def test_enabled_actions_in_each_phase(phase):
    state = in_phase(phase)
    actions = state.actions()
    assert state.running == (phase in ACTIVE)
    assert actions.start == (phase in AT_REST)
    assert actions.form_editable == (phase in AT_REST)
    assert actions.pause == (phase in (Phase.RUNNING, Phase.PAUSED))
    assert actions.stop == (phase in (Phase.PREPARING, Phase.RUNNING, Phase.PAUSED))
    assert actions.pause_resumes == (phase is Phase.PAUSED)
    assert (actions.start_problem is None) == actions.start
    assert state.status_text() == (PHASE_TEXT[phase] if phase in ACTIVE else READY_TEXT)


def test_a_run_can_end_from_any_active_phase_and_the_next_one_can_start():
    for phase in ACTIVE:
        for outcome, ended in (("finished", Phase.FINISHED), ("stopped", Phase.STOPPED), ("failed", Phase.FAILED)):
            state = in_phase(phase)
            state.fire(outcome)
            assert state.phase is ended and not state.running and state.actions().start
            state.fire("start")
            assert state.phase is Phase.PREPARING


def test_why_start_is_off_comes_in_order_and_notes_stay_until_the_next_run():
    state = TrainState()
    assert state.start_problem() == "The app is still starting."
    state.populated = True
    assert "TensorFlow" in state.start_problem()
    state.tf_ready = True
    state.model_problem = "LeNet-5 needs images of at least 28x28 pixels."
    state.set_preview_failed("only one class folder")
    assert state.start_problem() == "The dataset cannot be used: only one class folder"
    assert state.status_text() == state.start_problem()
    state.preview_problem = None
    assert state.start_problem() == state.model_problem and not state.actions().start
    state.model_problem = None
    assert state.start_problem() is None and state.status_text() == READY_TEXT
    state.note = "Showing the saved run x."
    assert state.status_text() == "Showing the saved run x."
    state.fire("start")
    assert state.note is None and state.start_problem() == "A run is in progress."


def test_the_config_round_trips_and_is_kept_in_one_place():
    config = TrainConfig(
        dataset="/data/photos",
        model="lenet-5",
        model_options={"dropout": 0.3},
        optimizer="sgd",
        learning_rate=0.05,
        momentum=0.8,
        batch_size=32,
        epochs=20,
        image_size=64,
        limit=1000,
        augment_flip=True,
        seed=7,
        name="try 1",
    )
    state = ready_state()
    state.apply(config)
    assert state.config == config
    assert TrainState.config_from_settings(state.to_settings()) == config
    copy = state.config
    copy.batch_size = 1
    copy.model_options["dropout"] = 0.9
    assert state.config == config, "the config handed out is a copy"
    assert state.update(batch_size=64, epochs=20) == {"batch_size"}
    assert state.config.batch_size == 64
    with pytest.raises(KeyError):
        state.update(no_such_field=1)
    # A new user (no settings) starts from Auto for 2 minutes; the classic defaults stay TrainConfig's.
    assert TrainState.config_from_settings(None) == TrainConfig(model="auto", recipe="auto", time_budget=120.0)
    assert TrainState().config == TrainState.config_from_settings(None)
    assert TrainState.config_from_settings({"model": "lenet-5", "unknown": 1}).model == "lenet-5"


def test_a_loaded_preview_is_dropped_when_the_settings_it_was_loaded_for_change():
    state = ready_state()
    preview = SimpleNamespace(image_shape=(20, 20, 1), class_names=["a", "b"], dataset=object())
    state.set_preview(preview)
    assert state.input_shape() == (20, 20, 1) and state.num_classes() == 2
    state.update(epochs=3, batch_size=16)  # not a dataset setting: the preview stays
    assert state.preview is preview
    for field, value in (("seed", 99), ("limit", 10), ("validation_split", 0.3), ("image_size", 32)):
        state.set_preview(preview)
        assert field in state.update(**{field: value})
        assert state.preview is None, field
    assert state.input_shape() == (28, 28, 1) and state.num_classes() == 10  # the built-in's own
    state.set_preview_failed("broken")
    state.update(limit=20)
    assert state.preview_problem == "broken", "another limit does not mend the dataset"
    state.update(dataset="/data/other")
    assert state.preview_problem is None and state.is_folder() and state.input_shape() is None
    assert state.summary_key() is None


def test_model_options_are_kept_per_model():
    state = ready_state(model="simple-cnn-2")
    state.set_options(["dropout", "filters"], {"dropout": 0.4})
    state.set_options(["weight_decay"], {"weight_decay": 1e-4})
    assert state.get("model_options") == {"dropout": 0.4, "weight_decay": 1e-4}
    assert state.select_model("lenet-5") == {}
    state.set_options(["dropout"], {"dropout": 0.1})
    assert state.select_model("simple-cnn-2") == {"dropout": 0.4, "weight_decay": 1e-4}
    assert state.get("model_options") == {"dropout": 0.4, "weight_decay": 1e-4}
    assert state.select_model("lenet-5") == {"dropout": 0.1}
    state.forget_options(["dropout"])
    assert state.get("model_options") == {}
    assert state.summary_key() == ("lenet-5", (28, 28, 1), 10, ())


def test_the_fix_offered_for_a_failed_run_is_chosen_by_the_errors_type():
    assert fix_for(OutOfMemoryError("no memory")) is Fix.HALVE_BATCH
    assert fix_for(WorkbenchError("Training ran out of memory.")) is None  # words do not count
    assert fix_for(OfflineError("offline")) is Fix.USE_SAMPLE
    assert fix_for(DatasetError("one class")) is None
    assert fix_for(ModelError("too small")) is Fix.CHOOSE_MODEL
    assert fix_for(None) is None and fix_for(RuntimeError("x")) is None


def test_runs_to_resume_wait_until_a_run_may_start():
    state = TrainState()
    assert state.queue_resume(Path("/runs/a"))
    assert not state.queue_resume(Path("/runs/a"))
    assert state.queue_resume(Path("/runs/b"), 5)
    assert state.next_resume() is None  # TensorFlow is not ready
    state.tf_ready = True
    state.phase = Phase.RUNNING
    assert state.next_resume() is None  # a run is in progress
    state.phase = Phase.FINISHED
    assert state.next_resume() == (Path("/runs/a"), 0)
    assert state.next_resume() == (Path("/runs/b"), 5)
    assert state.next_resume() is None


def test_auto_says_what_it_would_choose_once_the_dataset_is_previewed():
    state = ready_state(model="auto", recipe="auto")
    assert state.auto_choices() is None and state.model_to_build() == ("auto", {})  # not previewed yet
    counts = {"train": [300, 3, 300]}
    state.set_preview(SimpleNamespace(image_shape=(28, 28, 1), counts=counts, class_names=["a", "b", "c"]))
    choices = {c.what: c for c in state.auto_choices()}
    assert choices["Model"].value.startswith("Auto CNN, 3 blocks") and choices["Class weights"].value == "on"
    assert state.model_to_build() == ("auto-cnn", {"blocks": 3, "filters": 24})
    assert state.summary_key() == ("auto-cnn", (28, 28, 1), 3, (("blocks", 3), ("filters", 24)))
    assert "only 3 training images" in state.transfer_advice()  # very few in one class: transfer learning
    state.update(pretrained=True)
    assert state.transfer_advice() is None
    state.update(model="simple-cnn-2", recipe="manual")
    assert state.auto_choices() == [] and state.model_to_build() == ("simple-cnn-2", {})


def test_the_card_viewer_shows_autos_choices():
    from gui.dialogs import card_html

    card = {
        "class_names": ["a", "b"],
        "input_shape": [28, 28, 1],
        "auto": [{"what": "Model", "value": "Auto CNN, 3 blocks", "why": "Small images train fast."}],
    }
    text = card_html(card, Path("model.keras"))
    assert "Auto: Model" in text and "Auto CNN, 3 blocks. Small images train fast." in text
