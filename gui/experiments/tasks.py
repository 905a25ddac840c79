"""The Experiments tab's tasks: run a study, read its trials, list, delete (TaskSlots on the tab's runners).

The GUI process never trains a trial: :func:`core.studies.runner.run_study` (and ``join_study`` to
continue one) starts the study's worker processes and only watches them, on the tab's own runner
(``study_jobs``), so the Train tab's runner stays free. Stop cancels that task's token: the runner
terminates its workers, each stops its trial within a batch and queues it again, and the study is kept.

What the view shows is read from the study's storage by :class:`StudyReader` on ``io_jobs``, polled
while the study runs: the trials (:func:`core.studies.table.trial_rows`), the validation curve of a
running trial from its run's ``history.csv``, and Optuna's parameter importance when the set of
completed trials changes. The reader keeps its storage open between polls (a journal file is then
read from where it stopped, not from the start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import runs
from core.studies import storage as storage_mod
from core.studies.plan import StudyPlan
from core.studies.table import TrialRow, trial_rows
from gui.experiments.state import Importance

log = logging.getLogger(__name__)


@dataclass
class Reading:
    """One reading of a study's storage."""

    plan: StudyPlan
    folder: Path
    rows: list[TrialRow]
    importance: Importance | None = None  # None: unchanged since the last reading
    curves: dict[int, list[dict[str, float]]] = field(default_factory=dict)  # running trials' histories


class StudyReader:
    """Reads a study's trials; used from one task at a time (the io runner runs one job at a time)."""

    def __init__(self, workspace: Path | None = None) -> None:
        self.workspace = workspace
        self._opened: tuple[str, Any, Any, StudyPlan, Path] | None = None  # name, study, storage, plan, folder
        self._importance_key: tuple | None = None

    def forget(self) -> None:
        self._opened, self._importance_key = None, None

    def read(self, name: str, storage: str | None = None) -> Reading:
        import optuna

        opened = self._opened  # forget() may run meanwhile in the GUI thread: use one snapshot
        if opened is None or opened[0] != name:
            study, plan, backend, folder = storage_mod.load_study(name, storage, self.workspace)
            opened = (name, study, backend, plan, folder)
            self._opened, self._importance_key = opened, None
        _, study, backend, plan, folder = opened
        study = optuna.Study(study_name=name, storage=backend)  # cheap: the storage keeps what it read
        rows = trial_rows(study)
        for r in rows:
            if r.state == "running" and r.run_dir:
                history = runs.read_history(Path(r.run_dir))
                r.curve = [h.get("val_accuracy") for h in history]
                r.epochs = len(history) or None
        importance = None
        key = tuple((r.number, r.value) for r in rows if r.state == "complete")
        if key != self._importance_key:
            self._importance_key = key
            importance = parameter_importance(study, plan)
        return Reading(plan, folder, rows, importance)


def parameter_importance(study, plan: StudyPlan) -> Importance:
    """Optuna's fANOVA importance of each factor, or a sentence saying why there is none yet."""
    import optuna
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 2:
        return Importance(message=f"Parameter importance needs at least two completed trials ({len(done)} so far).")
    if len(plan.factors) < 2:
        return Importance(
            {plan.factors[0].key: 1.0},
            message="With one factor, all of the objective's variation is that factor's.",
        )
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=32, seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as exc:
        return Importance(message=f"Parameter importance cannot be computed yet: {exc}")
    except Exception as exc:  # noqa: BLE001 - an evaluator's failure must not stop the live view
        log.warning("Parameter importance failed", exc_info=True)
        return Importance(message=f"Parameter importance cannot be computed ({type(exc).__name__}).")
    if not values:
        return Importance(
            message="Parameter importance needs completed trials that share their factors "
            "(conditional factors count only where they apply)."
        )
    return Importance(dict(values), message="Optuna's fANOVA importance: the share of the objective's variance.")


def run_job(plan: StudyPlan, jobs: int, workspace: Path | None, *, resume: bool):
    """The study task: start (or continue) ``plan``'s study in ``jobs`` worker processes and wait for them."""

    def job(reporter, cancel):
        from core.studies.runner import join_study, run_study

        if resume:
            return join_study(plan.name, plan.storage, jobs=jobs, workspace=workspace, cancel=cancel, in_process=False)
        return run_study(plan, jobs=jobs, workspace=workspace, cancel=cancel, in_process=False)

    return job


def list_job(workspace: Path | None):
    return lambda reporter, cancel: storage_mod.list_studies(workspace)


def delete_job(name: str, workspace: Path | None):
    return lambda reporter, cancel: storage_mod.delete_study(name, workspace, system_trash=True)


def compare_job(study: str, chosen: list[tuple[int, Path]]):
    """The selected trials' runs for the shared comparison (histories, settings, results)."""
    from gui.widgets.run_compare import CompareEntry

    def job(reporter, cancel):
        out = []
        for number, path in chosen:
            if path.is_dir():
                info = runs.read_run(path)
                out.append(CompareEntry(path, f"{study} #{number}", runs.read_history(path), info.config, info))
        return out

    return job
