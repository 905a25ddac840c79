"""How the Runs tab writes a run's facts as text: settings, durations, percentages, sort keys.

No Qt here: the tab's state (:mod:`gui.runs.state`) filters with these texts, and its tests run
without widgets. The facts themselves come from :func:`core.runs.read_run`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any

from core import paths
from core.labels import NONE_TEXT, format_setting  # noqa: F401 - the one way to write a setting
from core.reporting import format_duration  # noqa: F401 - the one duration format, used by the tab
from core.runs import RunInfo

STATE_TIPS = {
    "finished": "Trained all its epochs; the best epoch's model was evaluated on the test set.",
    "stopped": "Stopped before its last epoch; the best model so far was kept. It can be resumed.",
    "interrupted": "The app or the computer stopped during training. Resume goes on from the last complete epoch.",
    "failed": "Training failed; the error is in the run's details.",
    "running": "Training now (in this app or another process).",
    "unknown": "The run's status cannot be read.",
}
STATE_FILTERS = (
    ("all", "All states"),
    ("finished", "Finished"),
    ("stopped", "Stopped"),
    ("interrupted", "Interrupted"),
    ("failed", "Failed"),
    ("running", "Running"),
    ("problems", "With problems"),
)

# -- settings (config keys) -----------------------------------------------------------------------

SETTING_LABELS = {
    "dataset": "Dataset",
    "model": "Model",
    "model_options": "Model options",
    "pretrained": "Pre-trained",
    "image_size": "Image size",
    "color_mode": "Colour",
    "optimizer": "Optimizer",
    "learning_rate": "Learning rate",
    "momentum": "Momentum",
    "schedule": "LR schedule",
    "step_epochs": "Step every",
    "step_factor": "Step factor",
    "plateau_patience": "Plateau patience",
    "batch_size": "Batch",
    "epochs": "Epochs asked",
    "validation_split": "Val. split",
    "test_split": "Test split",
    "augment_flip": "Flip",
    "augment_rotation": "Rotation",
    "augment_zoom": "Zoom",
    "augment_translation": "Shift",
    "early_stopping": "Early stop",
    "patience": "Patience",
    "seed": "Seed",
    "limit": "Image limit",
    "tensorboard": "TensorBoard",
    "name": "Label",
    "recipe": "Recipe",
    "time_budget": "Time budget (s)",
    "label_smoothing": "Label smoothing",
    "class_weights": "Class weights",
}
# Shown in their own columns (or not a setting at all), so never as a "differs" column.
NOT_DIFF_COLUMNS = frozenset({"dataset", "model", "name"})


def setting_label(key: str) -> str:
    return SETTING_LABELS.get(key) or key.replace("_", " ").capitalize()


def sort_key(value: Any) -> tuple:
    """Numbers before words before nothing; comparable across every type a column can hold."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0.0, "")
    if isinstance(value, (bool, int, float)):
        return (0, float(value), "")
    if isinstance(value, _dt.datetime):
        return (0, value.timestamp(), "")
    if isinstance(value, (dict, list)):
        return (1, 0.0, json.dumps(value, sort_keys=True, default=str).lower())
    return (1, 0.0, str(value).lower())


def format_params(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f} M"
    if n >= 10_000:
        return f"{n / 1000:.0f} k"
    return f"{n:,}"


def format_percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{100 * value:.2f} %"


def search_text(run: RunInfo) -> str:
    """What the filter box matches: names, dataset, model, note, state and ``setting=value`` words."""
    config = run.config
    words = [run.label, run.name, run.dataset, str(config.get("dataset") or ""), run.model, run.note, run.state]
    words += [f"{k}={format_setting(k, v)}" for k, v in config.items()]
    if run.problems:
        words.append("problem")
    return " ".join(words).lower()


def workspace_label(workspace: Path | None) -> str:
    root = paths.runs_dir(workspace)
    home = Path.home()
    try:
        return "~" + os.sep + str(root.relative_to(home))
    except ValueError:
        return str(root)
