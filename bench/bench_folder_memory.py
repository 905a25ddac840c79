"""Peak memory of training on an image folder as the folder grows (issue 13 item 11).

A folder is streamed: file names are shuffled, then decoded, and every buffer is bounded, so the
peak memory of training a few steps should not depend on how many images the folder holds. Each
size runs in its own process (a fresh TensorFlow); the child prints its peak resident memory
(``ru_maxrss``), and the ratio of the largest folder to the smallest is printed (target: at most
1.2). Peak memory does not depend on CPU contention, so this is meaningful on a busy machine.

    python -m bench.bench_folder_memory [--sizes 2000 20000] [--image-size 128] [--steps 10]
    python -m bench.bench_folder_memory --quick     # 200 and 2,000 images, to check it works
    python -m bench.bench_folder_memory --data DIR  # keep the generated folders in DIR for the next run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

ROOT = Path(__file__).resolve().parent.parent


def make_folder(root: Path, n: int, side: int) -> Path:
    """``n`` photo-like JPEG files of ``side`` x ``side`` in two class folders (made once, reused)."""
    import numpy as np
    from PIL import Image

    done = root / f".complete-{n}-{side}"
    if done.exists():
        return root
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side]
    for i in range(n):
        cls = root / ("a" if i % 2 else "b")
        cls.mkdir(parents=True, exist_ok=True)
        base = (x * (1 + i % 5) + y * (1 + i % 7)) % 256
        noise = rng.integers(0, 40, (side, side, 3))
        Image.fromarray(((base[..., None] + noise) % 256).astype(np.uint8)).save(cls / f"{i:06d}.jpg", quality=85)
    done.touch()
    return root


def child(folder: str, image_size: int, steps: int) -> None:
    """Train a few steps on the folder's real training pipeline; print the peak resident memory."""
    import resource

    from core.datasets import load_dataset
    from core.models import build_model
    from core.training import train_pipeline

    started = time.perf_counter()
    ds = load_dataset(folder, image_size=image_size, color_mode="rgb")
    pipeline, _ = train_pipeline(ds.train, ds.image_shape, 32, seed=0)
    model = build_model("simple-cnn-1", ds.image_shape, ds.num_classes)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(pipeline, steps_per_epoch=steps, epochs=1, verbose=0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"RESULT {len(ds.train)} {peak_kib / 1024:.0f} {time.perf_counter() - started:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="200 and 2,000 images")
    ap.add_argument("--data", help="keep the generated folders here and reuse them (default: a temporary folder)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.image_size, args.steps)
        return
    sizes = [200, 2000] if args.quick else args.sizes
    peaks = {}
    with tempfile.TemporaryDirectory(prefix="bench-folder-memory-") as tmp:
        if args.data:
            tmp = args.data
        for n in sizes:
            folder = make_folder(Path(tmp) / f"n{n}", n, args.image_size)
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_folder_memory", "--child", str(folder)]
                + ["--image-size", str(args.image_size), "--steps", str(args.steps)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
            if line is None:
                print(out.stdout[-2000:], out.stderr[-4000:], sep="\n")
                raise SystemExit(f"the run on {n:,} images failed")
            _, train_n, peak_mb, seconds = line.split()
            peaks[n] = float(peak_mb)
            print(
                f"  {n:>7,} images ({int(train_n):,} training), {args.steps} steps of 32 at "
                f"{args.image_size}x{args.image_size}: peak {peak_mb} MB  ({seconds} s)"
            )
    small, large = min(sizes), max(sizes)
    print(f"  peak memory ratio {large:,} / {small:,} images: {peaks[large] / peaks[small]:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
