"""Colours shared by the tabs: matplotlib's tab10 for categories (the colours users know from notebooks),
and one colour per run state (the Runs table, its comparison, the Experiments tab)."""

from PySide6.QtGui import QColor

TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

STATE_COLORS = {  # a run's (and a trial's) state
    "finished": QColor(46, 125, 50),
    "stopped": QColor(178, 106, 0),
    "interrupted": QColor(123, 31, 162),
    "failed": QColor(198, 40, 40),
    "running": QColor(21, 101, 192),
    "unknown": QColor(117, 117, 117),
}
