"""What the Gallery tab is doing, in plain Python: no Qt, no TensorFlow, tested without widgets.

:class:`GalleryState` holds the source asked for and the source shown (a run folder, a shipped
model file, or data handed over), the filter (outcome, true and predicted class, sort), the
selected image, the thumbnail size and the matrix's row percentages. It decides what the grid
shows with core/gallery.py's index-array filters (:meth:`GalleryState.rows`: numpy, never a Python
call per image), what the count says, and what the tab remembers between launches
(:meth:`GalleryState.settings`). The pages only draw it; the tab (``gui/gallery/tab.py``) wires
them and runs the tasks.

:class:`SourceCache` keeps the last few sources in memory, so going back to one is instant while
it has not changed on disk.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.gallery import FileImages, GalleryData, GalleryFilter, RunEntry, format_percent

#: A source: ``("run", folder)``, ``("shipped", model file)`` or ``("data", id)`` for data handed over.
SourceKey = tuple[str, str]

#: The sort choices, in the order of the sort list: (text, key, descending). Settings keep the position.
SORTS = (
    ("Test-set order", "index", False),
    ("Confidence, lowest first", "confidence", False),
    ("Confidence, highest first", "confidence", True),
    ("Loss, highest first", "loss", True),
    ("Loss, lowest first", "loss", False),
)
SORT_TIPS = {
    "index": "In the order of the test set.",
    "confidence": "By the probability of the predicted class: the least sure predictions first, or the surest.",
    "loss": "By each image's cross-entropy loss: the worst mistakes (confidently wrong) first, or the easiest.",
}
ZOOM_STEP = 1.25
CACHED_SOURCES = 3  # sources kept in memory, so going back to one is instant


def same_path(a: Any, b: Any) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, ValueError):
        return str(a) == str(b)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "gallery"


def sort_index(flt: GalleryFilter) -> int:
    """The position of ``flt``'s sort in :data:`SORTS` (0 when it is not one of them)."""
    for i, (_text, key, desc) in enumerate(SORTS):
        if key == flt.sort and desc == flt.descending:
            return i
    return 0


class SourceCache:
    """The last ``size`` sources loaded, each with the time its file had then (a changed one is stale)."""

    def __init__(self, size: int = CACHED_SOURCES) -> None:
        self.size = size
        self._items: OrderedDict[SourceKey, tuple[float | None, GalleryData]] = OrderedDict()

    @staticmethod
    def stamp(key: SourceKey) -> float | None:
        """When the source last changed on disk (a re-evaluated run must not come from the cache)."""
        kind, path = key
        target = Path(path) / "evaluation.npz" if kind == "run" else Path(path)
        try:
            return target.stat().st_mtime
        except OSError:
            return None

    def get(self, key: SourceKey) -> GalleryData | None:
        cached = self._items.get(key)
        if cached is None or cached[0] is None or cached[0] != self.stamp(key):
            return None
        self._items.move_to_end(key)
        return cached[1]

    def put(self, key: SourceKey, data: GalleryData) -> None:
        self._items[key] = (self.stamp(key), data)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class GalleryState:
    """The Gallery's source, filter, selection and sizes; the tab keeps its widgets in step with it.

    ``thumb_range`` is the grid's (smallest, largest) thumbnail side; the grid view defines it.
    """

    def __init__(self, *, thumb_range: tuple[int, int], thumb_size: int) -> None:
        self.thumb_range = thumb_range
        self.thumb_size = self._clamp(thumb_size)
        self.row_percent = False
        self.requested: SourceKey | None = None  # the source asked for last, still loading
        self.loading: str | None = None  # what is loading, for people ("Loading run x")
        self.shown: SourceKey | None = None  # the source on screen
        self.data: GalleryData | None = None
        self.entries: list[RunEntry] = []  # the runs of the workspace, as the source list shows them
        self.filter = GalleryFilter()
        self.detail_row: int | None = None  # the row of the evaluation in the detail panel
        self.model_error: str | None = None  # why the data's model cannot be loaded for Grad-CAM

    # -- sources -------------------------------------------------------------------------------
    @property
    def is_loading(self) -> bool:
        return self.loading is not None

    def ask(self, key: SourceKey, what: str) -> None:
        """``key`` is being loaded (what the previous request loaded no longer matters)."""
        self.requested, self.loading = key, what

    def load_ended(self) -> None:
        """The load asked for last ended without showing anything (failed or cancelled)."""
        self.requested, self.loading = None, None

    def show(self, key: SourceKey | None, data: GalleryData | None) -> None:
        """``data`` for ``key`` is on screen now; any load still under way is moot."""
        self.load_ended()
        self.shown = key
        self.set_data(data)

    def source_to_select(self) -> SourceKey | None:
        """The source the list should point at: the one loading, else the one shown."""
        return self.requested or self.shown

    def entry_for(self, path: str | Path | None) -> RunEntry | None:
        if path is None:
            return None
        for entry in self.entries:
            if same_path(entry.path, path):
                return entry
        return None

    def run_problem(self, run_dir: Path) -> str | None:
        """Why the run cannot be shown (None when it can be loaded)."""
        entry = self.entry_for(run_dir)
        if entry is not None:
            return None if entry.viewable else entry.reason
        if (run_dir / "evaluation.npz").exists() and (run_dir / "metrics.json").exists():
            return None
        return "it has no test-set evaluation (evaluation.npz)"

    def can_evaluate(self, run_dir: Path | None) -> bool:
        """The run has a model to evaluate its test set with."""
        if run_dir is None:
            return False
        entry = self.entry_for(run_dir)
        return entry.can_evaluate if entry is not None else (run_dir / "model.keras").exists()

    def offers_evaluate(self, key: SourceKey | None) -> bool:
        """Whether "Evaluate now" applies to ``key``: a run with a model but no evaluation yet."""
        entry = self.entry_for(key[1]) if key and key[0] == "run" else None
        return entry is not None and entry.can_evaluate and not entry.viewable

    def default_source(self, shipped: list[Path]) -> SourceKey | None:
        """What to show first: the newest run that can be shown, else the first shipped model."""
        for entry in self.entries:
            if entry.viewable:
                return ("run", str(entry.path))
        return ("shipped", str(shipped[0])) if shipped else None

    # -- data and filter -------------------------------------------------------------------------
    def set_data(self, data: GalleryData | None) -> None:
        """New data: no image selected, every image shown, the sort kept."""
        self.data = data
        self.detail_row = None
        self.model_error = None
        self.filter = GalleryFilter(sort=self.filter.sort, descending=self.filter.descending)

    def set_filter(self, flt: GalleryFilter, *, keep_sort: bool = False) -> GalleryFilter:
        """Filter by ``flt`` (keeping the chosen order when ``keep_sort``); the filter now in force."""
        if keep_sort:
            flt = replace(flt, sort=self.filter.sort, descending=self.filter.descending)
        self.filter = flt
        return flt

    def rows(self) -> np.ndarray:
        """The rows of the evaluation the grid shows, in order (numpy index arrays, no per-row Python)."""
        if self.data is None:
            return np.zeros(0, np.int64)
        return self.data.view(self.filter)

    def count_text(self, shown: int) -> str:
        if self.data is None:
            return ""
        text = self.data.count_text(shown, self.filter)
        return text + " (nothing to show: Reset filters, Ctrl+R)" if shown == 0 else text

    @property
    def sort_index(self) -> int:
        return sort_index(self.filter)

    def set_sort_index(self, index: int) -> bool:
        """Sort by choice ``index`` of :data:`SORTS`; False (nothing changed) when there is no such choice."""
        if not 0 <= index < len(SORTS):
            return False
        _text, key, desc = SORTS[index]
        self.filter = replace(self.filter, sort=key, descending=desc)
        return True

    # -- the image in the detail panel -------------------------------------------------------------
    def select(self, row: int | None) -> bool:
        """Make ``row`` the image in the detail panel; whether that changed anything."""
        if row is None or self.data is None or row == self.detail_row:
            return False
        self.detail_row = int(row)
        return True

    def detail_texts(self, row: int) -> tuple[str, str]:
        """The line above the detail panel, and the shorter title its view shows (it writes the classes)."""
        data = self.data
        assert data is not None
        verdict = "correct" if data.correct[row] else "wrong"
        source = data.images.describe(row) if data.has_images else ""
        where = "" if not source or source.startswith("test image") else f" · {source}"
        index = int(data.test_index[row])
        text = (
            f"Test image #{index} · true {data.class_names[data.y_true[row]]}, predicted "
            f"{data.class_names[data.y_pred[row]]} ({format_percent(data.confidence[row])}), {verdict}"
            f" · loss {data.losses[row]:.3f}{where}"
        )
        return text, f"Test image #{index} · loss {data.losses[row]:.3f}{where}"

    def decodes_slowly(self) -> bool:
        """Images come from files (possibly large photos): decode them off the GUI thread."""
        return self.data is not None and isinstance(self.data.images, FileImages)

    # -- thumbnails ----------------------------------------------------------------------------------
    def _clamp(self, size: int) -> int:
        low, high = self.thumb_range
        return max(low, min(high, int(size)))

    def set_thumb_size(self, size: int) -> int:
        self.thumb_size = self._clamp(size)
        return self.thumb_size

    def zoomed(self, step: int) -> int:
        """The thumbnail size one zoom step bigger (``step`` > 0) or smaller, within range."""
        size = self.thumb_size
        new = round(size * ZOOM_STEP) if step > 0 else round(size / ZOOM_STEP)
        if new == size:
            new = size + (1 if step > 0 else -1)
        return self._clamp(new)

    # -- export and settings -------------------------------------------------------------------------
    def export_name(self, suffix: str) -> str:
        """A file name that says what is shown: "run-wrong-true-cat.png"."""
        data, flt = self.data, self.filter
        base = data.run_dir.name if data is not None and data.run_dir is not None else "shipped-model"
        parts = [base]
        if flt.outcome != "all":
            parts.append(flt.outcome)
        if data is not None and flt.true_class is not None:
            parts.append(f"true-{data.class_names[flt.true_class]}")
        if data is not None and flt.pred_class is not None:
            parts.append(f"pred-{data.class_names[flt.pred_class]}")
        return slug("-".join(parts)) + suffix

    def settings(self) -> dict[str, Any]:
        """What the tab remembers between launches (``settings.tab_state("gallery")``)."""
        return {"thumb_size": self.thumb_size, "row_percent": self.row_percent, "sort": self.sort_index}

    def restore(self, *, thumb_size: int, row_percent: bool, sort: int) -> None:
        self.set_thumb_size(thumb_size)
        self.row_percent = bool(row_percent)
        self.set_sort_index(sort)
