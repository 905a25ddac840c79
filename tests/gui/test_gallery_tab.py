"""The Gallery tab: the model passes qtmodeltester, captions are blue (correct) or red (wrong) in the
rendered pixels, filters and confusion-cell clicks select exactly the expected images, the report is
scikit-learn's, exports, thumbnails, runs that cannot be shown, and the shipped model end to end."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem
from sklearn.metrics import classification_report

from core import cards, gallery, runs
from core.evaluation import Evaluation, compute_metrics, save_evaluation
from core.gallery import ArrayImages, GalleryData, GalleryFilter
from core.paths import WEIGHTS_DIR

NAMES = ["cat", "dog", "bird", "fish"]
SHIPPED = WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"


def make_data(n: int = 300, seed: int = 0, channels: int = 3) -> GalleryData:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=n).astype(np.float32)
    y_true = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, 4, n)).astype(np.int32)
    images = rng.integers(0, 256, size=(n, 12, 12, channels), dtype=np.uint8)
    ev = Evaluation(y_true=y_true, probs=probs, class_names=list(NAMES), indices=np.arange(n))
    return GalleryData(ev, ArrayImages(images, ev.indices), "synthetic")


@pytest.fixture
def make_tab(qtbot):
    from gui.gallery import GalleryTab
    from gui.settings import AppSettings
    from gui.workers import JobRunner

    made = []

    def make():
        jobs = JobRunner()
        tab = GalleryTab(jobs, AppSettings())
        tab.resize(1400, 850)
        made.append((tab, jobs))
        return tab

    yield make
    # Not qtbot.addWidget: the tab must stop its threads before it is closed and deleted.
    for tab, jobs in made:
        assert jobs.shutdown(60_000), "a TensorFlow job did not end"
        tab.shutdown()
        tab.close()
        tab.deleteLater()
    qtbot.wait(10)


def show_active(qtbot, tab) -> None:
    """Shown, exposed and the active window: keyboard shortcuts need that."""
    from PySide6.QtWidgets import QApplication

    tab.show()
    qtbot.waitExposed(tab)
    tab.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is tab, timeout=5000)


def wait_idle(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: not tab.load_jobs.busy and not tab.jobs.busy and not tab.loading, timeout=120_000)


# --------------------------------------------------------------------------------------------------
# Model, delegate, thumbnails


def test_the_gallery_model_passes_qtmodeltester(qtmodeltester, qtbot):
    from gui.thumbnails import ThumbnailLoader
    from gui.widgets.gallery_view import CORRECT_ROLE, ROW_ROLE, TEST_INDEX_ROLE, GalleryModel

    data = make_data(100)
    loader = ThumbnailLoader()
    model = GalleryModel(loader)
    model.set_gallery(data)
    qtmodeltester.check(model, force_py=True)  # re-checked on every signal below
    model.set_rows(data.view(GalleryFilter("wrong", sort="loss", descending=True)))
    qtbot.waitUntil(lambda: loader.made > 0, timeout=5000)  # dataChanged from arriving thumbnails
    model.set_rows(np.zeros(0, np.int64))
    model.set_gallery(None)
    model.set_gallery(data)
    index = model.index(5, 0)
    assert model.data(index, ROW_ROLE) == 5 and model.data(index, TEST_INDEX_ROLE) == 5
    assert model.data(index, CORRECT_ROLE) == bool(data.correct[5])
    assert b"thumbnail" in model.roleNames().values()
    assert loader.shutdown()


def test_the_cpp_model_tester_finds_nothing_either(qtmodeltester, qtlog):
    from gui.widgets.gallery_view import GalleryModel

    model = GalleryModel(None)
    model.set_gallery(make_data(50))
    qtmodeltester.check(model)
    model.set_rows(np.array([3, 1, 2]))
    assert not [m for m in qtlog.records if "FAIL" in m.message]


def _render(delegate, model, row: int, palette) -> tuple[QImage, QRect]:
    size = delegate.layout.size()
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(palette.color(palette.ColorRole.Base))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, size.width(), size.height())
    option.palette = palette
    option.state = QStyle.StateFlag.State_Enabled
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(row, 0))
    painter.end()
    top = 4 + delegate.layout.thumb  # the caption lies below the thumbnail
    return image, QRect(0, top, size.width(), delegate.layout.caption_height + 4)


def _colour_counts(image: QImage, rect: QRect) -> tuple[int, int]:
    """Pixels in ``rect`` that are clearly blue and clearly red."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    arr = arr[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).astype(int)
    rect = rect.intersected(img.rect())
    part = arr[rect.top() : rect.bottom() + 1, rect.left() : rect.right() + 1]
    r, g, b = part[..., 0], part[..., 1], part[..., 2]
    blue = int(np.sum((b > r + 60) & (b > g + 30)))
    red = int(np.sum((r > b + 60) & (r > g + 60)))
    return blue, red


def test_a_rendered_caption_is_blue_when_correct_and_red_when_wrong(qtbot):
    from gui.widgets.gallery_view import GalleryModel, GalleryView

    data = make_data(60)
    view = GalleryView(thumb=48)
    qtbot.addWidget(view)
    model = GalleryModel(None)
    model.set_gallery(data)
    view.setModel(model)
    correct, wrong = int(np.flatnonzero(data.correct)[0]), int(np.flatnonzero(~data.correct)[0])
    for row, want_blue in ((correct, True), (wrong, False)):
        image, caption = _render(view.delegate, model, row, view.palette())
        blue, red = _colour_counts(image, caption)
        if want_blue:
            assert blue > 15 and red == 0, (blue, red)
        else:
            assert red > 15 and blue == 0, (blue, red)
    # ... and readable on a dark theme too (lighter variants of the same hues).
    from PySide6.QtGui import QPalette

    dark = QPalette(view.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#202124"))
    image, caption = _render(view.delegate, model, wrong, dark)
    blue, red = _colour_counts(image, caption)
    assert red > 15 and blue == 0


def test_thumbnails_are_made_off_the_gui_thread_and_the_cache_is_bounded(qtbot):
    import threading
    import time

    from gui.thumbnails import ThumbnailLoader

    threads = set()
    gui_thread = threading.get_ident()

    order = []

    def fetch(row, side):
        threads.add(threading.get_ident())
        order.append(row)
        time.sleep(0.001)
        return np.full((32, 32, 3), row % 256, np.uint8)

    loader = ThumbnailLoader(max_bytes=50 * 32 * 32 * 4, threads=1)  # room for 50 of them
    loader.set_source(fetch)
    assert loader.thumbnail(0) is None  # not made yet: queued
    with qtbot.waitSignal(loader.ready, timeout=5000):
        pass
    assert loader.thumbnail(0) is not None and loader.thumbnail(0).width() == 32
    order.clear()
    loader.request(range(400))
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    qtbot.wait(50)
    assert gui_thread not in threads
    assert order[0] == 399  # newest request first: what is painted now is on screen now
    assert len(order) == 399  # row 0 was cached already
    assert len(loader.cache) <= 50 and loader.cache.bytes <= loader.cache.max_bytes
    # rows that left the screen are dropped from the queue
    loader.set_source(fetch)
    order.clear()
    loader.request(range(1000, 1300))
    loader.retain(range(1290, 1300))
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10_000)
    assert len(order) < 100 and set(range(1290, 1300)) <= set(order)

    def broken(row, side):
        raise ValueError("cannot decode")

    loader.set_source(broken)
    assert loader.thumbnail(3) is None
    qtbot.waitUntil(lambda: loader.error(3) is not None, timeout=5000)
    assert "cannot decode" in loader.error(3)
    assert loader.shutdown()


# --------------------------------------------------------------------------------------------------
# The tab: filters, confusion matrix, report, exports


def test_filters_sorting_and_the_count(make_tab, qtbot):
    tab = make_tab()
    data = make_data()
    tab.set_data(data)
    show_active(qtbot, tab)
    assert tab.count_label.text() == "All 300 test images"
    assert tab.shown_rows().tolist() == list(range(300))
    tab.outcome_buttons.button(2).click()  # Wrong
    wrong = np.flatnonzero(~data.correct)
    assert tab.shown_rows().tolist() == wrong.tolist()
    assert tab.count_label.text() == f"{len(wrong)} wrong of 300"
    tab.true_combo.setCurrentIndex(2)  # dog
    expected = [i for i in wrong if data.y_true[i] == 1]
    assert tab.shown_rows().tolist() == expected
    assert tab.count_label.text() == f"{len(expected)} wrong of 300 · true dog"
    tab.sort_combo.setCurrentIndex(3)  # loss, highest first
    rows = tab.shown_rows()
    assert sorted(rows.tolist()) == expected and np.all(np.diff(data.losses[rows]) <= 0)
    tab.outcome_buttons.button(1).click()  # Correct
    tab.true_combo.setCurrentIndex(0)
    tab.pred_combo.setCurrentIndex(4)  # predicted fish
    expected = [i for i in range(300) if data.correct[i] and data.y_pred[i] == 3]
    assert sorted(tab.shown_rows().tolist()) == expected
    qtbot.keyClick(tab.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # reset filters
    assert tab.shown_rows().tolist() == list(range(300))
    assert tab.outcome_buttons.checkedId() == 0 and tab.sort_combo.currentIndex() == 0


def test_a_long_count_line_ends_in_an_ellipsis_with_the_whole_line_in_its_tooltip(make_tab, qtbot):
    tab = make_tab()
    data = make_data()
    long_names = [f"{name} of a remarkably long and descriptive class name" for name in NAMES]
    data.evaluation.class_names[:] = long_names
    tab.set_data(data)
    tab.resize(1280, 800)
    show_active(qtbot, tab)
    tab.outcome_buttons.button(2).click()  # Wrong
    tab.true_combo.setCurrentIndex(2)
    tab.pred_combo.setCurrentIndex(3)
    label = tab.count_label
    full = label.text()
    assert long_names[1] in full and long_names[2] in full
    shown = label.shown_text()
    assert shown != full and shown.endswith("…"), "the count was cut off without a sign"
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert full in label.toolTip()
    tab.reset_filters()
    assert label.shown_text() == label.text() == "All 300 test images" and full not in label.toolTip()


def _click_cell(qtbot, table, row: int, col: int) -> None:
    rect = table.visualRect(table.model().index(row, col))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_a_confusion_cell_click_shows_exactly_its_images(make_tab, qtbot):
    tab = make_tab()
    data = make_data()
    tab.set_data(data)
    tab.show()
    qtbot.waitExposed(tab)
    table = tab.matrix.table
    assert table.model().data(table.model().index(1, 2)) == str(data.confusion[1, 2])
    for t, p in ((1, 2), (3, 3), (0, 1)):
        _click_cell(qtbot, table, t, p)
        expected = [i for i in range(300) if data.y_true[i] == t and data.y_pred[i] == p]
        assert tab.shown_rows().tolist() == expected
        assert tab.true_combo.currentData() == t and tab.pred_combo.currentData() == p
        assert tab.count_label.text().startswith(f"{len(expected)} of 300 · true {NAMES[t]}, predicted {NAMES[p]}")
    # Enter on a cell does the same, and the row header shows a whole true class.
    table.setCurrentIndex(table.model().index(2, 0))
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert tab.shown_rows().tolist() == [i for i in range(300) if data.y_true[i] == 2 and data.y_pred[i] == 0]
    header = table.verticalHeader()
    middle = QPoint(header.width() // 2, header.sectionViewportPosition(3) + header.sectionSize(3) // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=middle)
    assert tab.shown_rows().tolist() == [i for i in range(300) if data.y_true[i] == 3]
    # Row percentages on demand.
    tab.matrix.percent_box.setChecked(True)
    row_sum = data.confusion[1].sum()
    text = table.model().data(table.model().index(1, 1))
    assert text.endswith("%") and abs(float(text[:-1]) - 100 * data.confusion[1, 1] / row_sum) < 0.51


def test_the_report_equals_scikit_learn_and_its_numbers_lead_to_the_images(make_tab, qtbot):
    from gui.gallery.report_table import COLUMNS, VALUE_ROLE

    tab = make_tab()
    data = make_data()
    tab.set_data(data)
    tab.show()
    qtbot.waitExposed(tab)
    tab.eval_tabs.setCurrentWidget(tab.report)
    expected = classification_report(
        data.y_true, data.y_pred, labels=range(4), target_names=NAMES, output_dict=True, zero_division=0
    )
    model = tab.report.model
    keys = [model.key(r) for r in range(model.rowCount())]
    assert keys == [*NAMES, "accuracy", "macro avg", "weighted avg"]
    for r, key in enumerate(keys):
        for c, col in enumerate(COLUMNS):
            value = model.data(model.index(r, c), VALUE_ROLE)
            if key == "accuracy":
                if col == "f1-score":
                    assert value == expected["accuracy"]
                continue
            assert value == expected[key][col], (key, col)
    table = tab.report.table
    _click_cell(qtbot, table, 1, 1)  # recall of dog: the dogs
    assert tab.shown_rows().tolist() == [i for i in range(300) if data.y_true[i] == 1]
    _click_cell(qtbot, table, 2, 0)  # precision of bird: predicted birds
    assert tab.shown_rows().tolist() == [i for i in range(300) if data.y_pred[i] == 2]
    _click_cell(qtbot, table, 4, 2)  # accuracy: the correct ones
    assert tab.shown_rows().tolist() == np.flatnonzero(data.correct).tolist()
    _click_cell(qtbot, table, 5, 0)  # macro avg: all
    assert len(tab.shown_rows()) == 300
    assert tab.report.as_text().splitlines()[1].startswith("cat\t")


def test_exports_csv_of_the_shown_rows_and_a_png_of_the_grid(make_tab, qtbot, tmp_path):
    tab = make_tab()
    data = make_data(channels=1)  # grey pictures: every coloured pixel is a caption's
    tab.set_data(data)
    tab.apply_filter(GalleryFilter(outcome="wrong", sort="confidence", descending=True))
    shown = tab.shown_rows()
    out = tmp_path / "exports"  # its own folder: tmp_path also holds the test's settings file
    out.mkdir()
    tab.export_csv(out / "wrong.csv")
    wait_idle(qtbot, tab)
    with open(out / "wrong.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["test_index"]) for r in table] == shown.tolist()
    tab.export_png(out / "wrong.png")
    wait_idle(qtbot, tab)
    image = QImage(str(out / "wrong.png"))
    assert not image.isNull() and image.width() > 200
    blue, red = _colour_counts(image, image.rect())
    assert red > 100 and blue < red / 20  # only mistakes: red captions
    assert sorted(p.name for p in out.iterdir()) == ["wrong.csv", "wrong.png"]


def test_detail_keyboard_and_zoom(make_tab, qtbot):
    tab = make_tab()
    tab.set_data(make_data())
    show_active(qtbot, tab)
    tab.view.setFocus()
    tab.view.setCurrentIndex(tab.model.index(0, 0))
    assert tab.detail_row == 0
    qtbot.keyClick(tab.view, Qt.Key.Key_Right)
    assert tab.detail_row == 1
    # No model behind synthetic data: the panel says so instead of failing.
    assert "model" in tab.detail.message.text()
    size = tab.view.thumb_size
    qtbot.keyClick(tab.view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert tab.view.thumb_size > size and tab.size_slider.value() == tab.view.thumb_size
    qtbot.keyClick(tab.view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert tab.view.thumb_size == size
    for w in (tab.source_combo, tab.csv_button, tab.png_button, tab.size_slider, tab.sort_combo, tab.reset_button):
        assert w.toolTip()


# --------------------------------------------------------------------------------------------------
# Runs and the shipped model, end to end


def _run_from_shipped(data: GalleryData, *, evaluated: bool = True, state: str = "finished"):
    run_dir = runs.create_run({"dataset": "mnist-sample", "model": "simple-cnn-2"}, "mnist-sample")
    shutil.copy(SHIPPED, run_dir / "model.keras")
    shutil.copy(cards.card_path(SHIPPED), run_dir / "model.json")
    if evaluated:
        save_evaluation(run_dir, data.evaluation)
    runs.write_status(run_dir, state=state)
    return run_dir


def test_the_shipped_model_then_a_run_end_to_end(make_tab, qtbot):
    tab = make_tab()
    tab.show()  # the first show lists the runs and, with none to show, evaluates the shipped model
    qtbot.waitUntil(lambda: tab.data is not None, timeout=120_000)
    wait_idle(qtbot, tab)
    data = tab.data
    assert len(data) == 1000 and data.wrong_count == 38  # 96.2 % on the sample, as the card says
    assert "Shipped model" in tab.source_combo.currentText()
    assert tab.matrix.model.matrix.sum() == 1000
    tab.outcome_buttons.button(2).click()
    assert tab.count_label.text() == "38 wrong of 1,000"
    # thumbnails arrive for what is on screen
    qtbot.waitUntil(lambda: tab.loader.made > 0, timeout=10_000)
    # a click shows the image large with its prediction, in red, and Grad-CAM
    with qtbot.waitSignal(tab.detail.gradcam_ready, timeout=60_000):
        tab.view.setCurrentIndex(tab.model.index(0, 0))
    row = tab.detail_row
    assert tab.detail.predicted.text() == data.class_names[data.y_pred[row]]
    assert "wrong" in tab.detail.truth.text()
    assert tab.detail.showing_gradcam

    # The same predictions saved as a run: listed, loaded from its folder, its model loaded for Grad-CAM.
    run_dir = _run_from_shipped(data)
    tab.show_run(run_dir)
    wait_idle(qtbot, tab)
    assert tab.data.run_dir == run_dir and tab.data.has_images and tab.data.loaded_model is None
    assert tab.source_combo.currentData() == ("run", str(run_dir))  # listed by its label (core.labels)
    assert tab.count_label.text() == "All 1,000 test images"
    (r,) = np.flatnonzero(tab.data.test_index == data.test_index[row])
    assert tab.data.images.image(int(r)).tobytes() == data.images.image(row).tobytes()
    with qtbot.waitSignal(tab.detail.gradcam_ready, timeout=60_000):
        tab.view.setCurrentIndex(tab.model.index(3, 0))
    assert tab.data.loaded_model is not None
    assert tab.detail.predicted.text() == data.class_names[tab.data.y_pred[tab.detail_row]]
    # Going back to a source shown before is instant (kept in memory while unchanged on disk).
    tab.show_shipped()
    assert not tab.loading and tab.data is data and "Shipped model" in tab.source_combo.currentText()


def test_runs_that_cannot_be_shown_say_why_and_can_be_evaluated(make_tab, qtbot):
    data = gallery.evaluate_model_file(SHIPPED)
    not_evaluated = _run_from_shipped(data, evaluated=False, state="stopped")
    failed = runs.create_run({"dataset": "mnist-sample", "model": "x"}, "mnist-sample")
    runs.write_status(failed, state="failed", error="The model did not fit in memory.")
    tab = make_tab()
    tab.refresh_sources()
    texts = {tab.source_combo.itemData(i): tab.source_combo.itemText(i) for i in range(tab.source_combo.count())}
    assert texts[("run", str(failed))].endswith("failed")
    tab.show_run(failed)
    assert tab.data is None and tab.stack.currentIndex() == 0
    assert "did not fit in memory" in tab.empty_label.text() and not tab.empty_evaluate.isVisibleTo(tab)
    tab.show_run(not_evaluated)
    assert "not evaluated" in tab.empty_label.text() and tab.empty_evaluate.isVisibleTo(tab)
    tab.empty_evaluate.click()
    qtbot.waitUntil(lambda: tab.data is not None, timeout=120_000)
    wait_idle(qtbot, tab)
    assert tab.data.run_dir == not_evaluated and len(tab.data) == 1000
    assert (not_evaluated / "evaluation.npz").exists()
    assert tab.data.report["accuracy"] == pytest.approx(0.962, abs=0.002)
    report, _ = compute_metrics(tab.data.y_true, tab.data.y_pred, tab.data.class_names)
    assert tab.data.report == report


def test_show_in_gallery_from_the_main_window(make_window, qtbot):
    data = gallery.evaluate_model_file(SHIPPED)
    run_dir = _run_from_shipped(data)
    window = make_window(wait_for_tf=False)
    window.show_in_gallery(run_dir)
    assert window.tabs.currentWidget() is window.gallery_tab
    qtbot.waitUntil(lambda: window.gallery_tab.data is not None, timeout=60_000)
    assert window.gallery_tab.data.run_dir == run_dir


def test_a_point_clicked_in_the_inside_tab_selects_that_image_in_the_gallery_grid(make_window, qtbot):
    data = gallery.evaluate_model_file(SHIPPED)
    run_dir = _run_from_shipped(data)
    window = make_window(wait_for_tf=False)
    tab = window.gallery_tab
    window.inside_tab.show_detail.emit(run_dir, 7)  # the run is not shown yet: it is opened first
    qtbot.waitUntil(lambda: tab.data is not None and tab.data.run_dir == run_dir, timeout=60_000)
    assert window.tabs.currentWidget() is tab
    assert tab.model.row_at(tab.view.currentIndex()) == 7 and tab.detail_row == 7
    # Shown, but hidden by a filter: the filter is reset and the image selected.
    tab.outcome_buttons.button(2).click()  # wrong only
    right = int(np.flatnonzero(tab.data.correct)[3])
    window.inside_tab.show_detail.emit(run_dir, right)
    assert tab.model.row_at(tab.view.currentIndex()) == right and tab.detail_row == right
    assert tab.outcome_buttons.checkedId() == 0
    assert tab.view.visualRect(tab.view.currentIndex()).intersects(tab.view.viewport().rect())  # in view


def test_a_damaged_run_is_an_error_a_person_can_act_on_and_missing_pictures_are_explained(make_tab, qtbot, errors):
    data = make_data(40)
    compute = compute_metrics(data.y_true, data.y_pred, data.class_names)
    data.evaluation.report, data.evaluation.confusion = compute
    gone = runs.create_run({"dataset": "no-such-dataset", "model": "m"}, "no-such-dataset")
    save_evaluation(gone, data.evaluation)
    runs.write_status(gone, state="finished")
    damaged = runs.create_run({"dataset": "mnist-sample", "model": "m"}, "mnist-sample")
    save_evaluation(damaged, data.evaluation)
    runs.write_status(damaged, state="finished")
    (damaged / "evaluation.npz").write_bytes(b"not a zip file")
    tab = make_tab()

    tab.show_run(gone)
    wait_idle(qtbot, tab)
    assert tab.data is not None and not tab.data.has_images
    assert tab.notes_label.isVisibleTo(tab) and "no-such-dataset" in tab.notes_label.text()
    assert tab.matrix.model.matrix.sum() == 40  # the numbers are there without the pictures
    assert "No picture" in tab.model.data(tab.model.index(0, 0), Qt.ItemDataRole.ToolTipRole)

    tab.show_run(damaged)
    wait_idle(qtbot, tab)
    assert tab.data is None and "evaluation.npz is damaged" in tab.empty_label.text()  # said before loading
    assert "re-evaluate" in tab.empty_label.text() and not errors


def test_a_damaged_evaluation_says_which_file_and_how_to_rebuild_it_never_a_raw_error(make_tab, qtbot, errors):
    """Issue 13 item 22: BadZipFile (an evaluation.npz cut short) and TypeError (a metrics.json whose class
    names are no list) were shown as they were raised."""
    data = make_data(40)
    data.evaluation.report, data.evaluation.confusion = compute_metrics(data.y_true, data.y_pred, data.class_names)

    def run_with_evaluation(name):
        run = runs.create_run({"dataset": "no-such-dataset", "model": "m"}, name)
        save_evaluation(run, data.evaluation)
        runs.write_status(run, state="finished")
        return run

    good, cut, names = (run_with_evaluation(n) for n in ("good", "cut", "names"))
    npz = (cut / "evaluation.npz").read_bytes()
    (cut / "evaluation.npz").write_bytes(npz[: len(npz) // 2])  # a zip without its directory: BadZipFile
    metrics = (names / "metrics.json").read_text().replace('"class_names": [', '"class_names": 4, "x": [')
    (names / "metrics.json").write_text(metrics)
    tab = make_tab()
    tab.show_run(good)
    wait_idle(qtbot, tab)
    assert tab.data is not None and tab.data.run_dir == good

    tab.show_run(cut)
    wait_idle(qtbot, tab)
    text = tab.empty_label.text()
    assert "evaluation.npz is damaged" in text and "re-evaluate" in text and "BadZipFile" not in text, text
    assert tab.data is None and not errors

    tab.show_run(good)
    wait_idle(qtbot, tab)
    tab.show_run(names)
    wait_idle(qtbot, tab)
    (title, message, detail) = errors[-1]
    assert "metrics.json" in message and "damaged" in message and "Re-evaluate" in message, message
    assert "TypeError" not in message and "evaluate " + names.name in message
    assert tab.data.run_dir == good  # what was shown stays


# --------------------------------------------------------------------------------------------------
# One source at a time, and what the tab remembers


@pytest.mark.parametrize(
    "kinds, first_to_end",
    [
        (("run", "run"), "A"),  # one runner: A must end before B starts
        (("run", "shipped"), "A"),
        (("run", "shipped"), "B"),
        (("shipped", "run"), "A"),
        (("shipped", "run"), "B"),
    ],
)
def test_opening_a_then_b_at_once_shows_only_b_whatever_order_the_jobs_end_in(
    make_tab, qtbot, tmp_path, monkeypatch, kinds, first_to_end
):
    import threading

    datas = {"A": make_data(50, seed=1), "B": make_data(70, seed=2)}
    paths, gates = {}, {}
    for name, kind in zip("AB", kinds, strict=True):
        if kind == "run":
            path = tmp_path / f"run-{name}"
            path.mkdir()
            (path / "evaluation.npz").write_bytes(b"")  # viewable as far as the list is concerned
            (path / "metrics.json").write_text("{}")
        else:
            path = tmp_path / f"model-{name}.keras"
        paths[name], gates[str(path)] = path, threading.Event()
    by_path = {str(p): datas[n] for n, p in paths.items()}

    def fake(path, reporter=None, cancel=None, workspace=None):
        assert gates[str(path)].wait(20), "the test never released this job"
        return by_path[str(path)]

    monkeypatch.setattr(gallery, "load_run", fake)
    monkeypatch.setattr(gallery, "evaluate_model_file", fake)
    tab = make_tab()
    seen = []
    tab.data_changed.connect(seen.append)
    for name, kind in zip("AB", kinds, strict=True):
        (tab.show_run if kind == "run" else tab.show_shipped)(paths[name])
    assert tab.loading and tab.data is None
    order = [first_to_end, "B" if first_to_end == "A" else "A"]
    for name in order:
        gates[str(paths[name])].set()
        qtbot.wait(50)
        if name == "B":
            qtbot.waitUntil(lambda: tab.data is datas["B"], timeout=10_000)
    wait_idle(qtbot, tab)
    qtbot.wait(100)  # anything late would have arrived by now
    assert tab.data is datas["B"] and seen == [datas["B"]]
    assert not tab.loading and not tab.sources.progress_row.isVisibleTo(tab)
    if kinds[1] == "run":  # (a fake model file is in no list of shipped models)
        assert tab.source_combo.currentData() == ("run", str(paths["B"]))
    assert tab.count_label.text() == "All 70 test images"


def test_the_gallery_settings_round_trip(make_tab, qtbot, settings_file):
    from gui.settings import AppSettings

    tab = make_tab()
    tab.set_data(make_data())
    tab.set_thumb_size(120)
    tab.matrix.percent_box.setChecked(True)
    tab.sort_combo.setCurrentIndex(3)
    tab.show()
    qtbot.waitExposed(tab)
    tab.splitter.setSizes([900, 500])
    tab.right_split.setSizes([300, 530])
    sizes = tab.splitter.sizes(), tab.right_split.sizes()
    tab.save_settings()
    tab.settings.sync()
    saved = AppSettings()
    assert saved.tab_state("gallery") == {"thumb_size": 120, "row_percent": True, "sort": 3}
    assert saved.splitter("gallery") is not None and saved.splitter("gallery-right") is not None

    again = make_tab()
    again.show()
    qtbot.waitExposed(again)
    assert again.view.thumb_size == 120 and again.size_slider.value() == 120
    assert again.matrix.percent_box.isChecked() and again.matrix.model.percent
    assert again.sort_combo.currentIndex() == 3 and again.filter.sort == "loss" and again.filter.descending
    assert (again.splitter.sizes(), again.right_split.sizes()) == sizes


def test_version_1_gallery_settings_reach_the_tab(make_tab, settings_file):
    settings_file.write_text("[gallery]\nthumb_size=96\nrow_percent=true\nsort=2\n")
    tab = make_tab()
    assert tab.view.thumb_size == 96 and tab.matrix.percent_box.isChecked()
    assert tab.sort_combo.currentIndex() == 2 and tab.filter.sort == "confidence" and tab.filter.descending


def test_cancel_keeps_what_was_shown_and_the_late_result_never_arrives(make_tab, qtbot, tmp_path, monkeypatch):
    import threading

    shown, late = make_data(30, seed=3), make_data(40, seed=4)
    run = tmp_path / "run-slow"
    run.mkdir()
    (run / "evaluation.npz").write_bytes(b"")
    (run / "metrics.json").write_text("{}")
    gate = threading.Event()

    def slow(path, reporter=None, cancel=None, workspace=None):
        assert gate.wait(20)
        return late

    monkeypatch.setattr(gallery, "load_run", slow)
    tab = make_tab()
    tab.set_data(shown)
    messages = []
    tab.status_message.connect(lambda text, ms: messages.append(text))
    tab.show_run(run)
    assert tab.loading and tab.sources.progress_row.isVisibleTo(tab)
    tab.sources.cancel_button.click()
    assert not tab.loading and not tab.sources.progress_row.isVisibleTo(tab)
    assert messages[-1] == "Loading cancelled."
    gate.set()
    wait_idle(qtbot, tab)
    qtbot.wait(100)
    assert tab.data is shown and tab.count_label.text() == "All 30 test images"
