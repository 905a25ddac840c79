"""Prediction diff: which test images run B got right that run A got wrong, and the reverse.

The images are shown in the gallery's own grid (:mod:`gui.widgets.gallery_view`): each cell is run
B's prediction, blue when right and red when wrong, and its second line says what run A predicted.
The two evaluations are loaded in a worker (B's with its test images, via
:func:`core.gallery.load_run`); :func:`core.runs.prediction_diff` refuses runs that were not tested
on the same images, and the view then says so. A comparison is of the runs' evaluations as they
were read (:func:`evaluation_stamp`): when a run is evaluated again (continued, re-evaluated, replaced)
the pair is compared again, and the buttons never show counts of another comparison.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.tasks import TaskSlot
from gui.thumbnails import ThumbnailLoader
from gui.widgets.gallery_view import SUBCAPTION_ROLE, GalleryModel, GalleryView
from gui.workers import JobRunner

WHICH = ("fixed", "broken", "both_wrong")
WHICH_TEXT = {
    "fixed": ("Fixed by B", "Wrong in run A, right in run B."),
    "broken": ("Broken by B", "Right in run A, wrong in run B."),
    "both_wrong": ("Wrong in both", "Neither run gets these right."),
}


def evaluation_stamp(run: Path) -> tuple:
    """What identifies a run's evaluation on disk (changes when it is written again)."""
    out = []
    for name in ("evaluation.npz", "metrics.json"):
        try:
            st = (Path(run) / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


class DiffModel(GalleryModel):
    """The gallery's model over run B, whose second caption line names run A's prediction."""

    def __init__(self, loader: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(loader, parent)
        self.other_pred: np.ndarray | None = None  # run A's predicted class per evaluation row

    def diff_subcaption(self, row: int) -> str:
        """Under run B's prediction: run A's, and the true class where B's caption does not show it."""
        g = self.gallery
        a = int(self.other_pred[row])
        truth = int(g.y_true[row])
        a_text = f"A: {g.class_names[a]} {'✓' if a == truth else '✗'}"
        if g.correct[row]:
            return f"{a_text} · #{int(g.test_index[row])}"
        if a == truth:
            return f"true {g.class_names[truth]} · A ✓"
        return f"true {g.class_names[truth]} · {a_text}"

    def _diff_row(self, index) -> int | None:
        if self.other_pred is None or self.gallery is None or not index.isValid():
            return None
        return int(self._rows[index.row()]) if 0 <= index.row() < len(self._rows) else None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        row = self._diff_row(index)
        if row is None:
            return super().data(index, role)
        if role == SUBCAPTION_ROLE:
            return self.diff_subcaption(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            g = self.gallery
            a = int(self.other_pred[row])
            verdict = "right" if a == int(g.y_true[row]) else "wrong"
            return f"{super().data(index, role)}\nRun A predicted {g.class_names[a]} ({verdict})."
        return super().data(index, role)

    def cell(self, index):
        """The gallery delegate's one-call fast path, with run A in the second line."""
        base = super().cell(index) if hasattr(GalleryModel, "cell") else None
        row = self._diff_row(index)
        if base is None or row is None:
            return base
        image, caption, _sub, correct, error = base
        return image, caption, self.diff_subcaption(row), correct, error


class PredictionDiffView(QWidget):
    """Two runs' predictions on the same test set, one of three lists at a time, as a gallery grid."""

    loaded = Signal()  # a comparison finished loading (or failed: see :attr:`message`)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.run_a: Path | None = None
        self.run_b: Path | None = None
        self.labels = ("A", "B")
        self.diff = None
        self.which = "fixed"
        self.message = ""
        self._cache: OrderedDict[Path, tuple] = OrderedDict()  # run -> (stamp, GalleryData), the last few
        self._stamps: tuple = ()  # the evaluations the comparison shown (or loading) was made of
        self.loading = False
        # A new comparison supersedes the one loading: its result can never reach the view.
        self.task = TaskSlot(
            runner,
            "Comparing predictions",
            parent=self,
            on_done=self._on_loaded,
            on_failed=lambda failure: self._on_failed(failure.message),
            on_cancelled=lambda _r: self._on_failed("Cancelled."),
            on_message=lambda text: self.note.setText(text),
        )

        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.swap_button = QPushButton("Swap A and B")
        self.swap_button.setToolTip("Make run B the first run and run A the second.")
        self.swap_button.clicked.connect(self.swap)
        self.copy_button = QPushButton("Copy indices")
        self.copy_button.setToolTip("Copy the test-image indices of the list shown (one a line).")
        self.copy_button.clicked.connect(self.copy_indices)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.copy_button)
        head.addWidget(self.swap_button)

        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        choose = QHBoxLayout()
        choose.setContentsMargins(0, 0, 0, 0)
        for which in WHICH:
            text, tip = WHICH_TEXT[which]
            button = QPushButton(text)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, w=which: self.show_list(w))
            self.group.addButton(button)
            self.buttons[which] = button
            choose.addWidget(button)
        self.buttons["fixed"].setChecked(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        choose.addWidget(self.summary, 1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.loader = ThumbnailLoader(self)
        self.model = DiffModel(self.loader, self)
        self.view = GalleryView(self)
        self.view.setModel(self.model)
        self.view.zoom_requested.connect(lambda step: self.view.set_thumb_size(self.view.thumb_size + 16 * step))
        self.view.setToolTip(
            "Run B's prediction (blue right, red wrong); the second line is run A's. Ctrl+wheel zooms."
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addLayout(choose)
        layout.addWidget(self.progress)
        layout.addWidget(self.note)
        layout.addWidget(self.view, 1)
        self.clear("Select exactly two runs that were tested on the same images to compare their predictions.")

    # -- loading -------------------------------------------------------------------------------------
    def clear(self, message: str = "") -> None:
        self.task.cancel()
        self.run_a = self.run_b = None
        self.diff = None
        self.message = message
        self.loading = False
        self.model.other_pred = None
        self.model.set_gallery(None)
        self.title.setText("")
        self.summary.setText("")
        self.note.setText(message)
        self.progress.hide()
        self._show_counts(None)
        self._enable(False)

    def is_current(self, run_a: Path, run_b: Path) -> bool:
        """True when this pair (either way round) is shown or loading, from the evaluations on disk now."""
        pair = (Path(run_a), Path(run_b))
        if (self.run_a, self.run_b) not in (pair, pair[::-1]) or (self.diff is None and not self.loading):
            return False
        return self._stamps == (evaluation_stamp(self.run_a), evaluation_stamp(self.run_b))

    def _show_counts(self, diff) -> None:
        for which in WHICH:
            text, _ = WHICH_TEXT[which]
            self.buttons[which].setText(text if diff is None else f"{text}: {len(getattr(diff, which)):,}")

    def compare(self, run_a: Path, run_b: Path, label_a: str = "", label_b: str = "") -> None:
        """Load both runs' test predictions (in a worker) and show the images that differ."""
        run_a, run_b = Path(run_a), Path(run_b)
        if (run_a, run_b) == (self.run_a, self.run_b) and self.is_current(run_a, run_b):
            return
        self.run_a, self.run_b = run_a, run_b
        self._stamps = (evaluation_stamp(run_a), evaluation_stamp(run_b))
        self.labels = (label_a or run_a.name, label_b or run_b.name)
        self.diff = None
        self.message = ""
        self.model.other_pred = None
        self.model.set_gallery(None)
        self._set_title()
        self.summary.setText("")
        self._show_counts(None)
        self.note.setText("Loading both runs' test-set predictions ...")
        self.loading = True
        self.progress.show()
        self._enable(False)
        cached_a, cached_b = (self._cached(run, stamp) for run, stamp in zip((run_a, run_b), self._stamps, strict=True))

        def job(reporter, cancel):
            from core import gallery, runs
            from core.evaluation import load_evaluation

            data_b = cached_b or gallery.load_run(run_b, reporter=reporter, cancel=cancel)
            ev_a = cached_a.evaluation if cached_a is not None else load_evaluation(run_a)
            return ev_a, data_b, runs.prediction_diff(ev_a, data_b.evaluation)

        self.task.start(job)

    def _on_loaded(self, result) -> None:
        ev_a, data_b, diff = result
        self._cache[self.run_b] = (self._stamps[1], data_b)
        self._cache.move_to_end(self.run_b)
        while len(self._cache) > 3:
            self._cache.popitem(last=False)
        self.diff = diff
        self.loading = False
        self.progress.hide()
        self.model.other_pred = np.asarray(ev_a.y_pred, dtype=np.int64)
        self.model.set_gallery(data_b, np.zeros(0, np.int64))
        self.note.setText(" ".join(data_b.notes))
        self._enable(True)
        acc_a = float(np.mean(ev_a.y_pred == ev_a.y_true)) if len(ev_a.y_true) else float("nan")
        self.summary.setText(
            f"A {100 * acc_a:.2f} % → B {100 * data_b.accuracy:.2f} % on {diff.total:,} test images: "
            f"B fixed {len(diff.fixed):,}, broke {len(diff.broken):,}; {len(diff.both_wrong):,} wrong in both."
        )
        self._show_counts(diff)
        self.show_list(self.which)
        self.loaded.emit()

    def _cached(self, run: Path, stamp: tuple):
        """The GalleryData kept for ``run`` if its evaluation is still the one on disk, else None."""
        hit = self._cache.get(run)
        return hit[1] if hit is not None and hit[0] == stamp else None

    def _on_failed(self, message: str) -> None:
        self.loading = False
        self.progress.hide()
        self.message = message
        self.note.setText(message)
        self.loaded.emit()

    def _set_title(self) -> None:
        import html

        a, b = (html.escape(t) for t in self.labels)
        self.title.setText(f"<b>A</b> (first): {a} &nbsp;&nbsp;→&nbsp;&nbsp; <b>B</b> (second): {b}")

    def _enable(self, on: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(on)
        self.copy_button.setEnabled(on)
        self.swap_button.setEnabled(self.run_a is not None)

    # -- showing ---------------------------------------------------------------------------------------
    def show_list(self, which: str) -> None:
        """Show ``which`` of "fixed", "broken" and "both_wrong"."""
        if which not in WHICH:
            raise ValueError(f"which must be one of {', '.join(WHICH)}")
        self.which = which
        self.buttons[which].setChecked(True)
        if self.diff is None:
            return
        self.model.set_rows(np.asarray(getattr(self.diff, which), dtype=np.int64))

    def shown_rows(self) -> np.ndarray:
        return self.model.rows()

    def swap(self) -> None:
        if self.run_a is not None and self.run_b is not None:
            self.compare(self.run_b, self.run_a, self.labels[1], self.labels[0])

    def copy_indices(self) -> None:
        g = self.model.gallery
        if g is None:
            return
        indices = g.test_index[self.model.rows()]
        QGuiApplication.clipboard().setText("\n".join(str(int(i)) for i in indices) + ("\n" if len(indices) else ""))

    def shutdown(self) -> None:
        self.task.cancel()
        self.loader.shutdown()
