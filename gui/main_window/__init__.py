"""The main window: the Train, Predict, Gallery, Runs, Experiments and Inside tabs, the menus and the status bar.

Where things are:

* ``window.py``: :class:`MainWindow`, which makes the tabs, wires their requests to one another
  (show a run in the Gallery, train a run's settings again, ...) and owns the one
  :class:`~gui.workers.JobRunner` every TensorFlow job goes through.
* ``plot_tabs.py``: the Runs, Experiments and Inside tabs, which need pyqtgraph, built into
  placeholder pages just after the first paint (or on first use) and wired to the window.
* ``status.py``: the status bar (the job running, TensorFlow's version and devices once loaded).
* ``closing.py``: closing the window (asks before stopping a run or a study, waits for the run's
  thread, then saves every tab's settings and the geometry).
* ``first_paint.py``: a call made once the window has been painted (start-up's stage 2).

The menus are in :mod:`gui.menus`.
"""

from __future__ import annotations

from gui.main_window.window import MainWindow

__all__ = ["MainWindow"]
