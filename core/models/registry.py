"""The model zoo's catalogue: specs, option checking, input-size checking, building and summaries.

Nothing here imports TensorFlow or Keras: the GUI lists models at start-up, before TensorFlow has
loaded. The builders live in :mod:`core.models.classic`, :mod:`core.models.modern` and
:mod:`core.models.applications`, which import Keras and are imported only when a model is built.

Minimum input sizes are computed, not guessed: every architecture describes its spatial
downsampling as a list of :class:`Downsample` steps (kernel, stride, padding), and
:func:`_smallest_input` finds the smallest side length for which each step still has a full window
(``valid`` padding) or something to stride over (``same`` padding).
"""

from __future__ import annotations

import importlib
import logging
import math
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.errors import ModelError
from core.values import EXPECTED, as_kind

if TYPE_CHECKING:  # pragma: no cover - typing only, never imported at run time here
    import keras

log = logging.getLogger(__name__)

MessageCallback = Callable[[str], None]


@dataclass(frozen=True)
class ModelSpec:
    """What the GUI and the command line show about a model, and the options it takes."""

    name: str  # short stable CLI name, e.g. "lenet-5"
    title: str  # display name, e.g. "LeNet-5"
    description: str  # one line for a tooltip or a list
    origin: str  # where the architecture comes from, e.g. "LeCun et al. 1998"
    family: str  # "classic" | "modern" | "pretrained"
    min_size: int  # smallest input height/width accepted with the default options
    options: dict  # tunable options with their defaults (bool, int, float or str values)
    supports_pretrained: bool = False

    def __hash__(self) -> int:  # the options dict is unhashable; the name identifies a spec
        return hash(self.name)


@dataclass(frozen=True)
class BuildRequest:
    """Everything a builder function receives (options already checked and complete)."""

    spec: ModelSpec
    input_shape: tuple[int, int, int]
    num_classes: int
    options: dict[str, Any]
    pretrained: bool
    notify: MessageCallback


@dataclass(frozen=True)
class Downsample:
    """One spatial downsampling step: a pooling or strided convolution window."""

    kernel: int
    stride: int
    padding: str = "valid"  # "valid" or "same", as in Keras


# One-line explanations of every option name used in the zoo (for tooltips and `--help`-like text).
OPTION_HELP: dict[str, str] = {
    "rescale_input": "Divide pixels by 255 inside the model (off: the network sees raw 0-255 values).",
    "batch_norm": "Batch normalisation after the convolutions.",
    "bn_momentum": "How slowly batch norm's running mean and variance (used when testing) follow the batches: "
    "0.99 (Keras) averages about the last 100 batches; 0.9 suits short runs of a few hundred batches.",
    "dropout": "Dropout rate before the classifier (and between dense layers).",
    "conv_dropout": "Dropout rate after each convolution block.",
    "filters": "Filters in the first convolution layer.",
    "dense_units": "Units in the hidden dense layer (the 'features' layer).",
    "weight_decay": "L2 penalty on the convolution weights (0 = none).",
    "width": "Multiplier on every Inception block's filter counts (1.0 = the paper's widths).",
    "imagenet_stem": "ImageNet-style stem for large images: 7x7 stride-2 conv and stride-2 max-pooling.",
    "stages": "Bottleneck blocks per stage, comma separated (3,4,6,3 = ResNet-50).",
    "base_filters": "Bottleneck width of the first stage; doubles at every stage, output is 4x.",
    "depth": "Number of layers (3n+4, or 6n+4 with bottleneck layers).",
    "growth_rate": "Feature maps each dense layer adds (k).",
    "bottleneck": "DenseNet-B: a 1x1 convolution (4k maps) before each 3x3 convolution.",
    "compression": "Fraction of feature maps a transition layer keeps (DenseNet-C below 1.0).",
    "trainable_backbone": "Fine-tune the pre-trained backbone too (off: only the new head learns).",
    "resize_to": "Resize images to this square size first (0 = automatic: enlarge only if too small).",
    "conv_layers": "Convolution layers as FILTERSxKERNEL, comma separated (32x5,64x3 = 32 5x5 filters, then 64 3x3).",
    "stride": "Stride of the convolutions: one number for all, or one per layer (2,2,1,1).",
    "pool": "Pooling after every pool_every convolutions: max, avg or none.",
    "pool_every": "Pool (2x2) after every this many convolution layers (1 = after each).",
    "dense_layers": "Hidden dense layers before the classifier (the last is the 'features' layer).",
    "blocks": "Blocks of two 3x3 convolutions, each followed by a 2x2 max-pool (filters double at every block).",
}


# ---------------------------------------------------------------------------------------------
# Option checking
# ---------------------------------------------------------------------------------------------

_LIST_OPTIONS = ("stages", "stride", "conv_layers")  # text options that also take a list or a number


def _coerce(title: str, key: str, default: Any, value: Any) -> Any:
    """Convert ``value`` to the type of ``default`` (strings from the command line are welcome)."""
    problem = f"{title}: option '{key}' must be"
    kind = type(default)
    if kind in EXPECTED:
        try:
            return as_kind(value, kind)
        except ValueError as exc:
            raise ModelError(f"{problem} {exc}; got {value!r}.") from None
    if isinstance(default, str):
        if key in _LIST_OPTIONS and isinstance(value, list | tuple | int) and not isinstance(value, bool):
            return ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if isinstance(value, str):
            return value.strip()
        raise ModelError(f"{problem} text; got {value!r}.")
    raise TypeError(f"unsupported default type for option {key!r}")  # a zoo bug, not a user error


def _check_range(title: str, key: str, value: Any) -> None:
    def fail(what: str) -> None:
        raise ModelError(f"{title}: option '{key}' must be {what}; got {value!r}.")

    if (key.endswith("dropout") or key == "bn_momentum") and not 0.0 <= value < 1.0:
        fail("at least 0 and below 1")
    elif key == "weight_decay" and not 0.0 <= value <= 0.1:
        fail("between 0 and 0.1")
    elif key == "width" and not 0.0 < value <= 4.0:
        fail("above 0 and at most 4")
    elif key == "compression" and not 0.0 < value <= 1.0:
        fail("above 0 and at most 1")
    elif key in ("filters", "dense_units", "base_filters", "growth_rate", "depth") and not 1 <= value <= 4096:
        fail("between 1 and 4096")
    elif key == "resize_to" and not 0 <= value <= 2048:
        fail("between 0 (automatic) and 2048")
    elif key == "dense_layers" and not 1 <= value <= 8:
        fail("between 1 and 8")
    elif key == "blocks" and not 1 <= value <= 6:
        fail("between 1 and 6")
    elif key == "pool_every" and not 1 <= value <= 16:
        fail("between 1 and 16")
    elif key == "pool" and value not in ("max", "avg", "none"):
        fail("max, avg or none")


def parse_stages(text: str) -> tuple[int, ...]:
    """``"3,4,6,3"`` -> ``(3, 4, 6, 3)``; ModelError for anything else."""
    try:
        stages = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        stages = ()
    if not 1 <= len(stages) <= 6 or any(not 1 <= n <= 64 for n in stages):
        raise ModelError(
            f"Option 'stages' must list 1 to 6 block counts (each 1-64) separated by commas, "
            f"such as 3,4,6,3; got {text!r}."
        )
    return stages


def parse_conv_layers(text: str) -> tuple[tuple[int, int], ...]:
    """``"32x5,64x3"`` -> ``((32, 5), (64, 3))`` (filters x kernel); ModelError for anything else."""
    layers: list[tuple[int, int]] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        filters, _, kernel = part.lower().partition("x")
        try:
            layers.append((int(filters), int(kernel or 3)))
        except ValueError:
            layers = []
            break
    if not 1 <= len(layers) <= 16 or any(not (1 <= f <= 4096 and 1 <= k <= 11) for f, k in layers):
        raise ModelError(
            f"Option 'conv_layers' must list 1 to 16 layers as FILTERSxKERNEL separated by commas "
            f"(filters 1-4096, kernel 1-11), such as 32x5,64x3; got {text!r}."
        )
    return tuple(layers)


def parse_strides(text: str, count: int) -> tuple[int, ...]:
    """``"2"`` -> that stride for all ``count`` layers; ``"2,2,1"`` -> per layer (the last repeats)."""
    try:
        strides = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        strides = []
    if not strides or len(strides) > count or any(not 1 <= s <= 8 for s in strides):
        raise ModelError(
            f"Option 'stride' must be one stride (1-8) for all convolutions or one per layer "
            f"(at most {count}), such as 2,2,1; got {text!r}."
        )
    return tuple(strides + [strides[-1]] * (count - len(strides)))


def _custom_cnn_steps(o: Mapping[str, Any]) -> list[Downsample]:
    layers = parse_conv_layers(o["conv_layers"])
    steps = []
    for i, ((_, kernel), stride) in enumerate(zip(layers, parse_strides(o["stride"], len(layers)), strict=True), 1):
        if stride > 1:
            steps.append(Downsample(kernel, stride, "same"))
        if o["pool"] != "none" and i % o["pool_every"] == 0:
            steps.append(_POOL2)
    return steps


def densenet_layers_per_block(depth: int, bottleneck: bool) -> int:
    """Layers per dense block for a 3-block CIFAR DenseNet (Huang et al. 2017, section 4)."""
    per_layer = 2 if bottleneck else 1  # a bottleneck layer has two convolutions
    layers_per_block, remainder = divmod(depth - 4, 3 * per_layer)
    if remainder or layers_per_block < 1:
        form = "6n+4 (e.g. 40, 100, 190)" if bottleneck else "3n+4 (e.g. 13, 40, 100)"
        raise ModelError(
            f"DenseNet depth {depth} does not fit three dense blocks: with bottleneck "
            f"{'on' if bottleneck else 'off'} the depth must be {form}."
        )
    return layers_per_block


# ---------------------------------------------------------------------------------------------
# Minimum input sizes
# ---------------------------------------------------------------------------------------------


def _output_side(side: int, step: Downsample) -> int:
    """Side length after ``step``, or 0 when the step has nothing to work on."""
    if step.padding == "valid":
        return 0 if side < step.kernel else (side - step.kernel) // step.stride + 1
    return 0 if side < step.stride else math.ceil(side / step.stride)


def _smallest_input(steps: list[Downsample]) -> int:
    side = 1
    while True:
        current = side
        for step in steps:
            current = _output_side(current, step)
            if current < 1:
                break
        else:
            return side
        side += 1


_POOL2 = Downsample(2, 2)
_VALID3 = Downsample(3, 1)  # a 3x3 'valid' convolution shrinks the side by 2
# ImageNet stems: a 7x7 stride-2 convolution and a 3x3 stride-2 max-pool (GoogLeNet has a second pool).
_IMAGENET_STEM = [Downsample(7, 2, "same"), Downsample(3, 2, "same")]
_GOOGLENET_IMAGENET_STEM = [*_IMAGENET_STEM, Downsample(3, 2, "same")]


def _stem(options: Mapping[str, Any], stem: list[Downsample] = _IMAGENET_STEM) -> list[Downsample]:
    return list(stem) if options.get("imagenet_stem") else []


def _halvings(count: int) -> list[Downsample]:
    """``count`` stride-2 'same' steps (strided convolutions or 'same' pools)."""
    return [Downsample(3, 2, "same")] * count


_DOWNSAMPLING: dict[str, Callable[[Mapping[str, Any]], list[Downsample]]] = {
    "simple-cnn-1": lambda o: [_VALID3, _POOL2],
    "simple-cnn-2": lambda o: [_VALID3, _POOL2, _VALID3, _POOL2],
    "lenet-5": lambda o: [_POOL2, _POOL2],  # 'same' 5x5 convolutions keep the size
    "alexnet-small": lambda o: [Downsample(3, 2)] * 3,
    "vgg16-small": lambda o: [_POOL2] * 3,
    "bn-gap-cnn": lambda o: [_POOL2] * 3,
    "googlenet-small": lambda o: _stem(o, _GOOGLENET_IMAGENET_STEM) + _halvings(2),
    "resnet-20": lambda o: _halvings(2),
    "resnet-56": lambda o: _halvings(2),
    "resnet-bottleneck": lambda o: _stem(o) + _halvings(len(parse_stages(o["stages"])) - 1),
    "densenet-small": lambda o: _stem(o) + [_POOL2, _POOL2],
    "custom-cnn": lambda o: _custom_cnn_steps(o),
    "auto-cnn": lambda o: [_POOL2] * o["blocks"],
}

# Keras Applications resize small images up to the backbone's minimum inside the model.
APPLICATION_MIN_SIZE = 8


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    builder: str  # "module:function" inside core.models


def _own_net(
    name: str,
    title: str,
    description: str,
    origin: str,
    family: str,
    options: dict[str, Any],
    builder: str,
) -> _Entry:
    min_size = _smallest_input(_DOWNSAMPLING[name](options))
    spec = ModelSpec(name, title, description, origin, family, min_size, options)
    return _Entry(spec, builder)


def _application(name: str, title: str, description: str, origin: str) -> _Entry:
    options = {"dropout": 0.2, "trainable_backbone": False, "resize_to": 0}
    spec = ModelSpec(
        name, title, description, origin, "pretrained", APPLICATION_MIN_SIZE, options, supports_pretrained=True
    )
    return _Entry(spec, "applications:build_application")


_CLASSIC_OPTIONS = {"batch_norm": False, "rescale_input": True}

_ENTRIES: tuple[_Entry, ...] = (
    _own_net(
        "simple-cnn-1",
        "Simple CNN (1 conv)",
        "One 3x3 conv (32) + 2x2 max-pool, dense 128, dropout .25/.5. MNIST reference 98.8% in 12 epochs.",
        "Keras MNIST tutorials",
        "classic",
        {"filters": 32, "dense_units": 128, "conv_dropout": 0.25, "dropout": 0.5, **_CLASSIC_OPTIONS},
        "classic:build_simple_cnn_1",
    ),
    _own_net(
        "simple-cnn-2",
        "Simple CNN (2 conv)",
        "The classic Keras MNIST example: conv 32 and conv 64 (3x3) with max-pools, dense 128, "
        "dropout .25/.5. MNIST reference 99.29% in 12 epochs, batch 128, Adam.",
        "Keras examples (mnist_cnn)",
        "classic",
        {"filters": 32, "dense_units": 128, "conv_dropout": 0.25, "dropout": 0.5, **_CLASSIC_OPTIONS},
        "classic:build_simple_cnn_2",
    ),
    _own_net(
        "lenet-5",
        "LeNet-5",
        "LeNet-5 (LeCun 1998) with ReLU: two 5x5 conv + avg-pool stages, dense 120-84. "
        "Fashion-MNIST reference 91.4% in 20 epochs.",
        "LeCun et al. 1998",
        "classic",
        {"dropout": 0.0, **_CLASSIC_OPTIONS},
        "classic:build_lenet_5",
    ),
    _own_net(
        "alexnet-small",
        "AlexNet (small)",
        "AlexNet-8 shrunk for 32x32: five 3x3 convs (96-256-384-384-256) with BN and 3x3/2 max-pools, "
        "dense 2048-2048 with dropout .5. CIFAR-10 reference 75.4% in 50 epochs.",
        "Krizhevsky et al. 2012",
        "classic",
        {"dropout": 0.5, "batch_norm": True, "rescale_input": True},
        "classic:build_alexnet_small",
    ),
    _own_net(
        "vgg16-small",
        "VGG-16 (small)",
        "VGG-16 shrunk for CIFAR-10: three blocks of two 3x3 convs (64, 128, 256) with BN, max-pool and "
        "dropout, dense 256-256. CIFAR-10 reference 82.5% in 20 epochs.",
        "Simonyan & Zisserman 2014",
        "classic",
        {"conv_dropout": 0.4, "dropout": 0.5, "batch_norm": True, "rescale_input": True},
        "classic:build_vgg16_small",
    ),
    _own_net(
        "custom-cnn",
        "Custom CNN",
        "Your own plain CNN: conv layers as FILTERSxKERNEL (default the seeds' 6-conv photo network "
        "32x5,32x5,64x5,64x3,128x3,128x3), stride, 2x2 pooling, batch norm, dense layers, dropout.",
        "Own-photos study (course notes)",
        "classic",
        {
            "conv_layers": "32x5,32x5,64x5,64x3,128x3,128x3",
            "stride": "1",
            "pool": "max",
            "pool_every": 2,
            "batch_norm": False,
            "dense_layers": 1,
            "dense_units": 128,
            "conv_dropout": 0.0,
            "dropout": 0.5,
            "rescale_input": True,
        },
        "classic:build_custom_cnn",
    ),
    _own_net(
        "bn-gap-cnn",
        "BN + GAP CNN",
        "Five 3x3 convs (64-64-128-128-256) with batch norm and dropout, global average pooling, dense 512. "
        "CIFAR-10 reference 81.8% plain, 82.6% with BN, 86.4% tuned.",
        "CIFAR-10 course notebooks",
        "modern",
        {"conv_dropout": 0.25, "dropout": 0.5, "batch_norm": True, "bn_momentum": 0.99, "rescale_input": True},
        "modern:build_bn_gap_cnn",
    ),
    _own_net(
        "auto-cnn",
        "Auto CNN (VGG-style, BN)",
        "The network Auto scales to the data: blocks of two 3x3 conv + BN + ReLU and a 2x2 max-pool, "
        "filters doubling per block, global average pooling, dropout. Auto picks blocks and filters.",
        "VGG (Simonyan & Zisserman 2014) with batch norm (Ioffe & Szegedy 2015)",
        "modern",
        {"blocks": 3, "filters": 32, "dropout": 0.2, "weight_decay": 0.0},
        "modern:build_auto_cnn",
    ),
    _own_net(
        "googlenet-small",
        "GoogLeNet (small)",
        "GoogLeNet's nine Inception blocks (1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1, concatenated) at half "
        "width with BN, global average pooling; auxiliary classifiers omitted.",
        "Szegedy et al. 2014",
        "modern",
        {"width": 0.5, "dropout": 0.4, "batch_norm": True, "weight_decay": 0.0, "imagenet_stem": False},
        "modern:build_googlenet_small",
    ),
    _own_net(
        "resnet-20",
        "ResNet-20",
        "CIFAR ResNet-20 (He 2015): 3 stages of 3 basic residual blocks (16/32/64 filters), "
        "projection shortcuts, global average pooling. About 0.27M parameters, 91.3% on CIFAR-10 in the paper.",
        "He et al. 2015",
        "modern",
        {"batch_norm": True, "weight_decay": 1e-4, "dropout": 0.0},
        "modern:build_resnet_20",
    ),
    _own_net(
        "resnet-56",
        "ResNet-56",
        "CIFAR ResNet-56 (He 2015): 3 stages of 9 basic residual blocks (16/32/64 filters), "
        "projection shortcuts, global average pooling. About 0.86M parameters, 93.0% on CIFAR-10 in the paper.",
        "He et al. 2015",
        "modern",
        {"batch_norm": True, "weight_decay": 1e-4, "dropout": 0.0},
        "modern:build_resnet_56",
    ),
    _own_net(
        "resnet-bottleneck",
        "ResNet (bottleneck)",
        "ResNet with bottleneck blocks (1x1, 3x3, 1x1, projected shortcut first in each stage); "
        "stages 3,4,6,3 = the ResNet-50 layout, at 1/4 width by default. ImageNet stem optional.",
        "He et al. 2015",
        "modern",
        {
            "stages": "3,4,6,3",
            "base_filters": 16,
            "batch_norm": True,
            "weight_decay": 1e-4,
            "dropout": 0.0,
            "imagenet_stem": False,
        },
        "modern:build_resnet_bottleneck",
    ),
    _own_net(
        "densenet-small",
        "DenseNet (CIFAR)",
        "DenseNet for CIFAR: 3 dense blocks of BN-ReLU-Conv (growth rate k), transitions of 1x1 conv + "
        "2x2 avg-pool, global average pooling. Depth 40, k=12 by default; CIFAR-10 reference 93.5%.",
        "Huang et al. 2017",
        "modern",
        {
            "depth": 40,
            "growth_rate": 12,
            "bottleneck": False,
            "compression": 1.0,
            "dropout": 0.2,
            "weight_decay": 1e-4,
            "imagenet_stem": False,
        },
        "modern:build_densenet_small",
    ),
    _application(
        "vgg16",
        "VGG16 (Keras Applications)",
        "Keras Applications VGG16 backbone (14.7M parameters) with a new dropout + softmax head; "
        "ImageNet weights optional.",
        "Simonyan & Zisserman 2014; keras.applications",
    ),
    _application(
        "resnet50",
        "ResNet50 (Keras Applications)",
        "Keras Applications ResNet50 backbone (23.6M parameters) with a new dropout + softmax head; "
        "ImageNet weights optional. tf_flowers reference 76.6% from scratch at 224 px.",
        "He et al. 2015; keras.applications",
    ),
    _application(
        "inceptionv3",
        "InceptionV3 (Keras Applications)",
        "Keras Applications InceptionV3 backbone (21.8M parameters, images enlarged to at least 75 px) "
        "with a new dropout + softmax head. tf_flowers reference 86.3% from scratch at 299 px.",
        "Szegedy et al. 2015; keras.applications",
    ),
    _application(
        "densenet121",
        "DenseNet121 (Keras Applications)",
        "Keras Applications DenseNet121 backbone (7.0M parameters) with a new dropout + softmax head; "
        "ImageNet weights optional.",
        "Huang et al. 2017; keras.applications",
    ),
    _application(
        "mobilenetv2",
        "MobileNetV2 (Keras Applications)",
        "Keras Applications MobileNetV2 backbone (2.3M parameters), small and fast, with a new dropout + "
        "softmax head; ImageNet weights optional.",
        "Sandler et al. 2018; keras.applications",
    ),
    _application(
        "efficientnetb0",
        "EfficientNetB0 (Keras Applications)",
        "Keras Applications EfficientNetB0 backbone (4.0M parameters) with a new dropout + softmax head; "
        "ImageNet weights optional.",
        "Tan & Le 2019; keras.applications",
    ),
)

_BY_NAME: dict[str, _Entry] = {entry.spec.name: entry for entry in _ENTRIES}


def _copy(spec: ModelSpec) -> ModelSpec:
    """A spec whose options dict the caller may change without touching the catalogue."""
    return replace(spec, options=dict(spec.options))


def _entry(name: str) -> _Entry:
    key = str(name).strip().lower()
    if key not in _BY_NAME:
        known = ", ".join(_BY_NAME)
        raise ModelError(f"Unknown model '{name}'. Known models: {known}.")
    return _BY_NAME[key]


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def list_models() -> list[ModelSpec]:
    """All models, simplest first: classic, then modern, then the Keras Applications backbones."""
    return [_copy(entry.spec) for entry in _ENTRIES]


def get_spec(name: str) -> ModelSpec:
    """The spec for ``name``; ModelError naming the known models if there is none."""
    return _copy(_entry(name).spec)


def resolve_options(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The model's default options overlaid with ``options``, converted to the defaults' types.

    Accepts strings for every type (as the command line gives them). Raises ModelError for an
    unknown option name, a value of the wrong kind or out of range, or a combination the
    architecture cannot build (e.g. a DenseNet depth that does not fit three blocks).
    """
    spec = _entry(name).spec
    resolved = dict(spec.options)
    for key, value in (options or {}).items():
        if key not in spec.options:
            known = ", ".join(spec.options) or "none"
            raise ModelError(f"{spec.title} has no option '{key}'. Its options: {known}.")
        resolved[key] = _coerce(spec.title, key, spec.options[key], value)
        _check_range(spec.title, key, resolved[key])
    if "stages" in resolved:
        resolved["stages"] = ",".join(str(n) for n in parse_stages(resolved["stages"]))
    if "conv_layers" in resolved:
        layers = parse_conv_layers(resolved["conv_layers"])
        resolved["conv_layers"] = ",".join(f"{f}x{k}" for f, k in layers)
        strides = parse_strides(resolved["stride"], len(layers))
        resolved["stride"] = str(strides[0]) if len(set(strides)) == 1 else ",".join(str(n) for n in strides)
    if "depth" in resolved and "bottleneck" in resolved:
        densenet_layers_per_block(resolved["depth"], resolved["bottleneck"])
    return resolved


def _min_size_for(entry: _Entry, options: Mapping[str, Any]) -> int:
    steps = _DOWNSAMPLING.get(entry.spec.name)
    return _smallest_input(steps(options)) if steps else entry.spec.min_size


def _normalise_shape(input_shape: Any) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError(
            f"An input shape is height x width x channels, three positive whole numbers such as "
            f"(28, 28, 1); got {input_shape!r}."
        )
    return shape  # type: ignore[return-value]


def _check(entry: _Entry, shape: tuple[int, int, int], options: Mapping[str, Any]) -> None:
    spec = entry.spec
    height, width, channels = shape
    if spec.family == "pretrained" and channels not in (1, 3):
        raise ModelError(
            f"{spec.title} takes grayscale (1 channel) or colour (3 channel) images; this dataset's have "
            f"{channels} channels. Choose grayscale or RGB colour mode."
        )
    smallest = _min_size_for(entry, options)
    if height < smallest or width < smallest:
        raise ModelError(
            f"{spec.title} needs images of at least {smallest}x{smallest} pixels; this dataset's are "
            f"{width}x{height}. Choose a larger image size or another model."
        )


def check_input(name: str, input_shape: tuple[int, int, int], options: Mapping[str, Any] | None = None) -> None:
    """Raise ModelError with a sentence for the user when ``name`` cannot take ``input_shape``.

    ``input_shape`` is (height, width, channels). ``options`` (optional) matters for options that
    change the downsampling, such as ``imagenet_stem`` or ``stages``.
    """
    entry = _entry(name)
    _check(entry, _normalise_shape(input_shape), resolve_options(name, options))


def _log_message(text: str) -> None:
    log.warning("%s", text)


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    options: Mapping[str, Any] | None = None,
    pretrained: bool = False,
    on_message: MessageCallback | None = None,
) -> keras.Model:
    """Build ``name`` for raw-pixel images of ``input_shape`` (H, W, C) and ``num_classes`` classes.

    The model's input layer is called "pixels" and takes raw 0-255 values; preprocessing is part
    of the model, which ends in ``Dense(num_classes, softmax, name="predictions")`` after a layer
    named "features". ``pretrained`` asks for ImageNet weights (Keras Applications only); when they
    cannot be downloaded the model is built from scratch and ``on_message`` is told why.
    Everything the user can fix raises ModelError before any layer is built.
    """
    entry = _entry(name)
    spec = entry.spec
    resolved = resolve_options(name, options)
    shape = _normalise_shape(input_shape)
    _check(entry, shape, resolved)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"A classifier needs at least 2 classes; got {num_classes!r}.")
    if pretrained and not spec.supports_pretrained:
        raise ModelError(
            f"{spec.title} has no pre-trained weights; only the Keras Applications models "
            f"({', '.join(e.spec.name for e in _ENTRIES if e.spec.supports_pretrained)}) do."
        )
    module_name, function_name = entry.builder.split(":")
    builder = getattr(importlib.import_module(f"core.models.{module_name}"), function_name)
    request = BuildRequest(_copy(spec), shape, num_classes, resolved, bool(pretrained), on_message or _log_message)
    try:
        return builder(request)
    except ModelError:
        raise
    except Exception as exc:  # e.g. out of memory: tell the user what failed, keep the details
        log.warning("Building %s for %s failed", spec.name, shape, exc_info=True)
        raise ModelError(
            f"{spec.title} could not be built for {shape[1]}x{shape[0]}x{shape[2]} images "
            f"({type(exc).__name__}: {exc}).",
            detail=traceback.format_exc(),
        ) from exc


def _shape_text(layer: Any) -> str:
    try:
        output = layer.output
    except (AttributeError, ValueError):  # a layer never called in a graph
        return "?"
    outputs = output if isinstance(output, list | tuple) else [output]
    texts = [str(tuple(None if d is None else int(d) for d in tensor.shape)) for tensor in outputs]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _count(variables: list[Any]) -> int:
    total = 0
    for variable in variables:
        total += math.prod(int(d) for d in variable.shape)
    return total


def model_summary(model: keras.Model) -> dict[str, Any]:
    """``model.summary()`` as data: one row per top-level layer plus parameter totals.

    Works for any built Keras model (also ones loaded from a file). A nested backbone is one row.
    """
    rows = []
    for layer in model.layers:
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": _shape_text(layer),
                "params": _count(layer.weights),
            }
        )
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return {"rows": rows, "total": trainable + non_trainable, "trainable": trainable, "non_trainable": non_trainable}
