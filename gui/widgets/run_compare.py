"""Several runs side by side: their curves overlaid (pyqtgraph) and a table of how they differ.

Each run has its own colour (the same in the legend, the curves and the table's header); training
curves are dashed, validation curves solid. Curve items are made once and reused (``setData``) when
the selection changes, so selecting runs one after another never piles up plot items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import runs
from core.runs import RunInfo
from gui.widgets.palette import STATE_COLORS, TAB10
from gui.widgets.run_format import format_duration, format_percent, format_setting, setting_label

# tab10 (gui/widgets/palette.py), then a darker set: distinct, and readable on light and dark backgrounds.
PALETTE = [
    *TAB10,
    "#393b79",
    "#ad494a",
    "#637939",
    "#8c6d31",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
]
MAX_RUNS = len(PALETTE)  # more would repeat colours: the rest are listed, not drawn
METRICS = ("loss", "accuracy")
RESULT_LABELS = ("Epochs", "Best val. acc.", "Test acc.", "Time", "State")
KINDS = ("train", "val")


def run_color(i: int) -> QColor:
    return QColor(PALETTE[i % len(PALETTE)])


@dataclass
class CompareEntry:
    """One run to compare: its history (rows of history.csv), settings and results."""

    path: Path
    label: str
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    row: RunInfo | None = None


def _swatch(color: QColor, dashed: bool = False, width: int = 22) -> QIcon:
    pix = QPixmap(width, 12)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    pen = pg.mkPen(color, width=3, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    p.setPen(pen)
    p.drawLine(1, 6, width - 1, 6)
    p.end()
    return QIcon(pix)


class RunCompare(QWidget):
    """Overlaid loss and accuracy curves of the runs given to :meth:`set_runs`, and their differences."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[CompareEntry] = []
        self.left_out = 0  # entries beyond MAX_RUNS (listed in the legend text, not drawn)
        pg.setConfigOptions(antialias=True)

        self.show_loss = QCheckBox("Loss")
        self.show_accuracy = QCheckBox("Accuracy")
        self.show_train = QCheckBox("Training (dashed)")
        self.show_val = QCheckBox("Validation (solid)")
        tips = (
            "Show the loss of each run (cross-entropy; lower is better).",
            "Show the accuracy of each run (higher is better).",
            "Draw the training curves (the mean over each epoch's batches), dashed.",
            "Draw the validation curves (measured after each epoch), solid.",
        )
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Show:"))
        for box, tip in zip((self.show_loss, self.show_accuracy, self.show_train, self.show_val), tips, strict=True):
            box.setChecked(True)
            box.setToolTip(tip)
            box.toggled.connect(self._update_visibility)
            controls.addWidget(box)
        controls.addStretch(1)

        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.view.ci.layout.setContentsMargins(4, 4, 4, 4)
        self.view.setToolTip("Drag to pan, wheel to zoom, right-click for options; the 'A' button fits all curves.")
        self.view.setMinimumHeight(180)
        self.plots: dict[str, pg.PlotItem] = {}
        for col, (metric, title) in enumerate((("loss", "Loss"), ("accuracy", "Accuracy"))):
            plot = self.view.addPlot(row=0, col=col)
            plot.setTitle(title, color=fg, size="10pt")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setLabel("bottom", "epoch")
            plot.setLimits(xMin=0)
            plot.getViewBox().setDefaultPadding(0.04)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(fg)
                plot.getAxis(axis).setPen(pg.mkPen(fg.lighter(160) if fg.lightness() < 128 else fg.darker(160)))
            self.plots[metric] = plot
        self.plots["accuracy"].setXLink(self.plots["loss"])
        # One reusable curve per (metric, kind, run slot), made as needed.
        self._items: dict[tuple[str, str], list[pg.PlotDataItem]] = {(m, k): [] for m in METRICS for k in KINDS}

        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.verticalHeader().setMaximumWidth(360)
        self.table.verticalHeader().setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setToolTip("How the selected runs differ: their settings, then their results (best in bold).")
        self.all_settings = QCheckBox("All settings")
        self.all_settings.setToolTip("List every setting, not only those that differ between the selected runs.")
        self.all_settings.toggled.connect(self._fill_table)
        self.copy_button = QPushButton("Copy table")
        self.copy_button.setToolTip("Copy the table as tab-separated text, to paste into a spreadsheet or a report.")
        self.copy_button.clicked.connect(self.copy_table)
        self.table_title = QLabel("<b>Differences</b>")
        table_bar = QHBoxLayout()
        table_bar.setContentsMargins(0, 0, 0, 0)
        table_bar.addWidget(self.table_title)
        table_bar.addStretch(1)
        table_bar.addWidget(self.all_settings)
        table_bar.addWidget(self.copy_button)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        tl.addLayout(table_bar)
        tl.addWidget(self.table)

        plots_box = QWidget()
        pl = QVBoxLayout(plots_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.setSpacing(2)
        pl.addLayout(controls)
        pl.addWidget(self.legend)
        pl.addWidget(self.view, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(plots_box)
        self.splitter.addWidget(table_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.set_runs([])

    # -- content -------------------------------------------------------------------------------------
    def set_runs(self, entries: list[CompareEntry]) -> None:
        """Compare ``entries`` (in this order: the first gets the first colour)."""
        self.entries = list(entries)
        drawn = self.entries[:MAX_RUNS]
        self.left_out = len(self.entries) - len(drawn)
        for (metric, kind), items in self._items.items():
            plot = self.plots[metric]
            while len(items) < len(drawn):
                item = plot.plot(connect="finite")
                items.append(item)
            key = f"val_{metric}" if kind == "val" else metric
            for i, item in enumerate(items):
                if i >= len(drawn):
                    item.setData([], [])
                    item.hide()
                    continue
                entry = drawn[i]
                color = run_color(i)
                x = np.array([r.get("epoch", n + 1) for n, r in enumerate(entry.history)], dtype=float)
                y = np.array([r.get(key, math.nan) for r in entry.history], dtype=float)
                keep = np.isfinite(y)
                x, y = x[keep], y[keep]
                dashed = kind == "train"
                item.setPen(pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine))
                if not dashed and 0 < len(x) <= 60:
                    item.setSymbol("o")
                    item.setSymbolSize(5)
                    item.setSymbolBrush(pg.mkBrush(color))
                    item.setSymbolPen(pg.mkPen(color))
                else:
                    item.setSymbol(None)
                item.setData(x, y, name=entry.label)
                item.setToolTip(f"{entry.label}: {'training' if dashed else 'validation'} {metric}")
        self._update_visibility()
        for plot in self.plots.values():
            plot.enableAutoRange(x=True, y=True)
        self._fill_legend()
        self._fill_table()

    def _update_visibility(self) -> None:
        n = min(len(self.entries), MAX_RUNS)
        shown_metric = {"loss": self.show_loss.isChecked(), "accuracy": self.show_accuracy.isChecked()}
        shown_kind = {"train": self.show_train.isChecked(), "val": self.show_val.isChecked()}
        for (metric, kind), items in self._items.items():
            for i, item in enumerate(items):
                item.setVisible(i < n and shown_metric[metric] and shown_kind[kind])
        # A hidden metric gives its room to the other.
        for metric, plot in self.plots.items():
            plot.setVisible(shown_metric[metric])

    def _fill_legend(self) -> None:
        if not self.entries:
            self.legend.setText(
                "<i>Select runs in the table (Ctrl+click or Shift+click for several) to overlay their curves "
                "and list their differences.</i>"
            )
            return
        parts = []
        for i, entry in enumerate(self.entries[:MAX_RUNS]):
            color = run_color(i).name()
            epochs = len(entry.history)
            note = "" if epochs else " (no epochs yet)"
            parts.append(
                f"<span style='color:{color}; font-weight:bold'>━━</span>&nbsp;{_esc(entry.label)}{_esc(note)}"
            )
        text = "&nbsp;&nbsp;&nbsp; ".join(parts)
        text += "&nbsp;&nbsp;&nbsp; <span style='color:gray'>- - - training &nbsp; ━━ validation</span>"
        if self.left_out:
            text += f"<br><i>{self.left_out} more selected run(s) are in the table but not drawn.</i>"
        self.legend.setText(text)

    # -- the differences table ---------------------------------------------------------------------------
    def table_rows(self) -> list[tuple[str, list[str]]]:
        """The table's columns as (label, one text per run): settings first, then results."""
        entries = self.entries
        configs = [e.config for e in entries]
        if len(entries) >= 2 and not self.all_settings.isChecked():
            keys = runs.differing_settings(configs)  # a run without a config differs in every setting
        else:
            keys = _union_keys(configs)
        keys = [k for k in keys if k != "name"]  # the label is the column header already
        rows: list[tuple[str, list[str]]] = []
        for key in keys:
            rows.append((setting_label(key), [format_setting(key, c[key]) if key in c else "" for c in configs]))
        rows += self._result_rows()
        return rows

    def _result_rows(self) -> list[tuple[str, list[str]]]:
        def best_val(e: CompareEntry) -> str:
            if e.row is None or e.row.best_val is None:
                return ""
            return format_percent(e.row.best_val) + (f" (epoch {e.row.best_epoch})" if e.row.best_epoch else "")

        def epochs(e: CompareEntry) -> str:
            if e.row is None:
                return str(len(e.history))
            done = e.row.epochs_done if e.row.epochs_done is not None else len(e.history)
            return f"{done} / {e.row.epochs}" if e.row.epochs else str(done)

        return [  # in the order of RESULT_LABELS
            ("Epochs", [epochs(e) for e in self.entries]),
            ("Best val. acc.", [best_val(e) for e in self.entries]),
            ("Test acc.", [format_percent(e.row.test_accuracy) if e.row else "" for e in self.entries]),
            ("Time", [format_duration(e.row.seconds) if e.row else "" for e in self.entries]),
            ("State", [e.row.state if e.row else "" for e in self.entries]),
        ]

    def _fill_table(self) -> None:
        """One row per run (its colour beside its name), one column per differing setting, then results."""
        entries = self.entries
        columns = self.table_rows() if entries else []
        n_settings = len(columns) - (len(RESULT_LABELS) if entries else 0)
        if len(entries) >= 2:
            same = "" if self.all_settings.isChecked() or n_settings else " <i>(the settings are all the same)</i>"
            self.table_title.setText(f"<b>Differences</b>{same}")
        else:
            self.table_title.setText("<b>Settings and results</b>")
        self.table.clear()
        self.table.setRowCount(len(entries))
        self.table.setColumnCount(len(columns))
        bold = QFont(self.font())
        bold.setBold(True)
        for c, (label, _values) in enumerate(columns):
            head = QTableWidgetItem(label)
            if c >= n_settings:
                head.setFont(bold)
            head.setToolTip(
                "A result" if c >= n_settings else "A setting" + (" that differs" if len(entries) > 1 else "")
            )
            self.table.setHorizontalHeaderItem(c, head)
        for r, entry in enumerate(entries):
            item = QTableWidgetItem(entry.label)
            if r < MAX_RUNS:
                item.setIcon(_swatch(run_color(r)))
            item.setToolTip(str(entry.path))
            self.table.setVerticalHeaderItem(r, item)
            for c, (label, values) in enumerate(columns):
                cell = QTableWidgetItem(values[r])
                if label == "State" and entry.row is not None:
                    cell.setForeground(STATE_COLORS.get(entry.row.state, STATE_COLORS["unknown"]))
                self.table.setItem(r, c, cell)
        self._mark_best(columns, n_settings)
        self.table.resizeColumnsToContents()
        for c in range(self.table.columnCount()):
            self.table.setColumnWidth(c, min(self.table.columnWidth(c) + 8, 220))
        self.copy_button.setEnabled(bool(entries))
        # Room for up to four runs without scrolling; more scroll.
        shown = max(1, min(len(entries), 4))
        height = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
        height += shown * self.table.verticalHeader().defaultSectionSize()
        scrollbar = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setMinimumHeight(height + scrollbar)

    def _mark_best(self, columns, first_result: int) -> None:
        if len(self.entries) < 2:
            return
        for c, getter in (
            (first_result + 1, lambda e: e.row.best_val if e.row else None),
            (first_result + 2, lambda e: e.row.test_accuracy if e.row else None),
        ):
            values = [getter(e) for e in self.entries]
            known = [v for v in values if v is not None]
            if not known:
                continue
            best = max(known)
            for r, v in enumerate(values):
                if v is not None and v == best:
                    item = self.table.item(r, c)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)

    def table_text(self) -> str:
        """The table as tab-separated text: a header line, then one line per run."""
        columns = self.table_rows()
        lines = ["\t".join(["Run", *(label for label, _ in columns)])]
        for r, entry in enumerate(self.entries):
            lines.append("\t".join([entry.label, *(values[r] for _, values in columns)]))
        return "\n".join(lines) + "\n"

    def copy_table(self) -> None:
        if self.entries:
            QGuiApplication.clipboard().setText(self.table_text())

    # -- for tests and the screenshot ----------------------------------------------------------------
    def curves(self) -> list[dict[str, Any]]:
        """The curves drawn now: run path, metric, kind ("train"/"val"), x and y."""
        out = []
        for (metric, kind), items in self._items.items():
            for i, item in enumerate(items[: min(len(self.entries), MAX_RUNS)]):
                if not item.isVisible():
                    continue
                x, y = item.getData()
                out.append(
                    {
                        "path": self.entries[i].path,
                        "metric": metric,
                        "kind": kind,
                        "x": [] if x is None else list(x),
                        "y": [] if y is None else list(y),
                        "color": item.opts["pen"].color().name(),
                    }
                )
        return out


def _union_keys(configs: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for c in configs:
        keys.extend(k for k in c if k not in keys)
    return keys


def _esc(text: str) -> str:
    import html

    return html.escape(text)
