"""Loading the models chosen in the Predict tab, keeping the last few loaded, naming card-less classes.

Models load through :func:`core.inference.load_model` (``safe_mode``, with their cards) in a task of
the tab's own runner; a new choice supersedes a load still running (its result never reaches the
tab), but every model a load finished is kept in the :class:`ModelCache`, so going back to it is
instant. :meth:`ModelLoader.outcome` turns what a load returned into the models to use, or the
reason there are none (a failure, or models whose classes differ).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from core.errors import ModelError, WorkbenchError
from gui import dialogs
from gui.predict import class_names as class_names_dialog
from gui.tasks import TaskSlot
from gui.workers import JobRunner

log = logging.getLogger(__name__)

MAX_CACHED_MODELS = 6


def path_key(path: str | Path) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except OSError:
        return str(path)


class ModelCache:
    """``path -> (LoadedModel, Predictor)``, the most recently used last; filled from the loading thread."""

    def __init__(self, size: int = MAX_CACHED_MODELS) -> None:
        self.size = size
        self._pairs: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | Path) -> tuple[Any, Any] | None:
        with self._lock:
            return self._pairs.get(path_key(path))

    def put(self, path: str | Path, pair: tuple[Any, Any]) -> None:
        key = path_key(path)
        with self._lock:
            self._pairs.pop(key, None)
            self._pairs[key] = pair
            while len(self._pairs) > self.size:
                self._pairs.popitem(last=False)


@dataclass
class LoadOutcome:
    """What a load comes to: the models to use, or why there are none."""

    members: list = field(default_factory=list)
    predictors: list = field(default_factory=list)
    problems: list[tuple[Path, str | None]] = field(default_factory=list)  # per chosen file, for the picker
    error: tuple[str, str, str] | None = None  # title, message, detail of the dialog


def load_job(chosen: Sequence[Path], cache: ModelCache):
    """A job loading ``chosen`` (cached ones at once): ``[(path, (loaded, predictor) | None, error)]``."""
    chosen = list(chosen)

    def job(reporter, cancel):
        from core.inference import Predictor, load_model

        out = []
        for p in chosen:
            hit = cache.get(p)
            if hit is not None:
                cache.put(p, hit)  # the most recently used
                out.append((p, hit, None))
                continue
            try:
                loaded = load_model(p)
                predictor = Predictor(loaded)
                predictor.warm_up()  # traced here, so the first image is fast
                cache.put(p, (loaded, predictor))  # kept even if this load is superseded meanwhile
                out.append((p, (loaded, predictor), None))
            except WorkbenchError as exc:
                out.append((p, None, (str(exc), exc.detail)))
            except MemoryError:
                out.append((p, None, ("There is not enough memory to load this model.", "")))
            except Exception as exc:  # noqa: BLE001 - any failure becomes a sentence and a detail
                log.warning("loading %s failed", p, exc_info=True)
                out.append((p, None, (f"{p.name} cannot be used: {type(exc).__name__}: {exc}", "")))
        return out

    return job


class ModelLoader(QObject):
    """The model cache, the loading task, and class names for models without a card.

    ``ask`` asks a person for class names (``ask(parent, path, initial) -> (names, save_card) | None``);
    ``status`` shows a line in the status bar.
    """

    def __init__(
        self,
        runner: JobRunner,
        settings,
        *,
        ask: Callable[..., Any],
        status: Callable[[str, int], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.cache = ModelCache()
        self.task = TaskSlot(runner, "Loading model", parent=self)
        self._ask = ask
        self._status = status

    def load(self, chosen: Sequence[Path], *, on_done, on_failed, on_cancelled) -> None:
        self.task.start(load_job(chosen, self.cache), on_done=on_done, on_failed=on_failed, on_cancelled=on_cancelled)

    def add(self, loaded, predictor=None) -> None:
        """Use a model loaded elsewhere (another tab, a test) instead of loading its file again."""
        from core.inference import Predictor

        self.cache.put(loaded.path, (loaded, predictor or Predictor(loaded)))

    def outcome(self, out: list, widget) -> LoadOutcome:
        """The models to use from a load's ``out`` (names asked for card-less ones), or the failure."""
        problems = [(p, err[0] if err else None) for p, _pair, err in out]
        failures = [(p, err) for p, _pair, err in out if err is not None]
        if failures:
            _p, (message, detail) = failures[0]
            return LoadOutcome(problems=problems, error=("Cannot use the model", message, detail))
        pairs = [pair for _p, pair, _e in out]
        for loaded, _pred in pairs:
            if loaded.card is None:
                self.name_classes(loaded, widget, ask_if_known=False)
        members = [loaded for loaded, _ in pairs]
        try:
            from core.ensemble import check_compatible

            check_compatible(members)
        except ModelError as exc:
            return LoadOutcome(problems=problems, error=("These models cannot be combined", str(exc), exc.detail))
        return LoadOutcome(members, [pred for _, pred in pairs], problems)

    def name_classes(self, loaded, widget, *, ask_if_known: bool) -> bool:
        """Give a card-less model class names: remembered ones, or asked for. True if they changed."""
        count = loaded.num_classes
        known = class_names_dialog.remembered_names(self.settings, loaded.path, count)
        if known is not None and not ask_if_known:
            loaded.class_names = known
            return False
        initial = known or list(loaded.class_names) or class_names_dialog.numbered(count)
        answer = self._ask(widget, loaded.path, initial)
        if answer is None:
            if known is None:  # remember the choice, so the question is not asked every time
                class_names_dialog.remember_names(self.settings, loaded.path, list(loaded.class_names))
            return False
        names, save_card = answer
        loaded.class_names = list(names)
        class_names_dialog.remember_names(self.settings, loaded.path, list(names))
        if save_card:
            try:
                written = class_names_dialog.write_minimal_card(
                    loaded.path, list(names), loaded.input_shape, str(getattr(loaded.model, "name", "model"))
                )
                loaded.card = None  # the file on disk has it; this session keeps treating it as card-less
                self._status(f"Class names saved in {written.name}.", 5000)
            except (OSError, WorkbenchError) as exc:
                dialogs.show_error(
                    widget,
                    "The card could not be written",
                    f"The class names could not be saved beside the model ({exc}). The app still remembers "
                    "them for this file.",
                    str(exc),
                )
        return True

    def inferred(self, path: Path) -> dict[str, Any] | None:
        """What a loaded model says of itself (for a model card dialog), if it is in the cache."""
        hit = self.cache.get(path)
        if hit is None:
            return None
        loaded = hit[0]
        return {
            "input_shape": loaded.input_shape,
            "outputs": loaded.num_classes,
            "params": int(loaded.model.count_params()),
        }
