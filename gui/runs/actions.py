"""The Runs tab's actions (toolbar, context menu, shortcuts) and their enabled states.

:class:`RunActions` makes the ``QAction`` objects on the tab, each triggering the tab method of the
same name; :meth:`RunActions.update` enables them as :meth:`RunsState.enabled` says.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar, QWidget

SP = QStyle.StandardPixmap
GALLERY_TIP = "Browse the run's test images and its mistakes in the Gallery tab"

#: name (an action of RunsState.enabled, or "refresh"/"filter"), text, tip, shortcut, icon, tab method
SPECS = (
    ("refresh", "&Refresh", "Read the workspace again", QKeySequence.StandardKey.Refresh, SP.SP_BrowserReload,
     "refresh"),
    ("filter", "&Filter", "Filter the runs", QKeySequence.StandardKey.Find, None, "focus_filter"),
    ("rename", "Re&name", "Rename the run (its folder keeps its name)", "F2", None, "rename"),
    ("note", "&Note...", "Write a note about the run", "Ctrl+Shift+N", None, "edit_note"),
    ("delete", "&Delete...", "Move the selected runs to the trash, after asking", QKeySequence.StandardKey.Delete,
     SP.SP_TrashIcon, "delete_selected"),
    ("undo", "&Undo delete", "Bring the runs just deleted back from the trash", QKeySequence.StandardKey.Undo, None,
     "undo_delete"),
    ("gallery", "Open in &Gallery", GALLERY_TIP, None, None, "open_gallery"),
    ("predict", "Open in &Predict", "Use the run's model on your own images in the Predict tab", None, None,
     "open_predict"),
    ("train_again", "&Train again...", "Put this run's settings in the Train tab, to train again or change one",
     None, None, "retrain"),
    ("continue", "&Continue training...", "Train this finished run for more epochs, from where it ended", None,
     None, "continue_training"),
    ("resume", "Re&sume", "Go on from the last complete epoch of an interrupted or stopped run", None, None,
     "resume"),
    ("mark_stopped", "Mark as st&opped", "Stop asking about this interrupted run (it stays resumable)", None, None,
     "mark_stopped"),
    ("export", "&Export model...", "Export the run's model as .keras, SavedModel or TensorFlow Lite", "Ctrl+E",
     None, "export"),
    ("diff", "Compare &predictions", "Which test images one of two runs gets right and the other wrong", None,
     None, "show_diff"),
    ("folder", "Show &folder", "Open the run folder in your file manager", None, SP.SP_DirOpenIcon, "show_folder"),
    ("copy_path", "Copy &path", "Copy the run folder's path", None, None, "copy_path"),
)  # fmt: skip
TOOLBAR = (
    "rename", "note", "delete", None, "gallery", "predict", "diff", None,
    "train_again", "continue", "resume", None, "export", "folder",
)  # fmt: skip
MENU = (
    "gallery", "predict", "diff", None, "train_again", "continue", "resume", "mark_stopped", None,
    "export", "folder", "copy_path", None, "rename", "note", "delete",
)  # fmt: skip


class RunActions:
    """The tab's actions by name (``actions["delete"]``), its toolbar, and its context menu."""

    def __init__(self, tab: QWidget) -> None:
        self.tab = tab
        self.actions: dict[str, QAction] = {}
        for name, text, tip, shortcut, icon, method in SPECS:
            action = QAction(text, tab)
            if icon is not None:
                action.setIcon(tab.style().standardIcon(icon))
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                tip = f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, m=method: getattr(tab, m)())
            tab.addAction(action)
            self.actions[name] = action
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for name in TOOLBAR:
            if name is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(self.actions[name])

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def update(self, enabled: dict[str, bool], resume_text: str, no_evaluation: bool) -> None:
        for name, on in enabled.items():
            self.actions[name].setEnabled(on)
        self.actions["gallery"].setToolTip(
            "This run has no test-set evaluation to browse." if no_evaluation else GALLERY_TIP
        )
        self.actions["resume"].setText(resume_text)

    def menu(self, parent: QWidget) -> QMenu:
        menu = QMenu(parent)
        for name in MENU:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.actions[name])
        return menu
