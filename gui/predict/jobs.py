"""The Predict tab's background work: predicting a batch of sources, reading the image of the view.

Both run on the tab's own :class:`~gui.workers.JobRunner`\\ s through a :class:`~gui.tasks.TaskSlot`
(a new batch or a new row supersedes the last; its results never reach the table or the view).
Model loading is in :mod:`gui.predict.loading`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal

from core.ensemble import InMemoryImage, SourceResult
from gui.workers import Job, JobWorker

RESULTS_HZ = 20.0
VIEW_MAX_SIDE = 1024


class PredictWorker(JobWorker):
    """Predicts a list of sources with one model or an ensemble; results go out in throttled chunks.

    The first batch goes out as soon as it is done (the first rows appear at once), later ones
    are collected and sent at most ``rate_hz`` times a second: each chunk costs the GUI thread a
    repaint of the table, and while the next batch is read every call into Python that repaint
    makes waits for this thread to let go of the GIL. Dropped files are read a batch at a time and
    then predicted (:func:`core.ensemble.predict_sources`; docs/ARCHITECTURE.md says why).
    """

    results = Signal(object)  # list[SourceResult]: a chunk of rows

    def __init__(self, predictors, sources, *, k: int = 5, rate_hz: float = RESULTS_HZ) -> None:
        self.predictors = list(predictors)
        self.sources = list(sources)
        self.k = k
        self.total = 0
        super().__init__(self._predict, name="Predicting", key="predict", rate_hz=rate_hz)

    def _predict(self, reporter, cancel):
        from core.ensemble import predict_sources
        from core.inference import expand_paths

        reporter.on_progress(0, 0, "Looking for images")
        items: list = []
        for s in self.sources:
            items.extend([s] if isinstance(s, InMemoryImage) else expand_paths([s]))
        self.total = len(items)
        reporter.on_progress(0, self.total, "Predicting")  # later progress: the rows themselves
        pending: list[SourceResult] = []
        interval = 1.0 / self.rate_hz
        last = [float("-inf")]

        def on_batch(batch: list[SourceResult]) -> None:
            pending.extend(batch)
            if time.monotonic() - last[0] >= interval:
                flush()

        def flush() -> None:
            if pending:
                self.results.emit(list(pending))
                pending.clear()
            last[0] = time.monotonic()

        out = predict_sources(self.predictors, items, k=self.k, on_batch=on_batch, cancel=cancel)
        flush()
        return {"done": len(out), "total": self.total, "ok": sum(1 for r in out if r.ok)}


def read_view_image(source: Any, shapes: Sequence[Sequence[int]], backgrounds: Sequence | None = None) -> Job:
    """A job reading ``source`` again for the single view: (display image, one input per member).

    ``backgrounds``: each member's training background (transparency is filled as for the batch)."""

    def job(reporter, cancel):
        from PIL import Image

        from core.ensemble import prepare_inputs
        from core.images import open_image, to_display

        img = source.image if isinstance(source, InMemoryImage) else open_image(source)
        inputs = prepare_inputs(img, shapes, backgrounds)
        display = to_display(img)
        if max(display.size) > VIEW_MAX_SIDE:
            display.thumbnail((VIEW_MAX_SIDE, VIEW_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return display, inputs

    return job
