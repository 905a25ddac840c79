"""Mixed precision against float32: training speed (images/s) and test accuracy, ratios in one run.

For simple-cnn-2 (28x28x1), resnet-20 and vgg16-small (32x32x3), each precision trains the zoo model
on random images of that shape for a fixed number of steps (``fit`` on a repeated ``tf.data``
pipeline, as the app feeds it); the images/s of the epochs after the first (which traces) are
compared with float32's, measured alternately in this process. Then each model trains through
``core.training.train`` on the bundled sample for the same epochs in each precision, and the test
accuracies are compared.

Precisions: ``float32``; ``auto``, the policy the app picks on this machine
(core.devices.resolve_precision: mixed_bfloat16 on CPUs with AMX / AVX-512 BF16 units,
mixed_float16 on tensor-core GPUs, float32 otherwise); with ``--mixed``, also the mixed policy
forced where ``auto`` would not choose it (on a CPU without bfloat16 units it is emulated: this
measures what that costs). Targets of issue 15 on a CPU with bfloat16 units (or a tensor-core GPU):
vgg16-small at least 3.0x, resnet-20 at least 1.5x, no model slower, accuracy within 0.5 points.
Where ``auto`` is float32 the auto/float32 ratios only show the noise.

``--steps-per-execution N`` adds float32 with ``compile(steps_per_execution=N)`` (Keras runs N
steps per call; batch callbacks then arrive every N steps) to see whether it pays off here.

    python -m bench.bench_precision [--quick] [--mixed] [--steps-per-execution 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = (("simple-cnn-2", (28, 28, 1)), ("resnet-20", (32, 32, 3)), ("vgg16-small", (32, 32, 3)))
BF16_CPUINFO = "model name\t: (as if it had bfloat16 units)\nflags\t\t: avx512_bf16 amx_bf16\n"


def forced_mixed():
    """A context in which the app's precision rule sees bfloat16 units on this CPU (``--mixed`` here)."""
    from core import devices

    real = devices.cpu_info
    return mock.patch.object(devices, "cpu_info", lambda cpuinfo=None: real(BF16_CPUINFO))


def precision_plan(mode: str):
    """The app's RunPlan for ``mode`` (float32, auto, mixed) on this machine (mixed: forced)."""
    from core.compute import plan_run
    from core.config import TrainConfig

    config = TrainConfig(precision="mixed" if mode == "mixed" else mode)
    if mode == "mixed":
        with forced_mixed():
            return plan_run(config)
    return plan_run(config)


def images_per_second(name, shape, plan, batch: int, steps: int, spe: int = 1) -> float:
    import keras
    import numpy as np
    import tensorflow as tf

    from core.models import build_model

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch * 4, *shape), dtype=np.uint8)
    y = rng.integers(0, 10, size=batch * 4).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().repeat().batch(batch)
    ds = ds.map(lambda a, b: (tf.cast(a, tf.float32), b)).prefetch(tf.data.AUTOTUNE)
    keras.utils.set_random_seed(0)
    with plan.scope():
        model = build_model(name, shape, 10)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=spe,
        )

    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(ds, epochs=3, steps_per_epoch=steps, callbacks=[Clock()], shuffle=False, verbose=0)
    return batch * steps / statistics.median(times[1:])


def sample_accuracy(name: str, mode: str, epochs: int, limit: int | None, workspace: Path) -> tuple[float, str]:
    from core.config import TrainConfig
    from core.training import train

    config = TrainConfig(
        model=name, epochs=epochs, limit=limit, tensorboard=False, precision="mixed" if mode == "mixed" else mode
    )
    if mode == "mixed":
        with forced_mixed():
            result = train(config, workspace=workspace)
    else:
        result = train(config, workspace=workspace)
    from core import cards

    return float(result.test_accuracy), cards.read_card(result.model_path)["compute"]["precision"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tiny run that only proves the benchmark works")
    ap.add_argument("--mixed", action="store_true", help="also force the mixed policy where auto does not pick it")
    ap.add_argument("--steps-per-execution", type=int, default=0, metavar="N", help="also float32 with N steps/call")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30, help="steps per timed epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs on the sample for the accuracies")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", default=",".join(n for n, _ in MODELS))
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.epochs, args.repeats = 32, 3, 1, 1
    limit = 600 if args.quick else None
    if args.steps_per_execution > 1:  # whole executions per epoch, at least two
        args.steps = max(2, -(-args.steps // args.steps_per_execution)) * args.steps_per_execution

    from core.devices import describe, detect

    for line in describe(detect()):
        print("  " + line)
    modes = ["float32", "auto"] + (["mixed"] if args.mixed else [])
    plans = {mode: precision_plan(mode) for mode in modes}
    print(
        f"  auto picks {plans['auto'].precision.policy}"
        + (f"; --mixed forces {plans['mixed'].precision.policy}" if args.mixed else "")
    )
    rows = list(modes) + ([f"float32 spe={args.steps_per_execution}"] if args.steps_per_execution > 1 else [])
    wanted = [(n, s) for n, s in MODELS if n in args.models.split(",")]

    speed: dict[tuple[str, str], list[float]] = {}
    for i in range(args.repeats):
        for name, shape in wanted:
            order = rows if i % 2 == 0 else list(reversed(rows))
            for row in order:
                plan = plans.get(row, plans["float32"])
                spe = args.steps_per_execution if row.startswith("float32 spe") else 1
                ips = images_per_second(name, shape, plan, args.batch, args.steps, spe)
                speed.setdefault((name, row), []).append(ips)
                print(f"  repeat {i + 1} {name:<13} {row:<17} {ips:8.1f} images/s", flush=True)

    accuracy: dict[tuple[str, str], tuple[float, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-precision-") as tmp:
        for name, _ in wanted:
            for mode in modes:
                accuracy[(name, mode)] = sample_accuracy(name, mode, args.epochs, limit, Path(tmp))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Mixed precision vs float32: batch {args.batch}, {args.steps} steps per epoch, {args.repeats} repeats; "
        f"sample accuracy after {args.epochs} epoch(s){' on 600 images' if limit else ''} "
        f"(load average {load:.2f} on {os.cpu_count()} CPUs)"
    )
    targets = {"vgg16-small": 3.0, "resnet-20": 1.5, "simple-cnn-2": 1.0}
    for name, _ in wanted:
        base = statistics.median(speed[(name, "float32")])
        acc32 = accuracy[(name, "float32")][0]
        print(f"  {name:<13} float32 {base:8.1f} images/s, test accuracy {acc32:.4f}")
        for row in rows[1:]:
            ratio = statistics.median(speed[(name, row)]) / base
            line = f"  {name:<13} {row:<17} ratio {ratio:5.2f}"
            if (name, row) in accuracy:
                acc, used = accuracy[(name, row)]
                line += f", test accuracy {acc:.4f} ({(acc - acc32) * 100:+.2f} points, trained in {used})"
            if row == "auto":
                line += f" (target at least {targets[name]:.1f} where auto is mixed)"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
