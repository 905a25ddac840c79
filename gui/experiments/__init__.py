"""The Experiments tab: studies (sweeps) set up, run in worker processes, watched and compared.

state.py (what the tab is doing, no Qt), setup_page.py (the setup panel), study_view.py (the study
shown: trials_view.py, the trials table; plots.py, objective, parallel coordinates, importance; the
table), export.py (CSV, Markdown), tasks.py (running and reading a study), and tab.py, which wires
them. ``ExperimentsTab`` is imported on first use, so
``gui.experiments.state`` stays importable without Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.experiments.tab import ExperimentsTab

__all__ = ["ExperimentsTab"]


def __getattr__(name: str):
    if name == "ExperimentsTab":
        from gui.experiments.tab import ExperimentsTab

        return ExperimentsTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
