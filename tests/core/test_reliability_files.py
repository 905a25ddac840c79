"""Reliability corpus (issue 13): odd files in dataset folders and half-written files in run folders.

Every case builds its own files and folders in ``tmp_path``; nothing is downloaded. Items: 13 (a
named pipe, a socket or a device file in a class folder), 6 (image data damaged after its header),
5 (temporary files left by a ``kill -9`` during an atomic write), 1 (every Pillow colour mode decoded
alike by training and Predict; 1-bit PNGs), 3 (re-evaluation and resume on the run's recorded files),
9 and 10 (batch size capped, memory checked before building), 11 (folders streamed) and issue 14's
item 6 (no "ran out of data" while training on a folder).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import atomic, runs
from core.datasets import folder
from core.errors import RunError
from core.reporting import NullReporter

ROOT = Path(__file__).resolve().parents[2]
POSIX_ONLY = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and sockets are POSIX")


def save_image(path: Path, seed: int = 0, size=(24, 20), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    pixels = (x[..., None] * [9, 3, 5] + y[..., None] * [2, 7, 4] + rng.integers(0, 60, (size[1], size[0], 3))) % 256
    Image.fromarray(pixels.astype(np.uint8)).save(path, format=fmt)
    return path


def class_folders(root: Path, per_class: int = 3, ext: str = ".png") -> Path:
    for c, name in enumerate(("cats", "dogs")):
        for i in range(per_class):
            save_image(root / name / f"{i}{ext}", seed=10 * c + i)
    return root


def reasons(scan) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in scan.skipped}


def scan_within(root: Path, seconds: float = 10.0, unblock: list[Path] = ()):
    """scan_folder in a thread with a bounded wait: a scan stuck on a pipe fails the test, never hangs it."""
    out: dict = {}

    def target():
        try:
            out["scan"] = folder.scan_folder(root)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in unblock:  # give the stuck reader an end of file, so the thread ends
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(5)
        pytest.fail(f"scanning {root} did not finish within {seconds:.0f} s (stuck on a file that is not regular?)")
    if "error" in out:
        raise out["error"]
    return out["scan"]


# ---------------------------------------------------------------------------------------------
# Item 13: anything that is not a regular file


@POSIX_ONLY
def test_a_named_pipe_called_pipe_png_is_skipped_with_a_reason_not_read(tmp_path):
    root = class_folders(tmp_path / "data")
    fifo = root / "cats" / "pipe.png"
    os.mkfifo(fifo)
    scan = scan_within(root, unblock=[fifo])
    assert scan.counts() == {"all": [3, 3]}
    assert "named pipe" in reasons(scan)["pipe.png"]


@POSIX_ONLY
def test_sockets_devices_and_broken_links_are_skipped_and_links_to_images_are_followed(tmp_path):
    root = class_folders(tmp_path / "d")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(root / "dogs" / "s.png"))
        os.symlink(os.devnull, root / "dogs" / "null.png")  # a character device behind an image name
        os.symlink(root / "gone.png", root / "cats" / "broken.png")
        outside = save_image(tmp_path / "elsewhere" / "real.png", seed=99)
        os.symlink(outside, root / "cats" / "linked.png")
        scan = scan_within(root)
    finally:
        server.close()
    why = reasons(scan)
    assert "socket" in why["s.png"]
    assert "device" in why["null.png"]
    assert "broken link" in why["broken.png"]
    assert "linked.png" not in why
    assert str(root / "cats" / "linked.png") in scan.files["all"][0]  # the link's own path, as the user named it
    assert scan.counts() == {"all": [4, 3]}


@POSIX_ONLY
def test_probe_image_refuses_a_pipe_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(folder.probe_image(fifo)), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail("probe_image waited for a writer on a named pipe")
    assert isinstance(result[0], str) and "named pipe" in result[0]


# ---------------------------------------------------------------------------------------------
# Item 6: image data damaged after a header that reads


def truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def damaged_folder(root: Path) -> Path:
    """24 pictures a class: one truncated JPEG, one truncated PNG, one PNG with scrambled pixel data."""
    for c, name in enumerate(("cats", "dogs")):
        for i in range(24):
            save_image(root / name / f"{i:02d}.{'jpg' if i % 2 else 'png'}", seed=100 * c + i, size=(40, 32))
    truncate(root / "cats" / "01.jpg")
    truncate(root / "dogs" / "02.png")
    scrambled = root / "dogs" / "04.png"
    data = bytearray(scrambled.read_bytes())
    start = data.index(b"IDAT") + 20
    data[start : start + 200] = bytes(range(200))
    scrambled.write_bytes(bytes(data))
    return root


def test_damaged_image_data_behind_a_good_header_is_skipped_with_its_reason(tmp_path):
    root = damaged_folder(tmp_path / "data")
    scan = folder.scan_folder(root)
    why = reasons(scan)
    for name in ("01.jpg", "02.png", "04.png"):
        assert name in why and "truncated or corrupt" in why[name], why
    assert scan.counts() == {"all": [23, 22]}
    described = folder.folder_dataset(scan).describe()["skipped"]
    assert {Path(s["path"]).name for s in described} == {"01.jpg", "02.png", "04.png"}


def test_every_file_the_scan_keeps_decodes_in_training_so_nothing_is_dropped_silently(tmp_path):
    import tensorflow as tf

    from core.datasets.decode import decode_image_file

    root = damaged_folder(tmp_path / "data")
    scan = folder.scan_folder(root)
    kept = [p for per_class in scan.files["all"] for p in per_class]
    ds = folder.folder_dataset(scan, image_size=16, test_split=0.5, validation_split=0.0)
    for split in (ds.train, ds.test):
        decoded = sum(1 for _ in split.tf_dataset(ds.image_shape))
        assert decoded == len(split)
    # and each file left out is one that the pipeline's decoder would have dropped without a word
    for skipped in scan.skipped:
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):  # eager: the ValueError itself
            decode_image_file(tf.constant(skipped.path), (16, 16, 3)).numpy()
    assert len(kept) == 45


def test_each_kind_of_picture_cut_short_is_skipped_and_whole_ones_with_trailing_bytes_are_kept(tmp_path):
    import tensorflow as tf

    from core.datasets.decode import decode_image_file

    root = class_folders(tmp_path / "data")
    kinds = {"GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "JPEG": ".jpg"}
    for fmt, ext in kinds.items():
        truncate(save_image(root / "cats" / f"cut{ext}", seed=5, size=(64, 48), fmt=fmt), keep=0.5)
    trailer = save_image(root / "dogs" / "trailer.jpg", seed=6, size=(64, 48))
    trailer.write_bytes(trailer.read_bytes() + b"camera maker notes after the picture" * 20)
    padded = save_image(root / "dogs" / "padded.jpg", seed=7, size=(64, 48))
    padded.write_bytes(padded.read_bytes() + b"\0" * 100)
    scan = folder.scan_folder(root)
    why = reasons(scan)
    assert sorted(why) == sorted(f"cut{ext}" for ext in kinds.values()), why
    assert all("truncated or corrupt" in reason for reason in why.values())
    assert scan.counts() == {"all": [3, 5]}
    for good in (trailer, padded):
        assert decode_image_file(tf.constant(str(good)), (16, 16, 3)).shape == (16, 16, 3)
    for skipped in scan.skipped:  # each would have been dropped by the pipeline without a word
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):  # eager: the ValueError itself
            decode_image_file(tf.constant(skipped.path), (16, 16, 3)).numpy()


class Messages(NullReporter):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_message(self, text: str) -> None:
        self.messages.append(text)


def test_a_run_on_a_damaged_folder_names_every_skipped_file_in_the_terminal_and_dataset_json(tmp_path):
    from core.config import TrainConfig
    from core.training import train

    root = damaged_folder(tmp_path / "data")
    config = TrainConfig(
        dataset=str(root), model="simple-cnn-1", image_size=16, epochs=1, batch_size=16, tensorboard=False
    )
    rec = Messages()
    result = train(config, rec, workspace=tmp_path / "ws")
    skipped_lines = [m for m in rec.messages if m.startswith("Skipped ")]
    for name in ("cats/01.jpg", "dogs/02.png", "dogs/04.png"):
        assert any(str(root / name) in m and "truncated or corrupt" in m for m in skipped_lines), rec.messages
    record = json.loads((result.run_dir / "dataset.json").read_text())
    assert {Path(s["path"]).name for s in record["skipped"]} == {"01.jpg", "02.png", "04.png"}
    sizes = record["sizes"]
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["test_size"] == sizes["test"]  # the test set did not shrink behind the user's back


def test_scan_cost_of_the_decode_check_stays_small(tmp_path):
    """The check of picture data stays cheap for photos (a whole JPEG is not decoded at all)."""
    root = tmp_path / "big"
    for c in ("a", "b"):
        for i in range(4):
            save_image(root / c / f"{i}.jpg", seed=i, size=(1600, 1200))
    started = time.perf_counter()
    scan = folder.scan_folder(root)
    assert scan.num_images == 8 and not scan.skipped
    assert time.perf_counter() - started < 8 * 0.25


# ---------------------------------------------------------------------------------------------
# Item 5: half-written temporary files of atomic writes


def temp_beside(target: Path, suffix: str | None = None, age_s: float = 600.0, data: bytes = b"half") -> Path:
    """A temporary file named exactly as core.atomic names them, made ``age_s`` seconds old."""
    suffix = target.suffix if suffix is None else suffix
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.write(fd, data)
    os.close(fd)
    then = time.time() - age_s
    os.utime(name, (then, then))
    return Path(name)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def interrupted_run(tmp_path: Path, pid: int) -> Path:
    run = runs.create_run({"model": "simple-cnn-1", "dataset": "mnist-sample", "epochs": 3}, "mnist-sample", tmp_path)
    runs.write_status(run, state="running", pid=pid)
    (run / "backup").mkdir()
    return run


def test_orphaned_temp_files_are_removed_when_a_run_is_opened_and_never_listed(tmp_path):
    run = interrupted_run(tmp_path, dead_pid())
    orphans = [
        temp_beside(run / "best.weights.h5", suffix=".weights.h5"),
        temp_beside(run / "history.csv"),
        temp_beside(run / "last.keras"),
        temp_beside(run / "status.json"),
        temp_beside(run / "backup" / "latest.weights.h5", suffix=".weights.h5"),
    ]
    fresh = temp_beside(run / "evaluation.npz", age_s=0)  # another process may be writing it right now
    look_alikes = [run / ".notes.txt", run / ".history.csv.bak", run / "history.csv.abcdefgh.csv"]
    for p in look_alikes:
        p.write_text("mine")
        os.utime(p, (time.time() - 600,) * 2)
    info = runs.read_run(run)
    assert info.state == "interrupted"
    assert [p for p in orphans if p.exists()] == []
    assert fresh.exists() and all(p.exists() for p in look_alikes)
    assert not [n for n in info.files if atomic.is_temp_name(n)]
    assert "config.json" in info.files and "status.json" in info.files


def test_temp_files_of_a_run_whose_process_is_alive_are_never_touched(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = interrupted_run(tmp_path, sleeper.pid)
        old = temp_beside(run / "history.csv")
        info = runs.read_run(run)
        assert info.state == "running"
        assert old.exists()
        assert old.name not in info.files  # still not one of the run's files
    finally:
        sleeper.kill()
        sleeper.wait()
    assert runs.read_run(run).state == "interrupted" and not old.exists()


def test_a_run_with_an_unreadable_status_keeps_its_temp_files(tmp_path):
    run = interrupted_run(tmp_path, dead_pid())
    (run / "status.json").write_text("{ not json")
    old = temp_beside(run / "last.keras")
    runs.read_run(run)
    assert old.exists()  # whose process wrote it is unknown: nothing is removed


def test_a_kill_during_a_real_atomic_write_leaves_a_temp_file_that_resume_removes(tmp_path):
    from core.training import resume_run

    run = interrupted_run(tmp_path, 0)
    script = (
        "import os, signal, sys\n"
        "from core import atomic, runs\n"
        "from pathlib import Path\n"
        "run = Path(sys.argv[1])\n"
        "runs.write_status(run, state='running', pid=os.getpid())\n"
        "def half(tmp):\n"
        "    Path(tmp).write_text('epoch,loss\\n1,0.5\\n2,')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic.write_with(run / 'history.csv', half)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script, str(run)], cwd=ROOT, env=env)
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in run.iterdir() if atomic.is_temp_name(p.name)]
    assert [p.name.startswith(".history.csv.") and p.name.endswith(".csv") for p in left] == [True]
    os.utime(left[0], (time.time() - 600,) * 2)
    (run / "config.json").write_text("[]")  # resume stops early (no usable config), after opening the run
    with pytest.raises(RunError):
        resume_run(run)
    assert not left[0].exists()


def test_the_temp_name_rule_matches_what_the_atomic_writer_makes_and_nothing_else(tmp_path):
    made = []
    for target, suffix in [("best.weights.h5", ".weights.h5"), ("history.csv", None), ("README", None)]:
        with atomic.atomic_path(tmp_path / target, suffix=suffix) as tmp:
            made.append(tmp.name)
            tmp.write_text("x")
    assert all(atomic.is_temp_name(n) for n in made), made
    for name in ("history.csv", ".history.csv", ".history.csv.old", ".DS_Store", ".x.abcdefgh.png", "a.abcdefgh.a"):
        assert not atomic.is_temp_name(name), name


# ---------------------------------------------------------------------------------------------
# Item 1: training and Predict decode a file through one code path, in every colour mode


def _pattern(size=(24, 20)) -> np.ndarray:
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    return ((x * 11 + y * 7) % 256).astype(np.uint8)


def _mode_file(folder_: Path, name: str) -> Path:
    """A file whose Pillow mode is ``name`` (``+t``: with a transparent colour or alpha)."""
    folder_.mkdir(parents=True, exist_ok=True)
    grey = _pattern()
    rgb = np.stack([grey, 255 - grey, (grey // 2 + 60).astype(np.uint8)], -1)
    alpha = np.where(grey % 3 == 0, 0, 255).astype(np.uint8)
    png = folder_ / f"{name.replace(';', '_').replace('+', '_')}.png"
    tif = png.with_suffix(".tif")
    make = {
        "1": lambda: Image.fromarray(grey > 100).save(png),
        "1+t": lambda: Image.fromarray(grey > 100).save(png, transparency=0),
        "L;2": lambda: Image.fromarray(grey, "L").save(png, bits=2),
        "L;4": lambda: Image.fromarray(grey, "L").save(png, bits=4),
        "L": lambda: Image.fromarray(grey, "L").save(png),
        "L+t": lambda: Image.fromarray(grey, "L").save(png, transparency=int(grey[0, 0])),
        "LA": lambda: Image.fromarray(np.stack([grey, alpha], -1), "LA").save(png),
        "P": lambda: Image.fromarray(rgb).quantize(16).save(png),
        "P;4": lambda: Image.fromarray(rgb).quantize(16).save(png, bits=4),
        "P+t": lambda: Image.fromarray(rgb).quantize(16).save(png, transparency=0),
        "PA": lambda: (
            Image.fromarray(np.stack([rgb[..., 0], rgb[..., 1], rgb[..., 2], alpha], -1), "RGBA")
            .convert("PA")
            .save(tif)
        ),
        "I;16": lambda: Image.fromarray(grey.astype(np.uint16) * 257).save(png),
        "I": lambda: Image.fromarray(grey.astype(np.int32) * 100, "I").save(tif),
        "F": lambda: Image.fromarray(grey.astype(np.float32) / 255.0, "F").save(tif),
        "RGB": lambda: Image.fromarray(rgb).save(png),
        "RGB+t": lambda: Image.fromarray(rgb).save(png, transparency=tuple(int(v) for v in rgb[0, 0])),
        "RGBA": lambda: Image.fromarray(np.concatenate([rgb, alpha[..., None]], -1), "RGBA").save(png),
        "CMYK": lambda: Image.fromarray(rgb).convert("CMYK").save(tif),
        "YCbCr": lambda: Image.fromarray(rgb).convert("YCbCr").save(tif),
    }
    make[name]()
    return png if png.exists() else tif


MODES = ["1", "1+t", "L;2", "L;4", "L", "L+t", "LA", "P", "P;4", "P+t", "PA", "I;16", "I", "F"]
MODES += ["RGB", "RGB+t", "RGBA", "CMYK", "YCbCr"]


@pytest.mark.parametrize("shape", [(20, 24, 3), (16, 16, 1)])
def test_training_decodes_every_pillow_mode_exactly_as_predict(tmp_path, shape):
    """Item 1: the pipeline's decoder and Predict's give the same pixels for every mode Pillow opens."""
    from core.datasets.base import Split
    from core.ensemble import read_source

    paths = [_mode_file(tmp_path, name) for name in MODES]
    opened = {name: Image.open(p).mode for name, p in zip(MODES, paths, strict=True)}
    issue_modes = {"1", "L", "LA", "P", "PA", "I;16", "I", "F", "RGB", "RGBA", "CMYK", "YCbCr"}
    assert issue_modes <= set(opened.values()), opened
    split = Split(np.zeros(len(paths), np.int32), paths=[str(p) for p in paths])
    trained = {MODES[int(i)]: x for x, _, i in split.tf_dataset(shape, with_index=True).as_numpy_iterator()}
    assert sorted(trained) == sorted(MODES)  # no file dropped
    for name, path in zip(MODES, paths, strict=True):
        (predicted,), _, _ = read_source(path, [shape], thumbnail_size=None)
        assert np.array_equal(trained[name], predicted), (name, opened[name])


def test_a_folder_of_1_bit_pngs_trains_on_its_pixels_not_on_blank_white(tmp_path):
    """Item 1: 1-, 2- and 4-bit grey PNGs reach training as their 8-bit copies do (they came out all white)."""
    from core.datasets import load_dataset
    from core.training import train_pipeline

    grey = _pattern((16, 16))
    for bits in (1, 2, 4, 8):
        root = tmp_path / f"bits{bits}"
        for c in ("a", "b"):
            (root / c).mkdir(parents=True)
            img = Image.fromarray(grey if c == "a" else 255 - grey, "L")
            img = img.convert("1") if bits == 1 else img
            img.save(root / c / "x.png", **({"bits": bits} if bits in (2, 4) else {}))
    batches = {}
    for bits in (1, 2, 4, 8):
        ds = load_dataset(tmp_path / f"bits{bits}", test_split=0, validation_split=0)
        pipeline, _ = train_pipeline(ds.train, ds.image_shape, 2, seed=0)
        x, y = next(iter(pipeline))
        batches[bits] = x.numpy()[np.argsort(y.numpy())]
        assert batches[bits].min() < 128, f"{bits}-bit PNGs came out blank"
    expected = {b: np.asarray(Image.open(tmp_path / f"bits{b}" / "a" / "x.png").convert("L")) for b in batches}
    for bits, x in batches.items():
        assert np.array_equal(x[0, ..., 0], expected[bits]), bits


# ---------------------------------------------------------------------------------------------
# One small folder run for items 3 and 9 of issue 13 and item 6 of issue 14


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A 2-epoch run on a 2-class folder of 26 images with a batch size far above the training set."""
    import logging
    import warnings

    from core.config import TrainConfig
    from core.training import train

    base = tmp_path_factory.mktemp("folder_run")
    root = base / "data"
    for c, name in enumerate(("cats", "dogs")):
        for i in range(13):
            save_image(root / name / f"{i:02d}.png", seed=10 * c + i, size=(16, 16))
    config = TrainConfig(
        dataset=str(root), model="simple-cnn-1", epochs=2, batch_size=1_000_000, image_size=16, tensorboard=False
    )
    rec = Messages()
    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logging.getLogger().addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = train(config, rec, workspace=base / "ws")
    finally:
        logging.getLogger().removeHandler(handler)
    said = rec.messages + logged + [str(w.message) for w in caught]
    return {"root": root, "result": result, "messages": rec.messages, "said": said}


def test_a_folder_run_never_runs_out_of_data(folder_run):
    """Issue 14 item 6: the pipelines give exactly the steps promised: no "ran out of data" each epoch."""
    assert folder_run["result"].epochs_done == 2
    assert not [s for s in folder_run["said"] if "ran out of data" in s], folder_run["said"]


def test_a_batch_larger_than_the_training_set_is_capped_with_a_message(folder_run):
    """Item 9: a batch of 10^6 on a handful of images is the training set, said; memory stays bounded."""
    run = folder_run["result"].run_dir
    train_size = json.loads((run / "dataset.json").read_text())["sizes"]["train"]
    assert json.loads((run / "config.json").read_text())["batch_size"] == train_size
    assert any("1,000,000" in m and f"batches of {train_size}" in m for m in folder_run["messages"])


def _copy_run(folder_run, tmp_path) -> tuple[Path, Path]:
    """The run and its data folder copied (the data moved), so a test may damage both."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(folder_run["root"], root)
    run = tmp_path / "run"
    shutil.copytree(folder_run["result"].run_dir, run)
    config = json.loads((run / "config.json").read_text())
    atomic.write_json(run / "config.json", {**config, "dataset": str(root)})
    return root, run


def test_re_evaluation_scores_the_recorded_test_files_after_the_folder_changed(folder_run, tmp_path):
    """Item 3: a damaged training image re-splits the folder; evaluate still scores the run's own test files."""
    from core.config import TrainConfig, load_config_dataset
    from core.evaluation import evaluate_run, load_evaluation
    from core.gallery import load_run

    root, run = _copy_run(folder_run, tmp_path)
    recorded = json.loads((run / "splits.json").read_text())
    assert len(recorded["test"]["files"]) == json.loads((run / "dataset.json").read_text())["sizes"]["test"]
    train_file = root / recorded["train"]["files"][0]
    train_file.write_bytes(train_file.read_bytes()[:40])  # damaged: the scan now skips it
    now = load_config_dataset(TrainConfig.from_dict(json.loads((run / "config.json").read_text())))
    recorded_test = sorted(str(root / p) for p in recorded["test"]["files"])
    assert sorted(now.test.paths) != recorded_test  # the recomputed split moved
    before = json.loads((run / "metrics.json").read_text())
    rec = Messages()
    ev = evaluate_run(run, reporter=rec)
    assert sorted(ev.paths) == recorded_test
    replaced = [m for m in rec.messages if "is replaced by this one" in m]
    assert replaced and f"{before['accuracy']:.4f} on {before['test_size']} images" in replaced[0]
    assert replaced[0] in load_evaluation(run).notes  # kept in metrics.json for the Gallery ...
    assert replaced[0] in load_run(run).notes  # ... which shows it with the run

    gone = root / recorded["test"]["files"][0]
    gone.unlink()
    rec = Messages()
    ev = evaluate_run(run, reporter=rec)
    assert sorted(ev.paths) == sorted(p for p in recorded_test if p != str(gone))
    assert any(f"1 of the run's {len(recorded_test)} test files are gone" in m and gone.name in m for m in rec.messages)


def test_resuming_trains_on_the_recorded_files_not_on_a_new_split(folder_run, tmp_path):
    """Item 3: continuing a run after the folder changed keeps its split (no test image moves into training)."""
    from core.training import resume_run

    root, run = _copy_run(folder_run, tmp_path)
    recorded = json.loads((run / "splits.json").read_text())
    (root / recorded["train"]["files"][0]).unlink()
    save_image(root / "cats" / "new.png", seed=99, size=(16, 16))  # the folder re-splits

    class Starts(Messages):
        def on_start(self, info) -> None:
            self.info = info

    rec = Starts()
    resume_run(run, rec, extra_epochs=1)
    assert rec.info["train_size"] == len(recorded["train"]["files"]) - 1
    assert rec.info["test_size"] == len(recorded["test"]["files"])
    assert any(f"1 of the run's {len(recorded['train']['files'])} training files are gone" in m for m in rec.messages)
    assert json.loads((run / "splits.json").read_text()) == recorded


def test_an_old_run_without_a_file_record_is_evaluated_on_a_recomputed_split_and_says_so(folder_run, tmp_path):
    """Item 3: runs from before the record keep working, and the message says the split is recomputed."""
    from core.evaluation import evaluate_run

    _, run = _copy_run(folder_run, tmp_path)
    (run / "splits.json").unlink()
    rec = Messages()
    ev = evaluate_run(run, reporter=rec)
    assert len(ev.y_true) > 0
    assert any("no record of its test files" in m and "recomputed" in m for m in rec.messages), rec.messages


# ---------------------------------------------------------------------------------------------
# Item 10 (and 9): what a batch needs in memory, checked before anything is built


def test_the_memory_check_refuses_a_batch_that_cannot_fit_and_says_what_fits():
    from core.config import TrainConfig
    from core.errors import OutOfMemoryError
    from core.memory import USABLE_SHARE, MemoryEstimate, check_training_memory, size_text

    class Folder:  # a tiny fake dataset: only what the check reads
        image_shape = (256, 256, 3)
        num_classes = 2

    estimate = MemoryEstimate(params=1_000_000, activations_per_image=4_000_000)
    config = TrainConfig(dataset="/some/folder", batch_size=128)
    need = estimate.total_bytes(128)
    assert check_training_memory(config, Folder(), available=2 * need, estimate=estimate) is estimate
    with pytest.raises(OutOfMemoryError) as err:
        check_training_memory(config, Folder(), available=need // 2, estimate=estimate)
    text = str(err.value)
    assert f"needs about {size_text(need)}" in text and f"only {size_text(need // 2)} is free" in text
    fits = int((USABLE_SHARE * (need // 2) - estimate.parameter_bytes()) // estimate.bytes_per_image())
    assert 0 < fits < 128 and f"a batch size of at most {fits}" in text and "smaller image size" in text


def test_a_small_cnn_at_2048_pixels_is_estimated_without_allocating_and_refused():
    """Item 10: simple-cnn-2 at 2048x2048 has 2.1 billion parameters (8.5 GB): estimated, not built."""
    import resource

    from core.config import TrainConfig
    from core.errors import OutOfMemoryError
    from core.memory import check_training_memory, estimate_model

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    estimate = estimate_model("simple-cnn-2", (2048, 2048, 3), 10)
    assert estimate.params > 2_000_000_000
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 1024**2  # < 1 GB (KiB on Linux)

    class Folder:
        image_shape = (2048, 2048, 3)
        num_classes = 10

    config = TrainConfig(dataset="/photos", batch_size=32, model="simple-cnn-2")
    with pytest.raises(OutOfMemoryError, match=r"smaller image size \(about \d+ pixels\)"):
        check_training_memory(config, Folder(), available=16 * 1024**3, estimate=estimate)


def test_the_estimate_counts_the_layers_inside_a_keras_applications_backbone():
    """A backbone is one layer of the outer model; its hundreds of feature maps must count."""
    from core.memory import estimate_model

    estimate = estimate_model("mobilenetv2", (96, 96, 3), 2)
    assert estimate.params > 2_000_000
    assert estimate.activations_per_image > 50 * 96 * 96 * 3  # ~150 layers, many at full resolution


def test_training_that_cannot_fit_is_refused_before_a_run_folder_exists(tmp_path, monkeypatch):
    from core import memory
    from core.config import TrainConfig
    from core.errors import OutOfMemoryError
    from core.training import train

    root = class_folders(tmp_path / "data", per_class=4)
    monkeypatch.setattr(memory, "available_bytes", lambda: 1024**2)  # 1 MB free
    config = TrainConfig(dataset=str(root), model="simple-cnn-2", image_size=64, epochs=1, tensorboard=False)
    with pytest.raises(OutOfMemoryError, match="is free"):
        train(config, workspace=tmp_path / "ws")
    assert not (tmp_path / "ws" / "runs").exists() or not any((tmp_path / "ws" / "runs").iterdir())


# ---------------------------------------------------------------------------------------------
# Item 11: folders are streamed


def test_training_on_a_folder_decodes_only_what_the_first_batches_need(tmp_path, monkeypatch):
    """Item 11: file names are shuffled, not decoded images: the first batch does not decode the whole folder.

    A shuffle buffer of decoded images (up to 20,000) had to fill before the first step, so memory
    grew with the folder; bench/bench_folder_memory.py measures the peak.
    """
    import core.images
    from core.datasets import load_dataset
    from core.training import PREFETCH_BATCHES, train_pipeline

    for c in ("a", "b"):
        for i in range(150):
            (tmp_path / "data" / c).mkdir(parents=True, exist_ok=True)
            Image.new("L", (8, 8), i).save(tmp_path / "data" / c / f"{i:03d}.png")
    ds = load_dataset(tmp_path / "data", test_split=0, validation_split=0)
    decoded: list[str] = []
    real = core.images.file_to_model_input
    monkeypatch.setattr(core.images, "file_to_model_input", lambda p, s: decoded.append(p) or real(p, s))
    pipeline, _ = train_pipeline(ds.train, ds.image_shape, 8, seed=0)
    _, labels = next(iter(pipeline))
    assert 0 < len(set(labels.numpy().tolist())) <= 2
    ahead = 8 * (PREFETCH_BATCHES + 2) + 2 * (os.cpu_count() or 1)  # batches ahead, one call per core
    assert 8 <= len(decoded) <= min(ahead, 150), len(decoded)
    assert len({Path(p).parent.name for p in decoded[:8]}) == 2  # names shuffled across classes before decoding


# --------------------------------------------------------------------------------------------
# Study files the Experiments tab and `sweep --plan` open, and study folders it lists (issue 17)


@pytest.mark.parametrize(
    "content, sentence",
    [
        (b'name = "cut\ndesign = "ofat"\n', "cannot be read"),  # cut short mid-string
        (b"\xff\xfe\x00binary", "cannot be read"),
        (b'name = "x"\nfactors = 3\n', "has keys it does not know: factors"),
        (b'name = "x"\n[vary.batch_size]\nstep = 2\n', "needs 'values' or 'low' and 'high'"),
    ],
)
def test_a_damaged_study_file_is_one_sentence(tmp_path, content, sentence):
    from core.studies.plan import StudyError, load_plan_file

    path = tmp_path / "study.toml"
    path.write_bytes(content)
    with pytest.raises(StudyError, match=sentence):
        load_plan_file(path)


def test_a_study_folder_with_a_damaged_plan_is_left_out_of_the_list(tmp_path):
    from core.studies.storage import list_studies

    good = tmp_path / "studies" / "good"
    good.mkdir(parents=True)
    atomic.write_json(good / "plan.json", {"name": "good", "design": "grid", "factors": []})
    for name, data in (("cut", b'{"name": "cu'), ("empty", b""), ("list", b"[1, 2]")):
        (tmp_path / "studies" / name).mkdir()
        (tmp_path / "studies" / name / "plan.json").write_bytes(data)
    (tmp_path / "studies" / "no-plan").mkdir()
    assert [s["name"] for s in list_studies(tmp_path)] == ["good"]


# Item 21: a model file whose config names code from another module


SHIPPED = ROOT / "weights" / "mnist-sample-simple-cnn-2.keras"


def crafted_model(path: Path, replace_layer: int = 1, layer: dict | None = None) -> Path:
    """The shipped model with one layer of its config.json replaced by ``layer`` (an injected module)."""
    import zipfile

    with zipfile.ZipFile(SHIPPED) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][replace_layer] = layer or {
        "module": "os",
        "class_name": "system",
        "config": {"command": f"touch {path.parent / 'pwned'}"},
        "registered_name": None,
    }
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_a_model_injecting_a_module_is_refused_saying_what_was_given_and_what_is_accepted(tmp_path):
    from core.errors import ModelError
    from core.inference import load_model

    path = crafted_model(tmp_path / "crafted.keras")
    with pytest.raises(ModelError) as info:
        load_model(path)
    message = str(info.value)
    assert "Details: name" not in message
    assert "'os.system'" in message and "not part of Keras" in message and "keras.*" in message, message
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------------------------------------
# Items 15 and 16: damaged run folders are listed with what is wrong (`runs`, the Runs table)


def healthy_run(workspace: Path) -> Path:
    """A finished run folder with every file a run writes (the shipped model, no training)."""
    import shutil

    from core.config import TrainConfig

    config = TrainConfig(dataset="mnist-sample", model="simple-cnn-2", epochs=2, tensorboard=False).to_dict()
    run = runs.create_run(config, "mnist-sample", workspace)
    runs.write_status(run, state="finished", pid=dead_pid(), epochs_done=2, test_accuracy=0.9)
    runs.HistoryWriter(run).append({"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5})
    shutil.copy2(SHIPPED, run / "model.keras")
    rng = np.random.default_rng(0)
    probs = rng.random((4, 2)).astype(np.float32)
    np.savez_compressed(run / "evaluation.npz", y_true=np.arange(4) % 2, probs=probs, indices=np.arange(4))
    atomic.write_json(run / "metrics.json", {"accuracy": 0.5, "class_names": ["a", "b"], "confusion": [[1, 1], [1, 1]]})
    atomic.write_json(run / "dataset.json", {"name": "mnist-sample", "classes": ["a", "b"], "skipped": []})
    (run / "backup").mkdir()
    atomic.write_json(run / "backup" / "training_metadata.json", {"epoch": 2, "batch": 0})
    return run


def listed_with(run: Path, *words: str) -> runs.RunInfo:
    """The run as `runs` and the Runs table see it: it has a problem naming ``words``, shown by both."""
    from core.cli import run_line
    from gui.runs.state import RunsState

    (info,) = [i for i in runs.list_runs(run.parent.parent) if i.path == run]
    text = " | ".join(info.problems)
    assert all(w in text for w in words), info.problems
    assert all(w in run_line(info) for w in words)
    state = RunsState()
    state.set_runs([info])
    state.set_filter(state="problems")
    assert state.accepts(info) and state.with_problems() == 1  # the table's "With problems" shows it
    return info


def test_a_healthy_run_has_no_problem(tmp_path):
    info = runs.read_run(healthy_run(tmp_path))
    assert info.problems == [] and info.has_model and info.has_evaluation and info.config_ok


def test_a_garbage_evaluation_npz_is_flagged_with_how_to_rebuild_it(tmp_path):
    run = healthy_run(tmp_path)
    (run / "evaluation.npz").write_bytes(b"PK\x03\x04 garbage, not an archive")
    info = listed_with(run, "evaluation.npz is damaged", "re-evaluate")
    assert not info.has_evaluation and info.has_model


def test_an_evaluation_npz_without_its_arrays_is_flagged(tmp_path):
    run = healthy_run(tmp_path)
    np.savez(run / "evaluation.npz", something=np.zeros(3))
    assert not listed_with(run, "evaluation.npz is damaged", "y_true").has_evaluation


def test_a_config_with_wrong_types_is_flagged_and_evaluate_and_train_again_say_a_sentence(tmp_path):
    from core.config import config_from_run
    from core.evaluation import evaluate_run

    run = healthy_run(tmp_path)
    config = json.loads((run / "config.json").read_text())
    config.update(epochs="three", seed=[1], dataset=["mnist-sample"])
    (run / "config.json").write_text(json.dumps(config))
    info = listed_with(run, "config.json holds settings that cannot be used", "epochs='three'")
    assert not info.config_ok and not info.can_resume
    assert "Train again" not in info.problem_text().split("What still works:")[1]
    with pytest.raises(RunError, match="config.json of run .* holds settings that cannot be used"):
        evaluate_run(run)
    config["epochs"], config["seed"] = 3, 1
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match=r"dataset must be text \(not \['mnist-sample'\]\)"):
        config_from_run(runs.read_run(run).config, run.name)  # what "Train again" calls


def test_a_garbage_dataset_record_is_flagged(tmp_path):
    run = healthy_run(tmp_path)
    (run / "dataset.json").write_text('["not", "a record"]')
    listed_with(run, "dataset.json (the record of the run's dataset) is damaged")
    (run / "dataset.json").write_bytes(b"\x00\xff" * 10)
    listed_with(run, "dataset.json (the record of the run's dataset) is damaged")


def test_a_large_dataset_record_cut_short_is_flagged_without_reading_it_all(tmp_path):
    run = healthy_run(tmp_path)
    record = {"name": "big", "files": [f"/data/{i}.png" for i in range(40_000)]}
    (run / "dataset.json").write_text(json.dumps(record)[:-200])
    listed_with(run, "dataset.json (the record of the run's dataset) is damaged")


def test_garbage_backup_metadata_is_flagged(tmp_path):
    run = healthy_run(tmp_path)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": "two"}')
    listed_with(run, "backup/training_metadata.json", "damaged", "start the run again")
    (run / "backup" / "training_metadata.json").write_text("{ not json")
    listed_with(run, "backup/training_metadata.json", "damaged")


def test_a_model_file_with_custom_code_is_flagged(tmp_path):
    run = healthy_run(tmp_path)
    crafted_model(run / "model.keras")
    info = listed_with(run, "model.keras asks to load 'os.system'", "Predict and Export cannot use it")
    assert not info.has_model


def test_a_list_where_a_state_or_model_should_be_is_flagged_and_the_runs_after_it_still_listed(tmp_path):
    from core.cli import run_line

    damaged = healthy_run(tmp_path)
    (damaged / "status.json").write_text("[1, 2]")
    (damaged / "model.keras").write_text("[1, 2]")
    after = runs.create_run({"model": "simple-cnn-1", "dataset": "mnist-sample", "epochs": 1}, "zzz", tmp_path)
    listed = runs.list_runs(tmp_path)
    assert {i.path for i in listed} == {damaged, after}
    info = listed_with(damaged, "status file", "model.keras is damaged")
    assert info.state == "unknown" and run_line(info)
