"""Reliability corpus (issue 13): odd files in dataset folders and half-written files in run folders.

Every case builds its own files and folders in ``tmp_path``; nothing is downloaded. Items: 13 (a
named pipe, a socket or a device file in a class folder), 6 (image data damaged after its header)
and 5 (temporary files left by a ``kill -9`` during an atomic write).
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
    # and each file left out is one that TensorFlow's decoder would have dropped without a word
    for skipped in scan.skipped:
        with pytest.raises(tf.errors.InvalidArgumentError):
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
        with pytest.raises(tf.errors.InvalidArgumentError):
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
