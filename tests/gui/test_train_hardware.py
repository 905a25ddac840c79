"""The Train tab's precision and devices: the fields reach the config, the tooltips say what auto picks here."""

from __future__ import annotations

from core import devices
from core.config import TrainConfig
from gui.train.state import TrainState


def test_precision_and_devices_reach_the_config_and_the_machine_is_described(make_window, qtbot):
    window = make_window()
    tab = window.train_tab
    hardware = tab.hyper.hardware
    qtbot.waitUntil(lambda: window.tf_info is not None and "devices" in window.tf_info, timeout=60_000)
    found = window.tf_info["devices"]
    auto = devices.resolve_precision("auto", found)
    assert f"Automatic, on this machine: {auto.reason}" in hardware.widget("precision").toolTip()
    assert found.cpu.model in hardware.machine.text() and f"TensorFlow {found.tensorflow}" in hardware.machine.text()
    assert "bfloat16 units" in window.tf_label.text() and "Precision   auto uses" in window.tf_label.toolTip()

    hardware.set_values({"precision": "mixed", "devices": "gpu:0,gpu:1"})
    assert tab.current_config().precision == "mixed" and tab.current_config().devices == "gpu:0,gpu:1"
    hardware.set_values({"devices": ""})
    assert tab.current_config().devices == "auto"  # an empty field is its placeholder, auto
    tab.restore_default_hyperparameters()
    assert tab.current_config().precision == "auto"


def test_the_tooltip_follows_the_gpus_found(qtbot):
    from gui.train.hardware import HardwareForm

    form = HardwareForm()
    qtbot.addWidget(form)
    a100 = devices.GPU(0, "NVIDIA A100", 40 * 2**30, (8, 0))
    form.show_devices(devices.Devices(cpu=devices.cpu_info(), gpus=(a100,), tensorflow="2.21.0"))
    assert "Automatic, on this machine: mixed float16: NVIDIA A100" in form.widget("precision").toolTip()
    assert "GPU gpu:0: NVIDIA A100, 40 GiB" in form.machine.text()
    assert "gpu:0 (NVIDIA A100)" in form.labels["devices"].toolTip()


def test_remembered_form_settings_from_before_get_auto():
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "precision"}
    assert TrainState.config_from_settings(old).precision == "auto"
