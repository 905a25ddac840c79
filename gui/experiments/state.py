"""What the Experiments tab is doing, without Qt: the study being set up, the one shown, its trials.

The setup is kept as people type it (a factor is a key and the text of its values, ``64,128`` or
``1e-4..1e-2:log``, optionally ``@optimizer=sgd``); :meth:`ExperimentsState.plan` turns it into a
:class:`core.studies.plan.StudyPlan` and :meth:`ExperimentsState.preview` checks it with the engine's
own checks (``StudyPlan.check``), so the sentences shown are the engine's. The trials shown come from
the study's storage (:func:`core.studies.table.trial_rows`, read by a task); the plots' data
(objective by trial, best so far, parallel coordinates) are derived here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from core.studies import designs
from core.studies.plan import (
    DESIGN_TITLES,
    StudyError,
    StudyPlan,
    config_fields,
    default_name,
    load_plan_file,
    parse_duration,
    parse_vary,
)
from core.studies.plan import NOT_FACTORS as _NOT_FACTORS
from core.studies.storage import search_space_difference
from core.studies.table import TrialRow, best_row, table_data


class Phase(Enum):
    IDLE = "idle"  # setting up, or showing a study that is not running
    RUNNING = "running"  # the study's workers run trials
    STOPPING = "stopping"  # Stop pressed: running trials stop within a batch and are queued again


#: Settings a study may vary, with a plain label; the rest of TrainConfig is fixed by the baseline.
SETTINGS_NOT_OFFERED = (*_NOT_FACTORS, "dataset", "tensorboard", "seed", "validation_split", "test_split", "limit")
PRUNER_TITLES = {"none": "none", "median": "median", "hyperband": "Hyperband (successive halving)"}
OBJECTIVE_TITLES = {"val_accuracy": "validation accuracy (higher is better)", "val_loss": "validation loss (lower)"}
FINISHED = ("complete", "pruned", "failed")
SAVED = ("design", "trials", "time_budget", "objective", "pruner", "jobs", "storage")  # remembered between sessions


@dataclass
class FactorDraft:
    """One factor as typed: the setting or option and the text of its values."""

    key: str
    values: str

    def text(self) -> str:
        return f"{self.key}={self.values}"


@dataclass(frozen=True)
class Candidate:
    """Something a study can vary: a TrainConfig field ("setting") or an option of the baseline's model."""

    key: str
    kind: str  # "setting" or "option"
    value: Any  # the baseline's value
    help: str = ""

    @property
    def hint(self) -> str:
        """What to type: a list, or a range for numbers."""
        if isinstance(self.value, bool):
            return "true,false"
        if isinstance(self.value, int | float):
            return "V1,V2 or LOW..HIGH (random/TPE; add :log for a log range)"
        return "V1,V2 (comma-separated; [a,b],[c] for values with commas)"


@dataclass
class Preview:
    """What the setup would start: the number of trials, or why it cannot start."""

    ok: bool
    text: str
    trials: int | None = None  # None: random/TPE with only a time budget
    plan: StudyPlan | None = None
    info: bool = False  # a note (a study is running), not a problem


@dataclass
class Importance:
    """Optuna's parameter importance of the shown study, or why there is none yet."""

    values: dict[str, float] = field(default_factory=dict)
    message: str = "Parameter importance needs at least two completed trials with different values."


def candidates(baseline: dict[str, Any]) -> list[Candidate]:
    """The settings and the baseline model's options a study can vary, settings first."""
    from core.config import TrainConfig
    from core.models import OPTION_HELP, get_spec, resolve_options

    config = TrainConfig.from_dict(baseline)
    out = [
        Candidate(key, "setting", getattr(config, key))
        for key in config_fields()
        if key not in SETTINGS_NOT_OFFERED and key != "model"
    ]
    out.insert(0, Candidate("model", "setting", config.model, "Another model of the zoo (its own options)."))
    try:
        get_spec(config.model)
        options = resolve_options(config.model, config.model_options)
    except Exception:  # noqa: BLE001 - an unknown model: no options to offer (the preview says why)
        options = {}
    out += [Candidate(key, "option", value, OPTION_HELP.get(key, "")) for key, value in options.items()]
    return out


def value_text(value: Any) -> str:
    return designs.format_value(value)


class ExperimentsState:
    """The setup, the study shown and its trials; what is enabled."""

    def __init__(self) -> None:
        from core.config import TrainConfig

        self.baseline: dict[str, Any] = TrainConfig(epochs=2, limit=1000, tensorboard=False).to_dict()
        self.baseline_source = "the default settings"
        self.factors: list[FactorDraft] = []
        self.name = ""
        self.design = "ofat"
        self.trials = 0  # 0: every trial of a grid or OFAT design; random/TPE need a number or a time
        self.time_budget = ""  # "10m", "1h30m", or empty
        self.objective = "val_accuracy"
        self.pruner = "none"
        self.jobs = 1
        self.storage = ""  # empty: a journal file in the study's folder
        self.existing: dict[str, dict[str, Any]] = {}  # the workspace's studies: name -> plan.json
        self.phase = Phase.IDLE
        self.shown: StudyPlan | None = None  # the study whose trials are shown
        self.shown_folder: Path | None = None
        self.rows: list[TrialRow] = []
        self.importance = Importance()
        self.selected: list[int] = []  # trial numbers
        self.message = ""  # the last problem, shown in the view until the next change

    # -- the setup ---------------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        return int(self.baseline.get("epochs") or 1)

    def set_baseline(self, config: dict[str, Any], source: str) -> None:
        """A new baseline (the Train tab's settings, a study file); factors the new model lacks go."""
        from core.config import TrainConfig

        self.baseline = TrainConfig.from_dict(config).to_dict()
        self.baseline_source = source
        keys = {c.key for c in candidates(self.baseline)}
        self.factors = [f for f in self.factors if f.key in keys]

    def set_field(self, key: str, value: Any) -> None:
        """A baseline setting changed in the setup (epochs per trial, image limit)."""
        self.baseline[key] = value

    def add_factor(self, key: str, values: str) -> None:
        """Add a factor, or replace the values of one already there."""
        key = key.strip()
        for f in self.factors:
            if f.key == key:
                f.values = values.strip()
                return
        self.factors.append(FactorDraft(key, values.strip()))

    def remove_factor(self, key: str) -> None:
        self.factors = [f for f in self.factors if f.key != key]

    def plan(self) -> StudyPlan:
        """The plan of the setup (not yet checked); StudyError for text that is not a factor."""
        factors = [parse_vary(f.text()) for f in self.factors]
        budget = parse_duration(self.time_budget.strip()) if self.time_budget.strip() else None
        return StudyPlan(
            name=self.name.strip() or default_name(self.baseline, self.design),
            base=dict(self.baseline),
            factors=factors,
            design=self.design,
            trials=self.trials or None,
            time_budget=budget,
            objective=self.objective,
            pruner=self.pruner,
            storage=self.storage.strip() or None,
        )

    def preview(self) -> Preview:
        """Check the setup with the engine's checks: how many trials, or the sentence that says why not."""
        if self.phase is not Phase.IDLE and self.shown is not None:
            return Preview(False, f"Study {self.shown.name} is running: Stop it to start another.", info=True)
        try:
            plan = self.plan().check()
        except StudyError as exc:
            return Preview(False, str(exc))
        old = self.existing.get(plan.name)
        if old is not None:
            try:
                diff = search_space_difference(StudyPlan.from_dict(old).search_space(), plan.search_space())
            except (TypeError, ValueError):
                diff = ["its saved plan cannot be read"]
            if diff:
                return Preview(
                    False,
                    f"A study called {plan.name} already exists with a different search space ({'; '.join(diff)}): "
                    "give another name, or the same settings to continue it.",
                    plan=plan,
                )
        if old is not None and self.shown is not None and self.shown.name == plan.name and self.rows:
            left = [r for r in self.visible_rows() if r.state in ("waiting", "running")]
            if not left and plan.design in ("ofat", "grid"):
                return Preview(
                    False,
                    f"Study {plan.name} has run all its trials: give another name to start a new study "
                    "(or change the factors).",
                    plan=plan,
                )
        planned = designs.planned_trials(plan)
        n = len(planned) if planned is not None else plan.trials
        what = DESIGN_TITLES[plan.design]
        if n is None:
            text = f"Trials until the time budget ({self.time_budget.strip()}) is spent ({what})"
        else:
            text = f"{n} trial{'s' if n != 1 else ''} ({what}), up to {n * plan.base['epochs']} epochs in all"
            if plan.design == "ofat":
                text += ": the baseline, then each value alone"
        if plan.time_budget and n is not None:
            text += f"; no trial starts after {self.time_budget.strip()}"
        if old is not None:
            text = f"Continues study {plan.name}: " + text[0].lower() + text[1:]
        return Preview(True, text + ".", n, plan)

    def load_plan_file(self, path: str | Path) -> None:
        """Fill the setup from a study file (TOML); StudyError when it cannot be read."""
        from core.config import TrainConfig

        data = load_plan_file(path)
        base = {**TrainConfig().to_dict(), **data["base"]}
        self.set_baseline(base, Path(path).name)
        self.factors = [draft(f) for f in data["factors"]]
        self.name = str(data.get("name") or "")
        self.design = data.get("design") or "grid"
        self.trials = int(data.get("trials") or 0)
        budget = data.get("time_budget")
        self.time_budget = f"{budget / 60:g}m" if budget else ""
        self.objective = data.get("objective") or "val_accuracy"
        self.pruner = data.get("pruner") or "none"
        self.storage = data.get("storage") or ""

    def setup_from_plan(self, plan: StudyPlan) -> None:
        """The setup of an existing study (to continue it, or to start a variation)."""
        self.set_baseline(plan.base, f"study {plan.name}")
        self.factors = [draft(f) for f in plan.factors]
        self.name, self.design, self.trials = plan.name, plan.design, plan.trials or 0
        self.time_budget = f"{plan.time_budget / 60:g}m" if plan.time_budget else ""
        self.objective, self.pruner, self.storage = plan.objective, plan.pruner, plan.storage or ""

    def settings(self) -> dict[str, Any]:
        """The setup to remember between sessions (AppSettings, ``tabs/experiments``)."""
        values: dict[str, Any] = {key: getattr(self, key) for key in SAVED}
        values["factors"] = [[f.key, f.values] for f in self.factors]
        values["baseline"], values["baseline_source"] = self.baseline, self.baseline_source
        return values

    def restore_settings(self, saved: dict[str, Any]) -> None:
        """Take back what :meth:`settings` saved; values of the wrong type are left out."""
        if isinstance(saved.get("baseline"), dict):
            try:
                self.set_baseline(saved["baseline"], str(saved.get("baseline_source") or "the last session"))
            except (TypeError, ValueError):
                pass  # a baseline from an older version: keep the default
        for item in saved.get("factors") if isinstance(saved.get("factors"), list) else []:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
                self.add_factor(*item)
        for key in SAVED:
            if key in saved and type(saved[key]) is type(getattr(self, key)):
                setattr(self, key, saved[key])

    # -- the study shown -----------------------------------------------------------------------------
    def show_study(self, plan: StudyPlan, folder: Path | None) -> None:
        if self.shown is None or self.shown.name != plan.name:
            self.rows, self.selected, self.importance = [], [], Importance()
        self.shown, self.shown_folder = plan, folder

    def set_rows(self, rows: list[TrialRow]) -> bool:
        """New rows read from the storage; True when something a finished trial shows changed."""
        old = [(r.number, r.state, r.value) for r in self.rows]
        self.rows = rows
        return old != [(r.number, r.state, r.value) for r in rows]

    def visible_rows(self) -> list[TrialRow]:
        """The trials listed: a trial that was stopped or lost and queued again shows once, as its retry."""
        return [r for r in self.rows if r.state not in ("retried", "stopped")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.visible_rows():
            out[r.state] = out.get(r.state, 0) + 1
        return out

    def progress(self) -> tuple[int, int]:
        """(finished, planned) trials of the shown study."""
        rows = self.visible_rows()
        return sum(r.state in FINISHED for r in rows), len(rows)

    def best(self) -> TrialRow | None:
        return best_row(self.rows, self.shown) if self.shown else None

    def summary(self) -> str:
        if self.shown is None:
            return "No study yet: set one up on the left and press Start, or continue one from the list above."
        done, total = self.progress()
        counts = self.counts()
        parts = [f"{n} {s}" for s, n in counts.items() if n and s not in ("waiting",)]
        text = f"Study {self.shown.name}: {done} of {total} trials finished"
        if parts:
            text += " (" + ", ".join(parts) + ")"
        best = self.best()
        if best is not None:
            test = "" if best.test_accuracy is None else f", test accuracy {best.test_accuracy:.4f}"
            text += f". Best: trial {best.number}, {self.shown.objective} {best.value:.4f}{test}"
        return text + "."

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The seeds' table (one factor at a time) or one row per trial: core/studies/table.py."""
        if self.shown is None:
            return [], []
        return table_data(self.rows, self.shown)

    def baseline_text(self) -> str:
        """The shown one-factor-at-a-time study's baseline values (``batch_size=32 optimizer=adam``)."""
        if self.shown is None or self.shown.design != "ofat":
            return ""
        try:
            planned = designs.planned_trials(self.shown) or [{}]
        except Exception:  # noqa: BLE001 - a plan saved by another version: no baseline line
            return ""
        return " ".join(f"{k}={value_text(v)}" for k, v in planned[0].items())

    def objective_series(self) -> tuple[list[int], list[float], list[float]]:
        """Completed trials' numbers and objectives, and the best so far after each."""
        if self.shown is None:
            return [], [], []
        done = sorted((r for r in self.rows if r.state == "complete" and r.value is not None), key=lambda r: r.number)
        xs, ys, best = [], [], []
        pick = min if self.shown.direction == "minimize" else max
        for r in done:
            xs.append(r.number)
            ys.append(float(r.value))
            best.append(pick(best[-1], ys[-1]) if best else ys[-1])
        return xs, ys, best

    def parallel(self) -> tuple[list[str], list[list[str]], list[tuple[list[float], float]]]:
        """Parallel coordinates: axis names, each axis's tick labels (low to high), and per completed
        trial its position on each axis (0..1, NaN where a conditional factor does not apply) and objective."""
        if self.shown is None:
            return [], [], []
        done = [r for r in self.rows if r.state == "complete" and r.value is not None]
        axes, ticks, scales = [], [], []
        for f in self.shown.factors:
            axes.append(f.key)
            if f.is_range:
                lo, hi = float(f.low), float(f.high)
                if f.log:
                    scales.append(lambda v, lo=lo, hi=hi: (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
                else:
                    scales.append(lambda v, lo=lo, hi=hi: (v - lo) / (hi - lo))
                ticks.append([value_text(lo), value_text(hi)])
                continue
            values = list(f.values or [])
            base = self.shown.baseline_params().get(f.key)
            if base is not None and base not in values:
                values.insert(0, base)
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                values = sorted(values)
            texts = [value_text(v) for v in values]
            n = max(1, len(values) - 1)
            scales.append(
                lambda v, texts=texts, n=n: texts.index(value_text(v)) / n if value_text(v) in texts else math.nan
            )
            ticks.append(texts)
        values = [float(r.value) for r in done]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        axes.append(self.shown.objective)
        ticks.append([f"{lo:.4f}", f"{hi:.4f}"])
        lines = []
        for r in done:
            ys = [
                scale(r.params[f.key]) if f.key in r.params else math.nan
                for f, scale in zip(self.shown.factors, scales, strict=True)
            ]
            ys.append((float(r.value) - lo) / (hi - lo) if hi > lo else 0.5)
            lines.append((ys, float(r.value)))
        return axes, ticks, lines

    def row(self, number: int) -> TrialRow | None:
        return next((r for r in self.rows if r.number == number), None)

    # -- what is enabled -----------------------------------------------------------------------------
    def enabled(self, preview: Preview | None = None) -> dict[str, bool]:
        running = self.phase is not Phase.IDLE
        shown = self.shown is not None
        left = shown and any(r.state in ("waiting", "running") for r in self.rows)
        return {
            "start": not running and (preview is None or preview.ok),
            "stop": self.phase is Phase.RUNNING,
            "continue": not running and shown and bool(left),
            "delete": not running and shown,
            "export": shown and bool(self.visible_rows()),
            "setup": not running,
        }


def draft(f) -> FactorDraft:
    """A plan's factor as the text typed in the tab (the ``--vary`` syntax: :func:`parse_vary` reads it back)."""

    def listed(values) -> str:
        texts = [value_text(v) for v in values]
        return ",".join(f"[{t}]" for t in texts) if any("," in t for t in texts) else ",".join(texts)

    if f.is_range:
        text = f"{value_text(f.low)}..{value_text(f.high)}" + (":log" if f.log else "")
    else:
        text = listed(f.values or [])
    if f.when:
        text += "@" + " and ".join(f"{k}={listed(v)}" for k, v in f.when.items())
    return FactorDraft(f.key, text)
