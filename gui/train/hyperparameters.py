"""The hyper-parameter form: every training field of ``TrainConfig``, grouped, each with a tooltip.

Dataset fields (splits, image size, limit) live on the Dataset page and model fields (model,
options, pre-trained weights) on the Model page; this form holds the rest. ``regularisation`` is an
group of the chosen model's regularisation options (dropout, weight decay), which belong to the
model but are tuned like hyper-parameters; the Train tab sets its model.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.auto import RECIPE_FIELDS
from gui.train.hardware import HardwareForm
from gui.train.model_options import ModelOptionsForm
from gui.widgets.fields import Form, ScientificSpinBox, combo, dspin, spin

OPTIMIZER_ITEMS = [("Adam", "adam"), ("AdamW", "adamw"), ("SGD with momentum", "sgd"), ("RMSprop", "rmsprop")]
SCHEDULE_ITEMS = [
    ("Constant", "none"),
    ("Step decay", "step"),
    ("Cosine decay", "cosine"),
    ("Warm-up, then cosine decay", "warmup-cosine"),
    ("Reduce on plateau", "plateau"),
]
RECIPE_ITEMS = [("Auto: chosen from your data", "auto"), ("Manual: the settings below", "manual")]
FIELDS = (
    "recipe",
    "time_budget",
    "optimizer",
    "learning_rate",
    "momentum",
    "schedule",
    "step_epochs",
    "step_factor",
    "plateau_patience",
    "batch_size",
    "epochs",
    "augment_flip",
    "augment_rotation",
    "augment_zoom",
    "augment_translation",
    "center_loss_weight",
    "early_stopping",
    "patience",
    "seed",
    "tensorboard",
    "precision",
    "devices",
    "name",
)
#: Greyed out while the Auto recipe is on: the fields it chooses (core.auto.RECIPE_FIELDS, the one
#: list) that this form shows, and those its choices make moot. The flip stays the user's to say.
AUTO_FIELDS = (
    *(name for name in RECIPE_FIELDS if name in FIELDS),
    "momentum",
    "step_epochs",
    "step_factor",
    "plateau_patience",
)


class HyperParameterForm(QWidget):
    changed = Signal()
    restore_defaults = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        recipe = Form("Recipe")
        recipe.add(
            "recipe",
            "Recipe",
            combo(RECIPE_ITEMS),
            "Auto chooses the optimizer, learning-rate schedule, batch size, augmentation, label smoothing, "
            "early stopping and class weights from what it measures of your images, and says why below. "
            "Manual uses the settings on this page.",
        )
        budget = dspin(0.0, 1440.0, step=0.5, decimals=1, suffix=" min")
        budget.setSpecialValueText("Off: train for the epochs below")
        recipe.add(
            "time_budget",
            "Time budget",
            budget,
            "Train for this long instead of a number of epochs: the first epoch is timed and the learning rate "
            "is fitted to end its decay when the time does. Off (0): train for the epochs below.",
        )
        self.recipe_reasons = QLabel("")
        self.recipe_reasons.setWordWrap(True)
        self.recipe_reasons.setTextFormat(Qt.TextFormat.RichText)
        recipe.layout_.addRow(self.recipe_reasons)
        opt = Form("Optimizer and learning rate")
        opt.add(
            "optimizer",
            "Optimizer",
            combo(OPTIMIZER_ITEMS),
            "How the weights are updated from the gradients. Adam adapts the step per weight and is "
            "a good default; SGD with momentum can generalise better with a schedule; RMSprop sits between.",
        )
        opt.add(
            "learning_rate",
            "Learning rate",
            ScientificSpinBox(),
            "Size of each update step (type 1e-3 or 0.001; the arrows step 1e-4, 3e-4, 1e-3, 3e-3 ...). "
            "Too high and the loss jumps or explodes; too low and learning crawls. Adam: 1e-3; SGD: 1e-2 to 1e-1.",
        )
        opt.add(
            "momentum",
            "Momentum",
            dspin(0.0, 0.999, step=0.05, decimals=3),
            "SGD only: the fraction of the previous step carried into the next one (0.9 is usual).",
        )

        sched = Form("Learning-rate schedule")
        sched.add(
            "schedule",
            "Schedule",
            combo(SCHEDULE_ITEMS),
            "How the learning rate changes during the run. Constant: never. Step decay: multiply by a "
            "factor every N epochs. Cosine decay: glide smoothly to zero by the last epoch. Reduce on "
            "plateau: divide by 5 when the validation loss stops improving.",
        )
        sched.add(
            "step_epochs",
            "Every",
            spin(1, 10_000, suffix=" epochs"),
            "Step decay: how many epochs between two reductions of the learning rate.",
        )
        sched.add(
            "step_factor",
            "Multiply by",
            dspin(0.01, 0.99, step=0.05, decimals=2),
            "Step decay: the factor applied at each step (0.1 divides the rate by ten).",
        )
        sched.add(
            "plateau_patience",
            "Patience",
            spin(1, 1000, suffix=" epochs"),
            "Reduce on plateau: epochs without improvement of the validation loss before the rate is reduced.",
        )

        size = Form("Batch size and epochs")
        size.add(
            "batch_size",
            "Batch size",
            spin(1, 8192, step=16),
            "Images per update step. Larger batches train faster per epoch but need more memory and often "
            "a higher learning rate; if training runs out of memory, lower this first.",
        )
        size.add(
            "epochs",
            "Epochs",
            spin(1, 10_000),
            "How many times training goes through all training images. You can stop earlier at any time; "
            "the best model so far is kept.",
        )

        aug = Form("Augmentation")
        aug.add(
            "augment_flip",
            "Flip",
            QCheckBox("Random horizontal flip (left and right do not matter)"),
            "Mirror training images left-right at random. Good for photos; wrong for digits and text. "
            "Auto never turns it on by itself: tick it when your classes do not depend on left and right.",
        )
        aug.add(
            "augment_rotation",
            "Rotation",
            dspin(0.0, 180.0, step=5.0, decimals=1, suffix=" °"),
            "Rotate training images at random by up to this many degrees either way (0 = off).",
        )
        aug.add(
            "augment_zoom",
            "Zoom",
            dspin(0.0, 0.9, step=0.05, decimals=2),
            "Zoom training images in or out at random by up to this fraction (0.1 = ±10 %; 0 = off).",
        )
        aug.add(
            "augment_translation",
            "Shift",
            dspin(0.0, 0.5, step=0.05, decimals=2),
            "Shift training images at random by up to this fraction of their width and height (0 = off).",
        )

        self.regularisation = ModelOptionsForm("Regularisation", regularisation=True)
        self.regularisation.setToolTip(
            "Options of the chosen model that fight over-fitting (they change with the model)."
        )

        loss = Form("Loss")
        loss.add(
            "center_loss_weight",
            "Centre loss",
            dspin(0.0, 10.0, step=0.01, decimals=3),
            "Adds a clustering term to the cross-entropy: the 'features' layer is pulled toward a centre per "
            "class and the centres are pushed apart (k-means-style). 0 = plain cross-entropy; try 0.01 to 0.1.",
        )

        stop = Form("Early stopping")
        stop.add(
            "early_stopping",
            "Early stopping",
            QCheckBox("Stop when the best epoch stops improving"),
            "End the run when no epoch has beaten the best one (highest validation accuracy) for 'Patience' "
            "epochs; the best epoch's model is kept either way.",
        )
        stop.add(
            "patience",
            "Patience",
            spin(1, 1000, suffix=" epochs"),
            "Early stopping: epochs without improvement before the run ends.",
        )

        run = Form("Run")
        name = QLineEdit()
        name.setPlaceholderText("optional, e.g. 'dropout 0.3'")
        name.setClearButtonEnabled(True)
        run.add("name", "Name", name, "An optional label for the run, shown in the log and the run list.")
        run.add(
            "seed",
            "Random seed",
            spin(0, 2**31 - 1, special=None),
            "Seeds the validation split, shuffling, augmentation and initial weights, so a run can be "
            "repeated. Change it to see how much results vary by chance.",
        )

        run.add(
            "tensorboard",
            "TensorBoard",
            QCheckBox("Write TensorBoard logs in the run folder"),
            "Also log the run for TensorBoard (tensorboard --logdir on the run folder), if it is installed.",
        )

        self.hardware = HardwareForm()  # precision, devices and a line about this machine
        self.forms = [recipe, opt, sched, size, aug, self.regularisation, loss, stop, run, self.hardware]
        reset = QPushButton("Restore defaults")
        reset.setToolTip("Put every hyper-parameter back to its default (dataset and model stay).")
        reset.clicked.connect(self.restore_defaults)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for form in self.forms:
            layout.addWidget(form)
            form.changed.connect(self._update_enabled)
            form.changed.connect(self.changed)
        layout.addWidget(reset)
        layout.addStretch(1)
        self._recipe, self._opt, self._sched, self._size, self._stop = recipe, opt, sched, size, stop
        self._update_enabled()

    def _form_of(self, name: str) -> Form:
        return next(f for f in self.forms if name in f.fields)

    def widget(self, name: str) -> QWidget:
        return self._form_of(name).widget(name)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for form in self.forms:
            if form is not self.regularisation:
                out.update(form.values())
        out["time_budget"] = round(out["time_budget"] * 60, 1) or None  # minutes in the form, seconds in a config
        return {k: out[k] for k in FIELDS}

    def set_values(self, values: dict[str, Any]) -> None:
        if "time_budget" in values:
            values = {**values, "time_budget": (values["time_budget"] or 0) / 60}
        for form in self.forms:
            if form is not self.regularisation:
                form.set_values({k: v for k, v in values.items() if k in form.fields})
        self._update_enabled()

    def _update_enabled(self) -> None:
        manual = self._recipe.values()["recipe"] != "auto"  # auto chooses AUTO_FIELDS itself
        for name in AUTO_FIELDS:
            self._form_of(name).set_row_enabled(name, manual)
        self._opt.set_row_enabled("momentum", manual and self._opt.values()["optimizer"] == "sgd")
        schedule = self._sched.values()["schedule"]
        for name in ("step_epochs", "step_factor"):
            self._sched.set_row_enabled(name, manual and schedule == "step")
        self._sched.set_row_enabled("plateau_patience", manual and schedule == "plateau")
        self._stop.set_row_enabled("patience", manual and bool(self._stop.values()["early_stopping"]))
        self._size.set_row_enabled("epochs", not self._recipe.values()["time_budget"])

    def show_reasons(self, choices) -> None:
        """Auto's choices and why (core.auto.Choice; None: not known until the dataset is previewed)."""
        from gui.train.auto_panel import choices_html

        if choices is None:
            text = "<i>Auto's choices appear here once the dataset's preview has loaded.</i>"
        else:
            text = choices_html(choices)
        self.recipe_reasons.setText(text)
        self.recipe_reasons.setVisible(bool(text))
