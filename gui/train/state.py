"""What the Train tab is doing, in plain Python: no Qt, no TensorFlow.

:class:`TrainState` keeps the chosen dataset, model, model options and hyper-parameters as ONE
``TrainConfig``, updated as the user edits (the pages report their fields; nothing rebuilds the
config from widgets), plus what is known about the choice (the loaded preview, why the dataset
or the model cannot be used) and the run's state machine::

    idle -> preparing -> running <-> paused
                |           |          |
                +-----------+----------+--> stopping
    preparing / running / paused / stopping -> finished | stopped | failed -> preparing (next run)

``actions()`` says what is enabled in the current phase (Start, Pause/Resume, Stop, the form);
the tab asks it and never decides in a widget handler. ``tests/gui/test_train_state.py`` drives it
without widgets.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import auto
from core.config import TrainConfig
from core.errors import ModelError, OfflineError, OutOfMemoryError


class Phase(str, enum.Enum):
    """Where the run is. A ``str`` enum: ``state.phase == "running"`` reads naturally."""

    IDLE = "idle"  # no run yet
    PREPARING = "preparing"  # submitted: waiting for the runner, loading data, building the model
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # Stop pressed: ends after the current batch, then evaluates and saves
    FINISHED = "finished"  # the last run ended by itself
    STOPPED = "stopped"  # the last run was stopped (or dropped before it began)
    FAILED = "failed"  # the last run raised an error

    def __str__(self) -> str:
        return self.value


#: Phases in which a run exists (a worker is queued or running).
ACTIVE = frozenset({Phase.PREPARING, Phase.RUNNING, Phase.PAUSED, Phase.STOPPING})
#: Phases from which a new run may start.
AT_REST = frozenset({Phase.IDLE, Phase.FINISHED, Phase.STOPPED, Phase.FAILED})

#: event -> (phases it is allowed in, phase it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Phase], Phase]] = {
    "start": (AT_REST, Phase.PREPARING),
    "run_started": (frozenset({Phase.PREPARING}), Phase.RUNNING),
    "pause": (frozenset({Phase.RUNNING}), Phase.PAUSED),
    "resume": (frozenset({Phase.PAUSED}), Phase.RUNNING),
    "stop": (frozenset({Phase.PREPARING, Phase.RUNNING, Phase.PAUSED}), Phase.STOPPING),
    "finished": (ACTIVE, Phase.FINISHED),
    "stopped": (ACTIVE, Phase.STOPPED),
    "failed": (ACTIVE, Phase.FAILED),
}

#: What the state line says in each active phase (at rest it says why Start cannot go, or a note).
PHASE_TEXT = {
    Phase.PREPARING: "Starting ...",
    Phase.RUNNING: "Training ...",
    Phase.PAUSED: "Paused. Resume to continue, or Stop to end the run and keep the best model.",
    Phase.STOPPING: "Stopping after this batch; the best model so far will be evaluated and saved ...",
}
READY_TEXT = "Ready."

#: Config fields that change the dataset as loaded (its preview, input shape and classes).
PREVIEW_FIELDS = frozenset({"dataset", "image_size", "color_mode", "validation_split", "test_split", "seed", "limit"})
#: Config fields that change the model summary (besides the input shape and classes).
MODEL_FIELDS = frozenset({"model", "model_options"})


class IllegalTransition(RuntimeError):
    """An event that the current phase does not allow (e.g. Pause while preparing)."""


@dataclass(frozen=True)
class Actions:
    """What the controls may do in a state; ``start_problem`` is why Start is off (or None)."""

    start: bool
    pause: bool
    stop: bool
    form_editable: bool
    pause_resumes: bool  # the Pause button reads "Resume"
    start_problem: str | None


class Fix(str, enum.Enum):
    """The obvious fix a failed run's error box offers, decided by the error's type."""

    USE_SAMPLE = "use-sample"  # OfflineError: switch to the bundled sample
    CHOOSE_MODEL = "choose-model"  # ModelError: go to the Model page
    HALVE_BATCH = "halve-batch"  # OutOfMemoryError: halve the batch size


def fix_for(error: BaseException | None) -> Fix | None:
    """The fix to offer for ``error``: by its class, never by the wording of its message."""
    if isinstance(error, OfflineError):
        return Fix.USE_SAMPLE
    if isinstance(error, ModelError):
        return Fix.CHOOSE_MODEL
    if isinstance(error, OutOfMemoryError):
        return Fix.HALVE_BATCH
    return None


class TrainState:
    """The Train tab's choices, what is known about them, and the run's phase."""

    def __init__(self, config: TrainConfig | None = None) -> None:
        self._config = config or auto.default_config()
        self.datasets: dict[str, dict] = {}  # built-in datasets by name (core.datasets.list_datasets)
        self.specs: dict[str, Any] = {}  # models by name (core.models.list_models: ModelSpec)
        self.options_by_model: dict[str, dict[str, Any]] = {}  # options chosen per model this session
        self.populated = False  # the lists are filled and the saved config applied
        self.tf_ready = False
        self.preview: Any = None  # the loaded preview (PreviewData) of the current dataset settings
        self.preview_problem: str | None = None  # why the dataset cannot be used
        self.model_problem: str | None = None  # why the model cannot take the dataset's images
        self.phase = Phase.IDLE
        self.note: str | None = None  # a sentence for the state line that stays until the next run
        self.resume_queue: list[tuple[Path, int]] = []  # runs to resume once a run may start

    # -- the configuration -------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """A copy of the chosen configuration (changing it changes nothing here)."""
        return TrainConfig.from_dict(self._config.to_dict())

    def get(self, field: str) -> Any:
        return getattr(self._config, field)

    def update(self, **fields: Any) -> set[str]:
        """Change some fields of the configuration; returns the names whose value changed."""
        data = self._config.to_dict()
        unknown = set(fields) - set(data)
        if unknown:
            raise KeyError(f"not TrainConfig fields: {sorted(unknown)}")
        changed = {k for k, v in fields.items() if data[k] != v}
        if changed:
            data.update(fields)
            self._config = TrainConfig.from_dict(data)
            if changed & PREVIEW_FIELDS:
                self.preview = None  # it was loaded for other settings
            if "dataset" in changed:
                self.preview_problem = None
        return changed

    def apply(self, config: TrainConfig) -> set[str]:
        """Take ``config`` whole (settings, a saved run); returns the fields that changed."""
        if config.model != self._config.model:
            self.options_by_model[self._config.model] = dict(self._config.model_options)
        self.options_by_model[config.model] = dict(config.model_options)
        return self.update(**config.to_dict())

    def set_options(self, keys: Iterable[str], values: Mapping[str, Any]) -> set[str]:
        """The model options among ``keys`` become ``values`` (only those that differ from the defaults)."""
        keys = set(keys)
        options = {k: v for k, v in self._config.model_options.items() if k not in keys}
        options.update(values)
        return self.update(model_options=options)

    def select_model(self, name: str) -> dict[str, Any]:
        """Switch to model ``name``; the current options are kept for the model left, and the
        options last chosen for ``name`` (or none) are returned and become current."""
        previous = self._config.model
        if previous != name:
            self.options_by_model[previous] = dict(self._config.model_options)
        options = dict(self.options_by_model.get(name, {}) if previous != name else self._config.model_options)
        self.update(model=name, model_options=options)
        return options

    def forget_options(self, keys: Iterable[str]) -> set[str]:
        """Put the options among ``keys`` back to their defaults (Restore defaults)."""
        return self.set_options(keys, {})

    # -- what is known about the choice ---------------------------------------------------------
    def preview_key(self) -> tuple:
        c = self._config
        return (c.dataset, c.image_size, c.color_mode, c.validation_split, c.test_split, c.seed, c.limit)

    def is_folder(self) -> bool:
        return self._config.dataset not in self.datasets

    def set_preview(self, preview: Any) -> None:
        self.preview = preview
        self.preview_problem = None

    def forget_preview(self) -> None:
        """Load the dataset again (another dataset, or the same folder whose files may have changed)."""
        self.preview = None
        self.preview_problem = None

    def set_preview_failed(self, message: str) -> None:
        self.preview = None
        self.preview_problem = message

    def input_shape(self) -> tuple[int, int, int] | None:
        """The shape the model will receive, when known (built-ins: always; folders: after the preview)."""
        if self.preview is not None:
            return tuple(self.preview.image_shape)
        info = self.datasets.get(self._config.dataset)
        return tuple(info["image_shape"]) if info else None

    def num_classes(self) -> int | None:
        if self.preview is not None:
            return len(self.preview.class_names)
        info = self.datasets.get(self._config.dataset)
        return int(info["classes"]) if info else None

    def summary_key(self, shape: tuple[int, int, int] | None = None) -> tuple | None:
        """What a model summary depends on (``shape`` overrides the known input shape), or None."""
        shape = shape if shape is not None else self.input_shape()
        classes = self.num_classes()
        if shape is None or not classes:
            return None
        name, options = self.model_to_build()  # auto: the network it chooses for this data
        return (name, tuple(shape), int(classes), tuple(sorted(options.items())))

    # -- auto (core/auto.py): what it would choose for the previewed data ---------------------------
    def facts(self) -> auto.Facts | None:
        """What auto measures of the dataset, once its preview is loaded."""
        preview = self.preview
        if preview is None or not preview.image_shape or not preview.counts.get("train"):
            return None
        return auto.facts_from_counts(preview.image_shape, preview.counts["train"])

    def auto_choices(self) -> list[auto.Choice] | None:
        """Auto's choices and reasons for this config and dataset ([] when nothing is auto, None
        while the dataset is not previewed yet)."""
        if not auto.wants_auto(self._config):
            return []
        facts = self.facts()
        return None if facts is None else auto.resolve_facts(self._config, facts)[1]

    def model_to_build(self) -> tuple[str, dict[str, Any]]:
        """The zoo model and options a run would build: auto's choice for the previewed data."""
        c = self._config
        facts = self.facts()
        if c.model == auto.AUTO and facts is not None:
            name, options, _ = auto.choose_model(facts)
            return name, options
        return c.model, dict(c.model_options)

    def transfer_advice(self) -> str | None:
        """Why transfer learning is likely better (very few images per class), unless it is chosen."""
        facts = self.facts()
        if facts is None or self._config.pretrained:
            return None
        return auto.few_images_advice(facts)

    # -- the run's phase -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """A run exists: queued, preparing, running, paused or stopping."""
        return self.phase in ACTIVE

    def can(self, event: str) -> bool:
        allowed, _ = TRANSITIONS[event]
        return self.phase in allowed

    def fire(self, event: str) -> Phase:
        """Move to the phase ``event`` leads to; :class:`IllegalTransition` if not allowed now."""
        allowed, target = TRANSITIONS[event]
        if self.phase not in allowed:
            raise IllegalTransition(f"{event!r} is not possible while {self.phase.value}")
        self.phase = target
        if event == "start":
            self.note = None
        return target

    def start_problem(self) -> str | None:
        """Why Start is not possible right now, or None."""
        if self.running:
            return "A run is in progress."
        if not self.populated:
            return "The app is still starting."
        if not self.tf_ready:
            return "TensorFlow is still loading (a few seconds after start)."
        if self.preview_problem:
            return f"The dataset cannot be used: {self.preview_problem}"
        if self.model_problem:
            return self.model_problem
        return None

    def actions(self) -> Actions:
        problem = self.start_problem()
        return Actions(
            start=problem is None,
            pause=self.can("pause") or self.can("resume"),
            stop=self.can("stop"),
            form_editable=not self.running,
            pause_resumes=self.phase is Phase.PAUSED,
            start_problem=problem,
        )

    def status_text(self) -> str:
        """The state line: the phase while a run is active, else a note, else why Start cannot go."""
        if self.running:
            return PHASE_TEXT[self.phase]
        return self.note or self.start_problem() or READY_TEXT

    # -- runs waiting to be resumed --------------------------------------------------------------
    def queue_resume(self, run_dir: Path, extra_epochs: int = 0) -> bool:
        """Remember a run to resume when one may start; False if it was already waiting."""
        entry = (Path(run_dir), int(extra_epochs))
        if entry in self.resume_queue:
            return False
        self.resume_queue.append(entry)
        return True

    def next_resume(self) -> tuple[Path, int] | None:
        """The next run to resume, taken off the queue, when a run may start now."""
        if self.resume_queue and not self.running and self.tf_ready:
            return self.resume_queue.pop(0)
        return None

    # -- settings --------------------------------------------------------------------------------
    def to_settings(self) -> dict[str, Any]:
        return self._config.to_dict()

    @staticmethod
    def config_from_settings(data: Mapping[str, Any] | None) -> TrainConfig:
        """The config saved in the settings, or the defaults when there is none or it is damaged."""
        if not data:
            return auto.default_config()
        try:
            # The form's remembered settings are not a run: one from before the precision setting gets its default.
            return TrainConfig.from_dict({"precision": TrainConfig.precision, **dict(data)})
        except (TypeError, ValueError):
            return auto.default_config()
