"""How a run is named in every list outside the Runs tab: ONE formatter.

:func:`run_label` gives the run's own name (the person's, in ``meta.json``, or the config's
``name``) or, without one, its model and dataset and what sets it apart from its neighbours (the
settings that differ, by THE rule :func:`core.runs.differing_settings`, first, as a narrow list
cuts a label's end), then its date and test accuracy:
``"learning_rate=0.01 · simple-cnn-2 on mnist-sample · 2026-12-02 14:05 · test 97.10 %"``.
:func:`run_labels` labels a whole list (each run against the runs of the same model and dataset);
:func:`model_labels` labels model files (a run's ``model.keras`` by its run), distinct even when
two are alike in every way. The Predict tab's model list, the Gallery and Inside source lists and an
ensemble's members, votes and CSV headers all name runs through here. :func:`format_setting` writes
one setting's value as people read it (also the Runs tab's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core import runs

NONE_TEXT = {"image_size": "auto", "limit": "all", "time_budget": "off"}
#: Shown by the label already (model, dataset) or not a setting (the name).
NOT_SETTINGS = frozenset({"dataset", "model", "name"})
MAX_SETTINGS = 3  # a label names at most this many differing settings, then "…"


def format_setting(key: str, value: Any) -> str:
    """A config value as people read it: on/off, 0.001, dropout=0.3, "auto" for an automatic size."""
    if value is None:
        return NONE_TEXT.get(key, "—")
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_setting(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_setting(key, v) for v in value) or "—"
    if key == "dataset" and isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return str(value)


def given_name(info: runs.RunInfo) -> str:
    """The name a person (or a study) gave the run; "" when it only has its folder's name."""
    return info.label if info.label and info.label != info.name else ""


def _what(info: runs.RunInfo) -> str:
    model = info.model or "?"
    return f"{model} on {info.dataset}" if info.dataset else model


def run_label(info: runs.RunInfo, neighbours: Sequence[runs.RunInfo] = (), *, accuracy: bool = True) -> str:
    """THE name of a run in a list: its name, or what differs from ``neighbours``; date; test accuracy.

    ``neighbours`` are the runs listed beside it that would otherwise look the same (``info`` may be
    among them). ``accuracy=False`` leaves the test accuracy out, for a list with a column of its own.
    """
    parts = [given_name(info)]
    if not parts[0]:  # what sets it apart first: a narrow list cuts the end of a label
        parts = [_what(info)]
        configs = [info.config] + [n.config for n in neighbours if n is not info and n.path != info.path]
        keys = [k for k in runs.differing_settings([c for c in configs if c]) if k not in NOT_SETTINGS]
        if keys and info.config:
            shown = [f"{k}={format_setting(k, info.config.get(k))}" for k in keys[:MAX_SETTINGS]]
            parts.insert(0, ", ".join(shown) + (", …" if len(keys) > MAX_SETTINGS else ""))
    if info.started is not None:
        parts.append(info.started.strftime("%Y-%m-%d %H:%M"))
    acc = info.test_accuracy
    if accuracy and acc is not None and math.isfinite(acc):
        parts.append(f"test {100 * acc:.2f} %")
    return " · ".join(p for p in parts if p)


def _group(info: runs.RunInfo) -> tuple[str, str]:
    return (info.model, info.dataset)


def run_labels(infos: Sequence[runs.RunInfo], *, accuracy: bool = True) -> list[str]:
    """:func:`run_label` for each run of a list, each against the runs of the same model and dataset.

    Labels that still coincide (runs alike in every setting, started the same minute) get the
    run folder's name in brackets, so no two rows of a list read the same.
    """
    groups: dict[tuple[str, str], list[runs.RunInfo]] = {}
    for info in infos:
        groups.setdefault(_group(info), []).append(info)
    labels = [run_label(info, groups[_group(info)], accuracy=accuracy) for info in infos]
    return distinct(labels, [info.name for info in infos])


def distinct(labels: Sequence[str], tie_breakers: Sequence[str]) -> list[str]:
    """``labels`` with ``" (tie_breaker)"`` added to each that is not unique (then ``#n``, if still not)."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    out = [f"{label} ({tie})" if counts[label] > 1 else label for label, tie in zip(labels, tie_breakers, strict=True)]
    seen: dict[str, int] = {}
    for i, label in enumerate(out):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            out[i] = f"{label} #{seen[label]}"
    return out


def run_of_model(path: str | Path) -> runs.RunInfo | None:
    """The run a model file belongs to (a run's ``model.keras`` or ``last.keras``), else None."""
    folder = Path(path).parent
    if not (folder / "config.json").is_file():
        return None
    try:
        return runs.read_run(folder)
    except runs.RunError:
        return None


def model_labels(paths: Sequence[str | Path], titles: Sequence[str], *, accuracy: bool = True) -> list[str]:
    """Labels for model files: a run's model by :func:`run_labels` (among the runs listed), any other by
    its ``titles`` entry; made distinct (by file name or folder) when two would read the same."""
    infos = [run_of_model(p) for p in paths]
    found = [i for i in infos if i is not None]
    by_path = dict(zip([i.path for i in found], run_labels(found, accuracy=accuracy), strict=True))
    labels = [by_path[i.path] if i is not None else str(t) for i, t in zip(infos, titles, strict=True)]
    ties = [Path(p).name if i is None else i.name for p, i in zip(paths, infos, strict=True)]
    return distinct(labels, ties)
