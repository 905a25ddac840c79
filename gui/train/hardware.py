"""The hyper-parameter page's "Precision and devices" group: the ``precision`` and ``devices`` settings
and a few lines about this machine (core/devices.py), whose tooltips say what ``auto`` picks here and why.

Until TensorFlow has loaded only the CPU is known (read from /proc/cpuinfo); :meth:`show_devices`
then adds the GPUs and the TensorFlow build.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from core import devices as devs
from gui.widgets.fields import Form, combo

PRECISION_ITEMS = [("Automatic", "auto"), ("float32", "float32"), ("Mixed (float16 / bfloat16)", "mixed")]


def machine_line(found: devs.Devices | None, cpu: devs.CPU) -> str:
    """This machine in a few short lines: the CPU and its bfloat16 units, the GPUs, the TensorFlow build."""
    lines = [f"This machine: {cpu.model}, {cpu.cores} cores", f"bfloat16 units: {'yes' if cpu.bf16 else 'no'}"]
    if found is None:
        return "\n".join([*lines, "GPUs: known once TensorFlow has loaded"])
    lines += [f"GPU gpu:{g.index}: {g.describe()}" for g in found.gpus] or ["GPUs: none"]
    build = f"CUDA {found.cuda_version}" if found.cuda_version else "CPU-only"
    return "\n".join([*lines, f"TensorFlow {found.tensorflow} ({build} build)"])


def precision_tip(found: devs.Devices) -> str:
    auto = devs.resolve_precision("auto", found)
    return (
        f"How the numbers are stored while training. Automatic, on this machine: {auto.reason}. "
        "Mixed computes in 16 bits (float16 with loss scaling on GPUs of compute capability 7.0 or newer, "
        "bfloat16 on CPUs with AMX or AVX-512 BF16 units; measured up to 4x faster there) and keeps weights, "
        "the softmax output and the metrics in float32; where the hardware has no such units it trains in "
        "float32 and says so. float32: always full precision. The saved model is float32 either way."
    )


class HardwareForm(Form):
    """The precision and devices fields (read and written by name like any Form) and the machine line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Precision and devices", parent)
        self._cpu = devs.cpu_info()
        found = devs.Devices(cpu=self._cpu)
        self.add("precision", "Precision", combo(PRECISION_ITEMS), precision_tip(found))
        line = QLineEdit()
        line.setPlaceholderText("auto")
        line.setClearButtonEnabled(True)
        self.add("devices", "Devices", line, self._devices_tip(None))
        self.machine = QLabel(machine_line(None, self._cpu))
        self.machine.setToolTip("What TensorFlow can train on here (python main.py devices says the same).")
        self.layout_.addRow(self.machine)

    def _devices_tip(self, found: devs.Devices | None) -> str:
        gpus = (
            "unknown until TensorFlow has loaded"
            if found is None
            else (", ".join(f"gpu:{g.index} ({g.name})" for g in found.gpus) or "none")
        )
        return (
            f"Where the run trains: {devs.DEVICES_HELP}. auto uses every GPU TensorFlow sees, else the CPU. "
            "With more than one device the model is copied to each (tf.distribute.MirroredStrategy) and each "
            "step's batch is split between them: the batch size is the total, at least one image per device. "
            f"GPUs here: {gpus}."
        )

    def show_devices(self, found: devs.Devices) -> None:
        """What TensorFlow found: the machine line and the tooltips of both fields."""
        self.machine.setText(machine_line(found, found.cpu))
        for name, tip in (("precision", precision_tip(found)), ("devices", self._devices_tip(found))):
            self.widget(name).setToolTip(tip)
            self.labels[name].setToolTip(tip)

    def values(self) -> dict:
        out = super().values()
        out["devices"] = out["devices"] or "auto"  # an empty field means auto (its placeholder)
        return out
