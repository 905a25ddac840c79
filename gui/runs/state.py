"""What the Runs tab shows and may do, in plain Python (no Qt, no TensorFlow).

:class:`RunsState` holds the listed runs (each a :class:`core.runs.RunInfo`), the filter (words and
a state), the sort, the selection, what the comparison shows, the runs waiting for Undo, and
whether a reading of the workspace is due. It decides which actions are enabled, which setting
columns differ among the runs shown, and which two runs a prediction diff compares. The tab
(:mod:`gui.runs.tab`) mirrors it into widgets; ``tests/gui/test_runs_state.py`` drives it alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.runs import RunInfo, differing_settings
from gui.widgets.run_format import NOT_DIFF_COLUMNS, search_text

ACTIONS = (
    "rename",
    "note",
    "delete",
    "undo",
    "gallery",
    "predict",
    "export",
    "train_again",
    "continue",
    "resume",
    "mark_stopped",
    "diff",
    "folder",
    "copy_path",
)


def differing_keys(runs: Iterable[RunInfo]) -> list[str]:
    """Settings that set ``runs`` apart (:func:`core.runs.differing_settings`), less those with their own column.

    A run whose config cannot be read has no say (it would differ in everything).
    """
    return [k for k in differing_settings([r.config for r in runs if r.config]) if k not in NOT_DIFF_COLUMNS]


class RunsState:
    """The Runs tab's state: the runs, the filter and sort, the selection, Undo, pending readings."""

    def __init__(self) -> None:
        self.runs: list[RunInfo] = []
        self.diff_keys: list[str] = []  # settings that differ among all the runs
        self.loaded = False
        self.scans = 0  # readings of the workspace taken in
        self.generation = 0  # counts changes of the runs' contents
        self.words: list[str] = []
        self.state_filter = "all"
        self.sort_column: str | None = "date"
        self.sort_descending = True
        self.selection: list[Path] = []  # in the order the table shows them
        self.compared: tuple = ()  # what the comparison shows (see compare_key)
        self.trashed: list[tuple[Path, Path]] = []  # (where it was, where it is now) of the last delete
        self.stale = True  # the workspace changed (or was never read): read it when the tab is shown
        self.pending: list[RunInfo] | None = None  # a reading that waits for an open editor to close
        self._search: dict[Path, str] = {}
        self._visible: tuple[tuple, list[str]] | None = None

    # -- the runs ----------------------------------------------------------------------------------
    def set_runs(self, runs: list[RunInfo]) -> bool:
        """Take in a reading of the workspace; True when it lists the same runs with the same columns."""
        keys = differing_keys(runs)
        same = keys == self.diff_keys and [r.path for r in runs] == [r.path for r in self.runs]
        self.runs = list(runs)
        self.diff_keys = keys
        self._search.clear()
        self.generation += 1
        self.loaded = True
        self.scans += 1
        self.stale = False
        self.pending = None
        return same

    def update_run(self, run: RunInfo) -> bool:
        """Replace the listed run with the same folder (a training run read again); False if not listed."""
        for i, old in enumerate(self.runs):
            if old.path == run.path:
                self.runs[i] = run
                self.changed(run.path)
                return True
        return False

    def changed(self, path: Path) -> None:
        """A run's name, note or results changed in place."""
        self._search.pop(path, None)
        self.generation += 1
        self.compared = ()

    def run(self, path: Path) -> RunInfo | None:
        for r in self.runs:
            if r.path == Path(path):
                return r
        return None

    def running(self) -> list[Path]:
        return [r.path for r in self.runs if r.state == "running"]

    def interrupted(self) -> int:
        return sum(1 for r in self.runs if r.state == "interrupted")

    def with_problems(self) -> int:
        return sum(1 for r in self.runs if r.problems)

    def forget_deleted(self, paths: Iterable[Path]) -> None:
        gone = set(paths)
        self.set_runs([r for r in self.runs if r.path not in gone])

    # -- filter ------------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return " ".join(self.words)

    def set_filter(self, text: str | None = None, state: str | None = None) -> bool:
        """Change the words and/or the state shown; True when the filter changed."""
        words = self.words if text is None else [w for w in text.lower().split() if w]
        state = self.state_filter if state is None else (state or "all")
        if (words, state) == (self.words, self.state_filter):
            return False
        self.words, self.state_filter = words, state
        return True

    def search_text(self, run: RunInfo) -> str:
        text = self._search.get(run.path)
        if text is None:
            text = self._search[run.path] = search_text(run)
        return text

    def accepts(self, run: RunInfo) -> bool:
        if self.state_filter == "problems":
            if not run.problems:
                return False
        elif self.state_filter != "all" and run.state != self.state_filter:
            return False
        if not self.words:
            return True
        text = self.search_text(run)
        return all(w in text for w in self.words)

    def shown(self) -> list[RunInfo]:
        return [r for r in self.runs if self.accepts(r)]

    def visible_keys(self) -> list[str]:
        """The setting columns shown: those that differ among the runs the filter lets through."""
        if not self.words and self.state_filter == "all":
            return list(self.diff_keys)  # every run shown: known already
        key = (self.generation, tuple(self.words), self.state_filter)
        if self._visible is None or self._visible[0] != key:
            keys = set(differing_keys(self.shown()))
            self._visible = (key, [k for k in self.diff_keys if k in keys])
        return list(self._visible[1])

    def count_text(self, shown: int, where: str) -> str:
        total = len(self.runs)
        if not self.loaded:
            return "Reading the runs ..."
        if total == 0:
            return f"No runs yet in {where}: each training run appears here."
        if shown == total:
            damaged = self.with_problems()
            extra = f", {damaged} with problems" if damaged else ""
            return f"{total} run{'s' if total != 1 else ''}{extra}"
        return f"{shown} of {total} runs shown"

    # -- sort --------------------------------------------------------------------------------------
    def set_sort(self, column: str | None, descending: bool) -> None:
        self.sort_column, self.sort_descending = column, bool(descending)

    # -- selection ---------------------------------------------------------------------------------
    def select(self, paths: Iterable[Path]) -> None:
        self.selection = [Path(p) for p in paths]

    def selected(self) -> list[RunInfo]:
        """The selected runs that are listed, in the table's order."""
        by_path = {r.path: r for r in self.runs}
        return [by_path[p] for p in self.selection if p in by_path]

    def one(self) -> RunInfo | None:
        rows = self.selected()
        return rows[0] if len(rows) == 1 else None

    def diff_pair(self) -> tuple[RunInfo, RunInfo] | None:
        """Two selected runs for a prediction diff: the older is A (what did the change fix, what did it break)."""
        rows = self.selected()
        if len(rows) != 2:
            return None
        a, b = rows
        if (a.started and b.started and a.started > b.started) or (not a.started and b.started):
            a, b = b, a
        return a, b

    def compare_key(self, rows: list[RunInfo], stamps: dict[Path, tuple]) -> tuple:
        """What a comparison of ``rows`` shows: it is drawn again only when this changes."""
        return tuple(
            (r.path, stamps.get(r.path), r.label, r.state, r.best_val, r.test_accuracy, r.seconds, r.epochs_done)
            for r in rows
        )

    def needs_compare(self, key: tuple) -> bool:
        if key == self.compared:
            return False
        self.compared = key
        return True

    # -- actions -----------------------------------------------------------------------------------
    def enabled(self) -> dict[str, bool]:
        """Which actions the selection allows (keys: :data:`ACTIONS`)."""
        rows = self.selected()
        one = rows[0] if len(rows) == 1 else None
        pair = self.diff_pair()
        return {
            "rename": one is not None,
            "note": one is not None,
            "delete": bool(rows) and all(r.state != "running" for r in rows),
            "undo": bool(self.trashed),
            "gallery": one is not None and one.has_evaluation,
            "predict": one is not None and one.has_model,
            "export": one is not None and one.has_model,
            "train_again": one is not None and bool(one.config),
            "continue": one is not None and one.can_continue,
            "resume": one is not None and one.can_resume,
            "mark_stopped": bool(rows) and all(r.state == "interrupted" for r in rows),
            "diff": pair is not None and all(r.has_evaluation for r in pair),
            "folder": one is not None,
            "copy_path": one is not None,
        }

    def resume_text(self) -> str:
        one = self.one()
        if one is not None and one.can_resume and one.can_finish:
            return "Fini&sh: save the model and evaluate"
        if one is not None and one.can_resume and one.backup_epoch:
            return f"Re&sume from epoch {one.backup_epoch}"
        return "Re&sume"

    # -- delete and Undo ---------------------------------------------------------------------------
    def deleted(self, moved: list[tuple[Path, Path]]) -> list[Path]:
        """Runs were moved aside for Undo; returns those of the delete before, whose Undo is now gone."""
        expired = [t for _o, t in self.trashed]
        self.trashed = list(moved)
        return expired

    def take_undo(self) -> list[tuple[Path, Path]]:
        trashed, self.trashed = self.trashed, []
        return trashed
