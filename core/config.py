"""What defines a run: :class:`TrainConfig`, and the dataset a config names.

``TrainConfig`` is written to every run's ``config.json`` and read back by evaluation, the
gallery, export and resuming; :func:`load_config_dataset` is the one way from a config to its
dataset, split exactly as the run saw it. Neither imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from core import datasets
from core.devices import PRECISIONS, parse_devices
from core.errors import RunError, WorkbenchError
from core.reporting import Reporter

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
SCHEDULES = ("none", "step", "cosine", "plateau", "warmup-cosine")
RECIPES = ("manual", "auto")
MAX_LEARNING_RATE = 10.0  # the Train tab's largest; 1e30 or inf overflow the loss to NaN at once
#: The precision of configs written before the setting existed: every run then trained in float32,
#: so resuming one (or training it again) keeps doing so; new configs default to "auto".
LEGACY_PRECISION = "float32"
MAX_SEED = 2**31 - 1  # the Train tab's largest; NumPy takes 0 to 2**32 - 1 and resuming adds the epoch
INTEGER_FIELDS = ("step_epochs", "plateau_patience", "batch_size", "epochs", "patience", "seed")
NUMBER_FIELDS = (
    "learning_rate",
    "momentum",
    "step_factor",
    "validation_split",
    "test_split",
    "augment_rotation",
    "augment_zoom",
    "augment_translation",
    "center_loss_weight",
    "label_smoothing",
)

TEXT_FIELDS = ("dataset", "model", "optimizer", "schedule", "color_mode", "name")
BOOL_FIELDS = ("pretrained", "augment_flip", "early_stopping", "tensorboard")


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults reproduce the classic Keras MNIST example."""

    dataset: str = "mnist-sample"  # a built-in name (see core.datasets.list_datasets) or a folder
    model: str = "simple-cnn-2"  # a zoo name (see core.models.list_models)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"dropout": 0.3}
    pretrained: bool = False  # ImageNet weights for Keras Applications backbones
    image_size: int | None = None  # folders: square size images are resized to (None: automatic)
    color_mode: str = "auto"  # folders: "auto", "grayscale" or "rgb"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # SGD only
    schedule: str = "none"  # "none", "step", "cosine" or "plateau"
    step_epochs: int = 10  # step decay: multiply the rate by step_factor every step_epochs epochs
    step_factor: float = 0.1
    plateau_patience: int = 3  # reduce-on-plateau: epochs without val_loss improvement
    batch_size: int = 128
    epochs: int = 12
    validation_split: float = 0.1
    test_split: float = 0.2  # folders without a test/ sub-folder
    augment_flip: bool = False  # random horizontal flip
    augment_rotation: float = 0.0  # degrees, +-
    augment_zoom: float = 0.0  # fraction, +-
    augment_translation: float = 0.0  # fraction of width/height, +-
    early_stopping: bool = False
    patience: int = 5
    seed: int = 42
    limit: int | None = None  # use at most this many training images (quick experiments)
    tensorboard: bool = True  # write TensorBoard logs in the run folder
    center_loss_weight: float = 0.0  # > 0 adds a centre-loss term on the "features" layer (core/center_loss.py)
    precision: str = "auto"  # "auto", "float32" or "mixed" (core.devices.resolve_precision decides)
    devices: str = "auto"  # "auto" (all GPUs, else the CPU), "cpu", or e.g. "gpu:0,gpu:1"
    name: str = ""  # optional label for the run
    recipe: str = "manual"  # "auto": core/auto.py chooses the training hyper-parameters from the data
    time_budget: float | None = None  # seconds: train until then instead of for `epochs` (core/auto.py)
    label_smoothing: float = 0.0  # 0.1: targets of 0.9 rather than 1.0
    class_weights: bool = False  # weigh each class's loss by the inverse of its share of the images

    def validate(self) -> None:
        """Raise WorkbenchError with one readable sentence for values that cannot work.

        The one check of a run's settings, before any dataset is loaded or run folder made: the
        Train tab and studies call it, ``train`` and ``resume_run`` call it first. The
        ranges are the Train tab's own (its spin boxes cannot leave them); values outside them
        either cannot train (a learning rate of 1e30 overflows to NaN), mean nothing (a negative
        step factor, a patience of 0) or make Keras or NumPy raise mid-run (a seed of -1, a zoom
        of 5), so each is named here with the value given.
        """
        wrong = [name for name in INTEGER_FIELDS if not _is_integer(getattr(self, name))]
        wrong += [name for name in NUMBER_FIELDS if not _is_number(getattr(self, name))]
        wrong += [
            name
            for name in ("image_size", "limit")
            if getattr(self, name) is not None and not _is_integer(getattr(self, name))
        ]
        if wrong:
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in wrong)
            raise WorkbenchError(f"Check the settings: these must be numbers (whole numbers for counts): {shown}.")
        kinds = [(n, "text") for n in TEXT_FIELDS if not isinstance(getattr(self, n), str)]
        kinds += [(n, "true or false") for n in BOOL_FIELDS if not isinstance(getattr(self, n), bool)]
        if not isinstance(self.model_options, dict):
            kinds.append(("model_options", "a set of NAME: VALUE options"))
        if kinds:
            shown = ", ".join(f"{name} must be {kind} (not {getattr(self, name)!r})" for name, kind in kinds)
            raise WorkbenchError(f"Check the settings: {shown}.")
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not 0 < self.learning_rate <= MAX_LEARNING_RATE:  # also false for NaN
            problems.append(
                f"the learning rate must be above 0 and at most {MAX_LEARNING_RATE:g} (not {self.learning_rate:g}: "
                "larger rates make the loss overflow, 1e-3 suits Adam and 1e-2 to 1e-1 SGD)"
            )
        if not 0 <= self.momentum < 1:
            problems.append(f"the momentum must be at least 0 and below 1 (not {self.momentum:g}, 0.9 is usual)")
        if self.step_epochs < 1:
            problems.append(f"the step decay needs at least 1 epoch per step (not {self.step_epochs})")
        if not 0 < self.step_factor <= 1:
            problems.append(
                f"the step factor must be above 0 and at most 1 (not {self.step_factor:g}: "
                "it multiplies the learning rate at each step, 0.1 divides it by ten)"
            )
        if self.plateau_patience < 1:
            problems.append(f"the plateau patience must be at least 1 epoch (not {self.plateau_patience})")
        if self.batch_size < 1:
            problems.append("the batch size must be at least 1")
        if self.epochs < 1:
            problems.append("train for at least 1 epoch")
        if not 0 <= self.validation_split < 0.9:
            problems.append("the validation split must be between 0 and 0.9")
        if not 0 <= self.test_split < 0.9:
            problems.append("the test split must be between 0 and 0.9")
        if not 0 <= self.augment_rotation <= 180:
            problems.append(
                f"the rotation must be from 0 to 180 degrees (not {self.augment_rotation:g}: "
                "images turn by up to that much either way)"
            )
        if not 0 <= self.augment_zoom < 1:
            problems.append(f"the zoom must be at least 0 and below 1 (not {self.augment_zoom:g}, 0.1 means +-10%)")
        if not 0 <= self.augment_translation < 1:
            problems.append(
                f"the shift must be at least 0 and below 1 (not {self.augment_translation:g}: "
                "a fraction of the image's width and height)"
            )
        if self.early_stopping and self.patience < 1:
            problems.append(
                f"the early-stopping patience must be at least 1 epoch without improvement (not {self.patience})"
            )
        if not 0 <= self.seed <= MAX_SEED:
            problems.append(f"the seed must be a whole number from 0 to {MAX_SEED} (not {self.seed})")
        if not (math.isfinite(self.center_loss_weight) and self.center_loss_weight >= 0):
            problems.append(
                f"the centre-loss weight must be a number of 0 or more (not {self.center_loss_weight:g}, 0 means none)"
            )
        if self.recipe not in RECIPES:
            problems.append(f"the recipe must be one of {', '.join(RECIPES)} (not {self.recipe!r})")
        if self.time_budget is not None and not (
            _is_number(self.time_budget) and math.isfinite(self.time_budget) and self.time_budget > 0
        ):
            problems.append(f"the time budget must be a time above zero, such as 2 min (not {self.time_budget!r})")
        if not 0 <= self.label_smoothing < 1:
            problems.append(
                f"the label smoothing must be at least 0 and below 1 (not {self.label_smoothing:g}; 0.1 is usual)"
            )
        if self.color_mode not in ("auto", "grayscale", "rgb"):
            problems.append("colour mode must be auto, grayscale or rgb")
        if self.precision not in PRECISIONS:
            problems.append(
                f"the precision must be auto, float32 or mixed (not {self.precision!r}; mixed uses float16 on "
                "GPUs and bfloat16 on CPUs that have bfloat16 units)"
            )
        try:
            parse_devices(self.devices)
        except WorkbenchError as exc:
            problems.append(str(exc)[0].lower() + str(exc)[1:].rstrip("."))
        if problems:
            raise WorkbenchError("Check the settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a dict (a run's config.json, a card, settings); unknown keys are ignored.

        A dict without ``precision`` was written before the setting existed, when every run
        trained in float32: it reads as :data:`LEGACY_PRECISION`, so resuming an old run keeps
        its precision (and its optimizer state's layout). Other missing keys take the defaults.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"precision": LEGACY_PRECISION, **{k: v for k, v in data.items() if k in known}})

    @property
    def augments(self) -> bool:
        return bool(self.augment_flip or self.augment_rotation or self.augment_zoom or self.augment_translation)


def config_from_run(data: Any, run_name: str) -> TrainConfig:
    """The settings a run's config.json holds, checked (:meth:`TrainConfig.validate`): the one way
    evaluation, the gallery and "Train again" read them. Raises :class:`RunError` with a sentence
    when there are none or they cannot be used (a hand-edited or damaged file: a count given as text)."""
    of_run = f"of run {run_name}" if run_name else "of this run"
    if not isinstance(data, dict) or not data:
        raise RunError(f"The config.json {of_run} is missing or unreadable, so its settings are unknown.")
    config = TrainConfig.from_dict(data)
    try:
        config.validate()
    except WorkbenchError as exc:
        raise RunError(
            f"The config.json {of_run} holds settings that cannot be used. {exc} "
            "Fix the file, or train a new run with settings chosen in the Train tab.",
            detail=exc.detail,
        ) from exc
    return config


def drop_folder_settings(config: TrainConfig, dataset) -> tuple[TrainConfig, str | None]:
    """``config`` as a run on ``dataset`` uses it, and a notice when folder-only settings were dropped.

    The image size and colour mode apply to image folders only; a built-in keeps its own images
    (the model's first layers adapt them). Given for a built-in, they are said to have no effect
    rather than refused: the Train tab keeps a folder's size and colour mode in its one config
    when the user switches to a built-in (the fields are only greyed out), so an error would stop
    a run over settings the user cannot change there, and the run still does all the rest asked.
    The run's config records what was used (automatic), so no run seems to differ by a setting
    that changed nothing. The caller's config is left as it is.
    """
    given = []
    if config.image_size is not None:
        given.append(f"image size {config.image_size}")
    if config.color_mode != "auto":
        given.append(f"colour mode {config.color_mode}")
    if not given or dataset.name not in datasets.BUILTIN_NAMES:
        return config, None
    h, w, c = dataset.image_shape
    notice = (
        f"The {' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to image folders only: "
        f"{dataset.name} keeps its own {h}x{w}x{c} images, so this run ignores {'them' if len(given) > 1 else 'it'}."
    )
    return dataclasses.replace(config, image_size=None, color_mode="auto"), notice


def load_config_dataset(config: TrainConfig, reporter: Reporter | None = None):
    """The dataset a config names, split exactly as that config's run saw it."""
    if reporter is not None:
        reporter.on_message(f"Loading dataset {config.dataset} ...")
    return datasets.load_dataset(
        config.dataset,
        image_size=config.image_size,
        color_mode=config.color_mode,
        validation_split=config.validation_split,
        test_split=config.test_split,
        seed=config.seed,
        limit=config.limit,
        reporter=reporter,
    )
