"""The dataset preview: what a dataset holds before anything is trained on it.

One painted row per class: its name, a stacked bar of its images in the training, validation and
test splits, the count, and a strip of sample thumbnails. Above: image size and colour mode the
model will see, and the split; below: the files that were skipped, with the reason.

:func:`make_preview` runs in a worker thread (it decodes thumbnails into ``QImage``, which is
allowed off the GUI thread; ``QPixmap`` is not) and returns a :class:`PreviewData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # numpy is imported where it is used, after the window is on screen
    import numpy as np

THUMB = 32
MAX_THUMBS = 10
MAX_SKIPPED_SHOWN = 500
SPLIT_COLORS = {"train": QColor(31, 119, 180), "val": QColor(255, 127, 14), "test": QColor(44, 160, 44)}
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


@dataclass
class PreviewData:
    """Everything the preview shows; built off the GUI thread."""

    title: str
    class_names: list[str]
    image_shape: tuple[int, int, int] | None
    counts: dict[str, list[int]]  # split -> images per class
    thumbnails: list[list[QImage]] = field(default_factory=list)  # per class
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)  # extra lines (layout, native size, source)
    dataset: object = None  # the loaded core Dataset, reused for training when the settings match
    key: tuple = ()

    @property
    def color_mode(self) -> str:
        if not self.image_shape:
            return "unknown"
        return "grayscale" if self.image_shape[2] == 1 else "RGB colour"


def array_to_qimage(image: np.ndarray) -> QImage:
    """A uint8 H x W x C (C = 1 or 3) array as a QImage that owns its pixels."""
    import numpy as np

    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    h, w, c = a.shape
    if c == 1:
        img = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        a = np.ascontiguousarray(a[..., :3])
        img = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()


def _thumb(img: QImage) -> QImage:
    if img.isNull():
        return img
    small = max(img.width(), img.height()) <= THUMB
    mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
    return img.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, mode)


def thumbnails_from_arrays(images: np.ndarray, labels: np.ndarray, num_classes: int, per_class: int):
    import numpy as np

    out: list[list[QImage]] = []
    labels = np.asarray(labels)
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)[:per_class]
        out.append([_thumb(array_to_qimage(images[i])) for i in idx])
    return out


def thumbnail_from_file(path: str) -> QImage:
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > THUMB:
        reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
    img = reader.read()
    return img if img.isNull() else _thumb(img)


def thumbnails_from_files(files_per_class: list[list[str]], per_class: int):
    out: list[list[QImage]] = []
    for files in files_per_class:
        row = []
        for path in files[: per_class * 2]:  # a few spares for files Qt cannot read
            img = thumbnail_from_file(path)
            if not img.isNull():
                row.append(img)
            if len(row) >= per_class:
                break
        out.append(row)
    return out


def make_preview(dataset, *, key: tuple = (), scan=None, per_class: int = MAX_THUMBS) -> PreviewData:
    """PreviewData for a loaded core ``Dataset`` (and the folder scan it came from, if any)."""
    counts = dataset.counts()
    notes = []
    if scan is not None:
        layout = "one sub-folder per class" if scan.layout == "flat" else "train/ and test/ folders"
        th, tw = scan.typical_size
        h, w, _ = dataset.image_shape
        notes.append(f"Folder layout: {layout}; typical image {tw}×{th} px, resized to {w}×{h} px.")
        per_class_files = [[] for _ in scan.class_names]
        for split_files in scan.files.values():
            for c, files in enumerate(split_files):
                per_class_files[c].extend(files[:per_class])
        thumbs = thumbnails_from_files(per_class_files, per_class)
    else:
        split = dataset.train if len(dataset.train) else dataset.test
        thumbs = (
            thumbnails_from_arrays(split.images, split.labels, dataset.num_classes, per_class)
            if split.in_memory
            else [[] for _ in dataset.class_names]
        )
    if dataset.source:
        notes.append(f"Source: {dataset.source}")
    return PreviewData(
        title=dataset.title,
        class_names=list(dataset.class_names),
        image_shape=tuple(dataset.image_shape),
        counts=counts,
        thumbnails=thumbs,
        skipped=[(s.path, s.reason) for s in dataset.skipped],
        notes=notes,
        dataset=dataset,
        key=key,
    )


class ClassRows(QWidget):
    """Painted rows: class name, stacked split bar with count, thumbnails."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: PreviewData | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("")

    @property
    def row_height(self) -> int:
        return max(THUMB, self.fontMetrics().height()) + 6

    @property
    def header_height(self) -> int:
        return self.fontMetrics().height() + 8

    def set_data(self, data: PreviewData | None) -> None:
        self.data = data
        self.updateGeometry()
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        n = len(self.data.class_names) if self.data else 0
        return QSize(420, self.header_height + n * self.row_height + 4 if n else 0)

    def _splits(self) -> list[str]:
        return [s for s in ("train", "val", "test") if self.data and s in self.data.counts]

    def _columns(self) -> tuple[int, int, int]:
        fm = self.fontMetrics()
        names = self.data.class_names if self.data else []
        name_w = min(140, max([fm.horizontalAdvance(n) for n in names] + [40]) + 8)
        count_w = fm.horizontalAdvance("000,000") + 8
        return name_w, 110, count_w

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.data:
            return
        p = QPainter(self)
        fm = self.fontMetrics()
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        name_w, bar_w, count_w = self._columns()
        splits = self._splits()
        # Legend.
        x = 0
        for s in splits:
            p.fillRect(QRect(x, 4, 10, 10), SPLIT_COLORS[s])
            x += 14
            label = SPLIT_NAMES[s] if s != "all" else "images"
            p.setPen(text)
            p.drawText(QPoint(x, 4 + fm.ascent() - 1), label)
            x += fm.horizontalAdvance(label) + 14
        totals = [sum(self.data.counts[s][c] for s in splits) for c in range(len(self.data.class_names))]
        biggest = max(totals + [1])
        thumbs_x = name_w + bar_w + count_w + 6
        for c, name in enumerate(self.data.class_names):
            y = self.header_height + c * self.row_height
            mid = y + self.row_height // 2
            p.setPen(text)
            p.drawText(
                QRect(0, y, name_w - 6, self.row_height),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                fm.elidedText(name, Qt.TextElideMode.ElideRight, name_w - 6),
            )
            bx = name_w
            for s in splits:
                w = round(bar_w * self.data.counts[s][c] / biggest)
                p.fillRect(QRect(bx, mid - 6, w, 12), SPLIT_COLORS[s])
                bx += w
            p.drawText(
                QRect(name_w + bar_w, y, count_w, self.row_height),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                f"{totals[c]:,}",
            )
            if c < len(self.data.thumbnails):
                tx = thumbs_x + 6
                for img in self.data.thumbnails[c]:
                    if tx + THUMB > self.width():
                        break
                    p.drawImage(
                        QRect(
                            tx + (THUMB - img.width()) // 2,
                            y + 3 + (THUMB - img.height()) // 2,
                            img.width(),
                            img.height(),
                        ),
                        img,
                    )
                    tx += THUMB + 2
        p.end()

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip and self.data:
            row = (event.pos().y() - self.header_height) // self.row_height
            if 0 <= row < len(self.data.class_names):
                parts = [f"{self.data.counts[s][row]:,} {SPLIT_NAMES.get(s, 'images')}" for s in self._splits()]
                QToolTip.showText(event.globalPos(), f"{self.data.class_names[row]}: " + ", ".join(parts), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


class DatasetPreview(QWidget):
    """Summary lines, the class rows and the skipped files of one dataset."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rows = ClassRows()
        self.rows_area = QScrollArea()
        self.rows_area.setWidget(self.rows)
        self.rows_area.setWidgetResizable(True)
        self.rows_area.setFrameShape(QFrame.Shape.NoFrame)
        self.rows_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.rows_area.setToolTip("Images per class in each split, and a few examples of each class.")
        self.skipped_label = QLabel("")
        self.skipped = QTreeWidget()
        self.skipped.setHeaderLabels(["File", "Reason"])
        self.skipped.setRootIsDecorated(False)
        self.skipped.setUniformRowHeights(True)
        self.skipped.setToolTip("Files that will not be used, and why. Fix or remove them and re-open the folder.")
        self.skipped.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.skipped.header().setStretchLastSection(True)
        self.skipped.setMaximumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.rows_area)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped)
        layout.addStretch(1)
        self.data: PreviewData | None = None
        self.show_message("")

    def show_message(self, html: str) -> None:
        """Show only a sentence (loading, not downloaded yet, a problem)."""
        self.data = None
        self.summary.setText(html)
        self.rows.set_data(None)
        self.rows_area.setVisible(False)
        self.skipped_label.setVisible(False)
        self.skipped.setVisible(False)

    def set_data(self, data: PreviewData) -> None:
        self.data = data
        sizes = {s: sum(v) for s, v in data.counts.items()}
        lines = [f"<b>{_esc(data.title)}</b>"]
        if data.image_shape:
            h, w, c = data.image_shape
            lines.append(f"Images of {w}×{h} px, {data.color_mode}: the model sees {h}×{w}×{c}.")
        split_text = " · ".join(f"{sizes[s]:,} {SPLIT_NAMES.get(s, s)}" for s in ("train", "val", "test") if s in sizes)
        lines.append(f"{len(data.class_names)} classes · {split_text} images")
        lines.extend(_esc(n) for n in data.notes)
        self.summary.setText("<br>".join(lines))
        self.rows.set_data(data)
        self.rows_area.setVisible(True)
        # All rows when they fit in 300 px; beyond that the rows scroll.
        self.rows_area.setFixedHeight(min(self.rows.sizeHint().height() + 4, 300))
        self.skipped.clear()
        if data.skipped:
            self.skipped_label.setText(f"<b>Skipped files ({len(data.skipped):,})</b>")
            items = []
            for path, reason in data.skipped[:MAX_SKIPPED_SHOWN]:
                item = QTreeWidgetItem([Path(path).name, reason])
                item.setToolTip(0, path)
                item.setToolTip(1, reason)
                items.append(item)
            if len(data.skipped) > MAX_SKIPPED_SHOWN:
                more = QTreeWidgetItem([f"... and {len(data.skipped) - MAX_SKIPPED_SHOWN:,} more", ""])
                items.append(more)
            self.skipped.addTopLevelItems(items)
            self.skipped.resizeColumnToContents(0)
        self.skipped_label.setVisible(bool(data.skipped))
        self.skipped.setVisible(bool(data.skipped))


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
