"""The Train tab with real (tiny) training runs: live signals and plots, stop, failure, closing."""

from __future__ import annotations

import re
import threading
import time

from PySide6.QtCore import QThread

from core.errors import ModelError, WorkbenchError


def thread_left(before: set[int]) -> list[str]:
    """Python threads started since ``before`` and still running (a QThread that ran Python code
    shows up as a 'dummy' thread object that outlives it, so those are left out)."""
    return [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]


def start(window, config) -> None:
    tab = window.train_tab
    tab.apply_config(config)
    assert tab.start_problem() is None, tab.start_problem()
    assert tab.start_training()


def test_a_run_streams_batches_and_epochs_into_the_plots(make_window, qtbot, tiny_config, errors):
    window = make_window()
    tab = window.train_tab
    batches, epochs, finals = [], [], []
    start(window, tiny_config(epochs=2))
    worker = tab.worker
    worker.batch_progress.connect(batches.append)
    worker.epoch_end.connect(lambda e, logs: epochs.append((e, logs)))
    for name in ("finished", "cancelled", "failed"):
        getattr(worker, name).connect(lambda *a, name=name: finals.append(name))
    assert not tab.start_action.isEnabled() and tab.stop_action.isEnabled()
    assert not tab.hyper.isEnabled()  # settings that would conflict are locked during the run

    # (The lambdas above run in the worker thread; the tab hears the same signals queued, a little later.)
    def first_epoch_drawn() -> bool:
        tab.plots.redraw()
        points = tab.plots.curve_points()
        return points["loss_val"] >= 1 and points["lr"] >= 1

    qtbot.waitUntil(first_epoch_drawn, timeout=60_000)
    points = tab.plots.curve_points()
    assert points["loss_batch"] > 0 and points["accuracy_smooth"] > 0

    # The tab may hear the end (queued) before the lambda above has run in the worker thread.
    qtbot.waitUntil(lambda: not tab.running and bool(finals), timeout=60_000)
    assert finals == ["finished"]
    assert not errors
    assert [e for e, _ in epochs] == [0, 1]
    assert "val_accuracy" in epochs[-1][1] and "lr" in epochs[-1][1]
    assert sum(len(b.x) for b in batches) == worker.batches_seen == 2 * 4  # 200 images, batch 64
    x, y = tab.plots.loss.raw.getData()
    assert len(x) == 8 and x[-1] == 2.0
    assert tab.plots.best_epoch in (1, 2)
    # The end: test accuracy, the model's path, and Show in Gallery.
    result = tab.last_result
    assert result.state == "finished" and result.model_path.exists()
    assert tab.result_box.isVisible()
    assert "Test accuracy" in tab.result_box.headline.text()
    assert str(result.model_path) in tab.result_box.path.text()
    assert tab.result_box.gallery_button.isEnabled()
    log = tab.log.toPlainText()
    assert "Epoch 1/2" in log and "Epoch 2/2" in log
    assert tab.start_action.isEnabled() and not tab.stop_action.isEnabled() and tab.hyper.isEnabled()

    with qtbot.waitSignal(tab.show_in_gallery, timeout=1000) as sig:
        tab.result_box.gallery_button.click()
    assert sig.args == [result.run_dir]
    assert window.tabs.currentWidget() is window.gallery_tab


def test_stop_ends_the_run_within_one_batch(make_window, qtbot, tiny_config, errors):
    window = make_window()
    tab = window.train_tab
    start(window, tiny_config(epochs=50, batch_size=16))
    worker = tab.worker
    cancelled = []
    worker.cancelled.connect(cancelled.append)
    qtbot.waitUntil(lambda: worker.batches_seen >= 3, timeout=60_000)
    tab.stop_action.trigger()
    at_stop = tab.run.batches_at_stop
    assert tab.phase == "stopping"
    qtbot.waitUntil(lambda: not tab.running, timeout=60_000)
    assert worker.batches_seen <= at_stop + 1, (at_stop, worker.batches_seen)
    assert len(cancelled) == 1 and cancelled[0].state == "stopped"
    assert cancelled[0].model_path.exists()  # the best model so far is kept
    assert "stopped" in tab.result_box.details.text()
    assert not errors


def test_pause_holds_the_run_and_resume_continues(make_window, qtbot, tiny_config):
    window = make_window()
    tab = window.train_tab
    start(window, tiny_config(epochs=30, batch_size=16))
    worker = tab.worker
    qtbot.waitUntil(lambda: worker.batches_seen >= 2, timeout=60_000)
    tab.pause_action.trigger()
    assert tab.phase == "paused" and tab.pause_action.text() == "&Resume"
    qtbot.wait(300)
    held = worker.batches_seen
    qtbot.wait(500)
    assert worker.batches_seen <= held + 1
    tab.pause_action.trigger()
    assert tab.phase == "running"
    qtbot.waitUntil(lambda: worker.batches_seen > held + 2, timeout=30_000)
    tab.stop_action.trigger()
    qtbot.waitUntil(lambda: not tab.running, timeout=60_000)


def test_a_failing_run_shows_the_error_and_gives_the_controls_back(make_window, qtbot, tiny_config, errors):
    window = make_window()
    tab = window.train_tab

    def failing_train(config, reporter, cancel, **kwargs):
        reporter.on_message("Loading dataset ...")
        raise WorkbenchError("Training ran out of memory. Try a smaller batch size.", detail="OOM when allocating")

    tab.train_fn = failing_train
    start(window, tiny_config())
    # The job fails at once, possibly before a signal connected here would be: watch the dialog.
    qtbot.waitUntil(lambda: not tab.running and bool(errors), timeout=30_000)
    message = "Training ran out of memory. Try a smaller batch size."
    assert errors == [("Training failed", message, "OOM when allocating")]
    assert "out of memory" in tab.monitor.state_label.text()
    assert tab.start_action.isEnabled() and not tab.stop_action.isEnabled() and tab.hyper.isEnabled()
    tab.train_fn = None
    # The tab is usable again: the next run starts.
    assert tab.start_training()
    tab.stop_training()
    qtbot.waitUntil(lambda: not tab.running, timeout=60_000)


def test_out_of_memory_offers_to_halve_the_batch_size_by_the_errors_type(make_window, qtbot, tiny_config, monkeypatch):
    """The error box offers "Halve the batch size" for an OutOfMemoryError (also a MemoryError, which
    the worker turns into one), and not for another error that merely says "out of memory"."""
    from PySide6.QtWidgets import QMessageBox

    from core.errors import OutOfMemoryError
    from gui import dialogs

    boxes: list[QMessageBox] = []

    def show_error(parent, title, message, detail=""):
        boxes.append(QMessageBox())  # a real box, never opened
        return boxes[-1]

    monkeypatch.setattr(dialogs, "show_error", show_error)
    window = make_window()
    tab = window.train_tab

    def halve_offered() -> bool:
        return any("Halve the batch size" in b.text() for b in boxes[-1].buttons())

    def run_failing(error: BaseException) -> None:
        def train(config, reporter, cancel, **kwargs):
            raise error

        tab.train_fn = train
        count = len(boxes)
        assert tab.start_training()
        qtbot.waitUntil(lambda: not tab.running and len(boxes) > count, timeout=30_000)
        assert tab.phase == "failed"

    tab.apply_config(tiny_config(batch_size=64))
    run_failing(OutOfMemoryError("The batch does not fit in memory.", detail="ResourceExhaustedError: OOM"))
    assert isinstance(tab.run.last_failure.error, OutOfMemoryError)
    assert halve_offered()
    next(b for b in boxes[-1].buttons() if "Halve" in b.text()).click()
    assert tab.current_config().batch_size == 32
    assert tab.setup_tabs.currentIndex() == 2

    run_failing(MemoryError())
    assert isinstance(tab.run.last_failure.error, OutOfMemoryError) and halve_offered()

    run_failing(WorkbenchError("Training ran out of memory. Try a smaller batch size."))
    assert not halve_offered()  # the words do not decide, the type does
    for box in boxes:
        box.deleteLater()


def test_the_tab_keeps_its_config_and_layout_in_the_settings(make_window, tiny_config):
    from core.config import TrainConfig
    from gui.settings import AppSettings

    tab = make_window(wait_for_tf=False).train_tab
    tab.apply_config(tiny_config(model="lenet-5", batch_size=48, name="kept"))
    tab.splitter.setSizes([500, 900])
    sizes = tab.splitter.sizes()
    tab.save_settings()
    saved = AppSettings()
    assert (
        TrainConfig.from_dict(saved.train_config())
        == tab.current_config()
        == tiny_config(model="lenet-5", batch_size=48, name="kept")
    )
    assert saved.splitter("train") is not None and saved.splitter("monitor") is not None
    tab.splitter.setSizes([700, 700])
    tab.restore_layout()
    assert tab.splitter.sizes() == sizes


def test_a_model_that_cannot_take_the_input_is_explained_before_and_during_a_run(
    make_window, qtbot, tiny_config, errors
):
    window = make_window()
    tab = window.train_tab
    tab.apply_config(tiny_config(model="simple-cnn-2", model_options={}))
    assert tab.start_problem() is None
    # A 6x6 folder dataset is too small for the 2-conv CNN: Start says why, the model page too.
    tab.state.preview = None
    tab.input_shape = lambda: (6, 6, 1)
    tab.tasks.request_summary(immediately=True)
    problem = tab.start_problem()
    assert problem and "needs images of at least" in problem
    assert not tab.start_action.isEnabled()
    assert not tab.model_page.problem_label.isHidden() and "at least" in tab.model_page.problem_label.text()
    del tab.input_shape
    tab.tasks.request_summary(immediately=True)
    assert tab.start_problem() is None

    # If it only shows up in the run (core raises ModelError), the error box says it.
    def train(config, reporter, cancel, **kwargs):
        raise ModelError("LeNet-5 needs images of at least 28x28 pixels; this dataset's are 8x8.")

    tab.train_fn = train
    assert tab.start_training()
    qtbot.waitUntil(lambda: not tab.running, timeout=30_000)
    assert errors and "at least 28x28" in errors[-1][1]


def test_closing_during_a_run_stops_it_saves_and_leaves_no_thread(make_window, qtbot, tiny_config, settings_file):
    window = make_window()
    tab = window.train_tab
    python_threads = {t.ident for t in threading.enumerate()}
    start(window, tiny_config(epochs=50, batch_size=16, name="closing"))
    worker = tab.worker
    stopped = []
    worker.cancelled.connect(stopped.append)
    qtbot.waitUntil(lambda: worker.batches_seen >= 2, timeout=60_000)
    thread = window.jobs._thread
    assert isinstance(thread, QThread) and thread.isRunning()
    window.close()  # asks (answered yes in the fixture), stops, waits, then closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert len(stopped) == 1 and stopped[0].state == "stopped"
    assert window.jobs.current is None and not window.jobs.busy
    qtbot.waitUntil(lambda: not thread_left(python_threads), timeout=10_000)
    assert "closing" in settings_file.read_text()  # the form was saved on the way out


def test_an_offline_dataset_is_explained_and_the_error_box_offers_the_sample(make_window, qtbot, tiny_config, errors):
    from PySide6.QtWidgets import QMessageBox

    from core.errors import OfflineError

    window = make_window()
    tab = window.train_tab
    tab.apply_config(tiny_config(dataset="cifar10"))
    assert tab.current_dataset() == "cifar10"
    # Nothing is downloaded in the tests: the preview says so instead of loading.
    qtbot.waitUntil(lambda: "Not on this computer yet" in tab.dataset_page.preview.summary.text(), timeout=5000)

    def offline_train(config, reporter, cancel, **kwargs):
        raise OfflineError("CIFAR-10 objects ('cifar10') is not on this computer and could not be downloaded.")

    tab.train_fn = offline_train
    assert tab.start_training()
    qtbot.waitUntil(lambda: not tab.running, timeout=30_000)
    assert errors and "could not be downloaded" in errors[-1][1]
    # The real box carries a button that switches to the bundled sample.
    box = QMessageBox()
    tab.run.add_error_actions(box, OfflineError("offline"))
    button = next(b for b in box.buttons() if "sample" in b.text())
    button.click()
    assert tab.current_dataset() == "mnist-sample"
    box.deleteLater()


def test_keyboard_shortcuts_start_pause_and_stop(make_window, qtbot, tiny_config):
    from PySide6.QtCore import Qt

    window = make_window()
    tab = window.train_tab
    tab.apply_config(tiny_config())
    started = []

    def train(config, reporter, cancel, **kwargs):
        started.append(True)
        reporter.on_start({"epochs": 1, "steps_per_epoch": 1000})
        for step in range(1000):
            reporter.on_batch(0, step, 1000, {"loss": 1.0, "accuracy": 0.5})
            if cancel.cancelled:
                return None  # stopped before anything was saved
            time.sleep(0.005)
        return None

    tab.train_fn = train
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: tab.phase == "running", timeout=10_000)
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert tab.phase == "paused"
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert tab.phase == "running"
    qtbot.keyClick(window, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not tab.running, timeout=10_000)
    assert started == [True]


def test_resume_run_continues_a_stopped_run_with_its_curves(make_window, qtbot, tiny_config):
    """A stopped run resumed from the Train tab goes on from its last whole epoch, plots included."""
    from core import runs
    from core.reporting import CancelToken, NullReporter
    from core.training import train

    cancel = CancelToken()

    class StopInSecondEpoch(NullReporter):
        def on_batch(self, epoch, step, steps, logs):
            if epoch == 1:
                cancel.cancel()

    window = make_window()
    tab = window.train_tab
    first = train(tiny_config(epochs=3), StopInSecondEpoch(), cancel, workspace=window.workspace)
    assert first.epochs_done == 1
    with qtbot.waitSignal(tab.running_changed, timeout=60_000):
        assert tab.resume_run(first.run_dir)
    qtbot.waitUntil(lambda: not tab.running, timeout=120_000)
    assert [int(r["epoch"]) for r in runs.read_history(first.run_dir)] == [1, 2, 3]
    assert runs.read_status(first.run_dir)["state"] == "finished"
    tab.plots.redraw()
    assert tab.plots.curve_points()["loss_val"] == 3


def test_progress_bars_refresh_in_a_frame_without_a_plot_at_most_4_times_a_second(make_window, monkeypatch):
    import gui.train.monitor as monitor
    from gui.workers import BatchUpdate

    clock = [1000.0]
    monkeypatch.setattr(monitor.time, "monotonic", lambda: clock[0])
    window = make_window()
    tab = window.train_tab
    tab.monitor.epochs, tab.monitor.steps = 2, 10
    tab.plots.start_run(steps_per_epoch=10, epochs=2)  # its frame timer only fires in the event loop

    def batches(step: int) -> None:
        x = [(step + 1) / 10]
        tab.monitor.on_batches(BatchUpdate(0, step, 10, {"loss": 1.0, "accuracy": 0.5}, x, [1.0], [0.5]))

    def frames(n: int) -> list[str]:
        out = []
        for _ in range(n):
            redraws, bar = tab.plots.redraws, tab.monitor.epoch_bar.value()
            tab.plots._on_frame()
            plot, progress = tab.plots.redraws > redraws, tab.monitor.epoch_bar.value() != bar
            assert not (plot and progress)  # never both in one frame
            out.append("plot" if plot else "progress" if progress else "-")
        return out

    batches(4)
    assert tab.monitor.epoch_bar.value() != 5  # nothing shown yet: the frames show it
    assert frames(4) == ["plot", "plot", "progress", "-"]
    assert tab.monitor.epoch_bar.value() == 5
    clock[0] += monitor.PROGRESS_INTERVAL_S / 2
    batches(5)
    assert frames(3) == ["plot", "plot", "-"]  # too soon for the progress bars
    clock[0] += monitor.PROGRESS_INTERVAL_S
    assert frames(1) == ["progress"] and tab.monitor.epoch_bar.value() == 6
    tab.plots.stop_run()


def test_continue_training_shows_the_runs_settings_and_ends_the_log_with_the_closing_line(
    make_window, qtbot, tiny_config
):
    from core.training import train

    window = make_window()
    tab = window.train_tab
    first = train(tiny_config(epochs=1, batch_size=32, learning_rate=2e-3), workspace=window.workspace)
    tab.apply_config(tiny_config(epochs=7, batch_size=16, optimizer="sgd", learning_rate=0.05))  # other settings
    with qtbot.waitSignal(tab.running_changed, timeout=60_000):
        assert tab.resume_run(first.run_dir, extra_epochs=1)
    shown = tab.hyper.values()
    assert (shown["batch_size"], shown["optimizer"], shown["epochs"]) == (32, "adam", 2)
    assert shown["learning_rate"] == 2e-3 and tab.state.config.batch_size == 32
    qtbot.waitUntil(lambda: not tab.running, timeout=120_000)
    last = tab.log.toPlainText().strip().splitlines()[-1]
    assert last.startswith("Test accuracy ") and last.endswith(f"run saved in {first.run_dir}")
    assert re.search(r"\) on [\d,]+ images; training took \d+:\d\d", last), last


def test_the_default_auto_model_starts_training_and_says_what_it_chose(make_window, qtbot, tiny_config, errors):
    """Auto is the Train tab's default: Start must train it (it was refused as an unknown model)."""
    window = make_window()
    tab = window.train_tab
    start(window, tiny_config(model="auto", recipe="auto", epochs=1, limit=120))
    finals = []
    tab.worker.finished.connect(lambda *a: finals.append("finished"))
    tab.worker.failed.connect(lambda *a: finals.append("failed"))
    qtbot.waitUntil(lambda: not tab.running, timeout=120_000)
    assert tab.last_result is not None and tab.last_result.run_dir.exists()
    card = (tab.last_result.run_dir / "model.json").read_text()
    assert '"auto"' in card and "auto-cnn" in card
