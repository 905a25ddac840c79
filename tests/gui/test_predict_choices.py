"""The Predict tab: refused model choices, what the view says about an image, Stop's keys, legends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cards

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "weights" / "mnist-sample-simple-cnn-2.keras"


@pytest.fixture(scope="module")
def three_classes(tmp_path_factory):
    """A tiny saved model of 3 classes, with its card (it cannot join an ensemble of digits)."""
    import keras

    folder = tmp_path_factory.mktemp("three")
    inp = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = folder / "three.keras"
    keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x)).save(path)
    cards.write_card(
        path,
        cards.make_card(
            class_names=["a", "b", "c"],
            input_shape=(16, 16, 1),
            dataset={"name": "abc"},
            architecture={"name": "tiny"},
            hyperparameters={},
        ),
    )
    return path


def _digit(tmp_path: Path, name: str = "digit.png") -> Path:
    from core.datasets.sample import load_sample_arrays

    x, _ = load_sample_arrays()
    path = tmp_path / name
    Image.fromarray(x[0][:, :, 0]).save(path)
    return path


def _predict(qtbot, tab, sources) -> None:
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        tab.predict_sources(sources)


# ------------------------------------------------------------------------------------------------
# Item 11: a refused choice keeps the working model and is not remembered


def test_a_refused_ensemble_keeps_the_model_in_use_and_is_not_remembered(
    make_predict_tab, qtbot, three_classes, errors
):
    from gui.settings import AppSettings

    settings = AppSettings()
    tab = make_predict_tab(settings=settings)
    assert tab.picker.selected_paths() == [SHIPPED]
    tab.picker.add_file(three_classes, select=False)
    tab.picker.select_paths([SHIPPED, three_classes])
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert errors[-1][0] == "These models cannot be combined"
    qtbot.waitUntil(lambda: tab.state.loading is None, timeout=10_000)
    assert [m.path for m in tab.members] == [SHIPPED] and tab.predictors
    assert tab.picker.selected_paths() == [SHIPPED]
    assert tab.state.model_problem is None
    settings.sync()
    again = AppSettings()
    assert again.tab_value("predict", "models", [], list) in ([], [str(SHIPPED)])
    assert str(three_classes) not in again.tab_value("predict", "opened_models", [], list)
    # The next launch starts with the working model, without an error.
    before = len(errors)
    second = make_predict_tab(settings=again)
    qtbot.wait(300)
    assert [m.path for m in second.members] == [SHIPPED] and len(errors) == before


def test_a_broken_dropped_file_leaves_the_model_and_results_and_is_gone_after_a_restart(
    make_predict_tab, qtbot, tmp_path, errors
):
    from gui.settings import AppSettings

    settings = AppSettings()
    tab = make_predict_tab(settings=settings)
    _predict(qtbot, tab, [_digit(tmp_path)])
    assert tab.results.rowCount() == 1
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"this is not a Keras archive")
    tab.use_model_file(broken)
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    qtbot.waitUntil(lambda: tab.state.loading is None, timeout=10_000)
    assert [m.path for m in tab.members] == [SHIPPED]
    assert tab.picker.selected_paths() == [SHIPPED]
    assert tab.results.rowCount() == 1  # the results stay
    assert tab.picker.entry(broken.resolve()) is not None  # listed this session, with its problem
    settings.sync()
    again = AppSettings()
    assert str(broken.resolve()) not in again.tab_value("predict", "opened_models", [], list)
    second = make_predict_tab(settings=again)
    second.populate()
    assert second.picker.entry(broken.resolve()) is None
    assert [m.path for m in second.members] == [SHIPPED]


def test_a_working_opened_file_is_remembered(make_predict_tab, qtbot, tmp_path, shipped_pair):
    import shutil

    from gui.settings import AppSettings

    settings = AppSettings()
    tab = make_predict_tab(settings=settings)
    copy = tmp_path / "copy.keras"
    shutil.copy(SHIPPED, copy)
    shutil.copy(cards.card_path(SHIPPED), cards.card_path(copy))
    tab.use_model_file(copy)
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [copy.resolve()], timeout=60_000)
    settings.sync()
    again = AppSettings()
    assert again.tab_value("predict", "models", [], list) == [str(copy.resolve())]
    assert again.tab_value("predict", "opened_models", [], list) == [str(copy.resolve())]


def test_six_runs_read_apart_in_the_model_list(qtbot, tmp_path):
    from core import runs
    from core.config import TrainConfig
    from gui.predict.model_picker import list_entries

    for seed in range(6):
        run = runs.create_run(TrainConfig(seed=seed).to_dict(), "mnist-sample", tmp_path)
        runs.write_status(run, state="finished", pid=None)
        (run / "model.keras").write_bytes(b"")
    titles = [e.title for e in list_entries(tmp_path) if e.source == "run"]
    assert len(titles) == 6 and len(set(titles)) == 6
    assert all("seed=" in t for t in titles)


# ------------------------------------------------------------------------------------------------
# Items 13 and 14: the view says how the file was read


def test_the_view_says_transparency_was_filled_and_an_animation_gave_its_first_frame(make_predict_tab, qtbot, tmp_path):
    from core.datasets.sample import load_sample_arrays

    x, y = load_sample_arrays()
    digit = x[0][:, :, 0]
    alpha = Image.fromarray(digit)
    ink = Image.merge("RGBA", (*Image.new("RGB", alpha.size, (0, 0, 0)).split(), alpha))  # black ink, transparent
    drawing = tmp_path / "drawing.png"
    ink.save(drawing)
    tab = make_predict_tab()
    _predict(qtbot, tab, [drawing])
    assert tab.results.results[0].top[0][0] == str(int(y[0]))  # white ink on black, as the model was trained
    qtbot.waitUntil(lambda: tab.view.reading_note.isVisible(), timeout=30_000)
    assert "filled with black" in tab.view.reading_note.text()
    assert tab.view.model_sees_caption.text().startswith("28 × 28 pixels, grey")

    gif = tmp_path / "anim.gif"
    frames = [Image.fromarray(x[i][:, :, 0]) for i in range(4)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    _predict(qtbot, tab, [gif])
    qtbot.waitUntil(lambda: "first frame" in tab.view.reading_note.text(), timeout=30_000)
    assert "4 frames" in tab.view.reading_note.text()

    opaque = tmp_path / "opaque.png"
    Image.fromarray(digit).save(opaque)
    _predict(qtbot, tab, [opaque])
    qtbot.waitUntil(lambda: tab.view.title.text().endswith("opaque.png"), timeout=30_000)
    assert not tab.view.reading_note.isVisible()


# ------------------------------------------------------------------------------------------------
# Item 17: Stop's keys belong to the shown tab


def test_ctrl_period_and_esc_stop_only_the_shown_tabs_work(make_window, qtbot):
    from PySide6.QtCore import Qt

    window = make_window(wait_for_tf=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)  # window shortcuts need the active window
    train, predict = window.train_tab, window.predict_tab
    got = []
    for name, tab in (("train", train), ("predict", predict)):
        tab.stop_action.triggered.disconnect()
        tab.stop_action.triggered.connect(lambda *_a, n=name: got.append(n))
    for current, name in ((predict, "predict"), (train, "train"), (predict, "predict")):
        window.tabs.setCurrentWidget(current)
        got.clear()
        for tab in (train, predict):
            tab.stop_action.setEnabled(True)  # as while training and predicting at once
        qtbot.keyClick(current, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(current, Qt.Key.Key_Escape)
        assert got == [name, name], (name, got)
    assert "Ctrl+." in predict.stop_action.toolTip() and "Esc" in predict.stop_action.toolTip()


def test_the_ensemble_ticks_have_a_legend(qtbot):
    from gui.widgets.topk_chart import TopKChart

    chart = TopKChart()
    qtbot.addWidget(chart)
    chart.resize(400, 300)
    chart.show()
    probs = np.array([0.6, 0.3, 0.1])
    chart.show_probs(probs, ["a", "b", "c"], k=3, member_probs=np.array([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1]]))
    assert chart.legend.isVisible() and "tick" in chart.legend.text() and "2 member models" in chart.legend.text()
    chart.show_probs(probs, ["a", "b", "c"], k=3)  # one model: no ticks, no legend
    assert not chart.legend.isVisible()


def test_a_long_class_name_is_elided_and_keeps_its_percentage(qtbot):
    from PySide6.QtWidgets import QWidget

    from gui.widgets.gallery_view import CellLayout

    layout = CellLayout(64, QWidget().font())
    caption = "airplanes_and_helicopters_and_gliders 97%"
    fitted = layout.fit(caption, True)
    assert fitted.endswith(" 97%") and fitted.startswith("ai") and "…" in fitted
    assert layout.caption_metrics.horizontalAdvance(fitted) <= layout.text_width
    assert layout.fit("cat 97%", True) == "cat 97%"


def test_a_remembered_model_that_no_longer_loads_gives_way_to_the_shipped_one(
    make_predict_tab, qtbot, tmp_path, errors
):
    from gui.settings import AppSettings

    broken = tmp_path / "was-good.keras"
    broken.write_bytes(b"damaged since the last launch")
    settings = AppSettings()
    settings.set_tab_state("predict", {"models": [str(broken)], "opened_models": [str(broken)]})
    tab = make_predict_tab(settings=settings)  # waits for a model in use
    assert [m.path for m in tab.members] == [SHIPPED] and len(errors) == 1
    assert tab.picker.selected_paths() == [SHIPPED]
    settings.sync()
    again = AppSettings()
    assert again.tab_value("predict", "models", [], list) == [str(SHIPPED)]
    assert again.tab_value("predict", "opened_models", [], list) == []
    second = make_predict_tab(settings=again)
    qtbot.wait(300)
    assert len(errors) == 1 and second.picker.entry(broken) is None


def test_ensemble_csv_headers_name_each_member_apart(tmp_path):
    import csv
    import io
    from types import SimpleNamespace

    from core import runs
    from core.config import TrainConfig
    from core.ensemble import SourceResult, member_labels
    from gui.predict.results_model import results_csv

    members = []
    for seed in (1, 2, 3):
        run = runs.create_run(TrainConfig(seed=seed).to_dict(), "mnist-sample", tmp_path)
        members.append(SimpleNamespace(path=run / "model.keras", title="Simple CNN (2 conv) on MNIST sample"))
    probs = np.eye(3, dtype=np.float32)
    row = SourceResult(source=tmp_path / "a.png", top=[("a", 1.0)], probs=probs[0], member_probs=probs)
    header = next(csv.reader(io.StringIO(results_csv([row], ["a", "b", "c"], member_labels(members)))))
    votes = [h for h in header if h.startswith("vote: ")]
    assert len(votes) == 3 and len(set(votes)) == 3 and votes[0].startswith("vote: seed=1")
