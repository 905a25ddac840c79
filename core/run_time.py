"""A run's two times, kept across resumes: active training time and wall time.

* **active** (``seconds`` in status.json, the Runs table's Time): the time the run's process worked
  on it, from loading the data to saving the evaluated model, with paused time left out;
* **wall** (``wall_seconds``): the same stretch of time with the pauses counted.

A resumed run starts from the times the run had recorded (:attr:`core.runs.RunInfo.seconds` and
``wall_seconds``); the time between a crash and its resume belongs to neither. Both are written to
status.json after every epoch (:class:`core.callbacks.RecordEpochs`), so a crash loses at most
the time since the last epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.reporting import CancelToken


class RunTime:
    """The clock of one training session of a run, added to what earlier sessions recorded.

    Paused time is what the job spent held by its :class:`~core.reporting.CancelToken`
    (``paused_seconds``).
    """

    def __init__(
        self,
        cancel: CancelToken,
        active_before: float = 0.0,
        wall_before: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cancel = cancel
        self.active_before = float(active_before or 0.0)
        self.wall_before = float(wall_before or 0.0)
        self._clock = clock
        self._started = clock()
        self._paused_at_start = cancel.paused_seconds

    @property
    def wall(self) -> float:
        return self.wall_before + (self._clock() - self._started)

    @property
    def active(self) -> float:
        session = self._clock() - self._started
        paused = self.cancel.paused_seconds - self._paused_at_start
        return self.active_before + max(0.0, session - paused)

    def status_fields(self) -> dict[str, float]:
        """The times as status.json (and the model card's metrics) keep them."""
        return {"seconds": round(self.active, 2), "wall_seconds": round(self.wall, 2)}
