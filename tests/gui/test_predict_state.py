"""The Predict tab's state without widgets or TensorFlow: models, drops, batches, the single view."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gui.predict.state import DROP_HINT, PredictState, initial_models, plan_drop

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Row:
    """Stands in for core.ensemble.SourceResult (only ``ok`` matters to the state)."""

    name: str
    ok: bool = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_importing_the_state_loads_neither_qt_nor_tensorflow():
    code = (
        "import sys, gui.predict.state; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_initial_models_are_last_times_that_still_exist_else_the_shipped_one(tmp_path):
    shipped = tmp_path / "shipped.keras"
    kept = tmp_path / "a.keras"
    kept.touch()
    assert initial_models([str(kept), str(tmp_path / "gone.keras"), 3], shipped) == [kept]
    assert initial_models([str(tmp_path / "gone.keras")], shipped) == [shipped]
    assert initial_models([], shipped) == [shipped]


def test_choosing_and_loading_models():
    state = PredictState()
    state.choose_models([Path("/m/a.keras"), Path("/m/b.keras")])
    assert state.load_when_ready  # chosen, not loaded: load when TensorFlow is ready
    state.start_loading(state.wanted)
    assert not state.load_when_ready and state.loading == [Path("/m/a.keras"), Path("/m/b.keras")]
    state.use_models([Path("/m/a.keras")])
    assert state.has_model and state.loading is None and state.model_problem is None
    state.use_models([], problem="refused for your safety")
    assert not state.has_model and state.model_problem == "refused for your safety"


def test_a_refused_choice_gives_way_to_the_models_in_use():
    state = PredictState()
    state.choose_models([Path("/m/a.keras")])
    assert not state.refuse_choice()  # nothing in use before: no model
    state.start_loading(state.wanted)
    state.use_models([Path("/m/a.keras")])
    state.choose_models([Path("/m/a.keras"), Path("/m/three.keras")])
    state.start_loading(state.wanted)
    assert state.refuse_choice()
    assert state.wanted == [Path("/m/a.keras")] and state.in_use == [Path("/m/a.keras")] and state.loading is None


def test_what_the_view_says_while_images_wait_for_a_model():
    state = PredictState()
    assert state.waiting_message().startswith("Your images are predicted as soon as")  # TensorFlow loading
    state.tf_ready = True
    state.model_problem = "bad file"
    assert state.waiting_message().startswith("Choose a model on the left") and "(bad file)" in state.waiting_message()
    state.start_loading([Path("a.keras")])
    assert state.waiting_message().startswith("Your images are predicted as soon as")


def test_a_batch_from_start_to_summary_and_what_is_enabled():
    clock = Clock()
    state = PredictState(clock=clock)
    assert not (state.can_export or state.can_clear or state.can_stop)
    state.set_sources([Path("folder")])
    assert state.can_clear and not state.can_export
    first = state.start_batch()
    assert state.running and state.can_stop and state.results == []
    assert state.progress_text(0, 0, "Looking for images") == "Looking for images …"
    state.set_total(3)
    assert state.progress_text(0, 3, "Predicting") == "Predicting … 0 of 3"
    assert state.add_results([Row("a"), Row("b", ok=False)]) == 2
    assert state.rows_text() == "Predicting … 2 of 3" and state.can_export
    assert state.add_results([Row("c")]) == 3
    clock.now += 2.5
    summary = state.end_batch("finished")
    assert not state.running and not state.can_stop
    assert summary.text == "3 images: 2 predicted, 1 could not be read (see Note) in 2.5 s."
    assert summary.status == summary.text and not summary.no_images
    assert state.start_batch() == first + 1 and state.results == [] and state.ok_count == 0


def test_batch_summaries_when_stopped_failed_or_empty():
    state = PredictState(clock=Clock())
    state.start_batch()
    assert state.end_batch("cancelled").text == "Stopped."
    state.start_batch()
    empty = state.end_batch("finished")
    assert empty.text == "" and empty.no_images and empty.status is None
    state.start_batch()
    state.add_results([Row("a")])
    assert state.end_batch("failed").text == "Prediction failed."
    state.start_batch()
    state.add_results([Row("a")])
    assert state.end_batch("cancelled").text.startswith("Stopped. 1 image: 1 predicted in ")


def test_the_first_row_waits_for_the_batch_but_a_click_is_shown_at_once():
    state = PredictState()
    state.start_batch()
    row = Row("a")
    assert not state.row_chosen(row, by_person=False)  # selected by the table itself, mid-batch
    assert state.view_waits and state.view_request is None
    assert state.row_chosen(row, by_person=True)
    assert not state.view_waits and state.view_request is row
    state.row_chosen(Row("b"), by_person=False)
    state.end_batch("finished")
    assert state.take_waiting_view() and not state.take_waiting_view()
    assert state.row_chosen(row, by_person=False)  # no batch running: shown at once


def test_clearing_forgets_inputs_rows_and_the_view():
    state = PredictState()
    state.set_sources([Path("a.png")])
    state.start_batch()
    state.add_results([Row("a")])
    state.row_chosen(Row("a"), by_person=True)
    state.clear()
    assert state.sources == [] and state.results == [] and state.view_request is None
    assert not (state.running or state.can_clear or state.can_export or state.can_stop)
    state.set_sources([Path("a.png")])
    state.forget_rows()  # no model any more: the rows go, the inputs stay
    assert state.sources == [Path("a.png")]


def test_a_drop_is_sorted_into_models_images_and_image_data():
    plan = plan_drop(["/x/model.keras", "/x/a.png", "/x/folder", "/x/old.H5"], [], has_image_data=True)
    assert plan.models == ["/x/model.keras", "/x/old.H5"]
    assert plan.images == ["/x/a.png", "/x/folder"]
    assert not plan.use_image_data and plan.notice == "" and plan.accepted  # files win over image data
    data = plan_drop([], [], has_image_data=True)
    assert data.use_image_data and data.accepted and data.notice == ""
    nothing = plan_drop([], [], has_image_data=False)
    assert not nothing.accepted and nothing.notice is None


def test_web_addresses_get_a_note():
    one = plan_drop([], ["https://example.com/cat.jpg"], has_image_data=False)
    assert one.accepted and not one.images
    assert one.notice.startswith("https://example.com/cat.jpg is a web address")
    assert "Save the image to your computer first" in one.notice
    many = plan_drop([], [f"https://e.com/{i}.jpg" for i in range(5)], has_image_data=False)
    assert "and 2 more are web addresses" in many.notice
    with_data = plan_drop([], ["https://e.com/a.jpg"], has_image_data=True)
    assert (
        with_data.use_image_data and with_data.notice == "Predicting the image data that came with https://e.com/a.jpg."
    )


def test_the_drop_hint_names_every_way_in():
    for way in ("Drop images or folders", "Open images (Ctrl+I)", "Open folder (Ctrl+Shift+I)", "Paste (Ctrl+V)"):
        assert way in DROP_HINT
