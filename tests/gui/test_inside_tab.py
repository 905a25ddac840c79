"""The Inside tab, offscreen: feature space of a run (colours, mistakes, hover, click, cache),
side-by-side comparison, and the activation grid (shapes, selection, bars, images from other tabs).

The run is the shipped model with its test-set evaluation copied into a run folder (no training).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

SHIPPED = "mnist-sample-simple-cnn-2.keras"


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, make_shipped_run):
    run_dir, _ = make_shipped_run(tmp_path_factory.mktemp("inside") / "workspace")
    return run_dir


@pytest.fixture
def workspace(tmp_path, base_run):
    """A workspace with a fresh copy of the run (no cached embeddings)."""
    ws = tmp_path / "workspace"
    (ws / "runs").mkdir(parents=True)
    shutil.copytree(base_run, ws / "runs" / base_run.name)
    return ws


@pytest.fixture
def make_tab(qtbot):
    from gui.inside import InsideTab
    from gui.workers import JobRunner

    made = []

    def make(workspace, settings=None):
        jobs = JobRunner()
        tab = InsideTab(jobs, settings, workspace=workspace)
        qtbot.addWidget(tab)
        tab.resize(1280, 800)
        tab.show()
        tab.refresh_sources()
        made.append((tab, jobs))
        return tab

    yield make
    for _tab, jobs in made:
        assert jobs.shutdown(60_000), "a job thread did not end"


def open_run(qtbot, tab, run_dir):
    tab.set_run(run_dir)
    qtbot.waitUntil(lambda: tab.state.opened is not None and not tab.jobs.busy, timeout=120_000)


def compute(qtbot, tab, method="pca"):
    tab.set_method(method)
    tab.compute()
    qtbot.waitUntil(lambda: tab.state.embedding is not None and not tab.jobs.busy, timeout=120_000)


def click_scene(qtbot, view, scene_pos: QPointF) -> None:
    pos = view.mapFromScene(scene_pos)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(pos))


def test_feature_space_colours_by_class_marks_mistakes_and_caches(qtbot, make_tab, workspace, errors):
    from gui.inside.feature_scatter import class_colors

    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)
    assert [s.kind for s in tab.state.sources] == ["run", "model"]  # the run, then the shipped model
    open_run(qtbot, tab, run_dir)
    page = tab.embedding_page
    assert page.layer_combo.currentData() == "features"
    assert tab.state.embedding is None and "Compute" in page.scatters[0].placeholder.toPlainText()
    assert page.compute_button.isEnabled()

    compute(qtbot, tab, "pca")
    data = tab.state.opened.data
    scatter = page.scatters[0]
    assert len(scatter.coords) == len(data) == 1000
    # Every point has its true class's colour; the mistakes (and only they) are crosses.
    colours = scatter.point_colors()
    palette = class_colors(10)
    assert all(colours[i].rgb() == palette[data.y_true[i]].rgb() for i in range(len(data)))
    wrong = np.flatnonzero(data.y_true != data.y_pred)
    assert len(wrong) == 38 and np.array_equal(np.sort(scatter.wrong_rows()), wrong)
    assert scatter.legend.items and len(scatter.legend.items) == 11  # ten classes + "wrong"
    assert (run_dir / "embeddings" / "features-pca-2d.npz").exists()
    assert "PCA of 'features'" in page.status.text()

    # Hover: the card shows the thumbnail, the true and the predicted class.
    row = int(wrong[0])
    scatter.hover_row(row)
    assert scatter.card.isVisible() and scatter.card.image.pixmap() is not None
    text = scatter.card.text.text()
    assert f"true</b> {data.class_names[data.y_true[row]]}" in text
    assert data.class_names[data.y_pred[row]] in text

    # Click a point: the detail signal names the run and the row; the activations follow it.
    vb = scatter.plot.getViewBox()
    target = vb.mapViewToScene(QPointF(*scatter.coords[row]))
    with qtbot.waitSignal(tab.show_detail, timeout=5000) as signal:
        click_scene(qtbot, scatter.view, target)
    clicked_run, clicked_row = signal.args
    assert clicked_run == run_dir
    assert np.allclose(scatter.coords[clicked_row], scatter.coords[row], atol=np.abs(scatter.coords).max() / 50)
    assert tab.activations_page.row_spin.value() == clicked_row and scatter.highlighted == clicked_row

    # A new tab (the app started again) shows the cached picture without computing.
    tab2 = make_tab(workspace)
    tab2.set_method("pca")
    open_run(qtbot, tab2, run_dir)
    assert tab2.state.embedding is not None and tab2.state.embedding.cached
    assert np.array_equal(tab2.embedding_page.scatters[0].coords, scatter.coords)
    assert "kept in the run folder" in tab2.embedding_page.status.text()
    assert not errors


def test_the_first_show_opens_the_newest_run_not_a_blank_chooser(qtbot, make_tab, workspace):
    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)  # shown: the source chooser started blank, with nothing open
    combo = tab.source_bar.source_combo
    assert combo.currentIndex() >= 0 and combo.currentData() == str(run_dir)
    qtbot.waitUntil(lambda: tab.state.opened is not None and not tab.jobs.busy, timeout=120_000)
    assert tab.state.opened.source.path == run_dir


def test_tsne_runs_off_the_gui_thread_with_elapsed_time(qtbot, make_tab, workspace, monkeypatch):
    from core import features

    seen = []
    real = features.embed

    def small_tsne(x, method="tsne", **kw):  # t-SNE of 1,000 points takes ~10 s: embed a tenth
        seen.append(method)
        coords = np.zeros((len(x), 2), np.float32)
        coords[::10] = real(x[::10], method, **kw)
        return coords

    monkeypatch.setattr(features, "embed", small_tsne)
    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)
    open_run(qtbot, tab, run_dir)
    tab.set_method("tsne")
    tab.compute()
    page = tab.embedding_page
    assert page.stop_button.isEnabled() and not page.compute_button.isEnabled()
    assert page.progress.isVisible()
    qtbot.waitUntil(lambda: " s" in page.status.text(), timeout=30_000)  # elapsed time shown
    qtbot.waitUntil(lambda: tab.state.embedding is not None and not tab.jobs.busy, timeout=120_000)
    assert seen == ["tsne"] and tab.state.embedding.method == "tsne"
    assert "t-SNE of 'features'" in page.status.text()
    assert not page.progress.isVisible() and page.compute_button.isEnabled()


def test_stop_ends_a_running_tsne_at_once_not_after_its_last_iteration(qtbot, make_tab, workspace):
    """Closing (or Stop) waited ~75 s for a t-SNE of 10,000 points; now its process is killed."""
    from core import features

    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)
    open_run(qtbot, tab, run_dir)
    tab.set_method("tsne")
    tab.compute()
    page = tab.embedding_page
    # t-SNE's iterations are the progress: wait until it is under way, then stop it.
    qtbot.waitUntil(
        lambda: "t-SNE" in page.status.text() and page.progress.maximum() == features.TSNE_MAX_ITER, timeout=120_000
    )
    done = page.progress.value()
    tab.stop()
    qtbot.waitUntil(lambda: not tab.jobs.busy, timeout=30_000)
    assert tab.state.embedding is None and "Stopped." in page.status.text()
    assert 0 < done < features.TSNE_MAX_ITER
    assert not (run_dir / "embeddings" / "features-tsne-2d.npz").exists()


def test_two_runs_side_by_side_ring_the_same_image(qtbot, make_tab, workspace):
    run_a = next((workspace / "runs").iterdir())
    run_b = run_a.parent / (run_a.name + "-copy")
    shutil.copytree(run_a, run_b)
    tab = make_tab(workspace)
    open_run(qtbot, tab, run_a)
    page = tab.embedding_page
    scatter, compare_scatter = page.scatters
    page.compare_combo.setCurrentIndex(page.compare_combo.findData(str(run_b)))
    page.compare_combo.activated.emit(page.compare_combo.currentIndex())  # as when the user picks it
    assert page.stacks[1].isVisible() and compare_scatter.isVisible()
    compute(qtbot, tab, "pca")
    qtbot.waitUntil(lambda: tab.state.compare_embedding is not None, timeout=60_000)
    assert len(compare_scatter.coords) == len(scatter.coords) == 1000
    assert (run_b / "embeddings" / "features-pca-2d.npz").exists()
    # Equal widths (the chosen run once got a quarter), and each legend beside its plot, not over it.
    left, right = page.plots.sizes()
    assert left > 0 and abs(left - right) <= 2
    for each in page.scatters:
        assert not each.legend.sceneBoundingRect().intersects(each.plot.getViewBox().sceneBoundingRect())
    scatter.hover_row(17)
    assert compare_scatter.highlighted == 17
    compare_scatter.hover_row(23)
    assert scatter.highlighted == 23


def test_activation_grid_matches_the_layer_and_enlarges_a_clicked_map(qtbot, make_tab, workspace):
    from core import activations

    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)
    open_run(qtbot, tab, run_dir)
    model = tab.state.opened.loaded.model
    tab.set_test_image(3)
    assert tab.pages.currentIndex() == 1
    page = tab.activations_page
    assert page.layer_combo.currentData() == "conv1"
    qtbot.waitUntil(lambda: not tab.activations_busy, timeout=60_000)
    grid = page.grid
    # The grid shows test image 3 (not the first image shown when the run opened).
    expected = activations.activations(model, tab.state.opened.data.images.model_input(3, (28, 28, 1)), "conv1")
    np.testing.assert_allclose(grid.values, expected, rtol=1e-5, atol=1e-6)
    shape = tuple(model.get_layer("conv1").output.shape[1:])
    assert grid.values.shape == shape == (26, 26, 32)
    assert grid.map_shape == shape[:2] and grid.map_count == shape[2]
    rows, cols = grid.grid
    assert rows * cols >= 32 and (rows - 1) * cols < 32
    assert "26x26x32" in grid.header.text() and "conv1" in grid.header.text()
    # One colour scale for all maps: the colour bar spans the layer's values.
    assert grid.levels == (float(grid.values.min()), float(grid.values.max()))

    # Click map 9 in the grid: it is outlined and shown enlarged.
    h, w = grid.map_shape
    r, q = divmod(9, grid.cols)

    def map_9_in_view():  # pyqtgraph fits the view lazily (on a later paint): wait until map 9 is on screen
        grid.grid_box.updateMatrix()
        scene = grid.grid_image.mapToScene(QPointF(q * (w + 1) + w / 2, r * (h + 1) + h / 2))
        return grid.maps_view.viewport().rect().contains(grid.maps_view.mapFromScene(scene))

    qtbot.waitUntil(map_9_in_view, timeout=10_000)
    scene = grid.grid_image.mapToScene(QPointF(q * (w + 1) + w / 2, r * (h + 1) + h / 2))
    with qtbot.waitSignal(grid.map_selected, timeout=5000) as signal:
        click_scene(qtbot, grid.maps_view, scene)
    assert signal.args == [9] and grid.selected == 9
    assert np.array_equal(grid.zoom_image.image, grid.values[..., 9])

    # Last conv, then the dense layer as a bar strip.
    page.last_conv_button.click()
    qtbot.waitUntil(lambda: grid.values is not None and grid.values.shape == (11, 11, 64), timeout=60_000)
    page.dense_button.click()
    qtbot.waitUntil(lambda: grid.values is not None and grid.values.shape == (128,), timeout=60_000)
    assert grid.stack.currentWidget() is grid.bars_view


def test_a_superseded_activations_request_never_reaches_the_grid(qtbot, make_tab, workspace, monkeypatch):
    """Changing the layer while conv1's maps are computed: conv1's (late) result is never drawn."""
    import threading

    from core import activations

    real = activations.activations
    release = threading.Event()
    started = threading.Event()

    def slow_for_conv1(model, image, layer):
        if layer == "conv1":
            started.set()
            release.wait(30)  # conv1 finishes only after the newer request has been made
        return real(model, image, layer)

    run_dir = next((workspace / "runs").iterdir())
    tab = make_tab(workspace)
    open_run(qtbot, tab, run_dir)
    qtbot.waitUntil(lambda: not tab.activations_busy, timeout=60_000)  # the first image's conv1
    page = tab.activations_page
    drawn = []
    real_set = page.grid.set_activations

    def record(values, name, *args):
        drawn.append(name)
        real_set(values, name, *args)

    monkeypatch.setattr(page.grid, "set_activations", record)
    monkeypatch.setattr(activations, "activations", slow_for_conv1)

    tab.set_test_image(5)  # conv1 of test image 5: held in the worker
    qtbot.waitUntil(started.is_set, timeout=30_000)
    page.last_conv_button.click()  # a newer request supersedes it
    assert tab.activations_busy
    release.set()
    qtbot.waitUntil(lambda: not tab.activations_busy and not tab.jobs.busy, timeout=60_000)
    qtbot.wait(50)
    last_conv = tab.state.shortcut_layer("last_conv")
    assert last_conv != "conv1" and drawn == [last_conv], "only the newest request is drawn"
    assert page.grid.values.shape == (11, 11, 64)


def test_the_tab_remembers_method_and_a_comparison_starts_at_equal_widths(qtbot, make_tab, tmp_path):
    from gui.settings import AppSettings

    settings = AppSettings()
    tab = make_tab(tmp_path / "empty", settings)
    assert tab.current_method() == "tsne"  # nothing remembered yet
    tab.set_method("pca")
    tab.embedding_page.set_compare_visible(True)
    tab.embedding_page.plots.setSizes([900, 300])  # the user drags the splitter
    tab.save_settings()
    assert settings.tab_state("inside") == {"method": "pca", "three_d": False}
    settings.sync()

    again = make_tab(tmp_path / "empty", AppSettings())
    assert again.current_method() == "pca"
    assert again.embedding_page.method_combo.currentData() == "pca"
    again.embedding_page.set_compare_visible(True)
    qtbot.wait(50)  # the splitter lays out the plot it shows
    left, right = again.embedding_page.plots.sizes()
    assert abs(left - right) <= 2, "the chosen run got a quarter of the width beside the compared one"


def test_an_image_from_another_tab_uses_that_tabs_model(qtbot, make_tab, workspace):
    from core import paths
    from core.inference import load_model

    loaded = load_model(paths.WEIGHTS_DIR / SHIPPED)
    tab = make_tab(workspace)
    image = np.zeros((56, 56, 3), np.uint8)  # not the model's size: resized and made grey
    image[10:46, 24:32] = 255
    tab.set_image(image, loaded, "my-digit.png")
    page = tab.activations_page
    assert page.image_source.currentData() == "external"
    assert "my-digit.png" in page.image_source.currentText()
    assert tab.state.external.image.shape == (28, 28, 1)
    qtbot.waitUntil(lambda: not tab.activations_busy, timeout=60_000)
    assert page.grid.values.shape == (26, 26, 32)
    page.layer_combo.setCurrentIndex(page.layer_combo.findData("predictions"))
    qtbot.waitUntil(lambda: page.grid.values is not None and page.grid.values.shape == (10,), timeout=60_000)
    assert np.isclose(page.grid.values.sum(), 1.0, atol=1e-4)
    ticks = page.grid.bars_view.getAxis("bottom")._tickLevels
    assert ticks and [t[1] for t in ticks[0]] == loaded.class_names


def test_the_3d_option_says_why_it_is_missing_offscreen(qtbot, make_tab, tmp_path):
    tab = make_tab(tmp_path / "empty")
    page = tab.embedding_page
    assert not page.three_d.isVisible() and not page.three_d.isEnabled()
    assert page.three_d_note.isVisible() and "OpenGL" in page.three_d_note.toolTip()
    assert not page.compute_button.isEnabled()  # nothing opened yet
    assert [s.kind for s in tab.state.sources] == ["model"]


def test_scatter_colours_follow_the_classes_given(qtbot):
    from gui.inside.feature_scatter import FeatureScatter, class_colors, nearest_point

    scatter = FeatureScatter()
    qtbot.addWidget(scatter)
    y_true = np.array([0, 1, 2, 2, 1, 0, 3])
    y_pred = np.array([0, 1, 2, 1, 1, 0, 3])
    coords = np.arange(14, dtype=np.float32).reshape(7, 2)
    scatter.set_data(coords, y_true, y_pred, ["a", "b", "c", "d"])
    colours = scatter.point_colors()
    expected = [QColor(class_colors(4)[k]).rgb() for k in y_true]
    assert [c.rgb() for c in colours] == expected
    assert list(scatter.wrong_rows()) == [3]
    assert len({c.rgb() for c in class_colors(25)}) == 25
    assert nearest_point(coords, 2.1, 3.1, (0.1, 0.1)) == 1
    assert nearest_point(coords, 50.0, 50.0, (0.1, 0.1)) is None
