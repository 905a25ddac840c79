"""What the Predict tab is doing, in plain Python: no Qt, no TensorFlow.

:class:`PredictState` holds the tab's choices and progress: the models chosen in the picker (paths),
what is loading, what was dropped last, the rows of the current batch, whether a batch runs, and
which result the single view shows or waits for. It also decides what the tab says (the state
line after a batch, the message while images wait for a model) and which actions are enabled. The
tab (:mod:`gui.predict.tab`) keeps the widgets in step with it; tests drive it without widgets.

:func:`plan_drop` decides what a drop or a paste means (models to use, images to predict, a note
about web addresses) from the paths, addresses and image data it carried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.inference import MODEL_SUFFIXES  # TensorFlow-free at import

DROP_HINT = (
    "Drop images or folders here (anywhere on this tab), or use Open images (Ctrl+I), "
    "Open folder (Ctrl+Shift+I) or Paste (Ctrl+V)."
)


def initial_models(saved: Iterable[Any], shipped: Path, exists: Callable[[Path], bool] = Path.is_file) -> list[Path]:
    """The models to choose at start: those used last time that still exist, else the shipped one."""
    found = [Path(p) for p in saved if isinstance(p, str) and exists(Path(p))]
    return found or [shipped]


@dataclass
class DropPlan:
    """What to do with a drop or a paste."""

    models: list[str] = field(default_factory=list)  # model files: add to the picker and use
    images: list[str] = field(default_factory=list)  # files and folders to predict
    use_image_data: bool = False  # predict the image data that came with it (no files)
    notice: str | None = None  # a note to show (web addresses); "" hides the note
    accepted: bool = False  # False: nothing usable in it


def plan_drop(local: Sequence[str], remote: Sequence[str], has_image_data: bool) -> DropPlan:
    """Sort what a drop held into models, images and image data; say why web addresses are not read."""
    models = [p for p in local if Path(p).suffix.lower() in MODEL_SUFFIXES]
    images = [p for p in local if p not in models]
    use_data = not images and has_image_data
    notice: str | None = None
    if remote:
        shown = ", ".join(remote[:3]) + (f" and {len(remote) - 3} more" if len(remote) > 3 else "")
        if use_data:
            notice = f"Predicting the image data that came with {shown}."
        else:
            notice = (
                f"{shown} {'is a web address' if len(remote) == 1 else 'are web addresses'}, not a file on this "
                "computer, and the app does not download. Save the image to your computer first, then drop "
                "or open the file."
            )
    elif images or use_data:
        notice = ""
    accepted = bool(images or models or use_data or remote)
    return DropPlan(models, images, use_data, notice, accepted)


@dataclass
class BatchSummary:
    """How a batch ended, for the state line and the status bar."""

    outcome: str  # "finished", "cancelled" or "failed"
    text: str  # the state line
    status: str | None = None  # for the window's status bar, when there is something to report
    no_images: bool = False  # finished without finding a single image


class PredictState:
    """The Predict tab's choices and progress (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.tf_ready = False
        self.started = False  # the remembered models were chosen (first show, or a first drop)
        self.wanted: list[Path] = []  # the models chosen in the picker
        self.loading: list[Path] | None = None  # the models being loaded now
        self.in_use: list[Path] = []  # the models predicting now (several: an ensemble)
        self.model_problem: str | None = None  # why no model is in use
        self.sources: list[Any] = []  # what was dropped / opened / pasted last (paths, in-memory images)
        self.results: list[Any] = []  # the current batch's rows so far, in arrival order
        self.ok_count = 0
        self.total = 0  # images the batch found (0 while looking)
        self.running = False  # a batch is predicting
        self.batch_number = 0  # counts batches started (shown nowhere; for tests and logs)
        self.started_at = 0.0
        self.view_request: Any = None  # the result the single view shows, or reads the image of
        self.view_waits = False  # the first row, selected automatically: shown when the batch ends

    # -- models -------------------------------------------------------------------------------------

    def choose_models(self, paths: Sequence[Path]) -> None:
        """The picker's choice (the tab remembers it only once it has loaded)."""
        self.wanted = [Path(p) for p in paths]

    def start_loading(self, paths: Sequence[Path]) -> None:
        self.loading = [Path(p) for p in paths]

    def loading_done(self) -> None:
        self.loading = None

    def use_models(self, paths: Sequence[Path], problem: str | None = None) -> None:
        """The models now in use (none, with the ``problem`` that stopped them)."""
        self.in_use = [Path(p) for p in paths]
        self.model_problem = problem
        self.loading = None

    def refuse_choice(self) -> bool:
        """The chosen models could not be used; True: the models in use before stay (chosen again).

        A refused choice is never remembered: the tab saves a choice in the settings once it loaded.
        """
        self.loading = None
        if not self.in_use:
            return False
        self.wanted = list(self.in_use)
        return True

    @property
    def has_model(self) -> bool:
        return bool(self.in_use)

    @property
    def load_when_ready(self) -> bool:
        """Models were chosen before TensorFlow was ready and should load now."""
        return bool(self.wanted) and not self.in_use and self.loading is None

    # -- inputs -------------------------------------------------------------------------------------

    def set_sources(self, sources: Sequence[Any]) -> None:
        self.sources = list(sources)

    def waiting_message(self) -> str:
        """What the view says when images came but no model can predict them yet."""
        if self.loading or not self.tf_ready:
            return "Your images are predicted as soon as the model is loaded …"
        return "Choose a model on the left: your images are predicted as soon as one is loaded." + (
            f" ({self.model_problem})" if self.model_problem else ""
        )

    # -- batches ------------------------------------------------------------------------------------

    def start_batch(self) -> int:
        """A new batch over :attr:`sources`; the rows of the last one are gone. Its number."""
        self.batch_number += 1
        self.results = []
        self.ok_count = 0
        self.total = 0
        self.running = True
        self.started_at = self._clock()
        self.view_request = None
        self.view_waits = False
        return self.batch_number

    def set_total(self, total: int) -> None:
        self.total = max(0, int(total))

    def add_results(self, chunk: Sequence[Any]) -> int:
        """Rows of the running batch; the number of rows so far."""
        self.results.extend(chunk)
        self.ok_count += sum(1 for r in chunk if getattr(r, "ok", False))
        return len(self.results)

    def progress_text(self, done: int, total: int, what: str) -> str:
        return f"{what} … {done:,} of {total:,}" if total > 0 else f"{what} …"

    def rows_text(self) -> str:
        return f"Predicting … {len(self.results):,} of {self.total:,}"

    def end_batch(self, outcome: str) -> BatchSummary:
        """The batch ended ("finished", "cancelled" or "failed"): what the tab says about it."""
        self.running = False
        seconds = self._clock() - self.started_at
        n, ok = len(self.results), self.ok_count
        if outcome == "failed":
            return BatchSummary(outcome, "Prediction failed.")
        if n == 0:
            if outcome == "cancelled":
                return BatchSummary(outcome, "Stopped.")
            return BatchSummary(outcome, "", no_images=True)
        bad = n - ok
        text = f"{n:,} image{'s' if n != 1 else ''}: {ok:,} predicted"
        if bad:
            text += f", {bad:,} could not be read (see Note)"
        if outcome == "cancelled":
            text = "Stopped. " + text
        text += f" in {seconds:.1f} s."
        return BatchSummary(outcome, text, status=text)

    def forget_rows(self) -> None:
        """The table was emptied (no model to predict with); the inputs stay."""
        self.results = []
        self.ok_count = 0
        self.total = 0
        self.view_request = None

    def clear(self) -> None:
        """Forget the inputs and their rows; a batch still running was dropped without a word."""
        self.running = False
        self.view_waits = False
        self.sources = []
        self.forget_rows()

    # -- the single view ----------------------------------------------------------------------------

    def row_chosen(self, result: Any, *, by_person: bool) -> bool:
        """A row became current; True: show it now, False: later (the batch's first row, while it runs).

        Drawing the view (image, chart, a repaint of the window) cost the GUI thread 50-100 ms on 2
        cores while the batch's worker held the GIL; a row a person clicks is shown at once.
        """
        if not by_person and self.running:
            self.view_waits = True
            return False
        self.view_waits = False
        self.view_request = result
        return True

    def take_waiting_view(self) -> bool:
        """At the end of a batch: True if the first row waits to be shown."""
        waits, self.view_waits = self.view_waits, False
        return waits

    # -- what is enabled ----------------------------------------------------------------------------

    @property
    def can_export(self) -> bool:
        return bool(self.results)

    @property
    def can_clear(self) -> bool:
        return bool(self.results) or bool(self.sources)

    @property
    def can_stop(self) -> bool:
        return self.running
