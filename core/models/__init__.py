"""The model zoo: classic and modern CNNs written out layer by layer, plus Keras Applications backbones.

Importing this package does not import TensorFlow or Keras (the GUI lists models before TensorFlow
has loaded); :func:`build_model` imports them when it builds.

Every model takes raw pixels (0-255, input layer "pixels"), does its own preprocessing, and ends in
a layer named "features" followed by ``Dense(num_classes, softmax, name="predictions")``. Models
use standard Keras layers only, so a saved ``.keras`` file loads with ``safe_mode=True``.
"""

from core.models.registry import (
    OPTION_HELP,
    ModelSpec,
    build_model,
    check_input,
    get_spec,
    list_models,
    model_summary,
    resolve_options,
)

__all__ = [
    "OPTION_HELP",
    "ModelSpec",
    "build_model",
    "check_input",
    "get_spec",
    "list_models",
    "model_summary",
    "resolve_options",
]
