"""The main window: tabs, menus, dialogs, opening runs, models and dataset folders, and `python main.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cards, runs
from gui import dialogs

ROOT = Path(__file__).resolve().parents[2]


def test_tabs_menus_and_status_bar(make_window):
    window = make_window(wait_for_tf=False)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Train",
        "Predict",
        "Gallery",
        "Runs",
        "Experiments",
        "Inside",
    ]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Run", "Help"]
    file_items = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    assert file_items[:3] == ["Open model...", "Open run...", "Open dataset folder..."]
    assert "Quit" in file_items
    help_items = [a.text().replace("&", "") for a in menus["Help"].actions()]
    assert help_items == ["User guide", "About CNN Workbench"]
    assert window.statusBar().isVisible()
    # Every control in the Train tab explains itself.
    tab = window.train_tab
    for action in (tab.start_action, tab.pause_action, tab.stop_action):
        assert action.toolTip() and not action.shortcut().isEmpty()
    for widget in (tab.dataset_page.combo, tab.model_page.combo, tab.hyper.widget("learning_rate"), tab.log):
        assert widget.toolTip()


def test_every_hyperparameter_field_has_a_tooltip(make_window):
    tab = make_window(wait_for_tf=False).train_tab
    forms = [*tab.hyper.forms, tab.dataset_page.form, tab.model_page.options]
    names = [name for form in forms for name in form.fields]
    assert {"optimizer", "learning_rate", "schedule", "batch_size", "epochs", "augment_flip", "patience"} <= set(names)
    for form in forms:
        for name, (widget, _, _) in form.fields.items():
            assert widget.toolTip(), name


def test_defaults_are_auto_for_two_minutes_first_in_the_model_list(make_window):
    """Issue 16: a new user trains Auto (model and recipe) for 2 minutes on the bundled sample."""
    tab = make_window(wait_for_tf=False).train_tab
    config = tab.current_config()
    assert (config.dataset, config.model, config.recipe, config.time_budget) == ("mnist-sample", "auto", "auto", 120.0)
    combo = tab.model_page.combo
    assert combo.itemData(1) == "auto" and combo.currentData() == "auto"  # first under its heading, chosen
    hyper = tab.hyper
    assert not hyper.widget("learning_rate").isEnabled() and hyper.widget("augment_flip").isEnabled()
    assert not hyper.widget("epochs").isEnabled()  # the time budget replaces them
    hyper.widget("time_budget").setValue(0)
    assert tab.current_config().time_budget is None and hyper.widget("epochs").isEnabled()
    hyper.widget("recipe").setCurrentIndex(1)
    assert tab.current_config().recipe == "manual" and hyper.widget("learning_rate").isEnabled()
    tab.use_transfer_learning()  # the Auto panel's button, offered when classes are very small
    config = tab.current_config()
    assert (config.model, config.pretrained, config.recipe) == ("mobilenetv2", True, "auto")
    assert tab.model_page.current() == "mobilenetv2" and tab.model_page.pretrained()


def test_about_names_the_versions_and_the_guide_renders(make_window):
    window = make_window(wait_for_tf=False)
    text = dialogs.about_text()
    for name in ("TensorFlow", "Keras", "Qt", "PySide6", "Python"):
        assert name in text
    guide = dialogs.UserGuideDialog(window)
    plain = guide.browser.toPlainText()
    assert "Train" in plain and "Predict" in plain and "Gallery" in plain
    guide.deleteLater()


def test_model_summary_appears_for_the_dataset_shape(make_window, qtbot):
    window = make_window()
    tab = window.train_tab
    qtbot.waitUntil(lambda: tab.model_page.summary.summary is not None, timeout=60_000)
    assert tab.model_page.summary.model.rowCount() > 3
    assert "parameters at 28x28x1" in tab.model_page.headline.text()
    tab.select_model("lenet-5")
    qtbot.waitUntil(lambda: "107,786 parameters at 28x28x1" in tab.model_page.headline.text(), timeout=60_000)
    assert "LeCun" in tab.model_page.headline.text()
    assert "Total 107,786" in tab.model_page.summary.totals.text()


def make_fake_run(workspace: Path) -> Path:
    run_dir = runs.create_run({"model": "lenet-5", "dataset": "mnist-sample", "epochs": 3}, "mnist-sample", workspace)
    history = runs.HistoryWriter(run_dir)
    for epoch, (acc, val) in enumerate([(0.80, 0.85), (0.90, 0.91), (0.93, 0.90)], start=1):
        history.append(
            {
                "epoch": epoch,
                "loss": 1 - acc,
                "accuracy": acc,
                "val_loss": 1 - val,
                "val_accuracy": val,
                "lr": 1e-3,
                "seconds": 1.5,
            }
        )
    (run_dir / "model.keras").write_bytes(b"not really a model")
    cards.write_card(
        run_dir / "model.keras",
        cards.make_card(
            class_names=[str(d) for d in range(10)],
            input_shape=(28, 28, 1),
            dataset={"name": "mnist-sample", "title": "MNIST sample"},
            architecture={"name": "lenet-5", "title": "LeNet-5", "params": 107786},
            hyperparameters={"batch_size": 32, "epochs": 3},
            metrics={"test_accuracy": 0.9123},
        ),
    )
    runs.write_status(
        run_dir,
        state="finished",
        epochs_done=3,
        best_epoch=2,
        best_val_accuracy=0.91,
        test_accuracy=0.9123,
        seconds=4.5,
    )
    return run_dir


def test_open_run_shows_its_curves_metrics_and_paths(make_window, tmp_path):
    window = make_window(wait_for_tf=False)
    tab = window.train_tab
    run_dir = make_fake_run(Path(os.environ["CNN_WORKBENCH_HOME"]))
    window.open_run(run_dir)
    points = tab.plots.curve_points()
    assert points["loss_val"] == 3 and points["accuracy_smooth"] == 3 and points["lr"] == 3
    assert points["loss_batch"] == 0
    assert tab.plots.best_epoch == 2
    assert "91.23 %" in tab.result_box.headline.text()
    assert str(run_dir / "model.keras") in tab.result_box.path.text()
    assert "Epoch 3/3" in tab.log.toPlainText()
    tab.result_box.use_settings_button.click()
    assert tab.current_config().model == "lenet-5"


def test_open_model_shows_its_card(make_window, qtbot):
    window = make_window(wait_for_tf=False)
    run_dir = make_fake_run(Path(os.environ["CNN_WORKBENCH_HOME"]))
    window.open_model(run_dir / "model.keras")
    dialog = window.card_dialog
    text = dialog.browser.toPlainText()
    assert "LeNet-5" in text and "28 × 28 × 1" in text and "0.9123" in text and "0, 1, 2" in text
    dialog.close()


def test_open_a_model_without_card_inspects_it(make_window, qtbot, tmp_path, errors):
    import keras

    window = make_window()
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    path = tmp_path / "plain.keras"
    model.save(path)
    window.open_model(path)
    qtbot.waitUntil(lambda: getattr(window, "card_dialog", None) is not None, timeout=30_000)
    text = window.card_dialog.browser.toPlainText()
    assert "(8, 8, 1)" in text and "Outputs (classes)" in text and "195" in text
    assert not errors


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for cls in ("circle", "square"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(root / cls / f"{i}.png")
    (root / "circle" / "notes.txt").write_text("not an image")
    return root


def test_open_dataset_folder_previews_it(make_window, qtbot, image_folder):
    window = make_window()  # Start is judged once TensorFlow is ready
    tab = window.train_tab
    window.open_dataset_folder(image_folder)
    qtbot.waitUntil(lambda: tab.dataset_page.preview.data is not None, timeout=30_000)
    data = tab.dataset_page.preview.data
    assert data.class_names == ["circle", "square"]
    assert data.image_shape == (20, 20, 1)
    assert sum(sum(v) for v in data.counts.values()) == 12
    assert all(len(row) > 0 for row in data.thumbnails)
    assert [Path(p).name for p, _ in data.skipped] == ["notes.txt"]
    assert "not an image" in data.skipped[0][1]
    assert tab.dataset_page.preview.skipped.topLevelItemCount() == 1
    assert tab.current_config().dataset == str(image_folder.resolve())
    assert "20×20" in tab.dataset_page.preview.summary.text()
    # Shrunk to 8x8 the images are too small for the 2-conv CNN: the tab says so and Start is off.
    tab.select_model("simple-cnn-2")
    tab.dataset_page.form.widget("image_size").setValue(8)
    qtbot.waitUntil(lambda: tab.input_shape() == (8, 8, 1), timeout=30_000)
    assert "needs images of at least" in (tab.start_problem() or "")
    assert not tab.start_action.isEnabled()
    assert "at least" in tab.model_page.problem_label.text()
    tab.select_model("lenet-5")
    assert tab.start_problem() is None or "TensorFlow" in tab.start_problem()


def test_a_folder_that_cannot_train_is_explained(make_window, qtbot, tmp_path):
    window = make_window(wait_for_tf=False)
    tab = window.train_tab
    (tmp_path / "only" / "one_class").mkdir(parents=True)
    window.open_dataset_folder(tmp_path / "only")
    qtbot.waitUntil(lambda: tab.state.preview_problem is not None, timeout=30_000)
    assert "only one class folder" in tab.state.preview_problem
    assert "cannot be used" in tab.dataset_page.preview.summary.text()
    assert "only one class" in (tab.start_problem() or "")


def test_python_main_py_shows_the_window_and_quits(tmp_path):
    env = dict(os.environ, CNN_WORKBENCH_STARTUP_PROBE="1", QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("window-shown", "ready"):
            lines[parts[0]] = float(parts[1])
    assert "window-shown" in lines and "ready" in lines
    assert lines["window-shown"] < lines["ready"]


def test_the_window_is_built_without_pyqtgraph_and_its_plot_tabs_come_after_the_first_paint(tmp_path):
    """Importing pyqtgraph takes ~0.35 s, a third of the 1 s budget before the window shows: the
    window is built without it; the Runs and Inside tabs (which need it) fill in afterwards, or at
    once when the window opens on one of them. A fresh interpreter, so nothing imported it yet."""
    code = (
        "import sys\n"
        "from gui.app import create_application\n"
        "from gui.main_window import MainWindow\n"
        "from gui.settings import AppSettings\n"
        "from PySide6.QtCore import QEvent, QObject\n"
        "from PySide6.QtWidgets import QWidget\n"
        "app = create_application(['x'])\n"
        "windows = []  # every widget shown as a window of its own\n"
        "class Spy(QObject):\n"
        "    def eventFilter(self, obj, event):\n"
        "        if event.type() == QEvent.Type.Show and isinstance(obj, QWidget) and obj.isWindow():\n"
        "            windows.append(type(obj).__name__)\n"
        "        return False\n"
        "spy = Spy()\n"
        "app.installEventFilter(spy)\n"
        "for tab in (0, 3):\n"
        "    settings = AppSettings()\n"
        "    settings.set_current_tab(tab)\n"
        "    window = MainWindow(settings)\n"
        "    print(tab, 'pyqtgraph' in sys.modules, window.plot_tabs.runs is not None, end=' ')\n"
        "    window.finish_startup()\n"
        "    slot = window.tabs.widget(3)\n"
        "    runs = window.plot_tabs.runs\n"
        "    print(runs is not None and runs.parent() is slot, len(windows), flush=True)\n"
        "    window.jobs.shutdown()\n"
        "    window.train_tab.preview_jobs.shutdown()\n"
    )
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        CNN_WORKBENCH_SETTINGS=str(tmp_path / "settings.ini"),
        CNN_WORKBENCH_HOME=str(tmp_path / "home"),
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line.split() for line in proc.stdout.splitlines() if line[:1] in "03"]
    # Opening on Train: no pyqtgraph, no Runs tab yet; after the first paint's stage 2 it is there.
    # No widget of theirs pops up as a window of its own (the main window is not shown here): a
    # widget shown before it has a parent does, and took the focus from the main window.
    assert lines[0] == ["0", "False", "False", "True", "0"]
    # Opening on Runs: built with the window.
    assert lines[1][0] == "3" and lines[1][2:] == ["True", "True", "0"]


def test_runs_tab_requests_reach_the_train_tab(make_window, monkeypatch):
    """'Continue training' and 'Resume' in the Runs tab start the run in the Train tab."""
    main_window = make_window(wait_for_tf=False)
    calls = []
    monkeypatch.setattr(main_window.train_tab, "resume_run", lambda run_dir, extra=0: calls.append((run_dir, extra)))
    main_window.runs_tab.continue_run.emit(Path("/runs/a"), 5)
    main_window.runs_tab.resume_run.emit(Path("/runs/b"))
    assert calls == [(Path("/runs/a"), 5), (Path("/runs/b"), 0)]
    assert main_window.tabs.currentWidget() is main_window.train_tab


def test_train_again_on_a_config_with_wrong_types_says_a_sentence(make_window, errors):
    """Issue 13 item 15: "Train again" on a hand-edited config.json raised in a Qt slot."""
    main_window = make_window(wait_for_tf=False)
    before = main_window.train_tab.current_config()
    damaged = {**before.to_dict(), "epochs": "three", "model_options": [1, 2]}
    main_window.runs_tab.train_again.emit(damaged)
    ((title, message, _detail),) = errors
    assert "cannot be used" in message and "epochs='three'" in message, message
    assert main_window.train_tab.current_config() == before  # nothing half applied


def test_tensorflow_is_imported_out_of_the_garbage_collectors_reach(tmp_path):
    """The ~450,000 objects of TensorFlow and Keras are frozen (gc.freeze), so a full collection
    triggered by the training thread no longer scans them while holding the GIL (a 300 ms freeze
    of the window when a run started). A fresh interpreter, so nothing else has frozen them."""
    code = (
        "import gc\n"
        "from gui.tensorflow_loader import TensorFlowLoader\n"
        "loader = TensorFlowLoader()\n"
        "loader.start()\n"
        "loader.join()\n"
        "assert loader.is_ready, loader.error\n"
        "print(gc.isenabled(), gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    enabled, frozen, tracked = proc.stdout.split()[-3:]
    assert enabled == "True"  # paused during the import only
    assert int(frozen) > 100_000
    assert int(tracked) < int(frozen) / 10  # what a full collection still scans


def test_garbage_is_collected_in_the_gui_thread_only(make_window, qtbot):
    """A collection in the training thread that frees a Qt wrapper can deadlock with the GUI
    thread (seen: the app hung in a test), so the collector runs from a timer in the GUI thread."""
    import gc
    import threading

    gc.enable()  # the conftest pauses it for every GUI test; the window must turn it off itself
    make_window()
    assert not gc.isenabled()  # off after TensorFlow's import too
    threads = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            threads.append(threading.current_thread() is threading.main_thread())

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    gc.callbacks.append(note)
    try:
        for _ in range(5_000):
            Cycle()  # cyclic garbage, enough to pass the first generation's threshold
        done = threading.Event()

        def allocate_elsewhere() -> None:
            for _ in range(5_000):
                Cycle()
            done.set()

        threading.Thread(target=allocate_elsewhere).start()
        done.wait(30)
        qtbot.waitUntil(lambda: len(threads) >= 1, timeout=5_000)
    finally:
        gc.callbacks.remove(note)
    assert all(threads)
