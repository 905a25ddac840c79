"""Small input widgets shared by the forms: a learning-rate box that speaks ``1e-3``, a form helper."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)


class ScientificSpinBox(QDoubleSpinBox):
    """A spin box for rates: shows ``0.001`` as ``1e-3``, steps along 1, 3, 10, 30, ... x 10^k."""

    def __init__(self, parent: QWidget | None = None, minimum: float = 1e-7, maximum: float = 10.0) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(minimum, maximum)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        if value == 0:
            return "0"
        text = f"{value:.4g}"
        if "e" in text:
            mantissa, exp = text.split("e")
            return f"{mantissa}e{int(exp)}"
        return text

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:
        t = text.strip()
        if not t:
            return QValidator.State.Intermediate
        try:
            v = float(t)
        except ValueError:
            partial = t.rstrip("eE+-.")
            try:
                float(partial or "0")
                return QValidator.State.Intermediate
            except ValueError:
                return QValidator.State.Invalid
        if self.minimum() <= v <= self.maximum():
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        value = self.value()
        for _ in range(abs(steps)):
            value = _next_nice(value, up=steps > 0)
        self.setValue(min(max(value, self.minimum()), self.maximum()))


def _next_nice(value: float, up: bool) -> float:
    """The next value of the 1-3-10 ladder above (or below) ``value``."""
    if value <= 0:
        return 1e-4 if up else value
    exp = math.floor(math.log10(value))
    ladder = [m * 10.0**e for e in (exp - 1, exp, exp + 1) for m in (1.0, 3.0)]
    if up:
        return next(v for v in ladder if v > value * (1 + 1e-9))
    return next(v for v in reversed(ladder) if v < value * (1 - 1e-9))


class Form(QGroupBox):
    """A titled form whose fields are read and written by name (``values()`` / ``set_values()``)."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.fields: dict[str, tuple[QWidget, Callable[[], Any], Callable[[Any], None]]] = {}
        self.labels: dict[str, QLabel] = {}

    def add(self, name: str, label: str, widget: QWidget, tooltip: str) -> QWidget:
        widget.setToolTip(tooltip)
        getter, setter, signal = _accessors(widget)
        signal.connect(self.changed)
        text = QLabel(label)
        text.setToolTip(tooltip)
        text.setBuddy(widget)
        self.layout_.addRow(text, widget)
        self.fields[name] = (widget, getter, setter)
        self.labels[name] = text
        return widget

    def widget(self, name: str) -> QWidget:
        return self.fields[name][0]

    def values(self) -> dict[str, Any]:
        return {name: getter() for name, (_, getter, _) in self.fields.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.fields and value is not None:
                widget, _, setter = self.fields[name]
                widget.blockSignals(True)
                try:
                    setter(value)
                finally:
                    widget.blockSignals(False)
        self.changed.emit()

    def set_row_enabled(self, name: str, enabled: bool) -> None:
        self.fields[name][0].setEnabled(enabled)
        self.labels[name].setEnabled(enabled)


def _accessors(widget: QWidget):
    if isinstance(widget, QCheckBox):
        return widget.isChecked, lambda v: widget.setChecked(bool(v)), widget.toggled
    if isinstance(widget, QComboBox):

        def get_combo():
            data = widget.currentData()
            return widget.currentText() if data is None else data

        def set_combo(value):
            i = widget.findData(value)
            if i < 0:
                i = widget.findText(str(value))
            if i >= 0:
                widget.setCurrentIndex(i)

        return get_combo, set_combo, widget.currentIndexChanged
    if isinstance(widget, QSpinBox):
        return widget.value, lambda v: widget.setValue(int(v)), widget.valueChanged
    if isinstance(widget, QDoubleSpinBox):
        return widget.value, lambda v: widget.setValue(float(v)), widget.valueChanged
    if isinstance(widget, QLineEdit):
        return (lambda: widget.text().strip()), lambda v: widget.setText(str(v)), widget.textChanged
    raise TypeError(f"no accessors for {type(widget).__name__}")


def spin(minimum: int, maximum: int, *, step: int = 1, special: str | None = None, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)
    box.setAccelerated(True)
    if special:
        box.setSpecialValueText(special)
    if suffix:
        box.setSuffix(suffix)
    return box


def dspin(minimum: float, maximum: float, *, step: float, decimals: int = 2, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setKeyboardTracking(False)
    if suffix:
        box.setSuffix(suffix)
    return box


def combo(items: list[tuple[str, Any]]) -> QComboBox:
    box = QComboBox()
    for text, data in items:
        box.addItem(text, data)
    return box
