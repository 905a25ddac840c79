"""GUI test set-up: a private settings file, recorded error boxes, and no thread left behind; main
windows and Predict tabs made like the app makes them."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def garbage_collected_in_the_gui_thread():
    """As in the app (gui/garbage.py): no automatic collection, which could run in a job thread and
    free Qt objects there (a crash or a deadlock); the test's garbage is collected here, after it."""
    from gui import garbage

    enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if enabled and garbage._collector is None:  # once a window has set the app's policy, it stays
        gc.enable()


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """Every test gets its own QSettings file (CNN_WORKBENCH_SETTINGS), never the user's."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("CNN_WORKBENCH_SETTINGS", str(path))
    return path


@pytest.fixture(autouse=True)
def errors(monkeypatch):
    """Error boxes are recorded as (title, message, detail) instead of opening."""
    from gui import dialogs

    shown: list[tuple[str, str, str]] = []

    def record(parent, title, message, detail=""):
        shown.append((title, message, detail))
        return None

    monkeypatch.setattr(dialogs, "show_error", record)
    return shown


def _live_threads(ignore: set[int]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.ident not in ignore and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Fail a test that leaves a Python thread running (QThreads are checked by the window fixture)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 10
    while _live_threads(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _live_threads(before)
    assert not left, f"threads left running: {[t.name for t in left]}"


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build main windows like the app does (TensorFlow imported in the background); closed after."""
    from gui.main_window import MainWindow
    from gui.settings import AppSettings
    from gui.tensorflow_loader import TensorFlowLoader

    windows = []

    def make(*, wait_for_tf: bool = True, settings: AppSettings | None = None):
        loader = TensorFlowLoader()
        window = MainWindow(settings or AppSettings(), tf_loader=loader)
        window.confirm_stop_on_close = lambda: True
        window.confirm_stop_study_on_close = lambda: True
        # Not qtbot.addWidget: pytest-qt would close and delete the window before this fixture has
        # stopped its jobs; the teardown below does it in the right order.
        window.resize(1440, 900)
        window.show()
        window.finish_startup()
        windows.append(window)
        if wait_for_tf:
            qtbot.waitUntil(lambda: window.train_tab.tf_ready, timeout=120_000)
        return window

    yield make
    for window in windows:
        # The window's own close: it stops a run, waits for its jobs, then saves and closes.
        window.train_tab.stop_training()
        window.close()
        qtbot.waitUntil(lambda window=window: not window.isVisible(), timeout=60_000)
        if window.jobs.busy or not window.jobs.closed:  # closed in the test: close the rest
            window.close()
        assert window.jobs.wait_idle(60_000), "a job thread did not end"
        assert window.jobs.closed and window.jobs.current is None and not window.jobs.busy
        assert not window.train_tab.preview_jobs.busy
        if window.tf_loader is not None:
            window.tf_loader.join(60)
        window.deleteLater()
    qtbot.wait(10)


@pytest.fixture
def tiny_config():
    """Makes configs for runs of a few seconds: 200 images of the bundled sample, simple-cnn-1."""
    from core.config import TrainConfig

    def make(**overrides):
        values = dict(
            dataset="mnist-sample", model="simple-cnn-1", epochs=2, batch_size=64, limit=200, tensorboard=False
        )
        values.update(overrides)
        return TrainConfig(**values)

    return make


SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "weights" / "mnist-sample-simple-cnn-2.keras"


@pytest.fixture(scope="module")
def shipped_pair():
    """The shipped MNIST model, loaded and warmed up once per module: (LoadedModel, Predictor)."""
    from core.inference import Predictor, load_model

    loaded = load_model(SHIPPED_MODEL)
    predictor = Predictor(loaded)
    predictor.warm_up()
    return loaded, predictor


@pytest.fixture
def make_predict_tab(qtbot, shipped_pair, tmp_path):
    """Predict tabs on their own, shown at 1280x820, with the shipped model ready (loaded once per
    module); a tab that asks for class names fails the test. Each is shut down after the test, and
    must have left no job running."""
    from gui.predict import PredictTab
    from gui.settings import AppSettings

    made = []

    def make(*, settings=None, wait: bool = True):
        tab = PredictTab(settings or AppSettings(), workspace=tmp_path / "workspace")
        tab.add_loaded_model(*shipped_pair)
        tab.ask_class_names = lambda *args: pytest.fail("the tab asked for class names")
        qtbot.addWidget(tab)
        tab.resize(1280, 820)
        tab.show()
        made.append(tab)
        if wait:
            qtbot.waitUntil(lambda: bool(tab.predictors), timeout=120_000)
        return tab

    yield make
    for tab in made:
        assert tab.shutdown(60_000)
        assert not tab.busy, "the Predict tab left a job running"
