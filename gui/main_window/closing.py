"""Closing the main window: ask before stopping a run or a study, wait for the run's thread, then save.

:class:`WindowCloser` decides what a close event does. A running training or study is stopped only
after the window's ``confirm_stop_on_close`` / ``confirm_stop_study_on_close`` (tests replace them)
said yes. While the window's runner is busy the close is refused and the run is stopped; the window
closes again by itself once the runner is idle, so the worker can save first. Then every tab stops
its threads and saves its settings, and the window its geometry and current tab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox, QWidget

if TYPE_CHECKING:
    from gui.main_window.window import MainWindow


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    """A question box whose default answer is No; True if the answer was Yes."""
    answer = QMessageBox.question(
        parent,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class WindowCloser(QObject):
    """What :meth:`MainWindow.closeEvent <gui.main_window.window.MainWindow.closeEvent>` does."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.closing = False  # a run is being stopped and saved; the window closes when it is done

    def close_event(self, event: QCloseEvent) -> None:
        w = self.window
        if w.train_tab.running and not self.closing:
            if not w.confirm_stop_on_close():
                event.ignore()
                return
        experiments = w.plot_tabs.experiments
        if experiments is not None and experiments.running and not self.closing:
            if not w.confirm_stop_study_on_close():
                event.ignore()
                return
        if w.jobs.busy:
            # Stop, let the worker save, and close when its thread has ended (the window stays live).
            if not self.closing:
                self.closing = True
                w.show_status("Stopping the run and saving before closing ...")
                w.train_tab.stop_training()
                w.jobs.closed = True  # no new job may start while the window waits to close
                w.jobs.cancel()
                w.jobs.busy_changed.connect(self._close_when_idle)
            event.ignore()
            return
        self._save_and_close()
        event.accept()

    def _close_when_idle(self, busy: bool) -> None:
        if not busy:
            self.window.jobs.busy_changed.disconnect(self._close_when_idle)
            QTimer.singleShot(0, self.window.close)

    def _save_and_close(self) -> None:
        w = self.window
        if w.tf_loader is not None:
            # A late "ready" must not start a model summary in a window that is going away.
            for signal, slot in (
                (w.tf_loader.ready, w._on_tensorflow_ready),
                (w.tf_loader.failed, w._on_tensorflow_failed),
            ):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        w.jobs.shutdown()
        w.train_tab.shutdown()
        w.train_tab.save_settings()
        w.gallery_tab.shutdown()
        w.gallery_tab.save_settings()
        w.predict_tab.shutdown()
        w.plot_tabs.shutdown_and_save()
        w.settings.set_geometry(w.saveGeometry())
        w.settings.set_current_tab(w.tabs.currentIndex())
        w.settings.sync()
        if w.tf_loader is not None and w.tf_loader.running:
            # Closed while TensorFlow still loads: vanish now, let the import finish (an import cut
            # off at interpreter exit can crash), then go.
            w.hide()
            w.tf_loader.join(timeout=30)
