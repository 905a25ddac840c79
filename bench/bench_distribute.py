"""One logical device against two (tf.distribute.MirroredStrategy): correctness and overhead, not speed.

The CPU is split into two logical devices (the test switch ``CNN_WORKBENCH_LOGICAL_CPUS=2``, set
here before TensorFlow starts). The same run (simple-cnn-2 on the bundled sample) trains through
``core.training.train`` on ``cpu:0`` alone and on ``cpu:0,cpu:1`` (two replicas, each step's batch
split between them), alternately. Both must train the same number of epochs and steps per epoch
and reach test accuracies within 1 point; the time ratio two / one is the strategy's overhead on
one CPU (two replicas share the same cores, so no speed-up is expected here, unlike on two GPUs).

    python -m bench.bench_distribute [--quick] [--epochs 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CNN_WORKBENCH_LOGICAL_CPUS"] = "2"  # before TensorFlow sets up its devices

SETUPS = {"one device": "cpu:0", "two replicas": "cpu:0,cpu:1"}


def run(devices: str, args, workspace: Path) -> tuple[float, float, int, list[int]]:
    from core import runs
    from core.config import TrainConfig
    from core.training import train

    config = TrainConfig(model=args.model, epochs=args.epochs, batch_size=args.batch, limit=args.limit, devices=devices)
    config.tensorboard = False
    steps: list[int] = []

    from core.reporting import NullReporter

    class Steps(NullReporter):
        def on_start(self, info):
            steps.append(info["steps_per_epoch"])

    start = time.perf_counter()
    result = train(config, Steps(), workspace=workspace)
    seconds = time.perf_counter() - start
    replicas = runs.read_status(result.run_dir)["replicas"]
    return seconds, float(result.test_accuracy), replicas, [result.epochs_done, *steps]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tiny run that only proves the benchmark works")
    ap.add_argument("--model", default="simple-cnn-2")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None, help="training images (default: the whole sample)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.limit, args.repeats = 1, 600, 1

    results: dict[str, list[tuple[float, float, int, list[int]]]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="bench-distribute-") as tmp:
        for i in range(args.repeats):
            order = list(SETUPS) if i % 2 == 0 else list(reversed(SETUPS))
            for name in order:
                results[name].append(run(SETUPS[name], args, Path(tmp)))
                seconds, acc, replicas, _ = results[name][-1]
                print(f"  repeat {i + 1} {name:<13} {seconds:6.2f} s, {replicas} replica(s), test accuracy {acc:.4f}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"One logical CPU device vs two replicas: {args.model} on mnist-sample, {args.epochs} epoch(s), batch "
        f"{args.batch}, {args.repeats} repeat(s) (load average {load:.2f} on {os.cpu_count()} CPUs)"
    )
    one, two = results["one device"], results["two replicas"]
    same_steps = all(r[3] == one[0][3] for r in one + two)
    print(f"  same epochs and steps per epoch: {'yes' if same_steps else 'NO'} (epochs, steps: {one[0][3]})")
    gap = abs(statistics.median(r[1] for r in two) - statistics.median(r[1] for r in one)) * 100
    print(f"  test accuracy gap: {gap:.2f} points ({'within' if gap <= 1.0 else 'NOT within'} 1 point)")
    ratio = statistics.median(r[0] for r in two) / statistics.median(r[0] for r in one)
    print(f"  two replicas / one device: time ratio {ratio:.3f} (the strategy's overhead on one CPU)")
    return 0 if same_steps and gap <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
