"""What a run folder keeps so that training can go on: its backup and its best weights.

``backup/`` holds Keras' ``BackupAndRestore`` state (weights, optimizer state and the epoch of the
last whole epoch); ``best.weights.h5`` the best epoch's weights. Training writes both
(core/training.py); the run store (core/runs.py) and the app read how far a backup got, without
TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from core import atomic

BACKUP_DIR = "backup"  # inside a run folder: weights, optimizer state and epoch of the last whole epoch
BEST_WEIGHTS = "best.weights.h5"  # inside a run folder: the best epoch's weights, for a resumed run


def backup_epoch(run_dir: Path) -> int:
    """The number of whole epochs the run's backup holds (0 when there is none)."""
    meta = Path(run_dir) / BACKUP_DIR / "training_metadata.json"
    try:
        return int(atomic.read_json(meta)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
