"""t-SNE in a child process, so it can be stopped at once.

scikit-learn's t-SNE cannot be interrupted (no callback; 10,000 points take about 75 s), so closing
the app or starting another embedding used to wait for it. :func:`run_tsne` starts this file as a
script (``python -u core/tsne_process.py IN OUT``) with the points in a ``.npz`` file, reads the
child's verbose output for the iterations done (progress), and kills the child as soon as the
:class:`~core.reporting.CancelToken` is set. The script imports only numpy, scikit-learn and
threadpoolctl (no TensorFlow, nothing of ``core``), so it starts in about a second.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

POLL_S = 0.1  # how often the parent looks at the cancel token and the child's progress
_ITERATION = re.compile(rb"Iteration (\d+)")


def run_tsne(
    points: np.ndarray,
    params: dict[str, Any],
    *,
    threads: int,
    progress=None,
    cancel=None,
) -> np.ndarray:
    """``TSNE(**params).fit_transform(points)`` in a child process: float32 ``(N, dims)``.

    ``progress(iterations_done)`` hears the child's progress (every 50 iterations, as scikit-learn
    reports it); ``cancel`` (a :class:`~core.reporting.CancelToken`) is looked at every
    :data:`POLL_S` seconds and, once set, the child is killed and
    :class:`~core.reporting.Cancelled` raised. A child that fails raises
    :class:`~core.errors.WorkbenchError` with its last lines.
    """
    from core.errors import WorkbenchError
    from core.reporting import Cancelled

    with tempfile.TemporaryDirectory(prefix="tsne-") as tmp:
        folder = Path(tmp)
        source, target, log_path = folder / "in.npz", folder / "out.npy", folder / "log.txt"
        np.savez(source, points=np.asarray(points, np.float32), params=json.dumps(params), threads=int(threads))
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-u", str(Path(__file__).resolve()), str(source), str(target)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        done = 0
        try:
            while True:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                try:
                    child.wait(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                found = _ITERATION.findall(log_path.read_bytes())
                if found and int(found[-1]) != done and progress is not None:
                    done = int(found[-1])
                    progress(done)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0 or not target.is_file():
            tail = log_path.read_bytes().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise WorkbenchError(
                "t-SNE failed in its worker process; try PCA instead.",
                detail="\n".join(tail) or f"exit code {child.returncode}",
            )
        return np.load(target).astype(np.float32)


def _main(argv: list[str]) -> int:
    """The child: read the points and parameters, run t-SNE verbosely, write the coordinates."""
    source, target = Path(argv[0]), Path(argv[1])
    with np.load(source, allow_pickle=False) as data:
        points = np.asarray(data["points"], np.float32)
        params = json.loads(str(data["params"]))
        threads = int(data["threads"])
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        coords = TSNE(verbose=2, **params).fit_transform(points).astype(np.float32)
    partial = target.with_suffix(".part.npy")
    np.save(partial, coords)
    os.replace(partial, target)  # the parent reads the coordinates only once whole
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
