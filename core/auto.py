"""Auto: a model and a training recipe chosen from what is measured of the dataset.

``resolve(config, dataset)`` turns ``model="auto"`` and ``recipe="auto"`` into a plain
:class:`~core.config.TrainConfig` (a zoo model with its options, AdamW with warm-up and cosine
decay, label smoothing, augmentation for the data, early stopping on the best epoch, class weights
when classes are unbalanced) and a list of :class:`Choice` objects, each with one sentence of why.
Training logs the sentences and writes them into the model card; the Train tab shows them before
a run. The run's ``config.json`` holds the resolved values, so a run is repeated or resumed
exactly as it trained.

Nothing here imports TensorFlow: the Train tab resolves on its preview of the dataset.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from core.config import TrainConfig
from core.models.registry import ModelSpec
from core.values import format_duration

AUTO = "auto"  # the model name and the recipe name that ask for this module
AUTO_MODEL = "auto-cnn"  # the zoo network auto scales to the data (core/models/modern.py)
TRANSFER_MODEL = "mobilenetv2"  # the ImageNet backbone offered when there are very few images per class
FEW_IMAGES_PER_CLASS = 30  # below this, transfer learning is likely better than training from scratch
UNBALANCED_RATIO = 1.5  # largest class / smallest class above this gets class weights
AUTO_PATIENCE = 10  # epochs without a better best epoch before auto's early stopping ends a run
# The settings the Auto recipe chooses itself (choose_recipe's fields): a study cannot vary them
# over a baseline whose recipe is auto, since Auto would overwrite every trial's value.
RECIPE_FIELDS = (
    "optimizer", "learning_rate", "schedule", "batch_size", "label_smoothing", "early_stopping", "patience",
    "augment_rotation", "augment_zoom", "augment_translation", "class_weights",
)  # fmt: skip

#: "auto" as the model lists show it (first, and the default): it is not a network of the zoo.
AUTO_SPEC = ModelSpec(
    name=AUTO,
    title="Auto (chosen for your data)",
    description="A network chosen and sized from your images (size, colour, images per class) when "
    "training starts: the Auto CNN, a small VGG-style network with batch norm. The reasons are shown here "
    "and in the log and saved in the model card.",
    origin="core/auto.py",
    family="auto",
    min_size=2,
    options={},
)


@dataclass(frozen=True)
class Choice:
    """One decision of auto: what was decided, the value, and one plain sentence of why."""

    what: str
    value: str
    why: str

    def line(self) -> str:
        return f"{self.what}: {self.value}. {self.why}"

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "value": self.value, "why": self.why}


@dataclass(frozen=True)
class Facts:
    """What auto measures of a dataset (training split)."""

    height: int
    width: int
    channels: int
    classes: int
    train_images: int
    per_class: tuple[int, ...]  # training images per class

    @property
    def smallest(self) -> int:
        return min(self.per_class) if self.per_class else 0

    @property
    def largest(self) -> int:
        return max(self.per_class) if self.per_class else 0

    @property
    def imbalance(self) -> float:
        """Largest class over smallest class (inf when a class has no training image)."""
        return math.inf if self.smallest == 0 else self.largest / self.smallest

    @property
    def side(self) -> int:
        return min(self.height, self.width)


def measure(dataset) -> Facts:
    """Image size and channels, training images per class and their balance."""
    return facts_from_counts(dataset.image_shape, dataset.train.counts(dataset.num_classes))


def facts_from_counts(image_shape, train_counts) -> Facts:
    """:class:`Facts` from an image shape and the training images per class (a preview has both)."""
    h, w, c = (int(v) for v in image_shape)
    per_class = tuple(int(n) for n in train_counts)
    return Facts(h, w, c, len(per_class), sum(per_class), per_class)


def wants_auto(config: TrainConfig) -> bool:
    return config.model == AUTO or config.recipe == AUTO


DEFAULT_TIME_BUDGET = 120.0  # seconds: "train for 2 minutes", the app's and the command line's default


def default_config() -> TrainConfig:
    """The settings a new user starts from: auto model and recipe for 2 minutes (the rest classic)."""
    return TrainConfig(model=AUTO, recipe=AUTO, time_budget=DEFAULT_TIME_BUDGET)


# --------------------------------------------------------------------------------------------
# The architecture


def auto_blocks(side: int) -> int:
    """Conv blocks (each ends in a 2x2 pool) for images of ``side`` pixels: leave a map of >= 2 pixels."""
    return max(1, min(4, int(math.log2(max(side, 2))) - 1))


def auto_filters(train_images: int) -> int:
    """Filters of the first block: 24 for up to ~20,000 images, 48 above (more data, more capacity).

    24 rather than 32 for small sets: a time budget buys more epochs (on the 3,600 training images
    of the MNIST sample, 2 CPU cores: 19 epochs in 2 minutes against 12 at 32 filters, test 0.990-0.992
    against 0.988 twice; bench/bench_quality.py), and those images do not need the extra width.
    """
    return 24 if train_images <= 20_000 else 48


def choose_model(facts: Facts) -> tuple[str, dict, Choice]:
    blocks = auto_blocks(facts.side)
    filters = auto_filters(facts.train_images)
    widths = "-".join(str(filters * 2**i) for i in range(blocks))
    why = (
        f"A small VGG-style network with batch norm trains fast and well on small images; "
        f"{blocks} block{'s' if blocks > 1 else ''} of two 3x3 convolutions ({widths} filters) halve "
        f"{facts.height}x{facts.width} images down to a few pixels, sized for {facts.train_images:,} training images."
    )
    options = {"blocks": blocks, "filters": filters}
    return AUTO_MODEL, options, Choice("Model", f"Auto CNN, {blocks} blocks, {widths} filters", why)


# --------------------------------------------------------------------------------------------
# The recipe


def auto_batch_size(train_images: int) -> int:
    if train_images < 1_000:
        return 32
    return 64 if train_images < 20_000 else 128


def augmentation(facts: Facts, flip_ok: bool) -> tuple[float, float, float, Choice]:
    """(rotation degrees, zoom, translation) and the sentence: small changes a person would not notice."""
    rotation, zoom, translation = 10.0, 0.1, 0.1
    value = f"shift up to {translation:.0%}, zoom up to {zoom:.0%}, rotate up to {rotation:g}°, " + (
        "with horizontal flips" if flip_ok else "no flips"
    )
    flips = (
        "mirror images are used because you said left and right do not matter"
        if flip_ok
        else "no mirror images, because for digits, letters and many objects left and right matter "
        "(turn on 'Flip' if they do not)"
    )
    why = (
        f"Small shifts, zooms and turns show the network new versions of each of the {facts.train_images:,} "
        f"training images, so it learns the shapes rather than the pixels; {flips}."
    )
    return rotation, zoom, translation, Choice("Augmentation", value, why)


def choose_recipe(config: TrainConfig, facts: Facts) -> tuple[dict, list[Choice]]:
    """The recipe's fields and their reasons."""
    batch = auto_batch_size(facts.train_images)
    rate = 2e-3
    fields: dict = {
        "optimizer": "adamw",
        "learning_rate": rate,
        "schedule": "warmup-cosine",
        "batch_size": batch,
        "label_smoothing": 0.1,
        "early_stopping": True,
        "patience": AUTO_PATIENCE,
    }
    choices = [
        Choice(
            "Optimizer",
            f"AdamW, learning rate {rate:g}, batch {batch}",
            "AdamW adapts each weight's step and keeps weights small (weight decay), which works "
            f"without tuning; batches of {batch} suit {facts.train_images:,} training images.",
        )
    ]
    if config.time_budget:
        when = f"ends when the time budget of {format_duration(config.time_budget)} does"
    else:
        when = f"ends with the last of the {config.epochs} epochs"
    choices.append(
        Choice(
            "Schedule",
            "warm-up, then cosine decay",
            f"The learning rate rises over the first epoch, so the first updates do no harm, then glides to "
            f"zero, so the last epochs settle into a good solution; the decay {when}.",
        )
    )
    choices.append(
        Choice(
            "Label smoothing",
            "0.1",
            "The network is taught to be 90% sure rather than 100%, which makes it less over-confident "
            "and usually a little more accurate.",
        )
    )
    rotation, zoom, translation, choice = augmentation(facts, config.augment_flip)
    fields.update(augment_rotation=rotation, augment_zoom=zoom, augment_translation=translation)
    choices.append(choice)
    choices.append(
        Choice(
            "Early stopping",
            f"after {AUTO_PATIENCE} epochs without a better validation accuracy",
            "The model kept is the best epoch's (highest validation accuracy), and the run ends early once "
            "more epochs stop helping.",
        )
    )
    ratio = facts.imbalance
    if ratio > UNBALANCED_RATIO:
        fields["class_weights"] = True
        times = "a class without training images" if math.isinf(ratio) else f"{ratio:.3g} times as many images"
        choices.append(
            Choice(
                "Class weights",
                "on",
                f"The largest class has {times} as the smallest ({facts.largest} against {facts.smallest}), so "
                "mistakes on small classes count more and the network does not just learn to say the big class.",
            )
        )
    else:
        fields["class_weights"] = False
        choices.append(
            Choice(
                "Class weights",
                "off",
                f"The classes are balanced ({facts.smallest} to {facts.largest} training images each).",
            )
        )
    return fields, choices


def few_images_advice(facts: Facts) -> str | None:
    """A sentence recommending transfer learning when classes are very small, else None."""
    if facts.smallest >= FEW_IMAGES_PER_CLASS:
        return None
    return (
        f"The smallest class has only {facts.smallest} training image{'s' if facts.smallest != 1 else ''} "
        f"(under {FEW_IMAGES_PER_CLASS}): starting from a network pre-trained on ImageNet (transfer learning) "
        "is likely better than learning from scratch. Use 'Transfer learning' (MobileNetV2 with ImageNet "
        "weights, downloaded once when online) to try it."
    )


def transfer_config(config: TrainConfig) -> TrainConfig:
    """``config`` switched to transfer learning: the ImageNet MobileNetV2 with the auto recipe."""
    return dataclasses.replace(config, model=TRANSFER_MODEL, model_options={}, pretrained=True, recipe=AUTO)


def resolve(config: TrainConfig, dataset) -> tuple[TrainConfig, list[Choice]]:
    """``config`` with ``auto`` model and recipe replaced by concrete choices, and their reasons.

    A config that asks for neither comes back unchanged with no choices. The caller's config is
    not changed.
    """
    return resolve_facts(config, measure(dataset))


def resolve_facts(config: TrainConfig, facts: Facts) -> tuple[TrainConfig, list[Choice]]:
    """:func:`resolve` from what was measured (the Train tab resolves on its preview's counts)."""
    if not wants_auto(config):
        return config, []
    resolved = dataclasses.replace(config, model_options=dict(config.model_options))
    choices: list[Choice] = []
    if config.model == AUTO:
        name, options, choice = choose_model(facts)
        resolved = dataclasses.replace(resolved, model=name, model_options=options, pretrained=False)
        choices.append(choice)
    if config.recipe == AUTO:
        fields, recipe_choices = choose_recipe(config, facts)
        resolved = dataclasses.replace(resolved, **fields)
        choices += recipe_choices
    if config.time_budget:
        choices.append(
            Choice(
                "Time budget",
                format_duration(config.time_budget),
                "The first epoch is timed and the number of epochs is fitted so training, testing and saving "
                "end within the budget.",
            )
        )
    return resolved, choices


def choices_text(choices: list[Choice]) -> list[str]:
    return [c.line() for c in choices]


def resolve_and_report(config: TrainConfig, dataset, reporter) -> tuple[TrainConfig, list[Choice]]:
    """:func:`resolve`, with each choice and the transfer-learning advice told to ``reporter``."""
    resolved, choices = resolve(config, dataset)
    if choices:
        reporter.on_message("Auto chose, from what it measured of the dataset:")
        for line in choices_text(choices):
            reporter.on_message(f"  {line}")
    advice = few_images_advice(measure(dataset))
    if advice and resolved.model != TRANSFER_MODEL:
        reporter.on_message(advice)
    return resolved, choices
