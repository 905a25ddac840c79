"""The Predict tab's actions (tool bar buttons and shortcuts), as a table of data.

Each action is added to the tab with ``Qt.WindowShortcut``: its shortcut works only while the tab
is shown (Qt matches a window shortcut only for a visible widget, and a tab that is not current is
hidden). So Stop takes Ctrl+. and Esc here, as it does in the Train tab, and only the shown tab's
Stop fires. Ctrl+O is File > Open model... in the main window, so Open images takes Ctrl+I here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

_SP = QStyle.StandardPixmap

#: name -> (text, shortcut, tooltip, icon); the tab's handler for each is given by name.
ACTIONS: dict[str, tuple[str, str | tuple[str, ...] | None, str, QStyle.StandardPixmap | None]] = {
    "open_images": ("Open &images…", "Ctrl+I", "Predict image files you choose", _SP.SP_DialogOpenButton),
    "open_folder": (
        "Open &folder…",
        "Ctrl+Shift+I",
        "Predict every image in a folder and its sub-folders",
        _SP.SP_DirOpenIcon,
    ),
    "paste": ("&Paste", "Ctrl+V", "Predict an image, or image files, from the clipboard", _SP.SP_FileIcon),
    "export": (
        "&Export CSV…",
        "Ctrl+E",
        "Save the results table, with every class probability, as CSV",
        _SP.SP_DialogSaveButton,
    ),
    "clear": ("C&lear", "Ctrl+L", "Remove the results and the image shown", _SP.SP_DialogResetButton),
    "stop": ("&Stop", ("Ctrl+.", "Esc"), "Stop predicting; the rows done so far stay", _SP.SP_MediaStop),
    "open_model": ("Open .keras file…", "Ctrl+M", "Add a saved Keras model from anywhere and use it", None),
    "refresh": ("Refresh models", "F5", "List the workspace's runs again", None),
}


def make_action(
    widget: QWidget, text: str, shortcut: str | tuple[str, ...] | None, tip: str, slot, icon=None
) -> QAction:
    """An action of ``widget`` (its shortcuts only while ``widget`` is shown) calling ``slot``."""
    action = QAction(text, widget)
    if icon is not None:
        action.setIcon(widget.style().standardIcon(icon))
    keys = [QKeySequence(k) for k in ((shortcut,) if isinstance(shortcut, str) else shortcut or ())]
    if keys:
        action.setShortcuts(keys)
        names = " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        tip = f"{tip} ({names})"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # only while this tab is shown
    action.triggered.connect(slot)
    widget.addAction(action)
    return action


def make_actions(widget: QWidget, handlers: Mapping[str, Callable[[], object]]) -> dict[str, QAction]:
    """Every action of :data:`ACTIONS`, each calling ``handlers[name]``."""
    return {name: make_action(widget, *spec[:3], handlers[name], spec[3]) for name, spec in ACTIONS.items()}
