"""A form generated from a model's options (``ModelSpec.options``): one field per option.

Booleans become check boxes, whole numbers spin boxes, fractions decimal spin boxes, text a line.
Tooltips come from ``core.models.registry.OPTION_HELP``. ``values()`` returns only the options that
differ from the model's defaults, which is what ``TrainConfig.model_options`` keeps.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QWidget

from gui.widgets.fields import Form, ScientificSpinBox, dspin, spin

LABELS = {
    "rescale_input": "Rescale input",
    "batch_norm": "Batch normalisation",
    "bn_momentum": "Batch norm momentum",
    "dropout": "Dropout (classifier)",
    "conv_dropout": "Dropout (conv blocks)",
    "filters": "First conv filters",
    "dense_units": "Dense units",
    "weight_decay": "Weight decay (L2)",
    "width": "Width multiplier",
    "imagenet_stem": "ImageNet stem",
    "stages": "Blocks per stage",
    "base_filters": "Base filters",
    "depth": "Depth",
    "growth_rate": "Growth rate (k)",
    "bottleneck": "Bottleneck layers",
    "compression": "Compression",
    "trainable_backbone": "Fine-tune backbone",
    "resize_to": "Resize to",
}
#: Options that fight over-fitting: shown with the hyper-parameters ("Regularisation").
REGULARISATION = ("dropout", "conv_dropout", "weight_decay")


def _help(key: str) -> str:
    try:
        from core.models.registry import OPTION_HELP
    except ImportError:  # pragma: no cover - core.models missing
        return ""
    return OPTION_HELP.get(key, "")


def _editor(key: str, default: Any) -> QWidget:
    if isinstance(default, bool):
        return QCheckBox("on")
    if isinstance(default, int):
        if key == "resize_to":
            return spin(0, 2048, step=16, special="automatic", suffix=" px")
        if key == "depth":
            return spin(1, 1000, step=3)
        return spin(1, 4096, step=8 if default >= 16 else 1)
    if isinstance(default, float):
        if key.endswith("dropout"):
            return dspin(0.0, 0.95, step=0.05, decimals=2)
        if key == "weight_decay":
            return ScientificSpinBox(minimum=0.0, maximum=0.1)
        if key == "bn_momentum":
            return dspin(0.0, 0.999, step=0.01, decimals=3)
        if key == "compression":
            return dspin(0.05, 1.0, step=0.05, decimals=2)
        return dspin(0.05, 4.0, step=0.25, decimals=2)
    return QLineEdit()


class ModelOptionsForm(Form):
    """Fields for some of a model's options (``keys`` filters which: regularisation or the rest)."""

    def __init__(self, title: str, *, regularisation: bool, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.regularisation = regularisation
        self.defaults: dict[str, Any] = {}
        self.empty = QLabel("")
        self.empty.setWordWrap(True)
        self.layout_.addRow(self.empty)

    def _wanted(self, key: str) -> bool:
        return (key in REGULARISATION) == self.regularisation

    def set_spec(self, spec, values: dict[str, Any] | None = None) -> None:
        """Rebuild the fields for ``spec`` and fill them with ``values`` over the defaults."""
        while self.layout_.rowCount() > 1:
            self.layout_.removeRow(1)
        self.fields.clear()
        self.labels.clear()
        self.defaults = {k: v for k, v in spec.options.items() if self._wanted(k)}
        for key, default in self.defaults.items():
            tip = _help(key)
            tip = f"{tip} Default: {default}." if tip else f"Default: {default}."
            self.add(key, LABELS.get(key, key.replace("_", " ").capitalize()), _editor(key, default), tip)
        self.set_values(self.defaults)
        if values:
            self.set_values({k: v for k, v in values.items() if k in self.fields})
        if self.defaults:
            self.empty.hide()
        else:
            self.empty.setText(
                f"{spec.title} has no {'regularisation ' if self.regularisation else ''}options to tune."
            )
            self.empty.show()

    def changed_values(self) -> dict[str, Any]:
        """Only the options that differ from the defaults."""
        out = {}
        for key, value in self.values().items():
            default = self.defaults.get(key)
            if isinstance(default, float):
                if abs(float(value) - default) > 1e-12:
                    out[key] = float(value)
            elif value != default:
                out[key] = value
        return out
