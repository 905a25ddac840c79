"""Naming the classes of a model that came without a card.

A ``.keras`` file tells the app the input size and the number of classes, not what the classes are
called. The dialog asks only for that: one name per line, prefilled ("class 0", "class 1", ... or
the names given last time), accepted as they are with one click.

The names are remembered in the app's settings (the Predict tab's ``class_names``, keyed by a hash
of the model file's full path), not written
beside the model unless the person ticks the box: the folder may be shared or read-only, and a
card written by us would carry no training details yet look like one that does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from core import cards

SETTINGS_TAB = "predict"
SETTINGS_KEY = "class_names"  # {hash of the model's path: {"path": ..., "names": [...]}}


def numbered(count: int) -> list[str]:
    return [f"class {i}" for i in range(count)]


def _settings_key(model_path: Path) -> str:
    return hashlib.sha1(str(Path(model_path).resolve()).encode("utf-8")).hexdigest()[:16]


def remembered_names(settings, model_path: Path, count: int) -> list[str] | None:
    """Names given earlier for this model file, if there are ``count`` of them."""
    known = settings.tab_value(SETTINGS_TAB, SETTINGS_KEY, {}, dict)
    data = known.get(_settings_key(model_path))
    names = data.get("names") if isinstance(data, dict) else None
    if not isinstance(names, list) or len(names) != count or not all(isinstance(n, str) for n in names):
        return None
    return names


def remember_names(settings, model_path: Path, names: list[str]) -> None:
    known = dict(settings.tab_value(SETTINGS_TAB, SETTINGS_KEY, {}, dict))
    known[_settings_key(model_path)] = {"path": str(model_path), "names": list(names)}
    settings.set_tab_state(SETTINGS_TAB, {SETTINGS_KEY: known})


def write_minimal_card(model_path: Path, names: list[str], input_shape: tuple[int, int, int], model_name: str) -> Path:
    """A card beside the model holding the class names and input shape (no training details)."""
    card = cards.make_card(
        class_names=names,
        input_shape=input_shape,
        dataset={"name": "unknown", "title": "unknown (classes named in CNN Workbench)"},
        architecture={"name": model_name, "title": model_name},
        hyperparameters={},
    )
    return cards.write_card(model_path, card)


def check_names(text: str, count: int) -> tuple[list[str], str | None]:
    """The names in ``text`` (one per line) and what is wrong with them, if anything."""
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != count:
        return names, (
            f"The model predicts {count} classes: give exactly {count} names, one per line (now {len(names)})."
        )
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return names, f"'{n}' appears twice; every class needs its own name."
        seen.add(n)
    return names, None


class ClassNamesDialog(QDialog):
    def __init__(self, parent: QWidget | None, model_path: Path, initial: list[str]) -> None:
        super().__init__(parent)
        self.count = len(initial)
        self.setWindowTitle(f"Name the classes of {model_path.name}")
        intro = QLabel(
            f"<b>{model_path.name}</b> has no model card, so the app knows it predicts {self.count} classes "
            "but not what they are called. Type their names in the model's output order, one per line, "
            "or keep the numbered names."
        )
        intro.setWordWrap(True)
        self.editor = QPlainTextEdit("\n".join(initial))
        self.editor.setToolTip("One class name per line, in the order of the model's outputs (output 0 first).")
        card_name = cards.card_path(model_path).name
        self.save_card = QCheckBox(f"Also save them in a model card beside the model ({card_name})")
        self.save_card.setToolTip(
            "Writes a small JSON card next to the .keras file so that other computers and tools see the names. "
            "Off: the names are remembered by this app only."
        )
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use these names")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Keep numbered names")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.save_card)
        layout.addWidget(buttons)
        self.resize(460, 420)

    def names(self) -> list[str]:
        return check_names(self.editor.toPlainText(), self.count)[0]

    def _accept(self) -> None:
        _, problem = check_names(self.editor.toPlainText(), self.count)
        if problem:
            self.problem.setText(problem)
            return
        self.accept()


def ask_class_names(parent: QWidget | None, model_path: Path, initial: list[str]) -> tuple[list[str], bool] | None:
    """Ask for the class names; ``(names, save_card)`` or None when the numbered names are kept."""
    dialog = ClassNamesDialog(parent, model_path, initial)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.names(), dialog.save_card.isChecked()
