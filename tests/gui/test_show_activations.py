"""The single-image views of Predict and the Gallery: "Show activations" opens the Inside tab on
that very image (the user's own dropped file too), and the Gallery's detail panel fits 1280 x 800."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def _drop_file(widget: QWidget, path: Path) -> None:
    """Drag-enter and drop ``path`` on ``widget``, as the system does for a file from the desktop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = widget.rect().center()
    buttons, mods, action = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(pos), action, mime, buttons, mods))


def _gallery_detail(qtbot, window, row: int = 4):
    """The Gallery on the shipped model with test image ``row`` in its detail panel, Grad-CAM drawn."""
    tab = window.gallery_tab
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.data is not None and not tab.loading, timeout=120_000)
    tab.select_image(row)
    qtbot.waitUntil(lambda: tab.data.loaded_model is not None and tab.detail.body.isVisible(), timeout=60_000)
    qtbot.waitUntil(lambda: tab.detail.showing_gradcam, timeout=60_000)
    return tab


def test_show_activations_of_the_users_own_image_in_predict(make_window, qtbot, tmp_path):
    window = make_window()
    tab = window.predict_tab
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: bool(tab.predictors), timeout=120_000)
    tab.ask_class_names = lambda *args: None
    picture = np.zeros((90, 60, 3), np.uint8)  # not a test image: a tall colour picture of a stroke
    picture[10:80, 25:35] = (255, 200, 0)
    path = tmp_path / "my own drawing.png"
    Image.fromarray(picture).save(path)
    view = tab.view
    assert not view.activations_button.isEnabled()  # nothing shown yet
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        _drop_file(tab, path)
    qtbot.waitUntil(lambda: view.activations_button.isEnabled(), timeout=30_000)
    seen = view._inputs[0]
    assert seen.shape == (28, 28, 1)

    view.activations_button.click()
    inside = window.inside_tab
    assert window.tabs.currentWidget().isAncestorOf(inside) or window.tabs.currentWidget() is inside
    assert inside.state.using_external and np.array_equal(inside.state.external.image, seen)
    assert "my own drawing.png" in inside.activations_page.image_source.currentText()
    grid = inside.activations_page.grid
    qtbot.waitUntil(lambda: not inside.activations_busy and grid.values is not None, timeout=60_000)
    assert grid.values.shape == (26, 26, 32)


def test_show_activations_from_the_gallerys_detail_panel(make_window, qtbot):
    window = make_window(wait_for_tf=False)
    tab = _gallery_detail(qtbot, window, row=11)
    expected = tab.data.images.model_input(11, tab.data.loaded_model.input_shape)
    tab.detail.activations_button.click()
    inside = window.inside_tab
    assert window.tabs.currentWidget().isAncestorOf(inside) or window.tabs.currentWidget() is inside
    assert inside.state.using_external and np.array_equal(inside.state.external.image, expected)
    assert "#11" in inside.state.external.title


def test_the_gallery_detail_panel_fits_1280_by_800_with_grad_cam_in_view(make_window, qtbot):
    window = make_window(wait_for_tf=False)
    window.resize(1280, 800)
    tab = _gallery_detail(qtbot, window)
    qtbot.wait(50)  # the layout settles at the new size
    panel = tab.detail_panel
    assert panel.horizontalScrollBar().maximum() == 0, "the detail panel scrolls sideways at 1280 x 800"
    visible = panel.viewport().rect()
    for control in (tab.detail.gradcam_check, tab.detail.opacity, tab.detail.class_combo, tab.detail.layer_combo):
        where = QRect(control.mapTo(panel.viewport(), control.rect().topLeft()), control.size())
        assert visible.contains(where), f"{control.accessibleName() or type(control).__name__} is out of view"
    # Nothing of the view is cut off at the right: the chart and the model's input sit inside the panel.
    for part in (tab.detail.chart, tab.detail.model_sees, tab.detail.model_sees_caption):
        right = part.mapTo(panel.viewport(), part.rect().topRight()).x()
        assert right <= visible.right()


def test_the_view_says_which_layer_when_grad_cam_falls_back_from_an_empty_map(qtbot, empty_last_map_model):
    """About 3 % of images had "the map is empty" at the default layer; now the view shows the
    previous convolutional layer's map and says which layer it is."""
    from core.inference import LoadedModel
    from gui.widgets.prediction_view import PredictionView

    view = PredictionView()
    qtbot.addWidget(view)
    view.set_model(LoadedModel(empty_last_map_model, Path("crafted.keras"), None, ["zero", "one"], (8, 8, 1)))
    image = np.zeros((8, 8, 1), np.uint8)
    image[2:6, 3:5] = 255
    view.show()
    with qtbot.waitSignal(view.gradcam_ready, timeout=30_000):
        view.show_prediction(image, image, np.array([0.6, 0.4]), title="stroke")
    assert view.current_layer == "conv2" and view.current_class == 0
    status = view.gradcam_status.text()
    assert view.showing_gradcam and "conv1" in status and "conv2" in status and "empty" in status
    assert view.shutdown()
