"""A one-line label that never cuts its text off: too long for its width, it ends in "…" and its
tooltip gives the whole text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """``text()`` is the whole text; :meth:`shown_text` what fits (elided at the right)."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, tip: str = "") -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = tip
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full = str(text)
        self._fit()

    def text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        margins = self.contentsMargins()
        width = max(0, self.width() - margins.left() - margins.right() - 2 * self.margin())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        super().setText(shown)
        cut = shown != self._full
        self.setToolTip("\n".join(t for t in (self._full if cut else "", self._tip) if t))
