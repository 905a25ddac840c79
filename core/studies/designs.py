"""The four designs: which trials a plan makes and how a trial gets its values.

One factor at a time (``ofat``) and the full grid (``grid``) are lists of trials made up front and
queued in the study (Optuna's enqueued trials with fixed parameters); random and TPE queue empty
trials whose values the sampler picks when a worker takes one. Either way each trial exists once in
the storage and is claimed by exactly one worker. A conditional factor (``when``) is suggested only
when the factor it depends on has one of the given values (Optuna's define-by-run conditional space).
"""

from __future__ import annotations

import itertools
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from core.studies.plan import Factor, StudyPlan


def format_value(value: Any) -> str:
    """A factor value as a person writes it (``true``, ``0.001``, ``32x5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")


def _active(f: Factor, params: dict[str, Any]) -> bool:
    return all(params.get(k) in allowed for k, allowed in f.when.items())


def _grid(plan: StudyPlan) -> list[dict[str, Any]]:
    plain = [f for f in plan.factors if not f.when]
    keys = [f.key for f in plain]
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(f.values for f in plain))]
    for f in (f for f in plan.factors if f.when):
        expanded = []
        for params in combos:
            if _active(f, params):
                expanded.extend({**params, f.key: v} for v in f.values)
            else:
                expanded.append(params)
        combos = expanded
    return combos


def _ofat(plan: StudyPlan) -> list[dict[str, Any]]:
    """The baseline, then each factor's values alone (a conditional factor's rows also set its condition)."""
    base = plan.baseline_params()
    baseline = {f.key: base[f.key] for f in plan.factors if not f.when}
    for f in plan.factors:
        if f.when and _active(f, baseline):
            baseline[f.key] = base[f.key]
    rows = [baseline]
    for f in plan.factors:
        for v in f.values:
            params = dict(baseline)
            for other, allowed in f.when.items():
                if params.get(other) not in allowed:
                    params[other] = allowed[0]
            for g in plan.factors:  # drop conditional values whose condition no longer holds
                if g.when and g.key != f.key and not _active(g, params):
                    params.pop(g.key, None)
            params[f.key] = v
            for g in plan.factors:  # a condition that now holds brings its factor in at the baseline value
                if g.when and g.key not in params and _active(g, params):
                    params[g.key] = base[g.key]
            if params not in rows:
                rows.append(params)
    return rows if len(rows) > 1 else []


def planned_trials(plan: StudyPlan) -> list[dict[str, Any]] | None:
    """The trials of a grid or OFAT plan (cut to ``plan.trials``), or None for random/TPE."""
    if plan.design == "grid":
        trials = _grid(plan)
    elif plan.design == "ofat":
        trials = _ofat(plan)
    else:
        return None
    return trials[: plan.trials] if plan.trials else trials


def row_label(plan: StudyPlan, params: dict[str, Any]) -> tuple[str, str]:
    """For an OFAT trial: (factor, value) it changes against the baseline, or ("baseline", "")."""
    base = plan.baseline_params()
    changed = [f for f in plan.factors if f.key in params and params[f.key] != base.get(f.key)]
    if not changed:
        return "baseline", ""
    main = [f for f in changed if not any(f.key in g.when for g in changed if g is not f)] or changed
    f = main[-1]
    extra = [g for g in changed if g is not f]
    value = format_value(params[f.key]) + (
        " (" + ", ".join(f"{g.key}={format_value(params[g.key])}" for g in extra) + ")" if extra else ""
    )
    return f.key, value


def distribution(plan: StudyPlan, f: Factor):
    """The Optuna distribution of a factor; list factors of grid/OFAT also hold the baseline value."""
    import optuna

    if f.is_range:
        if f.integer:
            return optuna.distributions.IntDistribution(int(f.low), int(f.high), log=f.log)
        return optuna.distributions.FloatDistribution(float(f.low), float(f.high), log=f.log)
    choices = list(f.values)
    if plan.design in ("ofat", "grid"):
        base = plan.baseline_params().get(f.key)
        if base is not None and base not in choices:
            choices.append(base)
    return optuna.distributions.CategoricalDistribution(choices)


def suggest(trial: optuna.Trial, plan: StudyPlan) -> dict[str, Any]:
    """Ask the trial for each active factor's value, parents before conditional factors."""
    params: dict[str, Any] = {}
    for f in sorted(plan.factors, key=lambda f: bool(f.when)):
        if not _active(f, params):
            continue
        dist = distribution(plan, f)
        if not f.is_range:
            params[f.key] = trial.suggest_categorical(f.key, dist.choices)
        elif f.integer:
            params[f.key] = trial.suggest_int(f.key, int(f.low), int(f.high), log=f.log)
        else:
            params[f.key] = trial.suggest_float(f.key, float(f.low), float(f.high), log=f.log)
    return params


def make_sampler(plan: StudyPlan, worker: int = 0):
    import optuna

    quiet_optuna()
    seed = plan.seed + 1000 * worker  # parallel workers must not draw the same random values
    if plan.design == "tpe":
        startup = max(2, min(10, (plan.trials or 40) // 4))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(plan: StudyPlan):
    import optuna

    epochs = int(plan.base.get("epochs") or 1)
    if plan.pruner == "median":
        startup = max(2, min(5, (plan.trials or 20) // 4))
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    if plan.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(2, epochs), reduction_factor=3)
    return optuna.pruners.NopPruner()
