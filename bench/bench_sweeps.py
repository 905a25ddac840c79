"""Studies (issue 17): three ratios, each against a baseline measured in the same run.

1. jobs: the same 8-trial grid with ``--jobs 2`` against ``--jobs 1`` (target <= 0.80 on 2 cores:
   small CNNs leave cores idle between TensorFlow ops).
2. pruning: a 16-trial TPE study with the median pruner against the same study without a pruner
   (target <= 0.70 of the time, best validation accuracy within 0.5 points), 12 epochs per trial on
   the whole sample: what pruning saves is the epochs a pruned trial would still have trained.
3. overhead: a sweep against the same trials run one after another with ``python main.py train``
   (target <= 1.05).

Everything runs through ``python main.py`` in fresh processes and a fresh workspace, on the bundled
MNIST sample.

    python -m bench.bench_sweeps [--epochs 3] [--limit 2000] [--grid-trials 8] [--tpe-trials 16]
                                 [--pruning-epochs 12] [--pruning-limit 4000] [--only jobs,pruning,overhead]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEST = re.compile(r"^best: trial \d+ \w+ (\d\.\d{4}) test accuracy")


def main_py(args: list[str], workspace: Path) -> tuple[float, str]:
    env = dict(os.environ, CNN_WORKBENCH_HOME=str(workspace), TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(f"python main.py {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return seconds, out.stdout


def best_val(stdout: str) -> float:
    for line in stdout.splitlines():
        m = BEST.match(line)
        if m:
            return float(m.group(1))
    raise SystemExit("no best line in the sweep's output")


def common(args, epochs: int | None = None, limit: int | None = None) -> list[str]:
    return ["--dataset", "mnist-sample", "--epochs", str(epochs or args.epochs), "--limit", str(limit or args.limit),
            "--set", "tensorboard=false"]  # fmt: skip


GRID = [("optimizer", ["adam", "rmsprop"]), ("batch_size", ["64", "128"]), ("dropout", ["0.3", "0.5"])]


def grid_vary(n: int) -> list[str]:
    """The first factors of GRID whose product is ``n`` trials (8 by default: all three)."""
    out, total = [], 1
    for key, values in GRID:
        if total >= n:
            break
        out += ["--vary", f"{key}={','.join(values)}"]
        total *= len(values)
    return out


def bench_jobs(args, tmp: Path) -> None:
    sweep = ["sweep", *common(args), "--model", args.model, *grid_vary(args.grid_trials), "--design", "grid"]
    t1, _ = main_py([*sweep, "--jobs", "1", "--name", "jobs1"], tmp / "jobs1")
    t2, _ = main_py([*sweep, "--jobs", "2", "--name", "jobs2"], tmp / "jobs2")
    print(f"jobs: {args.grid_trials}-trial grid of {args.model}, {args.epochs} epoch(s), {args.limit} images")
    print(f"  --jobs 1  {t1:7.1f} s")
    print(f"  --jobs 2  {t2:7.1f} s")
    print(f"  ratio jobs 2 / jobs 1 = {t2 / t1:.3f}   (target <= 0.80)")


def bench_pruning(args, tmp: Path) -> None:
    sweep = [
        "sweep", *common(args, args.pruning_epochs, args.pruning_limit), "--model", args.model, "--design", "tpe",
        "--trials", str(args.tpe_trials),
        "--vary", "learning_rate=1e-4..3e-2:log", "--vary", "batch_size=32,64,128", "--vary", "dropout=0.0..0.6",
    ]  # fmt: skip
    t0, out0 = main_py([*sweep, "--pruner", "none", "--name", "plain"], tmp / "plain")
    t1, out1 = main_py([*sweep, "--pruner", "median", "--name", "pruned"], tmp / "pruned")
    b0, b1 = best_val(out0), best_val(out1)
    pruned = sum(" pruned" in ln for ln in out1.splitlines() if ln.startswith("trial "))
    print(
        f"pruning: {args.tpe_trials}-trial TPE of {args.model}, {args.pruning_epochs} epoch(s), "
        f"{args.pruning_limit} images"
    )
    print(f"  no pruner      {t0:7.1f} s   best val_accuracy {b0:.4f}")
    print(f"  median pruner  {t1:7.1f} s   best val_accuracy {b1:.4f}   ({pruned} trials pruned)")
    print(f"  time ratio pruned / plain = {t1 / t0:.3f}   (target <= 0.70)")
    print(f"  best val accuracy difference = {(b1 - b0) * 100:+.2f} points   (target within 0.5)")


def bench_overhead(args, tmp: Path) -> None:
    values = [("adam", "64"), ("adam", "128"), ("rmsprop", "64"), ("rmsprop", "128")][: args.overhead_trials]
    optimizers = ",".join(dict.fromkeys(v[0] for v in values))
    batches = ",".join(dict.fromkeys(v[1] for v in values))
    sweep = ["sweep", *common(args), "--model", args.model, "--vary", f"optimizer={optimizers}"]
    sweep += ["--vary", f"batch_size={batches}", "--design", "grid", "--trials", str(len(values))]
    t_sweep, _ = main_py([*sweep, "--name", "overhead"], tmp / "sweep")
    t_train = 0.0
    for optimizer, batch in values:
        t, _ = main_py(
            ["train", "--dataset", "mnist-sample", "--epochs", str(args.epochs), "--limit", str(args.limit),
             "--no-tensorboard", "--model", args.model, "--optimizer", optimizer, "--batch-size", batch],
            tmp / "train",
        )  # fmt: skip
        t_train += t
    print(f"overhead: {len(values)} trials of {args.model}, {args.epochs} epoch(s), {args.limit} images")
    print(f"  python main.py train, one after another  {t_train:7.1f} s")
    print(f"  python main.py sweep (--jobs 1)          {t_sweep:7.1f} s")
    print(f"  ratio sweep / trains = {t_sweep / t_train:.3f}   (target <= 1.05)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="simple-cnn-2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--grid-trials", type=int, default=8)
    ap.add_argument("--tpe-trials", type=int, default=16)
    # Pruning saves the epochs a pruned trial would still have trained: with 3 epochs a trial is
    # mostly its fixed start (about 2 s: building the model, tracing its functions), so the pruning
    # study trains as people train, 12 epochs on the whole sample (measured 0.58, 10 of 16 pruned).
    ap.add_argument("--pruning-epochs", type=int, default=12)
    ap.add_argument("--pruning-limit", type=int, default=4000)
    ap.add_argument("--overhead-trials", type=int, default=4)
    ap.add_argument("--only", default="jobs,pruning,overhead")
    args = ap.parse_args()
    parts = {"jobs": bench_jobs, "pruning": bench_pruning, "overhead": bench_overhead}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            parts[name.strip()](args, Path(tmp) / name)


if __name__ == "__main__":
    main()
