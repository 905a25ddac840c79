"""Precision and devices in a run: the policy applies to the run only, the output stays float32, and a
mixed run's saved model predicts in float32 with the run's own top-1 (core/compute.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core import cards, compute, devices, models, runs
from core.config import TrainConfig
from core.errors import WorkbenchError
from core.inference import Predictor, load_model
from core.reporting import NullReporter
from core.training import train

AMX = "model name\t: Fake Xeon with AMX\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16\n"


class Messages(NullReporter):
    def __init__(self):
        self.messages: list[str] = []

    def on_message(self, text):
        self.messages.append(text)


@pytest.fixture
def bf16_cpu(monkeypatch):
    """This CPU described as one with bfloat16 units, so 'auto' picks mixed_bfloat16 (emulated here)."""
    real = devices.cpu_info
    monkeypatch.setattr(devices, "cpu_info", lambda cpuinfo=None: real(AMX))


def config(**kw):
    base = dict(dataset="tiny", model="simple-cnn-1", epochs=2, batch_size=8, learning_rate=3e-3, tensorboard=False)
    base.update(kw)
    return TrainConfig(**base)


def test_a_mixed_run_saves_a_float32_model_that_predicts_the_runs_top1(bf16_cpu, tiny_dataset, tmp_path):
    import keras

    rec = Messages()
    result = train(config(), rec, workspace=tmp_path, dataset=tiny_dataset)
    card = cards.read_card(result.model_path)
    assert card["compute"]["precision"] == "mixed_bfloat16" and card["hyperparameters"]["precision"] == "auto"
    assert runs.read_status(result.run_dir)["precision"] == "mixed_bfloat16"
    assert any("mixed bfloat16" in m for m in rec.messages)
    # The policy was the run's only: this thread is back to float32.
    assert keras.config.dtype_policy().name == "float32"

    loaded = load_model(result.model_path)  # the app's inference path
    assert {layer.dtype_policy.name for layer in loaded.model.layers} == {"float32"}
    probs = Predictor(loaded).predict(tiny_dataset.test.images)
    assert probs.dtype == np.float32
    evaluated = np.load(result.run_dir / "evaluation.npz")
    order = np.argsort(evaluated["indices"])
    assert np.array_equal(np.argmax(probs, 1), np.argmax(evaluated["probs"][order], 1))


def test_the_centre_loss_trains_under_a_mixed_policy(bf16_cpu, tiny_dataset, tmp_path):
    result = train(config(epochs=1, center_loss_weight=0.05), workspace=tmp_path, dataset=tiny_dataset)
    assert result.state == "finished" and np.isfinite(result.history[-1]["loss"])


@pytest.mark.parametrize("name", [spec.name for spec in models.list_models() if spec.family != "pretrained"])
def test_every_zoo_model_ends_in_a_float32_softmax_under_a_mixed_policy(name):
    import keras

    spec = models.get_spec(name)
    shape = (32, 32, 3) if spec.min_size <= 32 else (spec.min_size, spec.min_size, 3)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = models.build_model(name, shape, 3)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.layers[-1].dtype_policy.name == "float32" and model.output.dtype == "float32"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in model.layers)


def test_the_policy_stays_in_the_thread_that_trains(bf16_cpu, tiny_dataset, tmp_path):
    """The GUI trains in a worker thread: models built later elsewhere (Predict, Inside) are float32."""
    import keras

    plan = compute.plan_run(config())
    seen = {}

    def worker():
        with plan.scope():
            seen["inside"] = keras.config.dtype_policy().name
            seen["other"] = other_thread_policy()
        seen["after"] = keras.config.dtype_policy().name

    def other_thread_policy():
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("p", keras.config.dtype_policy().name))
        t.start()
        t.join()
        return out["p"]

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == {"inside": "mixed_bfloat16", "other": "float32", "after": "float32"}


def test_mixed_on_a_cpu_without_bfloat16_units_says_so_and_trains_in_float32(monkeypatch, tiny_dataset, tmp_path):
    real = devices.cpu_info
    monkeypatch.setattr(devices, "cpu_info", lambda cpuinfo=None: real("model name\t: Old CPU\nflags\t\t: avx2\n"))
    rec = Messages()
    result = train(config(epochs=1, precision="mixed"), rec, workspace=tmp_path, dataset=tiny_dataset)
    assert any(m.startswith("Mixed precision was asked for, but this CPU has no bfloat16 units") for m in rec.messages)
    assert cards.read_card(result.model_path)["compute"]["precision"] == "float32"


def test_device_problems_are_said_before_any_run_folder(tiny_dataset, tmp_path):
    with pytest.raises(WorkbenchError, match="There is no GPU 3 on this machine"):
        train(config(devices="gpu:3"), workspace=tmp_path, dataset=tiny_dataset)
    with pytest.raises(WorkbenchError, match="There is no cpu:1 on this machine"):
        train(config(devices="cpu:0,cpu:1"), workspace=tmp_path, dataset=tiny_dataset)
    assert runs.list_runs(tmp_path) == []


def test_a_batch_smaller_than_the_devices_is_refused(tiny_dataset):
    found = devices.Devices(cpu=devices.cpu_info(), gpus=(devices.GPU(0, "A"), devices.GPU(1, "B")))
    with pytest.raises(WorkbenchError, match=r"The batch size \(1\) is smaller than the number of devices"):
        compute.plan_run(config(batch_size=1, devices="gpu:0,gpu:1"), found)


def test_configs_from_before_the_setting_keep_float32_and_new_ones_default_to_auto():
    assert TrainConfig().precision == "auto" and TrainConfig().devices == "auto"
    old = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("precision", "devices")}
    assert TrainConfig.from_dict(old).precision == "float32"
    assert TrainConfig.from_dict(TrainConfig(precision="mixed").to_dict()).precision == "mixed"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("auto", None), ("", None), ("cpu", ("cpu:0",)), ("GPU:1, gpu:0,gpu:1", ("gpu:1", "gpu:0"))],
)
def test_devices_settings_parse(text, parsed):
    assert devices.parse_devices(text) == parsed
