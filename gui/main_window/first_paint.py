"""A call made once a widget has been painted for the first time: the window's start-up stage 2.

The window shows at once with what is cheap to build; lists, plots and TensorFlow's import follow
just after its first paint (:meth:`~gui.main_window.window.MainWindow.finish_startup_after_paint`).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class FirstPaint(QObject):
    """Calls ``callback`` once, after ``widget`` has been painted for the first time."""

    def __init__(self, widget: QWidget, callback) -> None:
        super().__init__(widget)
        self._callback = callback
        self._done = False
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            obj.removeEventFilter(self)
            self._callback()
        return False
