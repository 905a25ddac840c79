"""How one run uses the machine: its precision (a Keras dtype policy) and its devices (a tf.distribute strategy).

:func:`plan_run` turns a config's ``precision`` and ``devices`` into a :class:`RunPlan`, before any
run folder is made, so a GPU that does not exist or a batch smaller than the number of devices is
said at once. Training then builds and compiles the model inside ``plan.scope()``:

* the dtype policy (``mixed_bfloat16`` on CPUs with bfloat16 units, ``mixed_float16`` on tensor-core
  GPUs, see :func:`core.devices.resolve_precision`) is set for that block only and restored after.
  Keras keeps the policy per thread, so neither the GUI thread nor the Predict and Inside workers
  see it; the model's output layer is float32 anyway (core/models/common.py), as are the metrics;
* with more than one device the model lives in ``tf.distribute.MirroredStrategy(devices)``: each
  step splits the global batch (the batch size the user set) between the replicas; Keras' ``fit``
  keeps the strategy the model was built in;
* :meth:`RunPlan.saveable` gives the model that is evaluated and saved: with a mixed policy or a
  strategy, a float32 copy built outside the strategy with the trained weights (mixed policies keep
  their variables in float32), so ``model.keras`` predicts the same in float32 on any machine.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core import devices as devs
from core.errors import WorkbenchError

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    precision: devs.Precision
    devices: tuple[str, ...]  # what the run trains on: ("cpu:0",), ("gpu:0", "gpu:1"), ...
    strategy: Any = field(default=None, repr=False)  # None: TensorFlow's default placement

    @property
    def replicas(self) -> int:
        return len(self.devices)

    @property
    def plain(self) -> bool:
        """float32 on TensorFlow's default device: the model needs no copy to be saved."""
        return not self.precision.mixed and self.strategy is None

    def card(self) -> dict[str, Any]:
        """What the run's card and status record."""
        return {
            "precision": self.precision.policy,
            "precision_reason": self.precision.reason,
            "devices": list(self.devices),
            "replicas": self.replicas,
        }

    def describe(self) -> str:
        where = ", ".join(self.devices)
        if self.replicas > 1:
            where += f" ({self.replicas} replicas of the model, each step's batch split between them)"
        return f"Precision: {self.precision.reason}. Devices: {where}."

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and compile inside this: the run's dtype policy (restored after) and its strategy."""
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision.policy)
        try:
            with self.strategy.scope() if self.strategy is not None else contextlib.nullcontext():
                yield
        finally:
            keras.config.set_dtype_policy(previous)

    def saveable(self, model: Any, rebuild: Callable[[], Any]) -> Any:
        """``model`` itself when plain, else a float32 single-device copy (``rebuild()``) with its weights."""
        if self.plain:
            return model
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float32")
        try:
            copy = rebuild()
        finally:
            keras.config.set_dtype_policy(previous)
        copy.set_weights(model.get_weights())
        return copy


def plan_run(config: Any, found: devs.Devices | None = None) -> RunPlan:
    """The precision and devices ``config`` asks for on this machine (imports TensorFlow).

    Raises WorkbenchError for a GPU or CPU device that does not exist and for a batch smaller
    than the number of devices. ``found`` (the machine) is detected when not given.
    """
    logical_cpus = devs.split_cpu_if_asked()
    import tensorflow as tf

    found = found if found is not None else devs.detect()
    wanted = devs.parse_devices(config.devices)
    if wanted is None:
        names = tuple(f"gpu:{gpu.index}" for gpu in found.gpus) or tuple(f"cpu:{i}" for i in range(logical_cpus))
    else:
        names = wanted
    gpus = [int(name[4:]) for name in names if name.startswith("gpu:")]
    devs.choose_gpus(found, gpus)  # a GPU that does not exist: a clear sentence
    missing = [name for name in names if name.startswith("cpu:") and int(name[4:]) >= logical_cpus]
    if missing:
        raise WorkbenchError(
            f"There is no {', '.join(missing)} on this machine: the CPU is one device, cpu:0 (or cpu). "
            "See python main.py devices."
        )
    if config.batch_size < len(names):
        raise WorkbenchError(
            f"The batch size ({config.batch_size}) is smaller than the number of devices the run trains on "
            f"({len(names)}: {', '.join(names)}): each device needs at least one image per step. "
            f"Use a batch size of at least {len(names)} or fewer devices."
        )
    precision = devs.resolve_precision(config.precision, found, gpus=gpus)
    strategy = None
    tf_names = [f"/{name}" for name in names]
    if len(names) > 1:
        strategy = tf.distribute.MirroredStrategy(devices=tf_names)
    elif wanted is not None and (found.gpus or logical_cpus > 1):
        strategy = tf.distribute.OneDeviceStrategy(tf_names[0])  # one device chosen among several
    return RunPlan(precision=precision, devices=names, strategy=strategy)
