"""Showing images: numpy arrays as ``QImage`` and a canvas that paints one scaled to fit, with an overlay.

Used by the single-image view (:mod:`gui.widgets.prediction_view`, in Predict and the Gallery) and
the Predict tab's results table (thumbnails).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_VIEW_SIDE = 640  # the shown image is at most this big (Grad-CAM is computed at this size)
DEFAULT_OPACITY = 45


def to_qimage(array: np.ndarray) -> QImage:
    """A deep-copied QImage of a uint8 ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` array."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        fmt, line = QImage.Format.Format_Grayscale8, w
    elif arr.shape[2] == 3:
        fmt, line = QImage.Format.Format_RGB888, 3 * w
    elif arr.shape[2] == 4:
        fmt, line = QImage.Format.Format_RGBA8888, 4 * w
    else:
        raise ValueError(f"cannot show an image of shape {arr.shape}")
    return QImage(arr.data, w, h, line, fmt).copy()


def view_array(image: np.ndarray | Image.Image, max_side: int = MAX_VIEW_SIDE) -> np.ndarray:
    """The image as uint8 RGB ``(H, W, 3)``, shrunk to at most ``max_side`` pixels on its long side."""
    if isinstance(image, Image.Image):
        img = image if image.mode == "RGB" else image.convert("RGB")
    else:
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, :3]
        img = Image.fromarray(arr).convert("RGB")
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


class ImageCanvas(QWidget):
    """Paints an image scaled to fit (aspect kept), optionally a heat map over it with an opacity.

    Small images are enlarged without smoothing, so the pixels the model works with stay visible.
    """

    def __init__(self, parent: QWidget | None = None, *, minimum: int = 120) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._opacity = DEFAULT_OPACITY / 100
        self._text = ""
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self._overlay = None
        self.update()

    def set_overlay(self, overlay: QImage | None) -> None:
        self._overlay = overlay
        self.update()

    def set_opacity(self, value: float) -> None:
        self._opacity = max(0.0, min(1.0, float(value)))
        self.update()

    def set_text(self, text: str) -> None:
        self._text = text
        self.update()

    @property
    def has_overlay(self) -> bool:
        return self._overlay is not None

    def image_rect(self) -> QRectF:
        if self._image is None or self._image.isNull():
            return QRectF()
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        tw, th = w * scale, h * scale
        return QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(360, 360)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self._image is None or self._image.isNull():
            if self._text:
                painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
                flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
                painter.drawText(self.rect().adjusted(8, 8, -8, -8), flags, self._text)
            return
        target = self.image_rect()
        enlarging = target.width() >= 2.5 * self._image.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not enlarging)
        painter.drawImage(target, self._image)
        if self._overlay is not None and self._opacity > 0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.setOpacity(self._opacity)
            painter.drawImage(target, self._overlay)
