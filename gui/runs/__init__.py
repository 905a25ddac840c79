"""The Runs tab: state (state.py), pages (table_page.py, compare.py, prediction_diff.py, details.py),
actions and their handlers (actions.py, commands.py), and the tab that wires them (tab.py).

``RunsTab`` is imported on first use, so ``gui.runs.state`` stays importable without Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.runs.tab import RunsTab

__all__ = ["RunsTab"]


def __getattr__(name: str):
    if name == "RunsTab":
        from gui.runs.tab import RunsTab

        return RunsTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
