"""core.gallery: filters and sorting select exactly the expected rows, the report is scikit-learn's,
runs load with their test images (or say clearly why there are none), CSV export, the shipped model."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import classification_report, confusion_matrix

from core import gallery, runs
from core.datasets import sample
from core.errors import ImageError, RunError, WorkbenchError
from core.evaluation import Evaluation, save_evaluation
from core.gallery import ArrayImages, FileImages, GalleryData, GalleryFilter, NoImages

NAMES = ["cat", "dog", "bird", "fish"]


def make_data(n: int = 300, classes: int = 4, seed: int = 0) -> GalleryData:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(classes) * 0.5, size=n).astype(np.float32)
    y_true = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, classes, n)).astype(np.int32)
    images = rng.integers(0, 256, size=(n + 5, 8, 8, 1), dtype=np.uint8)
    indices = np.arange(n) + 5  # the rows of the evaluation are not the test split's positions
    ev = Evaluation(y_true=y_true, probs=probs, class_names=NAMES[:classes], indices=indices)
    return GalleryData(ev, ArrayImages(images, indices), "test data")


def test_report_and_confusion_equal_scikit_learn():
    data = make_data()
    y, p = data.evaluation.y_true, data.evaluation.probs.argmax(1)
    expected = classification_report(y, p, labels=range(4), target_names=NAMES, output_dict=True, zero_division=0)
    for key in (*NAMES, "macro avg", "weighted avg"):
        for col in ("precision", "recall", "f1-score", "support"):
            assert data.report[key][col] == expected[key][col], (key, col)
    assert data.report["accuracy"] == expected["accuracy"]
    assert (data.confusion == confusion_matrix(y, p, labels=range(4))).all()
    assert data.wrong_count == int(np.sum(y != p))


@pytest.mark.parametrize("outcome", ["all", "correct", "wrong"])
@pytest.mark.parametrize("true_class", [None, 0, 3])
@pytest.mark.parametrize("pred_class", [None, 1, 3])
def test_filters_select_exactly_the_expected_rows(outcome, true_class, pred_class):
    data = make_data()
    y, p = data.evaluation.y_true, data.evaluation.probs.argmax(1)
    expected = [
        i
        for i in range(len(y))
        if (outcome == "all" or (outcome == "correct") == (y[i] == p[i]))
        and (true_class is None or y[i] == true_class)
        and (pred_class is None or p[i] == pred_class)
    ]
    got = data.view(GalleryFilter(outcome, true_class, pred_class))
    assert got.tolist() == expected


def test_a_confusion_cell_is_exactly_its_images_and_the_cells_partition_the_test_set():
    data = make_data()
    seen = []
    for t in range(4):
        for q in range(4):
            rows = data.view(GalleryFilter.cell(t, q))
            assert len(rows) == data.confusion[t, q]
            assert all(data.y_true[r] == t and data.y_pred[r] == q for r in rows)
            seen.extend(rows.tolist())
    assert sorted(seen) == list(range(len(data)))


def test_sorting_by_confidence_loss_and_index_with_ties_in_test_order():
    probs = np.array([[0.6, 0.4], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5]], np.float32)
    y_true = np.array([0, 0, 1, 1, 0])
    ev = Evaluation(y_true=y_true, probs=probs, class_names=["a", "b"], indices=np.array([4, 3, 2, 1, 0]))
    data = GalleryData(ev, NoImages("none"), "ties")
    rows = np.arange(5)
    conf = data.confidence
    asc = data.order(rows, "confidence")
    assert np.all(np.diff(conf[asc]) >= 0)
    # rows 0 and 2 tie at 0.6: the one earlier in the test split (row 2, test index 2) comes first
    assert asc.tolist() == [4, 2, 0, 3, 1]
    assert data.order(rows, "confidence", descending=True).tolist() == [1, 3, 2, 0, 4]
    worst = data.order(rows, "loss", descending=True)
    assert np.all(np.diff(data.losses[worst]) <= 0)
    assert worst[0] == 2  # true b at 0.4 is the worst
    assert data.order(rows, "index").tolist() == [4, 3, 2, 1, 0]
    assert data.order(rows, "index", descending=True).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        GalleryFilter(sort="colour")
    with pytest.raises(ValueError):
        GalleryFilter(outcome="maybe")


def test_count_text_says_what_is_shown():
    data = make_data(n=10_000, classes=4)
    wrong = GalleryFilter(outcome="wrong")
    n = len(data.view(wrong))
    assert data.count_text(n, wrong) == f"{n:,} wrong of 10,000"
    assert data.count_text(10_000, GalleryFilter()) == "All 10,000 test images"
    cell = GalleryFilter.cell(1, 2)
    assert data.count_text(57, cell) == "57 of 10,000 · true dog, predicted bird"
    assert data.count_text(5, GalleryFilter("correct", true_class=3)) == "5 correct of 10,000 · true fish"


def test_captions_and_images():
    data = make_data(n=20)
    row = 7
    name = NAMES[data.y_pred[row]]
    assert data.caption(row) == f"{name} {round(100 * float(data.confidence[row]))}%"
    assert data.images.image(row).shape == (8, 8, 1)
    assert (data.images.image(row) == data.images.images[row + 5]).all()
    assert data.images.image(row, max_side=4).shape == (4, 4, 1)  # shrunk, never enlarged
    assert data.images.image(row, max_side=64).shape == (8, 8, 1)
    assert gallery.format_percent(0.99996) == ">99.9 %" and gallery.format_percent(1.0) == "100.0 %"
    assert [gallery.short_percent(p) for p in (0.4771, 0.996, 1.0, 0.004)] == ["48%", ">99%", "100%", "0%"]


def test_csv_lists_the_shown_rows_in_order_with_every_probability(tmp_path):
    data = make_data(n=50)
    rows = data.view(GalleryFilter("wrong", sort="loss", descending=True))
    path = data.export_csv(tmp_path / "wrong.csv", rows)
    table = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(table) == len(rows)
    assert [int(r["test_index"]) for r in table] == data.test_index[rows].tolist()
    assert all(r["correct"] == "no" for r in table)
    first = table[0]
    assert first["true_class"] == NAMES[data.y_true[rows[0]]]
    assert first["predicted_class"] == NAMES[data.y_pred[rows[0]]]
    assert float(first["loss"]) == pytest.approx(data.losses[rows[0]], rel=1e-5)
    assert sum(float(first[f"p({n})"]) for n in NAMES) == pytest.approx(1.0, abs=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["wrong.csv"]  # no temporary file left behind
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(WorkbenchError, match="Could not save"):
        data.export_csv(blocker / "x.csv", rows)


def test_file_images_decode_lazily_and_say_why_they_fail(tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((300, 200, 3), 40 * i, np.uint8)).save(p)
        files.append(str(p))
    (tmp_path / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    images = FileImages(files)
    assert images.image(0).shape == (300, 200, 3)
    assert max(images.image(0, max_side=64).shape[:2]) == 64
    assert images.model_input(2, (32, 32, 1)).shape == (32, 32, 1)
    with pytest.raises(ImageError):
        images.image(1)
    assert images.describe(2) == files[2]


def _sample_run(tmp_path, *, indices=None, config=None):
    ds = sample.load_sample(validation_split=0.1, seed=42, limit=None)
    n = len(ds.test)
    rows = np.arange(n) if indices is None else np.asarray(indices)
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(10), size=len(rows)).astype(np.float32)
    ev = Evaluation(y_true=ds.test.labels[rows], probs=probs, class_names=ds.class_names, indices=rows)
    from core.evaluation import compute_metrics

    ev.report, ev.confusion = compute_metrics(ev.y_true, ev.y_pred, ev.class_names)
    run_dir = runs.create_run(config or {"dataset": "mnist-sample", "model": "simple-cnn-2"}, "mnist-sample")
    save_evaluation(run_dir, ev, ds)
    runs.write_status(run_dir, state="finished")
    return run_dir, ds, ev


def test_a_run_loads_with_its_test_images(tmp_path):
    rows = np.arange(0, 1000, 3)  # as if some files had failed to decode
    run_dir, ds, ev = _sample_run(tmp_path, indices=rows)
    data = gallery.load_run(run_dir)
    assert isinstance(data.images, ArrayImages) and data.has_images and not data.notes
    assert len(data) == len(rows)
    for r in (0, 5, len(rows) - 1):
        assert (data.images.image(r) == ds.test.images[rows[r]]).all()
    assert data.title.startswith("simple-cnn-2 on mnist-sample")
    assert data.run_dir == run_dir
    assert gallery.load_run(run_dir.name).run_dir == run_dir  # by name, inside the workspace


def test_a_run_whose_dataset_cannot_be_loaded_still_opens_and_says_why(tmp_path):
    run_dir, _, _ = _sample_run(tmp_path, config={"dataset": "no-such-dataset", "model": "m"})
    data = gallery.load_run(run_dir)
    assert not data.has_images and "no-such-dataset" in data.images.reason
    assert data.notes and data.notes[0].startswith("No pictures:")
    with pytest.raises(ImageError):
        data.images.image(0)
    assert data.report and data.confusion.shape == (10, 10)  # the numbers are still there


def test_a_changed_dataset_is_detected(tmp_path):
    run_dir, _, ev = _sample_run(tmp_path)
    ev.y_true = (ev.y_true + 1) % 10
    save_evaluation(run_dir, ev)
    data = gallery.load_run(run_dir)
    assert not data.has_images and "changed" in data.images.reason


def test_moved_image_files_are_reported(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for i in range(4):
        p = folder / f"{i}.png"
        Image.fromarray(np.full((10, 10, 3), i, np.uint8)).save(p)
        paths.append(str(p))
    ev = Evaluation(
        y_true=np.array([0, 1, 0, 1]),
        probs=np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]], np.float32),
        class_names=["a", "b"],
        indices=np.arange(4),
        paths=paths,
    )
    from core.evaluation import compute_metrics

    ev.report, ev.confusion = compute_metrics(ev.y_true, ev.y_pred, ev.class_names)
    run_dir = runs.create_run({"dataset": str(folder), "model": "m"}, str(folder))
    save_evaluation(run_dir, ev)
    data = gallery.load_run(run_dir)
    assert isinstance(data.images, FileImages) and not data.notes
    (folder / "2.png").unlink()
    data = gallery.load_run(run_dir)
    assert data.has_images and "1 of 4" in data.notes[0]
    for p in paths:
        p_ = folder / p.rsplit("/", 1)[-1]
        p_.unlink(missing_ok=True)
    data = gallery.load_run(run_dir)
    assert not data.has_images and "moved or deleted" in data.images.reason


def test_runs_without_evaluation_are_listed_with_the_reason(tmp_path):
    good, _, _ = _sample_run(tmp_path)
    running = runs.create_run({"dataset": "mnist-sample", "model": "a"}, "mnist-sample")
    failed = runs.create_run({"dataset": "mnist-sample", "model": "b"}, "mnist-sample")
    runs.write_status(failed, state="failed", error="Out of memory\nTraceback ...")
    stopped = runs.create_run({"dataset": "mnist-sample", "model": "c"}, "mnist-sample")
    runs.write_status(stopped, state="stopped")
    (stopped / "model.keras").write_bytes(b"not really a model")
    entries = {e.path: e for e in gallery.run_entries()}
    assert entries[good].viewable and entries[good].label.endswith("%")
    assert not entries[running].viewable and "still training" in entries[running].reason
    assert not entries[running].can_evaluate
    assert not entries[failed].viewable and entries[failed].reason.endswith("Out of memory")
    assert not entries[stopped].viewable and entries[stopped].can_evaluate
    assert "not evaluated" in entries[stopped].label
    with pytest.raises(RunError, match="no test-set evaluation"):
        gallery.load_run(stopped)


def test_inconsistent_evaluations_are_refused():
    ev = Evaluation(y_true=np.zeros(3, int), probs=np.zeros((2, 2), np.float32), class_names=["a", "b"], indices=[0])
    with pytest.raises(RunError, match="inconsistent"):
        GalleryData(ev, NoImages("x"), "bad")


def test_the_shipped_model_on_its_dataset():
    shipped = gallery.shipped_models()
    assert shipped and shipped[0].dataset == "mnist-sample"
    data = gallery.evaluate_model_file(shipped[0].path)
    assert len(data) == 1000 and data.dataset == "mnist-sample"
    assert data.accuracy == pytest.approx(0.962, abs=0.002)  # the card says 0.962
    assert data.loaded_model is not None and data.model_path == shipped[0].path
    test = sample.load_sample(validation_split=0.1, seed=42, limit=None).test
    assert (data.images.image(10) == test.images[data.test_index[10]]).all()
    expected = classification_report(
        data.y_true, data.y_pred, labels=range(10), target_names=data.class_names, output_dict=True, zero_division=0
    )
    assert data.report["weighted avg"] == expected["weighted avg"]
