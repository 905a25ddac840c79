"""Model cards: the JSON file beside every saved model (``model.keras`` -> ``model.json``).

A card records what a person needs to use the model without the app's help: class names, input
shape and colour mode, dataset, architecture, hyper-parameters, metrics, app version and date,
how it was trained (``compute``: precision and devices; the saved model itself is float32), and
the background of the training images (``background``: their typical border colour, ``[v]`` grey or
``[r, g, b]``), onto which Predict flattens transparent pictures. Older cards have no background;
transparency is then flattened onto white.
Models without a card still load; the app then infers the input shape and number of classes and
asks only for class names.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from core import __version__, atomic
from core.errors import RunError

CARD_FORMAT = "cnn-workbench-card/1"


def card_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def make_card(
    *,
    class_names: list[str],
    input_shape: tuple[int, int, int] | list[int],
    dataset: dict[str, Any],
    architecture: dict[str, Any],
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    command: str | None = None,
    background: list[int] | None = None,
    compute: dict[str, Any] | None = None,
    auto: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    shape = [int(v) for v in input_shape]
    card = {
        "format": CARD_FORMAT,
        "class_names": list(class_names),
        "input_shape": shape,
        "color_mode": "grayscale" if shape[-1] == 1 else "rgb",
        "dataset": dataset,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        "metrics": metrics or {},
        "app_version": __version__,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if command:
        card["command"] = command
    if background is not None:
        card["background"] = [int(v) for v in background]
    if compute:
        card["compute"] = compute  # the precision and devices the model was trained with (core/compute.py)
    if auto:
        card["auto"] = auto  # what core/auto.py chose, each with its reason: [{"what", "value", "why"}]
    return card


def background(card: dict[str, Any] | None) -> tuple[int, ...] | None:
    """The training images' background a card records (``(v,)`` or ``(r, g, b)``), None if it has none."""
    value = (card or {}).get("background")
    if not isinstance(value, list) or len(value) not in (1, 3):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return None
    return tuple(value)


def write_card(model_path: str | Path, card: dict[str, Any]) -> Path:
    path = card_path(model_path)
    atomic.write_json(path, card)
    return path


def read_card(model_path: str | Path) -> dict[str, Any] | None:
    """The card beside ``model_path``, or ``None`` if there is none. A damaged card raises RunError."""
    path = card_path(model_path)
    if not path.exists():
        return None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(
            f"The model card {path.name} cannot be read; the model may still load without it.",
            detail=str(exc),
        ) from exc
    if not isinstance(card, dict) or not isinstance(card.get("class_names"), list):
        raise RunError(f"The model card {path.name} has no class names; the model may still load without it.")
    return card
