"""The main window's menu bar, as a table of data, and File > Open model's card viewer.

Each menu entry names the window's method it calls and the attribute its ``QAction`` is kept in
(tests and the tabs reach them there, e.g. ``window.open_model_action``). The Run menu holds the
Train tab's own Start / Pause / Stop actions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from core import paths
from gui import dialogs
from gui.tasks import TaskFailure, TaskSlot

if TYPE_CHECKING:
    from gui.main_window import MainWindow

#: (menu, attribute, text, shortcut, tip, window method); None: a separator.
MENUS: list[tuple[str, tuple[str, str, str | None, str, str] | None]] = [
    (
        "&File",
        (
            "open_model_action",
            "Open &model...",
            "Ctrl+O",
            "Show a saved model's card: classes, input shape, metrics.",
            "open_model",
        ),
    ),
    (
        "&File",
        (
            "open_run_action",
            "Open &run...",
            "Ctrl+Shift+O",
            "Show a saved run's curves, metrics and paths in the Train tab.",
            "open_run",
        ),
    ),
    (
        "&File",
        (
            "open_dataset_action",
            "Open &dataset folder...",
            "Ctrl+D",
            "Train on your own images: a folder with one sub-folder per class.",
            "open_dataset_folder",
        ),
    ),
    ("&File", None),
    (
        "&File",
        (
            "open_workspace_action",
            "Show &workspace folder",
            None,
            "Open the folder where runs are saved in your file manager.",
            "open_workspace",
        ),
    ),
    ("&File", None),
    ("&File", ("quit_action", "&Quit", "Ctrl+Q", "Close the app (asks first if a run is going).", "close")),
    ("&Help", ("guide_action", "&User guide", "F1", "Read the user guide.", "show_user_guide")),
    (
        "&Help",
        (
            "about_action",
            "&About CNN Workbench",
            None,
            "Versions of the app, TensorFlow, Keras and Qt; where settings, runs and the log are.",
            "show_about",
        ),
    ),
]
ROLES = {"quit_action": QAction.MenuRole.QuitRole, "about_action": QAction.MenuRole.AboutRole}


def build_menus(window: MainWindow) -> None:
    """File, Run and Help menus on ``window``; each action also kept as ``window.<attribute>``."""
    bar = window.menuBar()
    menus = {}
    for title in ("&File", "&Run", "&Help"):
        menus[title] = bar.addMenu(title)
    for a in (window.train_tab.start_action, window.train_tab.pause_action, window.train_tab.stop_action):
        menus["&Run"].addAction(a)
    for title, entry in MENUS:
        if entry is None:
            menus[title].addSeparator()
            continue
        attribute, text, shortcut, tip, method = entry
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        if attribute in ROLES:
            action.setMenuRole(ROLES[attribute])
        action.triggered.connect(getattr(window, method))
        window.addAction(action)
        menus[title].addAction(action)
        setattr(window, attribute, action)


class ModelCardViewer(QObject):
    """File > Open model: a model's card, or what the model says of itself when it has none."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: dialogs.ModelCardDialog | None = None
        self.task = TaskSlot(window.jobs, "Inspecting model", parent=self, on_failed=self._failed)

    def open(self, path: str | Path | None = None) -> None:
        from core import cards
        from core.errors import WorkbenchError

        window = self.window
        if not path:
            start = window.settings.last_dir("models", str(paths.runs_dir(window.workspace)))
            path, _ = QFileDialog.getOpenFileName(
                window, "Open a model", start, "Keras models (*.keras);;All files (*)"
            )
            if not path:
                return
        model_path = Path(path)
        window.settings.set_last_dir("models", str(model_path.parent))
        try:
            card = cards.read_card(model_path)
        except WorkbenchError as exc:
            dialogs.show_error(window, "Cannot read the model card", str(exc), exc.detail)
            card = None
        if not model_path.exists():
            dialogs.show_error(window, "No such model", f"There is no model file at {model_path}.")
            return
        if card is not None:
            self.show(model_path, card, None)
            return
        if window.tf_info is None:
            window.show_status("This model has no card; it can be inspected once TensorFlow has loaded.", 6000)
            return
        window.show_status(f"Loading {model_path.name} to inspect it ...")

        def job(reporter, cancel):
            from core.inference import load_model

            loaded = load_model(model_path)  # the one loader: safe_mode, checks, sentences for errors
            return {
                "input_shape": tuple(loaded.input_shape),
                "outputs": len(loaded.class_names),
                "params": int(loaded.model.count_params()),
            }

        self.task.start(job, on_done=lambda inferred: self.show(model_path, None, inferred))

    def show(self, model_path: Path, card, inferred) -> None:
        self.window.show_status("", 1)
        self.dialog = dialogs.ModelCardDialog(self.window, model_path, card, inferred)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.open()

    def _failed(self, failure: TaskFailure) -> None:
        self.window.show_status("", 1)
        dialogs.show_error(self.window, "Cannot open the model", failure.message, failure.detail)
