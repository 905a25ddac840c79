"""The Runs, Experiments and Inside tabs: built after the window's first paint, into pages held for them.

They draw with pyqtgraph, whose import alone (0.35 s here) would delay the window; the window
adds a :class:`TabSlot` in each one's place, and :meth:`PlotTabs.build` makes them and puts them
there just after its first paint (start-up's stage 2), or at once when one of them is the tab the
window opens on or something asks for it. Their requests (open a run in the Gallery, train it
again, show an image's activations, ...) are wired to the window here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from gui.main_window.window import MainWindow


class TabSlot(QWidget):
    """A tab's page that receives its real content later (:meth:`PlotTabs.build`)."""

    def __init__(self) -> None:
        super().__init__()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def hold(self, widget: QWidget) -> None:
        self._layout.addWidget(widget)


class PlotTabs(QObject):
    """The pages of the Runs, Experiments and Inside tabs, and the tabs once built (None before)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.runs_slot, self.experiments_slot, self.inside_slot = TabSlot(), TabSlot(), TabSlot()
        self.runs = None
        self.experiments = None
        self.inside = None

    @property
    def slots(self) -> tuple[TabSlot, TabSlot, TabSlot]:
        return self.runs_slot, self.experiments_slot, self.inside_slot

    def build(self) -> None:
        """Build the Runs, Experiments and Inside tabs into their places (once)."""
        if self.runs is not None:
            return
        from gui.experiments import ExperimentsTab
        from gui.inside import InsideTab
        from gui.runs import RunsTab

        w = self.window
        runs = self.runs = RunsTab(w.jobs, w.settings, workspace=w.workspace)
        inside = self.inside = InsideTab(w.jobs, w.settings, workspace=w.workspace)
        self.runs_slot.hold(runs)
        self.inside_slot.hold(inside)
        runs.status_message.connect(w.show_status)
        runs.open_in_gallery.connect(w.show_in_gallery)
        runs.open_in_predict.connect(w.show_in_predict)
        runs.train_again.connect(w.train_again)
        runs.continue_run.connect(w.continue_run)
        runs.resume_run.connect(w.continue_run)
        inside.status_message.connect(lambda text: w.show_status(text, 6000))
        inside.show_detail.connect(w.show_gallery_detail)
        for view in (w.predict_tab.view, w.gallery_tab.detail):  # "Show activations"
            view.activations_requested.connect(w.show_activations)
        runs.restore_layout()
        experiments = self.experiments = ExperimentsTab(w.settings, workspace=w.workspace)
        self.experiments_slot.hold(experiments)
        experiments.status_message.connect(w.show_status)
        experiments.open_in_gallery.connect(w.show_in_gallery)
        experiments.train_settings_wanted.connect(
            lambda: experiments.set_baseline(w.train_tab.current_config().to_dict())
        )
        experiments.restore_layout()

    def shutdown_and_save(self) -> None:
        """The window is closing: stop the built tabs' work and save their settings."""
        if self.runs is None:
            return
        self.runs.shutdown()
        self.runs.save_settings()
        self.inside.shutdown()
        self.inside.save_settings()
        self.experiments.save_settings()
        self.experiments.shutdown()
