"""What this machine can train on, and the one rule that turns a precision setting into a Keras policy.

:func:`detect` describes the CPU (model, cores, and whether it has bfloat16 units: AMX or AVX-512
BF16), the GPUs TensorFlow sees (name, memory, compute capability) and the TensorFlow build.
:func:`resolve_precision` decides what ``auto``, ``float32`` or ``mixed`` means on that hardware:

* GPUs of compute capability 7.0 or newer have float16 tensor cores: ``mixed_float16`` (Keras adds
  loss scaling for it);
* CPUs with bfloat16 units: ``mixed_bfloat16`` (measured on an AMX CPU: vgg16-small 228-257
  images/s against 62 in float32; the sample run 0.965 against 0.962 test accuracy);
* otherwise ``float32``: emulated half precision is slower than float32, so ``mixed`` falls back
  to it with a note saying why.

The CPU is read from ``/proc/cpuinfo`` (Linux); elsewhere the model name comes from ``platform``
and bfloat16 units are not assumed. Nothing here imports TensorFlow except :func:`gpu_info` and
:func:`detect`.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import WorkbenchError

#: /proc/cpuinfo flags of the units that make bfloat16 matrix work fast.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
PRECISIONS = ("auto", "float32", "mixed")
#: A test and benchmark switch, not a user setting: split the CPU into this many logical devices
#: (read only by :func:`split_cpu_if_asked`), so that training on several devices
#: (``tf.distribute.MirroredStrategy``) can be tried on a machine without GPUs.
LOGICAL_CPUS_ENV = "CNN_WORKBENCH_LOGICAL_CPUS"
DEVICES_HELP = "auto, cpu, or a list such as gpu:0,gpu:1"
#: The oldest GPU generation with float16 tensor cores (Volta).
MIN_FLOAT16_CAPABILITY = (7, 0)


@dataclass(frozen=True)
class CPU:
    model: str
    cores: int
    bf16_units: tuple[str, ...]  # the BF16_FLAGS this CPU has

    @property
    def bf16(self) -> bool:
        return bool(self.bf16_units)


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    memory_bytes: int | None = None
    compute_capability: tuple[int, int] | None = None

    @property
    def float16(self) -> bool:
        return self.compute_capability is not None and self.compute_capability >= MIN_FLOAT16_CAPABILITY

    def describe(self) -> str:
        parts = [self.name]
        if self.memory_bytes:
            parts.append(f"{self.memory_bytes / 2**30:.0f} GiB")
        if self.compute_capability:
            parts.append("compute capability {}.{}".format(*self.compute_capability))
        return ", ".join(parts)


@dataclass(frozen=True)
class Devices:
    cpu: CPU
    gpus: tuple[GPU, ...] = ()
    tensorflow: str = ""
    keras: str = ""
    cuda_version: str | None = None  # of the TensorFlow build, when it is a CUDA build


@dataclass(frozen=True)
class Precision:
    """A resolved precision: the Keras dtype policy, why, and a note when the request was not met."""

    policy: str  # "float32", "mixed_bfloat16" or "mixed_float16"
    reason: str
    note: str = ""  # set when ``mixed`` was asked for but this hardware cannot do it

    @property
    def mixed(self) -> bool:
        return self.policy != "float32"


def cpu_info(cpuinfo: str | None = None) -> CPU:
    """The CPU from ``/proc/cpuinfo`` text (read from the file when not given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return CPU(model=model, cores=os.cpu_count() or 1, bf16_units=tuple(f for f in BF16_FLAGS if f in flags))


def gpu_info() -> tuple[GPU, ...]:
    """The GPUs TensorFlow can use (imports TensorFlow)."""
    import tensorflow as tf

    gpus = []
    for index, device in enumerate(tf.config.list_physical_devices("GPU")):
        try:
            details = tf.config.experimental.get_device_details(device)
        except (RuntimeError, ValueError):
            details = {}
        capability = details.get("compute_capability")
        memory = None
        try:
            memory = tf.config.experimental.get_memory_info(f"GPU:{index}").get("limit") or None
        except (RuntimeError, ValueError):
            pass
        gpus.append(
            GPU(
                index=index,
                name=str(details.get("device_name") or device.name),
                memory_bytes=memory,
                compute_capability=tuple(capability) if capability else None,
            )
        )
    return tuple(gpus)


def split_cpu_if_asked() -> int:
    """Apply :data:`LOGICAL_CPUS_ENV` (when set) and return the number of logical CPU devices asked for.

    TensorFlow takes a logical-device split only before it initialises its devices, so this runs
    first in :func:`detect` and in ``core.compute.plan_run``; later calls find it done.
    """
    text = os.environ.get(LOGICAL_CPUS_ENV, "").strip()
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise WorkbenchError(f"{LOGICAL_CPUS_ENV} must be a whole number from 1 to 64, not '{text}'.")
    count = int(text)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == count:
        return count
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as exc:
        raise WorkbenchError(
            f"{LOGICAL_CPUS_ENV}={count} came too late: TensorFlow had already set up its devices. "
            "Set it before the program starts."
        ) from exc
    return count


def parse_devices(text: str) -> tuple[str, ...] | None:
    """The devices a ``devices`` setting names: ``None`` for ``auto``, else ``("gpu:0", "gpu:1")`` or ``("cpu:0",)``.

    Raises WorkbenchError with the text given when it is not ``auto``, ``cpu`` or a list of
    ``gpu:N`` (or ``cpu:N``, the logical CPUs of the test switch), or mixes GPUs and the CPU.
    """
    given = str(text).strip().lower()
    if given in ("", "auto"):
        return None
    names = []
    for part in given.split(","):
        kind, colon, index = part.strip().partition(":")
        if kind == "cpu" and not colon:
            index = "0"
        if kind not in ("cpu", "gpu") or not index.isdigit():
            raise WorkbenchError(f"The devices must be {DEVICES_HELP} (not '{text}').")
        names.append(f"{kind}:{int(index)}")
    if len({name.partition(":")[0] for name in names}) > 1:
        raise WorkbenchError(f"Train on GPUs or on the CPU, not both (devices '{text}').")
    return tuple(dict.fromkeys(names))


def detect() -> Devices:
    """This machine's CPU, its GPUs and the TensorFlow build (imports TensorFlow)."""
    split_cpu_if_asked()
    import keras
    import tensorflow as tf

    build = dict(tf.sysconfig.get_build_info())
    return Devices(
        cpu=cpu_info(),
        gpus=gpu_info(),
        tensorflow=tf.__version__,
        keras=keras.__version__,
        cuda_version=str(build.get("cuda_version")) if build.get("is_cuda_build") else None,
    )


def choose_gpus(devices: Devices, indices: Sequence[int] | None) -> tuple[GPU, ...]:
    """The GPUs a run uses: all of them (``None``), or the given indices, checked."""
    if indices is None:
        return devices.gpus
    known = {gpu.index: gpu for gpu in devices.gpus}
    missing = [i for i in indices if i not in known]
    if missing:
        have = ", ".join(str(i) for i in known) or "none"
        raise WorkbenchError(
            f"There is no GPU {', '.join(str(i) for i in missing)} on this machine "
            f"(GPUs TensorFlow sees: {have}). "
            "See python main.py devices."
        )
    return tuple(known[i] for i in dict.fromkeys(indices))


def resolve_precision(requested: str, devices: Devices, gpus: Sequence[int] | None = None) -> Precision:
    """What ``requested`` (``auto``, ``float32`` or ``mixed``) means on ``devices``, with the reason."""
    if requested not in PRECISIONS:
        raise WorkbenchError(f"Unknown precision '{requested}'; choose one of {', '.join(PRECISIONS)}.")
    if requested == "float32":
        return Precision("float32", "float32, as chosen")
    chosen = choose_gpus(devices, gpus)
    if chosen:
        old = [gpu for gpu in chosen if not gpu.float16]
        if not old:
            names = ", ".join(sorted({gpu.name for gpu in chosen}))
            return Precision("mixed_float16", f"mixed float16: {names} has float16 tensor cores")
        why = f"{old[0].name} has no float16 tensor cores (compute capability below 7.0)"
        note = f"Mixed precision was asked for, but {why}: training in float32." if requested == "mixed" else ""
        return Precision("float32", f"float32: {why}", note)
    if devices.cpu.bf16:
        units = " and ".join(u.upper().replace("_", "-") for u in devices.cpu.bf16_units)
        return Precision("mixed_bfloat16", f"mixed bfloat16: this CPU has {units} units")
    why = "this CPU has no bfloat16 units (AMX or AVX-512 BF16), where mixed precision would be slower"
    note = f"Mixed precision was asked for, but {why}: training in float32." if requested == "mixed" else ""
    return Precision("float32", f"float32: {why}", note)


def describe(devices: Devices) -> list[str]:
    """Lines for ``python main.py devices`` and the app's status bar tooltip."""
    cpu = devices.cpu
    units = ", ".join(u.upper().replace("_", "-") for u in cpu.bf16_units) or "none"
    lines = [f"CPU         {cpu.model}, {cpu.cores} cores; bfloat16 units: {units}"]
    if devices.gpus:
        lines += [f"GPU {gpu.index:<7} {gpu.describe()}" for gpu in devices.gpus]
    else:
        lines.append("GPU         none that TensorFlow can use")
    build = f"CUDA {devices.cuda_version} build" if devices.cuda_version else "CPU-only build"
    lines.append(f"TensorFlow  {devices.tensorflow} ({build}), Keras {devices.keras}")
    auto = resolve_precision("auto", devices)
    lines.append(f"Precision   auto uses {auto.reason}")
    return lines
