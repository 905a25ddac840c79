"""The gallery grid: a list model over the evaluation, a delegate that paints each image, a list view.

* :class:`GalleryModel` (``QAbstractListModel``) shows an index array of evaluation rows: filtering
  and sorting happen in numpy (``core.gallery``) and swap the array with one model reset. A
  ``QSortFilterProxyModel`` was not used: its ``filterAcceptsRow`` and ``lessThan`` would be Python
  calls per row from C++ (50,000 calls per filter change, several hundred thousand per sort),
  where numpy does the same in a few milliseconds and the logic stays Qt-free and testable.
* :class:`GalleryDelegate` paints the thumbnail (small images enlarged crisply, without smoothing)
  and the caption, **blue when the prediction is correct and red when it is wrong**, as in the
  notebooks our users draw. :func:`paint_cell` is the same painting for a PNG of the grid.
* :class:`GalleryView` is a ``QListView`` in icon mode with uniform item sizes: one item per
  image, never one widget per image. Thumbnails come from a :class:`~gui.thumbnails.ThumbnailLoader`.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from core.gallery import GalleryData
from gui.thumbnails import ThumbnailLoader

log = logging.getLogger(__name__)

# Caption colours: the notebooks' blue and red, dark enough to read on a light background ...
CORRECT_COLOR = QColor("#1f5fbf")
WRONG_COLOR = QColor("#c62828")
# ... and light enough on a dark one (dark desktop themes).
CORRECT_COLOR_DARK = QColor("#82b1ff")
WRONG_COLOR_DARK = QColor("#ff8a80")

THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 1  # QImage or None (loading)
CORRECT_ROLE = Qt.ItemDataRole.UserRole + 2  # bool
TRUE_CLASS_ROLE = Qt.ItemDataRole.UserRole + 3  # int
PREDICTED_CLASS_ROLE = Qt.ItemDataRole.UserRole + 4  # int
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 5  # float
LOSS_ROLE = Qt.ItemDataRole.UserRole + 6  # float
TEST_INDEX_ROLE = Qt.ItemDataRole.UserRole + 7  # int: position in the test split
ROW_ROLE = Qt.ItemDataRole.UserRole + 8  # int: row of the evaluation
SUBCAPTION_ROLE = Qt.ItemDataRole.UserRole + 9  # str: "#17" or "true 3 · #17"
THUMBNAIL_ERROR_ROLE = Qt.ItemDataRole.UserRole + 10  # str or None: why there is no picture

# Enum arithmetic and lookups cost microseconds each in Python; painting does them for every cell.
_CENTER = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
_CENTER_WRAP = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
_SMOOTH = QPainter.RenderHint.SmoothPixmapTransform
_ANTIALIAS = QPainter.RenderHint.Antialiasing
_BASE = QPalette.ColorRole.Base
_TEXT = QPalette.ColorRole.Text
_HIGHLIGHT = QPalette.ColorRole.Highlight
_PLACEHOLDER_TEXT = QPalette.ColorRole.PlaceholderText
_SELECTED = QStyle.StateFlag.State_Selected
_FOCUS = QStyle.StateFlag.State_HasFocus

MIN_THUMB = 24
MAX_THUMB = 256
DEFAULT_THUMB = 72
PADDING = 4
MIN_CELL_WIDTH = 64


def caption_color(correct: bool, palette: QPalette | None = None) -> QColor:
    """Blue (correct) or red (wrong), in the variant readable on ``palette``'s background."""
    dark = palette is not None and palette.color(_BASE).lightness() < 110
    if correct:
        return CORRECT_COLOR_DARK if dark else CORRECT_COLOR
    return WRONG_COLOR_DARK if dark else WRONG_COLOR


def subcaption(gallery: GalleryData, row: int) -> str:
    """The second caption line: the test index, after the true class when the prediction is wrong."""
    sub = f"#{int(gallery.test_index[row])}"
    return sub if gallery.correct[row] else f"true {gallery.class_names[gallery.y_true[row]]} · {sub}"


class GalleryModel(QAbstractListModel):
    """One item per shown image; ``rows()`` is the index array of evaluation rows in view order."""

    def __init__(self, loader: ThumbnailLoader | None = None, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.gallery: GalleryData | None = None
        self._rows = np.zeros(0, np.int64)
        self._position = np.zeros(0, np.int64)  # evaluation row -> position in view, or -1
        if loader is not None:
            loader.ready.connect(self._on_thumbnails)

    # -- content ---------------------------------------------------------------------------------
    def set_gallery(self, gallery: GalleryData | None, rows: np.ndarray | None = None) -> None:
        """Show ``gallery`` (``rows`` of it, default all in test-set order); the thumbnail cache restarts."""
        self.beginResetModel()
        self.gallery = gallery
        if self.loader is not None:
            fetch = None
            if gallery is not None and gallery.has_images:
                images = gallery.images
                fetch = images.image  # (row, max_side) -> uint8 array
            self.loader.set_source(fetch)
        n = 0 if gallery is None else len(gallery)
        self._set_rows(np.arange(n, dtype=np.int64) if rows is None else rows, n)
        self.endResetModel()

    def set_rows(self, rows: np.ndarray) -> None:
        """Show these evaluation rows, in this order (one model reset; cached thumbnails are kept)."""
        self.beginResetModel()
        self._set_rows(rows, 0 if self.gallery is None else len(self.gallery))
        self.endResetModel()

    def _set_rows(self, rows: np.ndarray, n: int) -> None:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"rows outside 0..{n - 1}")
        self._rows = rows
        self._position = np.full(n, -1, np.int64)
        self._position[rows] = np.arange(len(rows), dtype=np.int64)

    def rows(self) -> np.ndarray:
        return self._rows.copy()

    def rows_between(self, start: int, stop: int) -> np.ndarray:
        """Evaluation rows at view positions ``start`` (inclusive) to ``stop`` (exclusive)."""
        return self._rows[max(0, start) : max(0, stop)]

    def row_at(self, index: QModelIndex) -> int | None:
        """The evaluation row behind view ``index``."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return int(self._rows[index.row()])

    def index_of_row(self, row: int) -> QModelIndex:
        """The view index showing evaluation ``row`` (invalid if it is filtered out)."""
        if 0 <= row < len(self._position) and self._position[row] >= 0:
            return self.index(int(self._position[row]), 0)
        return QModelIndex()

    # -- QAbstractListModel ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def roleNames(self) -> dict[int, bytes]:  # noqa: N802 - Qt override
        names = dict(super().roleNames())
        names.update(
            {
                THUMBNAIL_ROLE: b"thumbnail",
                CORRECT_ROLE: b"correct",
                TRUE_CLASS_ROLE: b"trueClass",
                PREDICTED_CLASS_ROLE: b"predictedClass",
                CONFIDENCE_ROLE: b"confidence",
                LOSS_ROLE: b"loss",
                TEST_INDEX_ROLE: b"testIndex",
                ROW_ROLE: b"row",
                SUBCAPTION_ROLE: b"subcaption",
                THUMBNAIL_ERROR_ROLE: b"thumbnailError",
            }
        )
        return names

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        g = self.gallery
        if g is None or not index.isValid() or index.column() != 0 or not 0 <= index.row() < len(self._rows):
            return None
        row = int(self._rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return g.caption(row)
        if role in (THUMBNAIL_ROLE, Qt.ItemDataRole.DecorationRole):
            return self.loader.thumbnail(row) if self.loader is not None and g.has_images else None
        if role == CORRECT_ROLE:
            return bool(g.correct[row])
        if role == Qt.ItemDataRole.ForegroundRole:
            return caption_color(bool(g.correct[row]))
        if role == SUBCAPTION_ROLE:
            return subcaption(g, row)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = g.describe_row(row)
            if not g.has_images:
                tip += f"\nNo picture: {g.images.reason}."
            else:
                source = g.images.describe(row)
                if not source.startswith("test image"):
                    tip += f"\n{source}"
                error = self.loader.error(row) if self.loader is not None else None
                if error:
                    tip += f"\nThe image cannot be shown: {error}."
            return tip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            verdict = "correct" if g.correct[row] else f"wrong, true class {g.class_names[g.y_true[row]]}"
            return f"Test image {int(g.test_index[row])}: predicted {g.class_names[g.y_pred[row]]}, {verdict}"
        if role == TRUE_CLASS_ROLE:
            return int(g.y_true[row])
        if role == PREDICTED_CLASS_ROLE:
            return int(g.y_pred[row])
        if role == CONFIDENCE_ROLE:
            return float(g.confidence[row])
        if role == LOSS_ROLE:
            return float(g.losses[row])
        if role == TEST_INDEX_ROLE:
            return int(g.test_index[row])
        if role == ROW_ROLE:
            return row
        if role == THUMBNAIL_ERROR_ROLE:
            if not g.has_images:
                return g.images.reason
            return self.loader.error(row) if self.loader is not None else None
        return None

    def cell(self, index: QModelIndex) -> tuple[QImage | None, str, str, bool, str | None] | None:
        """Everything the delegate paints for ``index`` in one call (the roles one by one cost 5x more)."""
        g = self.gallery
        r = index.row()
        if g is None or not 0 <= r < len(self._rows):
            return None
        row = int(self._rows[r])
        if not g.has_images:
            image, error = None, g.images.reason
        elif self.loader is not None:
            entry = self.loader.entry(row)
            image, error = (None, None) if entry is None else (entry.image, entry.error)
        else:
            image, error = None, None
        return image, g.caption(row), subcaption(g, row), bool(g.correct[row]), error

    def _on_thumbnails(self, rows: list[int]) -> None:
        if not len(self._rows) or not rows:
            return
        pos = self._position[np.asarray(rows, dtype=np.int64)]
        pos = pos[pos >= 0]
        if len(pos):
            roles = [Qt.ItemDataRole.DecorationRole, THUMBNAIL_ROLE]
            self.dataChanged.emit(self.index(int(pos.min()), 0), self.index(int(pos.max()), 0), roles)


# --------------------------------------------------------------------------------------------------
# Painting


class CellLayout:
    """Where things go in one cell for a thumbnail size and font."""

    def __init__(self, thumb: int, font: QFont) -> None:
        self.thumb = int(thumb)
        self.font = QFont(font)
        self.caption_font = QFont(font)
        self.caption_font.setBold(True)
        self.small_font = QFont(font)
        size = font.pointSizeF()
        if size > 0:
            self.small_font.setPointSizeF(max(6.0, size * 0.85))
        self.caption_metrics = QFontMetrics(self.caption_font)
        self.small_metrics = QFontMetrics(self.small_font)
        self.width = max(self.thumb, MIN_CELL_WIDTH) + 2 * PADDING
        self.caption_height = self.caption_metrics.height()
        self.small_height = self.small_metrics.height()
        self.height = PADDING + self.thumb + 2 + self.caption_height + self.small_height + PADDING
        self.text_width = self.width - 2 * PADDING
        self._fitted: dict[tuple[str, bool], str] = {}  # painting asks for the same few texts again and again

    def size(self) -> QSize:
        return QSize(self.width, self.height)

    def fit(self, text: str, caption: bool) -> str:
        """``text`` made to fit the cell: a caption's class name is elided, its confidence kept."""
        key = (text, caption)
        out = self._fitted.get(key)
        if out is None:
            if caption:
                out = _fit_caption(text, self.caption_metrics, self.text_width)
            else:
                out = self.small_metrics.elidedText(text, Qt.TextElideMode.ElideRight, self.text_width)
            if len(self._fitted) > 20_000:
                self._fitted.clear()
            self._fitted[key] = out
        return out

    def placeholder(self, palette: QPalette, error: bool) -> QColor:
        """An opaque light grey square colour (opaque fills are faster than translucent ones)."""
        base, mid = palette.color(_BASE), palette.color(QPalette.ColorRole.Mid)
        a = 0.43 if error else 0.24
        return QColor(
            round(base.red() + (mid.red() - base.red()) * a),
            round(base.green() + (mid.green() - base.green()) * a),
            round(base.blue() + (mid.blue() - base.blue()) * a),
        )


def _fit_caption(text: str, metrics: QFontMetrics, width: int) -> str:
    """The caption made to fit: a long class name is elided and its confidence kept ("airpl… 97%");
    only a cell too narrow for a letter and the confidence shows the elided name alone."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    if not text.endswith("%") or " " not in text:
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    name, pct = text.rsplit(" ", 1)
    room = width - metrics.horizontalAdvance(" " + pct)
    short = metrics.elidedText(name, Qt.TextElideMode.ElideRight, room) if room > 0 else ""
    if len(short) >= 2:  # at least a letter and the ellipsis
        return f"{short} {pct}"
    return metrics.elidedText(name, Qt.TextElideMode.ElideRight, width)


def paint_cell(
    painter: QPainter,
    rect: QRect,
    layout: CellLayout,
    *,
    image: QImage | None,
    caption: str,
    subcaption: str,
    correct: bool,
    palette: QPalette,
    selected: bool = False,
    error: str | None = None,
) -> None:
    """Paint one gallery cell: thumbnail, caption (blue correct / red wrong), sub-caption."""
    painter.save()
    if selected:
        highlight = QColor(palette.color(_HIGHLIGHT))
        fill = QColor(highlight)
        fill.setAlpha(50)
        painter.setRenderHint(_ANTIALIAS, True)
        painter.setPen(QPen(highlight, 2))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4)
        painter.setRenderHint(_ANTIALIAS, False)

    # Thumbnail, centred in a square of `thumb` pixels at the top of the cell.
    box = QRect(rect.x() + (rect.width() - layout.thumb) // 2, rect.y() + PADDING, layout.thumb, layout.thumb)
    if image is not None and not image.isNull():
        w, h = image.width(), image.height()
        scale = min(box.width() / w, box.height() / h)
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        target = QRect(box.x() + (box.width() - tw) // 2, box.y() + (box.height() - th) // 2, tw, th)
        # Enlarged small images stay crisp (nearest neighbour); shrunk photos are smoothed.
        painter.setRenderHint(_SMOOTH, scale < 1.0)
        painter.drawImage(target, image)
    else:
        painter.fillRect(box, layout.placeholder(palette, error is not None))
        if error is not None:
            painter.setPen(palette.color(_TEXT))
            painter.setFont(layout.small_font)
            painter.drawText(box, _CENTER_WRAP, "no image")

    text_width = rect.width() - 2 * PADDING
    y = box.bottom() + 1 + 2
    center = _CENTER
    painter.setFont(layout.caption_font)
    painter.setPen(caption_color(correct, palette))
    caption_rect = QRect(rect.x() + PADDING, y, text_width, layout.caption_height)
    painter.drawText(caption_rect, center, layout.fit(caption, True))
    if subcaption:
        painter.setFont(layout.small_font)
        painter.setPen(palette.color(_PLACEHOLDER_TEXT))
        sub_rect = QRect(rect.x() + PADDING, caption_rect.bottom() + 1, text_width, layout.small_height)
        painter.drawText(sub_rect, center, layout.fit(subcaption, False))
    painter.restore()


class GalleryDelegate(QStyledItemDelegate):
    """Paints a gallery item with :func:`paint_cell`; every item has the same size."""

    def __init__(self, parent: QWidget | None = None, thumb: int = DEFAULT_THUMB) -> None:
        super().__init__(parent)
        font = parent.font() if parent is not None else QFont()
        self.layout = CellLayout(thumb, font)

    def set_thumb_size(self, thumb: int, font: QFont | None = None) -> None:
        self.layout = CellLayout(thumb, font or self.layout.font)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 - Qt override
        return self.layout.size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        selected = bool(option.state & _SELECTED)
        model = index.model()
        cell = model.cell(index) if isinstance(model, GalleryModel) else None
        if cell is None:  # another model (or a proxy): through the roles
            cell = (
                index.data(THUMBNAIL_ROLE),
                index.data(Qt.ItemDataRole.DisplayRole) or "",
                index.data(SUBCAPTION_ROLE) or "",
                bool(index.data(CORRECT_ROLE)),
                index.data(THUMBNAIL_ERROR_ROLE),
            )
        image, caption, sub, correct, error = cell
        paint_cell(
            painter,
            option.rect,
            self.layout,
            image=image,
            caption=caption,
            subcaption=sub,
            correct=correct,
            palette=option.palette,
            selected=selected,
            error=error,
        )
        if option.state & _FOCUS and not selected:
            painter.save()
            pen = QPen(option.palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DotLine)
            painter.setPen(pen)
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class GalleryView(QListView):
    """The grid: icon mode, uniform item sizes, static layout; Ctrl+wheel changes the thumbnail size."""

    zoom_requested = Signal(int)  # +1 bigger, -1 smaller

    def __init__(self, parent: QWidget | None = None, thumb: int = DEFAULT_THUMB) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setSpacing(0)
        self.setMouseTracking(False)
        self.delegate = GalleryDelegate(self, thumb)
        self.setItemDelegate(self.delegate)
        self.verticalScrollBar().valueChanged.connect(self._forget_offscreen)
        self._apply_size()

    @property
    def thumb_size(self) -> int:
        return self.delegate.layout.thumb

    def set_thumb_size(self, thumb: int) -> None:
        thumb = max(MIN_THUMB, min(MAX_THUMB, int(thumb)))
        if thumb == self.thumb_size:
            return
        current = self.currentIndex()
        self.delegate.set_thumb_size(thumb, self.font())
        self._apply_size()
        if current.isValid():
            self.scrollTo(current, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _apply_size(self) -> None:
        size = self.delegate.layout.size()
        self.setGridSize(size)
        self.verticalScrollBar().setSingleStep(max(8, size.height() // 3))
        self.doItemsLayout()
        self.viewport().update()

    def cell_size(self) -> QSize:
        return self.delegate.layout.size()

    def visible_range(self) -> tuple[int, int]:
        """First and last view positions on screen (-1, -1 when empty)."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return -1, -1
        vp = self.viewport().rect()
        first = self.indexAt(vp.topLeft() + QPoint(2, 2))
        last = self.indexAt(vp.bottomRight() - QPoint(2, 2))
        lo = first.row() if first.isValid() else 0
        if last.isValid():
            hi = last.row()
        else:
            cols = max(1, vp.width() // max(1, self.cell_size().width()))
            rows = math.ceil(vp.height() / max(1, self.cell_size().height())) + 1
            hi = min(model.rowCount() - 1, lo + cols * rows)
        return lo, hi

    def _forget_offscreen(self, *_args) -> None:
        """Tell the thumbnail loader to drop queued rows more than a screen away from what is shown."""
        model = self.model()
        loader = getattr(model, "loader", None)
        if loader is None or model.rowCount() == 0:
            return
        lo, hi = self.visible_range()
        if lo < 0:
            return
        span = hi - lo + 1
        rows = model.rows_between(max(0, lo - span), min(model.rowCount(), hi + span + 1))
        loader.retain(rows.tolist())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._forget_offscreen()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.zoom_requested.emit(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)


# --------------------------------------------------------------------------------------------------
# The grid as one picture (export)

MAX_EXPORT_IMAGES = 2500
MAX_EXPORT_PIXELS = 60_000_000


def export_columns(count: int, layout: CellLayout) -> int:
    """Columns for a roughly 4:3 sheet of ``count`` cells."""
    if count <= 0:
        return 1
    ratio = layout.height / layout.width
    return max(1, min(count, round(math.sqrt(count * ratio * 4 / 3))))


def render_grid(
    gallery: GalleryData,
    rows: np.ndarray,
    layout: CellLayout,
    palette: QPalette,
    *,
    columns: int | None = None,
    title: str = "",
    progress=None,
    cancelled=None,
) -> QImage:
    """The cells of ``rows`` painted on one image (safe in a worker thread: QImage and QPainter only).

    ``progress(done, total)`` is called now and then; ``cancelled()`` returning True stops early.
    """
    from gui.thumbnails import array_to_qimage

    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    cols = columns or export_columns(n, layout)
    lines = max(1, math.ceil(n / cols))
    title_h = layout.caption_height + 2 * PADDING if title else 0
    width, height = cols * layout.width, title_h + lines * layout.height
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(palette.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        if title:
            painter.setFont(layout.caption_font)
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(
                QRect(PADDING, 0, width - 2 * PADDING, title_h),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                layout.caption_metrics.elidedText(title, Qt.TextElideMode.ElideRight, width - 2 * PADDING),
            )
        for k, row in enumerate(rows):
            if cancelled is not None and k % 64 == 0 and cancelled():
                break
            thumb, error = None, None
            if gallery.has_images:
                try:
                    thumb = array_to_qimage(gallery.images.image(int(row), layout.thumb))
                except Exception as exc:  # noqa: BLE001 - an unreadable image is drawn as "no image"
                    error = str(exc) or type(exc).__name__
                    log.warning("test image row %s cannot be drawn in the exported grid", int(row), exc_info=True)
            else:
                error = gallery.images.reason
            r, c = divmod(k, cols)
            paint_cell(
                painter,
                QRect(c * layout.width, title_h + r * layout.height, layout.width, layout.height),
                layout,
                image=thumb,
                caption=gallery.caption(int(row)),
                subcaption=subcaption(gallery, int(row)),
                correct=bool(gallery.correct[row]),
                palette=palette,
                error=error,
            )
            if progress is not None and (k % 64 == 0 or k == n - 1):
                progress(k + 1, n)
    finally:
        painter.end()
    return image
