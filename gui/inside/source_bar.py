"""The Inside tab's source chooser: which run (or shipped model) to look inside, and what it is."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.inside.state import Source


class SourceBar(QWidget):
    """A combo of sources, a Refresh button and a line about the open source; it only forwards input."""

    source_chosen = Signal(str)  # the path of the source the user chose
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(40)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setToolTip("The run (or shipped model) to look inside; its test set is what is drawn.")
        self.source_combo.activated.connect(self._on_activated)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("List the runs of the workspace again.")
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.info = QLabel("")
        self.info.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Run:"))
        top.addWidget(self.source_combo, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.info)

    def _on_activated(self, _index: int) -> None:
        path = self.source_combo.currentData()
        if path:
            self.source_chosen.emit(path)

    def current_path(self) -> str | None:
        return self.source_combo.currentData()

    def set_sources(self, sources: Sequence[Source], current: str | Path | None) -> None:
        """List ``sources``; select ``current`` if listed (nothing selected when ``current`` is None)."""
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for s in sources:
            combo.addItem(s.label, str(s.path))
        if current is not None:
            i = combo.findData(str(current))
            if i >= 0:
                combo.setCurrentIndex(i)
        else:
            combo.setCurrentIndex(-1)
        combo.blockSignals(False)

    def add_source(self, source: Source) -> None:
        self.source_combo.addItem(source.label, str(source.path))

    def select(self, path: str | Path) -> None:
        """Show ``path`` as the chosen source without emitting :attr:`source_chosen`."""
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(self.source_combo.findData(str(path)))
        self.source_combo.blockSignals(False)

    def set_info(self, text: str) -> None:
        self.info.setText(text)

    def show_opened(self, data: Any) -> None:
        """Describe the open source's test set (``core.gallery.GalleryData``)."""
        notes = " ".join(data.notes)
        self.info.setText(
            f"{html.escape(data.title)} · {len(data):,} test images · accuracy {100 * data.accuracy:.2f} % · "
            f"{data.wrong_count:,} wrong" + (f" · {html.escape(notes)}" if notes else "")
        )
