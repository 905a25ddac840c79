"""What a study varies: factors (settings or model options, a list of values or a range), the design,
the budget, the objective and the pruner, checked before anything starts.

A plan comes from the command line (``--vary KEY=V1,V2`` or ``KEY=LO..HI[:log]``), from a TOML file
(``resources/studies/*.toml``) or from the GUI. Every check raises :class:`StudyError` with one sentence.
Nothing here imports TensorFlow or Optuna.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelError, WorkbenchError
from core.studies.designs import format_value, planned_trials
from core.values import EXPECTED, as_kind

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DESIGNS = ("ofat", "grid", "random", "tpe")
DESIGN_TITLES = {"ofat": "one factor at a time", "grid": "full grid", "random": "random", "tpe": "TPE (Bayesian)"}
OBJECTIVES = ("val_accuracy", "val_loss")
PRUNERS = ("none", "median", "hyperband")
NOT_FACTORS = ("name", "model_options")  # TrainConfig fields a study cannot vary
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class StudyError(WorkbenchError):
    """A study cannot be defined, started or found as asked."""


# --------------------------------------------------------------------------------------------
# Settings and their types


def config_fields() -> dict[str, type]:
    """The TrainConfig fields a study can vary -> the Python type their values take (int for
    ``int | None``); ``NOT_FACTORS`` left out. The plan's checks and the Experiments tab's list of
    candidates both use it."""
    from core.config import TrainConfig

    types: dict[str, type] = {}
    for f in dataclasses.fields(TrainConfig):
        if f.name in NOT_FACTORS:
            continue
        annotation = str(f.type)
        for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
            if re.match(rf"^{name}\b", annotation):
                types[f.name] = kind
                break
    return types


def _coerce(key: str, kind: type, value: Any) -> Any:
    """``value`` (maybe a string from the command line) as ``kind``, or StudyError."""
    if kind in EXPECTED:
        try:
            return as_kind(value, kind)
        except ValueError as exc:
            raise StudyError(f"Factor {key} takes {exc}; {value!r} is not one.") from None
    if isinstance(value, bool | dict | list):
        raise StudyError(f"Factor {key} takes text; {value!r} is not text.")
    return str(value).strip()


# --------------------------------------------------------------------------------------------
# Factors


@dataclass
class Factor:
    """One thing a study varies: a TrainConfig field ("setting") or a model option ("option")."""

    key: str
    values: list[Any] | None = None  # a list of values ...
    low: float | None = None  # ... or a range (random and TPE designs)
    high: float | None = None
    log: bool = False
    when: dict[str, list[Any]] = field(default_factory=dict)  # only when another factor has one of these values
    kind: str = ""  # "setting" or "option", filled in by StudyPlan.check
    integer: bool = False  # a range over whole numbers

    @property
    def is_range(self) -> bool:
        return self.values is None

    def describe(self) -> str:
        if self.is_range:
            text = f"{format_value(self.low)}..{format_value(self.high)}" + (":log" if self.log else "")
        else:
            text = ",".join(format_value(v) for v in self.values or [])
        if self.when:
            text += " if " + " and ".join(f"{k}={','.join(format_value(v) for v in vs)}" for k, vs in self.when.items())
        return f"{self.key}={text}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Factor:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_RANGE = re.compile(r"^\s*([^.\s][^\s]*?)\s*\.\.\s*([^:\s]+)\s*(?::\s*(log|linear))?\s*$")


def _split_values(text: str) -> list[str]:
    """``32x5,64x3`` style values keep their commas when grouped in quotes or brackets: ``[2,2,1],[1]``."""
    text = text.strip()
    if text.startswith("["):
        groups = re.findall(r"\[([^\]]*)\]", text)
        return [g.strip() for g in groups]
    return [p.strip().strip("\"'") for p in text.split(",") if p.strip()]


def parse_vary(text: str) -> Factor:
    """``KEY=V1,V2``, ``KEY=LO..HI``, ``KEY=LO..HI:log``, each optionally followed by ``@OTHER=V1,V2``
    (or `` if OTHER=V1,V2``): vary KEY only when OTHER has one of those values.

    Values that themselves hold commas (conv layer lists) go in brackets: ``conv_layers=[32x5,64x3],[32x3]``.
    """
    raw = text.strip()
    when: dict[str, list[Any]] = {}
    cond_match = re.search(r"\s+if\s+|@", raw)
    if cond_match:
        raw, cond = raw[: cond_match.start()], raw[cond_match.end() :]
        for part in re.split(r"\s+and\s+", cond.strip()):
            if "=" not in part:
                raise StudyError(f"The condition in '{text}' is not OTHER=VALUE (e.g. momentum=0,0.9@optimizer=sgd).")
            ck, cv = part.split("=", 1)
            when[ck.strip()] = _split_values(cv)
    if "=" not in raw:
        raise StudyError(f"'{text}' is not KEY=V1,V2 or KEY=LO..HI[:log] (e.g. --vary batch_size=64,128).")
    key, spec = (s.strip() for s in raw.split("=", 1))
    if not key:
        raise StudyError(f"'{text}' names no setting before '='.")
    m = _RANGE.match(spec)
    if m and not spec.startswith("["):
        try:
            low, high = float(m.group(1)), float(m.group(2))
        except ValueError as exc:
            raise StudyError(f"The range in '{text}' needs two numbers, like 1e-4..1e-2.") from exc
        return Factor(key, low=low, high=high, log=m.group(3) == "log", when=when)
    values = _split_values(spec)
    if not values:
        raise StudyError(f"Factor {key} has no values: give them as {key}=V1,V2.")
    return Factor(key, values=values, when=when)


# --------------------------------------------------------------------------------------------
# The plan


@dataclass
class StudyPlan:
    """Everything that defines a study. ``base`` is the baseline TrainConfig as a dict."""

    name: str
    base: dict[str, Any]
    factors: list[Factor]
    design: str = "grid"
    trials: int | None = None  # at most this many trials (grid/ofat: the first N of the design)
    time_budget: float | None = None  # seconds of wall time after which no trial starts
    objective: str = "val_accuracy"
    pruner: str = "none"
    storage: str | None = None  # None: a journal file in the study folder
    retries: int = 2  # how often a trial whose worker died is run again
    seed: int = 0  # the sampler's seed

    @property
    def direction(self) -> str:
        return "minimize" if self.objective == "val_loss" else "maximize"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["factors"] = [f.to_dict() for f in self.factors]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyPlan:
        known = {f.name for f in dataclasses.fields(cls)}
        plan = cls(**{k: v for k, v in data.items() if k in known and k != "factors"}, factors=[])
        plan.factors = [Factor.from_dict(f) for f in data.get("factors", [])]
        return plan

    def search_space(self) -> dict[str, Any]:
        """What must match for trials to belong to one study: design, factors, fixed settings, objective."""
        base = {k: v for k, v in self.base.items() if k != "name"}
        return {
            "design": self.design,
            "objective": self.objective,
            "factors": {f.key: f.describe() for f in self.factors},
            "base": base,
        }

    def factor(self, key: str) -> Factor | None:
        return next((f for f in self.factors if f.key == key), None)

    # ----------------------------------------------------------------------------------------
    def check(self) -> StudyPlan:
        """Validate and normalise (types, kinds); raise StudyError with one sentence. Returns self."""
        from core.config import TrainConfig
        from core.models import get_spec

        if not _NAME.match(self.name or ""):
            raise StudyError(
                f"A study name is 1-80 letters, digits, '.', '_' or '-' (starting with a letter or digit); "
                f"{self.name!r} is not one."
            )
        if self.design not in DESIGNS:
            raise StudyError(f"The design must be one of {', '.join(DESIGNS)}; {self.design!r} is not.")
        if self.objective not in OBJECTIVES:
            raise StudyError(f"The objective must be one of {', '.join(OBJECTIVES)}; {self.objective!r} is not.")
        if self.pruner not in PRUNERS:
            raise StudyError(f"The pruner must be one of {', '.join(PRUNERS)}; {self.pruner!r} is not.")
        if self.trials is not None and self.trials < 1:
            raise StudyError(f"A study needs at least 1 trial; {self.trials} were asked for.")
        if self.time_budget is not None and not self.time_budget > 0:
            raise StudyError("The time budget must be above 0 (e.g. 10m).")
        if self.retries < 0:
            raise StudyError("Retries cannot be negative.")
        fields = config_fields()
        unknown_base = sorted(set(self.base) - set(fields) - set(NOT_FACTORS))
        if unknown_base:
            raise StudyError(f"The baseline has settings that do not exist: {', '.join(unknown_base)}.")
        base = TrainConfig.from_dict(self.base)
        try:
            base.validate()
        except WorkbenchError as exc:
            raise StudyError(f"The baseline settings cannot train: {exc}") from exc
        if base.validation_split <= 0:
            raise StudyError(f"The objective {self.objective} needs a validation split above 0.")
        self.base = base.to_dict()
        if not self.factors:
            raise StudyError("A study needs at least one factor to vary (e.g. --vary batch_size=64,128).")
        seen: set[str] = set()
        models = [base.model]
        model_factor = next((f for f in self.factors if f.key == "model"), None)
        if model_factor is not None and model_factor.values:
            models = [str(v).strip().lower() for v in model_factor.values]
            for name in models:
                try:
                    get_spec(name)
                except ModelError as exc:
                    raise StudyError(f"Factor model: {exc}") from exc
        from core.auto import AUTO, RECIPE_FIELDS

        for f in self.factors:
            if f.key in seen:
                raise StudyError(f"Factor {f.key} is given twice; list all its values in one factor.")
            seen.add(f.key)
            if base.recipe == AUTO and f.key in RECIPE_FIELDS:
                raise StudyError(
                    f"Factor {f.key} is chosen by the baseline's Auto recipe, which would overwrite every "
                    f"trial's value; set the baseline's recipe to manual (--set recipe=manual) to vary it."
                )
            self._check_factor(f, fields, base, models)
        for f in self.factors:
            for other, allowed in f.when.items():
                target = self.factor(other)
                if target is None or other == f.key:
                    raise StudyError(
                        f"Factor {f.key} depends on {other}, which is not another factor of this study; "
                        f"vary {other} too or drop the condition."
                    )
                if target.is_range:
                    raise StudyError(f"Factor {f.key} depends on {other}, which is a range; conditions need a list.")
                if target.when:
                    raise StudyError(f"Factor {f.key} depends on {other}, which itself has a condition.")
                kind = fields.get(other) if target.kind == "setting" else type(target.values[0])
                f.when[other] = [_coerce(other, kind or str, v) for v in allowed]
        if self.design in ("ofat", "grid"):
            for f in self.factors:
                if f.is_range:
                    raise StudyError(
                        f"Factor {f.key} is a range; the {DESIGN_TITLES[self.design]} design needs a list of values "
                        f"(ranges are for the random and TPE designs)."
                    )
        elif self.trials is None and self.time_budget is None:
            raise StudyError(f"The {self.design} design needs a budget: a number of trials or a time budget.")
        planned = planned_trials(self)
        if planned is not None and not planned:
            raise StudyError(
                f"This {DESIGN_TITLES[self.design]} design yields no trial: every value given is the baseline's own."
                if self.design == "ofat"
                else "This design yields no trial."
            )
        for params in planned or []:
            self._check_config(params)
        return self

    def _check_factor(self, f: Factor, fields: dict[str, type], base, models: list[str]) -> None:
        from core.models import get_spec, resolve_options

        if f.key in fields:
            f.kind = "setting"
            kind = fields[f.key]
        else:
            specs = [get_spec(m) for m in models]
            owners = [s for s in specs if f.key in s.options]
            if not owners or f.key in NOT_FACTORS:
                known = ", ".join(sorted(fields))
                options = sorted({k for s in specs for k in s.options})
                raise StudyError(
                    f"'{f.key}' is not a setting or an option of {', '.join(s.name for s in specs)}: "
                    f"settings are {known}; model options are {', '.join(options) or 'none'}."
                )
            f.kind = "option"
            default = owners[0].options[f.key]
            kind = type(default)
        if f.is_range:
            if kind not in (int, float):
                raise StudyError(f"Factor {f.key} takes {kind.__name__} values, so it cannot be a range; list them.")
            if f.low is None or f.high is None or not (math.isfinite(f.low) and math.isfinite(f.high)):
                raise StudyError(f"Factor {f.key}'s range needs a low and a high end.")
            if not f.low < f.high:
                raise StudyError(
                    f"The range {format_value(f.low)}..{format_value(f.high)} of {f.key} is empty: "
                    "the low end must be below the high end."
                )
            if f.log and f.low <= 0:
                raise StudyError(f"A log range of {f.key} must start above 0; it starts at {format_value(f.low)}.")
            f.integer = kind is int
            if f.integer:
                f.low, f.high = int(math.ceil(f.low)), int(math.floor(f.high))
                if f.low >= f.high:
                    raise StudyError(f"The range of {f.key} holds fewer than two whole numbers.")
            for end in (f.low, f.high):
                self._check_value(f, end, base, models)
            return
        if not f.values:
            raise StudyError(f"Factor {f.key} has no values.")
        values = []
        for v in f.values:
            if f.kind == "setting":
                v = _coerce(f.key, kind, v)
            else:
                owner = next(m for m in models if f.key in get_spec(m).options)
                try:
                    resolved = resolve_options(owner, {f.key: v})[f.key]
                    base_value = resolve_options(owner, self.base.get("model_options") or {}).get(f.key)
                except ModelError as exc:
                    raise StudyError(f"Factor {f.key}: {exc}") from exc
                if isinstance(resolved, str) and resolved != base_value:  # keep "2,1", not "2,1,1,1,1,1"
                    resolved = ",".join(str(x) for x in v) if isinstance(v, list | tuple) else str(v).strip()
                v = resolved
            if f.key == "model":
                v = str(v).strip().lower()
            if v not in values:
                values.append(v)
        f.values = values
        for v in values:
            self._check_value(f, v, base, models)

    def _check_value(self, f: Factor, value: Any, base, models: list[str]) -> None:
        params = {f.key: value}
        if f.kind == "option" and f.key not in self.config_for({}).model_options:
            from core.models import get_spec

            owner = next((m for m in models if f.key in get_spec(m).options), None)
            if owner and f.key not in get_spec(self.base["model"]).options:
                params["model"] = owner
        try:
            self._check_config(params, check_input=False)
        except StudyError as exc:
            raise StudyError(f"Factor {f.key}={format_value(value)}: {exc}") from exc

    def _check_config(self, params: dict[str, Any], check_input: bool = False) -> None:
        from core.models import resolve_options

        config = self.config_for(params)
        try:
            config.validate()
            resolve_options(config.model, config.model_options)
        except WorkbenchError as exc:
            raise StudyError(str(exc)) from exc

    def config_for(self, params: dict[str, Any], label: str = ""):
        """The TrainConfig of a trial: the baseline with the trial's values."""
        from core.config import TrainConfig
        from core.models import get_spec

        data = dict(self.base)
        options = dict(self.base.get("model_options") or {})
        for key, value in params.items():
            f = self.factor(key)
            if f is None:
                continue
            if f.kind == "option":
                options[key] = value
            else:
                data[key] = value
        if "model" in params:  # another model: keep only the options it has
            spec_options = get_spec(data["model"]).options
            options = {k: v for k, v in options.items() if k in spec_options}
        data["model_options"] = options
        if label:
            data["name"] = label
        return TrainConfig.from_dict(data)

    def baseline_params(self) -> dict[str, Any]:
        """Each list factor's baseline value (the base config's own value)."""
        config = self.config_for({})
        out = {}
        for f in self.factors:
            if f.kind == "option":
                from core.models import resolve_options

                try:
                    out[f.key] = resolve_options(config.model, config.model_options).get(f.key)
                except WorkbenchError:
                    out[f.key] = None
            else:
                out[f.key] = getattr(config, f.key)
        return out


# --------------------------------------------------------------------------------------------
# Plan files


def parse_duration(text: str | float | int | None) -> float | None:
    """``90``, ``90s``, ``10m``, ``1.5h``, ``1h30m`` -> seconds; StudyError for anything else."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms]?)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise StudyError(f"'{text}' is not a duration like 90s, 10m or 1h30m.")
    scale = {"h": 3600, "m": 60, "s": 1, "": 1}
    return float(sum(float(n) * scale[u] for n, u in parts))


def load_plan_file(path: str | Path) -> dict[str, Any]:
    """A study file (TOML) as the keyword arguments of a plan: see resources/studies/*.toml."""
    path = Path(path).expanduser()
    if not path.is_file():
        from core.paths import RESOURCES_DIR

        bundled = RESOURCES_DIR / "studies" / (path.name if path.suffix else f"{path.name}.toml")
        if not bundled.is_file():
            raise StudyError(f"There is no study file at {path}.")
        path = bundled
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StudyError(f"The study file {path} cannot be read: {exc}.") from exc
    known = {"name", "title", "description", "dataset", "design", "trials", "time_budget", "objective", "pruner"}
    known |= {"storage", "retries", "seed", "base", "vary"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise StudyError(f"The study file {path.name} has keys it does not know: {', '.join(unknown)}.")
    base = dict(data.get("base") or {})
    if "dataset" in data:
        base["dataset"] = data["dataset"]
    factors = []
    for key, spec in (data.get("vary") or {}).items():
        if isinstance(spec, list):
            factors.append(Factor(key, values=list(spec)))
        elif isinstance(spec, dict):
            when = {k: (v if isinstance(v, list) else [v]) for k, v in (spec.get("when") or {}).items()}
            if "values" in spec:
                factors.append(Factor(key, values=list(spec["values"]), when=when))
            elif "low" in spec and "high" in spec:
                factors.append(Factor(key, low=spec["low"], high=spec["high"], log=bool(spec.get("log")), when=when))
            else:
                raise StudyError(f"Factor {key} in {path.name} needs 'values' or 'low' and 'high'.")
        else:
            factors.append(Factor(key, values=[spec]))
    out: dict[str, Any] = {"base": base, "factors": factors}
    for key in ("name", "design", "trials", "objective", "pruner", "storage", "retries", "seed"):
        if key in data:
            out[key] = data[key]
    if "time_budget" in data:
        out["time_budget"] = parse_duration(data["time_budget"])
    out.setdefault("name", path.stem)
    return out


def default_name(base: dict[str, Any], design: str) -> str:
    """A new study's name when none is given: model, dataset, design and the time
    (``simple-cnn-2-mnist-sample-grid-20250101-120000``)."""
    import datetime as _dt

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    dataset = Path(str(base.get("dataset") or "data")).name or "data"
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"{base.get('model')}-{dataset}-{design}-{stamp}")[:80]


def bundled_plans() -> list[Path]:
    from core.paths import RESOURCES_DIR

    return sorted((RESOURCES_DIR / "studies").glob("*.toml"))
