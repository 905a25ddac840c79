"""One run over several devices (tf.distribute.MirroredStrategy) and the upstream multi-worker limit.

The CPU is split into two logical devices by the test switch ``CNN_WORKBENCH_LOGICAL_CPUS``, which
TensorFlow accepts only before it sets up its devices: so each case runs in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TWO_REPLICAS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from core import cards, runs
    from core.config import TrainConfig
    from core.datasets.base import Dataset, Split
    from core.export import export_model
    from core.reporting import CancelToken, NullReporter
    from core.training import resume_run, train

    rng = np.random.default_rng(0)
    y = (np.arange(96) % 3).astype(np.int32)
    x = rng.integers(0, 40, size=(96, 16, 16, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8, 0] += 200
    data = Dataset(name="tiny", title="tiny", class_names=["a", "b", "c"], image_shape=(16, 16, 1),
                   train=Split(y[:64], images=x[:64]), val=Split(y[64:80], images=x[64:80]),
                   test=Split(y[80:], images=x[80:]))
    config = TrainConfig(dataset="tiny", model="simple-cnn-1", epochs=3, batch_size=8, learning_rate=3e-3,
                         tensorboard=False)
    cancel = CancelToken()

    class StopInEpochTwo(NullReporter):
        batches, messages = [], []
        def on_batch(self, epoch, step, steps, logs):
            self.batches.append([epoch, step, steps])
            if epoch == 1 and step == 2:
                cancel.cancel()
        def on_message(self, text):
            self.messages.append(text)

    rec = StopInEpochTwo()
    first = train(config, rec, cancel, dataset=data)
    again = resume_run(first.run_dir, NullReporter(), dataset=data)
    report = export_model(again.model_path, again.run_dir / "export.keras", "keras", images=x[80:])
    print("RESULT " + json.dumps({
        "first": [first.state, first.epochs_done], "again": [again.state, again.epochs_done],
        "batches": rec.batches, "messages": rec.messages,
        "history": [r["epoch"] for r in runs.read_history(again.run_dir)],
        "card": cards.read_card(again.model_path)["compute"],
        "accuracy": again.test_accuracy, "export": report.ok,
    }))
    """
)


def _python(code: str, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_two_logical_cpus_train_stop_within_one_batch_and_resume(tmp_path):
    done = _python(TWO_REPLICAS, {"CNN_WORKBENCH_LOGICAL_CPUS": "2", "CNN_WORKBENCH_HOME": str(tmp_path)}, timeout=240)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT ") :])
    assert out["card"]["replicas"] == 2 and out["card"]["devices"] == ["cpu:0", "cpu:1"]
    assert any("batches of 8, 4 per device" in m for m in out["messages"])  # the batch shown is the global one
    # 64 images / global batch 8 = 8 steps per epoch; Stop at epoch 2's third batch: not one batch more.
    assert [b for b in out["batches"] if b[0] == 0] == [[0, s, 8] for s in range(8)]
    assert out["batches"][-1] == [1, 2, 8]
    assert out["first"] == ["stopped", 1]
    assert out["again"] == ["finished", 3] and out["history"] == [1.0, 2.0, 3.0]  # resumed from the backup
    assert out["export"] and out["accuracy"] is not None


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


MULTI_WORKER = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.rand(64, 4).astype("float32")
    y = np.random.randint(0, 2, 64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    try:
        model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
        print("RESULT trained")
    except Exception as exc:
        print("RESULT failed " + " ".join(str(exc).split())[:200])
    """
)


def test_keras_fit_under_multi_worker_mirrored_strategy_still_fails_upstream():
    """Records keras-team/keras issue 20585: two workers on 127.0.0.1 cannot ``fit`` (Keras 3.15)."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MULTI_WORKER],
            env={**env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = []
    try:
        for w in workers:
            out, err = w.communicate(timeout=150)
            outputs.append((out, err))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    results = [next((ln for ln in out.splitlines() if ln.startswith("RESULT")), err[-500:]) for out, err in outputs]
    assert all("PerReplica" in r for r in results), (
        "Keras fit under MultiWorkerMirroredStrategy no longer fails with the PerReplica error: if it "
        "trains now, Keras fixed issue 20585 -- revisit the README's 'Scaling out' section (one run over "
        f"several machines may now be possible). Workers said: {results}"
    )
