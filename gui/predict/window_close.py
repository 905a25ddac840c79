"""The Predict tab hears when its window closes, so that its threads are stopped with the window.

The tab can sit in the main window, in another window, or be a window of its own, and is put into
its window after it was made: :meth:`WindowCloseWatch.hook` is called whenever that may have
changed (shown, before a job starts) and moves the watch to the current window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class WindowCloseWatch(QObject):
    """Calls ``on_close`` when the window of ``widget`` gets its close event (not when it is the widget)."""

    def __init__(self, widget: QWidget, on_close: Callable[[], object]) -> None:
        super().__init__(widget)
        self._widget = widget
        self._on_close = on_close
        self._hooked: QWidget | None = None

    def hook(self) -> None:
        window = self._widget.window()
        if window is not self._widget and window is not self._hooked:
            if self._hooked is not None:
                self._hooked.removeEventFilter(self)
            window.installEventFilter(self)
            self._hooked = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if obj is self._hooked and event.type() == QEvent.Type.Close:
            self._on_close()
        return False
