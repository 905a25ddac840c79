"""Dialogs: errors a person can act on, the model card, the user guide, About.

Every error goes through :func:`show_error` (a ``QMessageBox`` with the message, and the technical
detail behind "Show Details..." where it can be copied). It opens window-modal without a nested
event loop, so a failure arriving from a worker never blocks the signal that reported it. Tests
replace ``show_error`` to record the messages.
"""

from __future__ import annotations

import html
import platform
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.paths import ROOT

USER_GUIDE = ROOT / "docs" / "USER_GUIDE.md"


def show_error(parent: QWidget | None, title: str, message: str, detail: str = "") -> QMessageBox:
    """Show ``message`` (a sentence for people) with ``detail`` (technical, copyable) behind a button."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if detail:
        box.setDetailedText(detail)
        box.setInformativeText("'Show Details...' has the technical detail; 'Copy' puts it all on the clipboard.")
        copy = box.addButton("Copy", QMessageBox.ButtonRole.ActionRole)
        # An ActionRole button would close the box; copy and keep it open instead.
        copy.clicked.disconnect()
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(f"{message}\n\n{detail}"))
    box.addButton(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


def versions() -> dict[str, str]:
    """Versions of what the app runs on, without importing TensorFlow."""
    import importlib.metadata  # here: it costs ~30 ms at start-up

    def dist(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    from PySide6 import QtCore
    from PySide6 import __version__ as pyside_version

    from core import __version__ as app_version

    tf = sys.modules.get("tensorflow")
    keras = sys.modules.get("keras")
    return {
        "CNN Workbench": app_version,
        "TensorFlow": getattr(tf, "__version__", None) or dist("tensorflow"),
        "Keras": getattr(keras, "__version__", None) or dist("keras"),
        "Qt": QtCore.qVersion(),
        "PySide6": pyside_version,
        "pyqtgraph": dist("pyqtgraph"),
        "NumPy": dist("numpy"),
        "Python": platform.python_version(),
    }


def about_text(extra: str = "") -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{html.escape(v)}</td></tr>" for k, v in versions().items())
    return (
        "<h3>CNN Workbench</h3>"
        "<p>Train, watch, test and use image classifiers (Keras CNNs) by pointing and clicking.</p>"
        f"<table>{rows}</table>{extra}"
    )


def show_about(parent: QWidget | None, extra: str = "") -> None:
    QMessageBox.about(parent, "About CNN Workbench", about_text(extra))


class UserGuideDialog(QDialog):
    """docs/USER_GUIDE.md rendered from Markdown; links open in the browser."""

    def __init__(self, parent: QWidget | None = None, path: Path = USER_GUIDE) -> None:
        super().__init__(parent)
        self.setWindowTitle("CNN Workbench user guide")
        self.resize(820, 720)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            text = f"# User guide not found\n\nThe guide should be at `{path}` ({exc.strerror})."
        self.browser.document().setBaseUrl(QUrl.fromLocalFile(str(path.parent) + "/"))
        self.browser.setMarkdown(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        open_file = QPushButton("Open the file")
        open_file.setToolTip(f"Open {path} in the program your system uses for Markdown files.")
        open_file.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
        buttons.addButton(open_file, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def card_html(card: dict[str, Any] | None, model_path: Path, inferred: dict[str, Any] | None = None) -> str:
    """The model card (or what loading the model told) as HTML for a dialog."""
    esc = html.escape
    rows: list[tuple[str, str]] = [("File", str(model_path))]
    if card:
        shape = card.get("input_shape") or []
        rows.append(("Input", " × ".join(str(s) for s in shape) + f" ({card.get('color_mode', '')})"))
        names = card.get("class_names") or []
        rows.append((f"Classes ({len(names)})", ", ".join(str(n) for n in names)))
        ds = card.get("dataset") or {}
        rows.append(("Dataset", str(ds.get("title") or ds.get("name") or "")))
        arch = card.get("architecture") or {}
        params = arch.get("params")
        rows.append(
            (
                "Architecture",
                f"{arch.get('title') or arch.get('name', '')}" + (f", {params:,} parameters" if params else ""),
            )
        )
        metrics = card.get("metrics") or {}
        for key, label in (
            ("test_accuracy", "Test accuracy"),
            ("test_loss", "Test loss"),
            ("best_val_accuracy", "Best validation accuracy"),
            ("best_epoch", "Best epoch"),
            ("epochs", "Epochs trained"),
        ):
            if metrics.get(key) is not None:
                v = metrics[key]
                rows.append((label, f"{v:.4f}" if isinstance(v, float) else str(v)))
        hp = card.get("hyperparameters") or {}
        if hp:
            keys = ("optimizer", "learning_rate", "schedule", "batch_size", "epochs", "seed")
            rows.append(("Training", ", ".join(f"{k} {hp[k]}" for k in keys if k in hp)))
        for choice in card.get("auto") or []:  # what Auto chose and why (core/auto.py)
            if isinstance(choice, dict):
                rows.append((f"Auto: {choice.get('what', '')}", f"{choice.get('value', '')}. {choice.get('why', '')}"))
        rows.append(("Saved", f"{card.get('created', '')} by CNN Workbench {card.get('app_version', '')}"))
    else:
        rows.append(("Card", "none beside this file; the model itself was inspected instead"))
    if inferred:
        rows.append(("Input (from the model)", str(inferred.get("input_shape"))))
        rows.append(("Outputs (classes)", str(inferred.get("outputs"))))
        rows.append(("Parameters", f"{int(inferred.get('params', 0)):,}"))
    body = "".join(f"<tr><td valign='top'><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='6'>{body}</table>"


class ModelCardDialog(QDialog):
    def __init__(self, parent, model_path: Path, card: dict | None, inferred: dict | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model {model_path.name}")
        self.resize(640, 480)
        self.browser = QTextBrowser()
        self.browser.setHtml(card_html(card, model_path, inferred))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        show = QPushButton("Show in folder")
        show.setToolTip("Open the folder that holds the model file.")
        show.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(model_path.parent))))
        buttons.addButton(show, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
