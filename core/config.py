"""What defines a run: :class:`TrainConfig`, and the dataset a config names.

``TrainConfig`` is written to every run's ``config.json`` and read back by evaluation, the
gallery, export and resuming; :func:`load_config_dataset` is the one way from a config to its
dataset, split exactly as the run saw it. Neither imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core import datasets
from core.errors import WorkbenchError
from core.reporting import Reporter

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("none", "step", "cosine", "plateau")


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
    name: str = ""  # optional label for the run

    def validate(self) -> None:
        """Raise WorkbenchError with a readable sentence for values that cannot work."""
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not self.learning_rate > 0:
            problems.append("the learning rate must be greater than 0")
        if self.batch_size < 1:
            problems.append("the batch size must be at least 1")
        if self.epochs < 1:
            problems.append("train for at least 1 epoch")
        if not 0 <= self.validation_split < 0.9:
            problems.append("the validation split must be between 0 and 0.9")
        if not 0 <= self.test_split < 0.9:
            problems.append("the test split must be between 0 and 0.9")
        if self.center_loss_weight < 0:
            problems.append("the centre-loss weight cannot be negative")
        if self.color_mode not in ("auto", "grayscale", "rgb"):
            problems.append("colour mode must be auto, grayscale or rgb")
        if problems:
            raise WorkbenchError("Check the settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def augments(self) -> bool:
        return bool(self.augment_flip or self.augment_rotation or self.augment_zoom or self.augment_translation)


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
