"""The Predict tab: drops, bad files, Grad-CAM, ensembles, card-less and unsafe models, CSV, threads."""

from __future__ import annotations

import csv
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMenu

from core import cards
from core.ensemble import InMemoryImage
from core.gradcam import NO_CONV_MESSAGE
from gui.predict.results_model import SORT_ROLE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "weights" / "mnist-sample-simple-cnn-2.keras"
DIGITS = [str(i) for i in range(10)]


# ------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def known_digits(shipped_pair):
    """Sample digits the shipped model gets right with confidence: (images 28x28x1, labels)."""
    from core.datasets.sample import load_sample_arrays

    x, y = load_sample_arrays()
    x, y = x[:200], y[:200]
    probs = shipped_pair[1].predict(x)
    good = [i for i in range(len(x)) if int(np.argmax(probs[i])) == int(y[i]) and probs[i].max() > 0.9]
    assert len(good) >= 20
    return x[good], y[good]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small saved models: 10 digit classes with a card (another input size), 3 classes without a
    card, and one with a Lambda layer (refused by safe mode)."""
    import keras

    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras")))

        def conv_model(shape, classes, seed):
            keras.utils.set_random_seed(seed)
            inp = keras.Input(shape)
            x = keras.layers.Rescaling(1 / 255)(inp)
            x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
            x = keras.layers.GlobalAveragePooling2D(name="features")(x)
            return keras.Model(inp, keras.layers.Dense(classes, activation="softmax", name="predictions")(x))

        digits = folder / "digits32.keras"
        conv_model((32, 32, 3), 10, 1).save(digits)
        cards.write_card(
            digits,
            cards.make_card(
                class_names=DIGITS,
                input_shape=(32, 32, 3),
                dataset={"name": "mnist", "title": "MNIST"},
                architecture={"name": "tiny", "title": "Tiny CNN"},
                hyperparameters={},
                metrics={"test_accuracy": 0.5},
            ),
        )
        three = folder / "three.keras"
        conv_model((16, 16, 1), 3, 2).save(three)

        inp = keras.Input((16, 16, 1))
        x = keras.layers.Lambda(lambda t: t / 255.0)(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        unsafe = folder / "lambda.keras"
        keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x)).save(unsafe)

        inp = keras.Input((8, 8, 1))
        x = keras.layers.Flatten()(inp)
        dense = folder / "dense.keras"
        keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x)).save(dense)
        cards.write_card(
            dense,
            cards.make_card(
                class_names=DIGITS,
                input_shape=(8, 8, 1),
                dataset={"name": "mnist", "title": "MNIST"},
                architecture={"name": "dense", "title": "Dense only"},
                hyperparameters={},
            ),
        )
    return {"digits": digits, "three": three, "lambda": unsafe, "dense": dense}


def _save_digit(path: Path, image: np.ndarray, scale: int = 3, rgb: bool = True) -> Path:
    img = Image.fromarray(image[:, :, 0]).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    (img.convert("RGB") if rgb else img).save(path)
    return path


def _mime(*items) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([i if isinstance(i, QUrl) else QUrl.fromLocalFile(str(i)) for i in items])
    return mime


def _drop(widget, mime: QMimeData) -> bool:
    """Send a drag-enter and a drop, as the system does when files are dropped on ``widget``."""
    pos = widget.rect().center()
    buttons, mods, action = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def _predict(qtbot, tab, mime: QMimeData) -> None:
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        assert _drop(tab, mime)


def _bomb_png(path: Path) -> Path:
    """A tiny PNG that claims to be 20000 x 20000 pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


# ------------------------------------------------------------------------------------------------
# Tests


def test_dropping_one_digit_shows_the_prediction_and_gradcam(make_predict_tab, qtbot, known_digits, tmp_path):
    tab = make_predict_tab()
    assert tab.picker.selected_paths() == [SHIPPED]  # first launch: the shipped MNIST model
    assert [m.path for m in tab.members] == [SHIPPED]
    x, y = known_digits
    path = _save_digit(tmp_path / "photo of a digit.png", x[0])  # 84x84 colour: converted to 28x28 grey

    _predict(qtbot, tab, _mime(path))
    assert tab.results.rowCount() == 1 and tab.table.isHidden()  # one image: no table, just the view
    result = tab.results.results[0]
    assert result.ok and result.top[0][0] == str(int(y[0]))
    qtbot.waitUntil(lambda: tab.view.predicted.text() == str(int(y[0])), timeout=30_000)
    assert tab.view.title.text().endswith("photo of a digit.png")
    assert tab.view.chart.names[0] == str(int(y[0])) and len(tab.view.chart.names) == 5
    # What the model sees: the 28x28 grey digit, not the 84x84 colour picture.
    assert tab.view.model_sees_caption.text().startswith("28 × 28 pixels, grey")
    qtbot.waitUntil(lambda: tab.view.showing_gradcam, timeout=30_000)
    assert tab.view.current_layer == "conv2" and tab.view.current_class == int(y[0])
    assert "conv2" in tab.view.gradcam_status.text()


def test_dropping_files_and_a_folder_fills_a_sortable_table(make_predict_tab, qtbot, known_digits, tmp_path):
    tab = make_predict_tab()
    x, y = known_digits
    folder = tmp_path / "folder"
    (folder / "sub" / "deeper").mkdir(parents=True)
    singles = [_save_digit(tmp_path / f"single{i}.png", x[i], rgb=False) for i in range(2)]
    for i in range(2, 9):
        _save_digit(folder / ("sub/deeper" if i % 2 else "") / f"d{i}.png", x[i])
    (folder / "readme.txt").write_text("not an image, and not an image extension: skipped in folders")
    text = tmp_path / "notes.txt"
    text.write_text("dropped on purpose: gets a row with the reason")

    _predict(qtbot, tab, _mime(*singles, folder, text))
    results = tab.results.results
    assert len(results) == 2 + 7 + 1
    assert not tab.table.isHidden()
    bad = [r for r in results if not r.ok]
    assert [(r.name, r.error) for r in bad] == [("notes.txt", "not an image file")]
    assert all(r.top[0][0] in DIGITS for r in results if r.ok)
    assert f"{len(results)} images: 9 predicted, 1 could not be read" in tab.state_label.text()

    # Sort by confidence, most confident first: the failed row goes last.
    tab.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    model = tab.table.model()
    confidences = [model.index(r, 3).data(SORT_ROLE) for r in range(model.rowCount())]
    assert confidences == sorted(confidences, reverse=True) and confidences[-1] == -1.0
    # Clicking a row shows that image.
    row = next(r for r in range(model.rowCount()) if model.index(r, 1).data() == "d4.png")
    tab.table.selectRow(row)
    qtbot.waitUntil(lambda: tab.view.title.text().endswith("d4.png"), timeout=30_000)
    last = model.rowCount() - 1
    tab.table.selectRow(last)
    qtbot.waitUntil(lambda: "notes.txt: not an image file" in tab.view.message.text(), timeout=10_000)


@pytest.mark.parametrize("rate_hz", [1e-6, 1e6], ids=["first-batch-then-the-rest", "every-batch"])
def test_the_table_fills_batch_by_batch_with_the_progress(make_predict_tab, qtbot, known_digits, tmp_path, rate_hz):
    tab = make_predict_tab()
    tab.results_hz = rate_hz
    x, _ = known_digits
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):
        _save_digit(folder / f"{i:03d}.png", x[i % len(x)], scale=1)
    inserts: list[tuple[int, int, int, int]] = []  # first row, last row, progress value, progress maximum
    titles: list[str] = []  # what the single view shows meanwhile
    tab.results.rowsInserted.connect(
        lambda _p, first, last: inserts.append((first, last, tab.progress.value(), tab.progress.maximum()))
    )
    tab.results.rowsInserted.connect(lambda *_: titles.append(tab.view.title.text()))
    _predict(qtbot, tab, _mime(folder))
    assert tab.results.rowCount() == 150 and tab.results.ok_count == 150
    # The first batch (64 images) goes out as soon as it is done; later ones at most rate_hz a second.
    expected = [(0, 63), (64, 149)] if rate_hz < 1 else [(0, 63), (64, 127), (128, 149)]
    assert [(first, last) for first, last, _, _ in inserts] == expected
    # The progress bar counts the rows (seen here as each chunk arrives: the rows before it).
    assert [(value, maximum) for _, _, value, maximum in inserts] == [(first, 150) for first, _ in expected]
    assert "150 images: 150 predicted" in tab.state_label.text()
    # The first row is selected at once and drawn in the single view when the batch is done.
    assert tab.table.selectionModel().currentIndex().row() == 0
    assert titles == [""] * len(inserts)
    qtbot.waitUntil(lambda: tab.view.title.text().endswith("000.png"), timeout=30_000)


def test_a_superseded_batch_never_reaches_the_table(make_predict_tab, qtbot, known_digits, tmp_path):
    """Start a batch, start another while it runs: only the second one's rows and end arrive."""
    tab = make_predict_tab()
    tab.results_hz = 1e6  # every chunk of the first batch is sent as soon as it is done
    x, _ = known_digits
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for i in range(400):
        _save_digit(first / f"a{i:03d}.png", x[i % len(x)], scale=1)
    for i in range(3):
        _save_digit(second / f"b{i}.png", x[i], scale=1)
    ends: list[str] = []
    tab.batch_finished.connect(ends.append)
    assert _drop(tab, _mime(first))
    qtbot.waitUntil(lambda: tab.results.rowCount() > 0, timeout=60_000)  # the first batch is running
    old_worker = tab.batches.task.worker
    assert old_worker is not None and not ends

    arrived: list[str] = []
    tab.results.rowsInserted.connect(
        lambda _p, first_row, last_row: arrived.extend(
            tab.results.result(r).name for r in range(first_row, last_row + 1)
        )
    )
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        assert _drop(tab, _mime(second))
    assert old_worker.cancel.cancelled, "the first batch was asked to stop"
    qtbot.waitUntil(lambda: not tab.jobs.busy, timeout=60_000)  # the first batch's thread has ended too
    qtbot.wait(100)  # and any signal it queued has been delivered
    assert ends == ["finished"]
    assert sorted(arrived) == ["b0.png", "b1.png", "b2.png"]
    assert sorted(r.name for r in tab.results.results) == ["b0.png", "b1.png", "b2.png"]
    assert tab.state.results == tab.results.results
    assert "3 images: 3 predicted" in tab.state_label.text()


def test_bad_files_get_rows_with_reasons_and_the_rest_is_predicted(make_predict_tab, qtbot, known_digits, tmp_path):
    tab = make_predict_tab()
    x, y = known_digits
    good = [_save_digit(tmp_path / f"good{i}.png", x[i]) for i in range(3)]
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(_save_digit(tmp_path / "whole.png", x[5], scale=8).read_bytes()[:300])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    bomb = _bomb_png(tmp_path / "bomb.png")
    missing = tmp_path / "gone.png"

    _predict(qtbot, tab, _mime(good[0], empty, truncated, good[1], corrupt, bomb, missing, good[2]))
    by_name = {r.name: r for r in tab.results.results}
    assert len(by_name) == 8
    assert by_name["empty.png"].error == "file is empty (0 bytes)"
    assert by_name["truncated.png"].error == "image is truncated or corrupt"
    assert by_name["corrupt.jpg"].error == "image is truncated or corrupt"
    assert by_name["bomb.png"].error.startswith("image is too large")
    assert by_name["gone.png"].error == "file not found"
    for i in range(3):
        assert by_name[f"good{i}.png"].top[0][0] == str(int(y[i]))

    out = tab.export_csv(tmp_path / "export")
    assert out == tmp_path / "export.csv"
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [Path(r["file"]).name for r in rows] == [r.name for r in tab.results.results]
    assert rows[1]["error"] == "file is empty (0 bytes)" and rows[1]["prediction"] == ""
    assert rows[0]["prediction"] == str(int(y[0])) and float(rows[0]["confidence"]) > 0.9
    assert sum(float(rows[0][f"p({d})"]) for d in DIGITS) == pytest.approx(1.0, abs=1e-4)


def test_remote_url_gets_a_clear_message(make_predict_tab, qtbot):
    tab = make_predict_tab()
    assert _drop(tab, _mime(QUrl("https://example.com/cat.jpg")))
    assert "https://example.com/cat.jpg is a web address" in tab.notice_text
    assert "Save the image to your computer first" in tab.notice_text
    assert tab.results.rowCount() == 0 and not tab.jobs.busy
    # Text that is neither a file nor an image is not accepted as a drop at all.
    mime = QMimeData()
    mime.setText("hello")
    assert not _drop(tab, mime)


def test_paste_image_data_and_file_paths(make_predict_tab, qtbot, known_digits, tmp_path):
    tab = make_predict_tab()
    x, y = known_digits
    clipboard = QGuiApplication.clipboard()
    image = QImage(str(_save_digit(tmp_path / "clip.png", x[1])))
    assert not image.isNull()
    clipboard.setImage(image)
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        tab.paste_action.trigger()
    result = tab.results.results[0]
    assert isinstance(result.source, InMemoryImage) and result.name == "Pasted image"
    assert result.top[0][0] == str(int(y[1]))
    qtbot.waitUntil(lambda: tab.view.title.text() == "Pasted image", timeout=30_000)

    path = _save_digit(tmp_path / "by path.png", x[2])
    clipboard.setText(f"{path}\n")
    with qtbot.waitSignal(tab.batch_finished, timeout=60_000):
        tab.paste()
    assert [r.name for r in tab.results.results] == ["by path.png"]

    clipboard.setText("just some words")
    tab.paste()
    assert "clipboard holds no image" in tab.notice_text


def test_lambda_model_is_refused_with_the_safety_message(make_predict_tab, qtbot, models, errors):
    tab = make_predict_tab()
    tab.use_model_file(models["lambda"])
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    title, message, detail = errors[-1]
    assert title == "Cannot use the model"
    assert "Lambda layer" in message and "refused for your safety" in message and "safe_mode" in detail
    qtbot.waitUntil(lambda: tab.state.loading is None, timeout=10_000)
    assert [m.path for m in tab.members] == [SHIPPED] and tab.predictors  # the model in use stays
    assert tab.picker.selected_paths() == [SHIPPED]
    item = next(i for i in tab.picker._items() if Path(i.data(0, Qt.ItemDataRole.UserRole)).name == "lambda.keras")
    assert not item.icon(0).isNull() and "refused" in item.toolTip(0)
    # Choosing a good model again works.
    tab.picker.select_paths([SHIPPED])
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [SHIPPED], timeout=60_000)


def test_model_without_card_asks_only_for_class_names_and_remembers_them(make_predict_tab, qtbot, models, tmp_path):
    import shutil

    from gui.settings import AppSettings

    settings = AppSettings()
    model = tmp_path / "cardless.keras"
    shutil.copy(models["three"], model)
    asked = []
    tab = make_predict_tab(settings=settings)

    def answer(parent, path, initial):
        asked.append((Path(path).name, list(initial)))
        return ["circle", "square", "star"], False

    tab.ask_class_names = answer
    tab.use_model_file(model)
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [model], timeout=60_000)
    assert asked == [("cardless.keras", ["class 0", "class 1", "class 2"])]  # inferred: 3 classes
    assert tab.members[0].class_names == ["circle", "square", "star"]
    assert tab.members[0].input_shape == (16, 16, 1)
    assert "has no card" in tab.model_info.text() and not tab.name_classes_button.isHidden()
    assert not cards.card_path(model).exists()  # not written without the person's consent

    # Another session (same settings) does not ask again.
    again = make_predict_tab(settings=settings)
    again.use_model_file(model)
    qtbot.waitUntil(lambda: bool(again.members) and again.members[0].path == model, timeout=60_000)
    assert again.members[0].class_names == ["circle", "square", "star"]

    # "Name classes..." with "save a card" ticked writes a card beside the model.
    again.ask_class_names = lambda parent, path, initial: (["a", "b", "c"], True)
    again.rename_classes()
    assert json.loads(cards.card_path(model).read_text())["class_names"] == ["a", "b", "c"]
    assert again.members[0].class_names == ["a", "b", "c"]


def test_ensemble_averages_members_and_shows_their_votes(
    make_predict_tab, qtbot, models, known_digits, tmp_path, errors
):
    from core.ensemble import ensemble_predict, prepare_inputs

    tab = make_predict_tab()
    x, y = known_digits
    tab.use_model_file(models["digits"])
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [models["digits"]], timeout=60_000)
    tab.picker.select_paths([SHIPPED, models["digits"]])
    qtbot.waitUntil(lambda: len(tab.members) == 2, timeout=60_000)
    assert "Ensemble of 2 models" in tab.model_info.text()

    paths = [_save_digit(tmp_path / f"e{i}.png", x[i]) for i in range(3)]
    _predict(qtbot, tab, _mime(*paths))
    for path, result in zip(paths, tab.results.results, strict=True):
        inputs = prepare_inputs(Image.open(path), [m.input_shape for m in tab.members])
        mean, members = ensemble_predict(tab.predictors, inputs)
        assert np.allclose(result.probs, mean[0], atol=1e-5)
        assert np.allclose(result.probs, result.member_probs.mean(axis=0), atol=1e-6)
        assert result.member_probs.shape == (2, 10)
    note = tab.table.model().index(0, 5).data()
    assert note.endswith("of 2 models agree")
    qtbot.waitUntil(lambda: tab.view.votes.isVisible() and tab.view.votes.rowCount() == 3, timeout=30_000)
    assert tab.view.votes.item(0, 0).text() == "Ensemble (mean)"
    assert tab.view.member_combo.isVisible() and tab.view.member_combo.count() == 2
    # Grad-CAM of the second member (its own layer, its own 32x32 colour input).
    tab.view.member_combo.setCurrentIndex(1)
    assert tab.view.current_layer == "conv"
    assert tab.view.model_sees_caption.text().startswith("32 × 32 pixels, colour")
    qtbot.waitUntil(lambda: tab.view.showing_gradcam or "Nothing" in tab.view.gradcam_status.text(), timeout=30_000)

    rows = list(csv.DictReader(tab.export_csv(tmp_path / "ens.csv").open(encoding="utf-8")))
    assert len([k for k in rows[0] if k.startswith("vote: ")]) == 2

    # Models with other classes cannot join.
    tab.ask_class_names = lambda *args: None  # keep the numbered names
    tab.picker.select_paths([SHIPPED, models["three"]])
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert errors[-1][0] == "These models cannot be combined"
    assert "predicts 10 classes but" in errors[-1][1]
    qtbot.waitUntil(lambda: tab.state.loading is None, timeout=10_000)
    assert [m.path for m in tab.members] == [SHIPPED, models["digits"]]  # the ensemble in use stays


def test_the_tab_remembers_its_models_opened_files_and_class_names(make_predict_tab, qtbot, models, tmp_path):
    """The Predict tab's settings (one record, ``tab_state("predict")``) survive a restart."""
    from gui.predict import class_names
    from gui.settings import AppSettings

    digits = models["digits"].resolve()
    settings = AppSettings()
    tab = make_predict_tab(settings=settings)
    tab.use_model_file(digits)
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [digits], timeout=60_000)
    class_names.remember_names(settings, tmp_path / "cardless.keras", ["cat", "dog"])
    settings.sync()

    again = AppSettings()  # read back from the file
    assert again.tab_value("predict", "models", [], list) == [str(digits)]
    assert again.tab_value("predict", "opened_models", [], list) == [str(digits)]
    assert class_names.remembered_names(again, tmp_path / "cardless.keras", 2) == ["cat", "dog"]
    assert class_names.remembered_names(again, tmp_path / "cardless.keras", 3) is None  # another model now
    # The next launch starts with the model chosen last time, listed among the opened files.
    second = make_predict_tab(settings=again, wait=False)
    qtbot.waitUntil(lambda: [m.path for m in second.members] == [digits], timeout=60_000)
    assert second.picker.selected_paths() == [digits]
    assert second.picker.entry(digits).source == "file"


def test_model_without_convolutions_says_gradcam_does_not_apply(
    make_predict_tab, qtbot, models, known_digits, tmp_path
):
    tab = make_predict_tab()
    tab.use_model_file(models["dense"])
    qtbot.waitUntil(lambda: [m.path for m in tab.members] == [models["dense"]], timeout=60_000)
    x, _ = known_digits
    _predict(qtbot, tab, _mime(_save_digit(tmp_path / "d.png", x[0])))
    qtbot.waitUntil(lambda: NO_CONV_MESSAGE in tab.view.gradcam_status.text(), timeout=30_000)
    assert not tab.view.showing_gradcam and not tab.view.gradcam_check.isEnabled()


def test_prediction_view_contract(qtbot, shipped_pair, known_digits):
    """The single-image view on its own, as the Gallery uses it."""
    from gui.widgets.prediction_view import PredictionView

    loaded, predictor = shipped_pair
    view = PredictionView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    x, y = known_digits
    probs = predictor.predict_one(x[3])
    truth = int(y[3])
    wrong = (truth + 1) % 10
    view.set_model(loaded)
    display = Image.fromarray(x[3][:, :, 0])
    with qtbot.waitSignal(view.gradcam_ready, timeout=30_000):
        view.show_prediction(display, x[3], probs, true_index=wrong, title="test image 3")
    assert view.predicted.text() == str(truth)
    assert "#d62728" in view.predicted.styleSheet()  # red: the known true class is another one
    assert f"true: <b>{wrong}</b>" in view.truth.text() and view.truth.isVisible()
    assert view.showing_gradcam
    first = view.canvas._overlay
    # Another target class and another layer give other maps.
    with qtbot.waitSignal(view.gradcam_ready, timeout=30_000):
        view.class_combo.setCurrentIndex(1)
    second = view.canvas._overlay
    assert second is not first and view.current_class != truth
    with qtbot.waitSignal(view.gradcam_ready, timeout=30_000):
        view.layer_combo.setCurrentIndex(0)
    assert view.current_layer == "conv1"
    # Back to the first choice: from the cache, at once.
    view.layer_combo.setCurrentIndex(1)
    view.class_combo.setCurrentIndex(0)
    assert view.canvas._overlay is first
    view.gradcam_check.setChecked(False)
    assert not view.showing_gradcam
    view.show_prediction(display, x[3], probs, true_index=truth)
    assert "#1f77b4" in view.predicted.styleSheet() and "(right)" in view.truth.text()
    assert not view.showing_gradcam
    with qtbot.waitSignal(view.gradcam_ready, timeout=30_000):
        view.gradcam_check.setChecked(True)  # the same image: the map comes from the cache
    assert view.canvas._overlay is first
    view.opacity.setValue(80)
    assert view.canvas._opacity == pytest.approx(0.8)
    view.clear("Nothing to show")
    assert view.message.text() == "Nothing to show" and view.body.isHidden()
    assert view.shutdown()


def test_closing_mid_batch_leaves_no_thread(make_predict_tab, qtbot, known_digits, tmp_path):
    tab = make_predict_tab()
    x, _ = known_digits
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(400):
        _save_digit(folder / f"{i:03d}.png", x[i % len(x)], scale=1)
    ends = []
    tab.batch_finished.connect(ends.append)
    assert _drop(tab, _mime(folder))
    qtbot.waitUntil(lambda: tab.results.rowCount() > 0 or bool(ends), timeout=60_000)
    tab.close()  # cancels and waits
    assert not tab.busy
    assert tab.results.rowCount() <= 400


def test_actions_have_tooltips_and_shortcuts_that_do_not_clash(make_window, qtbot):
    window = make_window()
    tab = window.predict_tab
    from gui.predict import PredictTab

    assert isinstance(tab, PredictTab)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: bool(tab.members), timeout=120_000)  # loaded from the file, in the background
    assert [m.path for m in tab.members] == [SHIPPED]
    mine = {
        a.shortcut().toString()
        for a in (tab.open_images_action, tab.paste_action, tab.export_action, tab.open_folder_action)
    }
    assert mine == {"Ctrl+I", "Ctrl+V", "Ctrl+E", "Ctrl+Shift+I"}
    menu_shortcuts = {
        a.shortcut().toString() for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()
    } - {""}
    own = {a.shortcut().toString() for a in tab.actions()} | {tab.view.toggle_action.shortcut().toString()}
    assert not (own - {""}) & menu_shortcuts
    for a in tab.actions():
        assert a.toolTip(), a.text()
    for w in (tab.table, tab.picker.tree, tab.view.opacity, tab.view.layer_combo, tab.view.class_combo):
        assert w.toolTip()
