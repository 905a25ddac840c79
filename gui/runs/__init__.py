"""The Runs tab: state (state.py), pages (table_page.py, compare.py, prediction_diff.py, details.py),
actions and their handlers (actions.py, commands.py), and the tab that wires them (tab.py)."""

from gui.runs.tab import RunsTab

__all__ = ["RunsTab"]
