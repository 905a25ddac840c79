"""Reading what a drop or the clipboard holds (local paths, web addresses, image data); the drop area.

What that means for the tab (models, images, a note) is decided by :func:`gui.predict.state.plan_drop`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QUrl
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QWidget

from core.datasets.base import IMAGE_EXTENSIONS

IMAGE_FILTER = "Images ({});;All files (*)".format(" ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)))


def qimage_to_pil(image: QImage):
    """A PIL RGBA copy of a QImage (clipboard or dropped image data)."""
    from PIL import Image

    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = rgba.width(), rgba.height()
    buf = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    arr = buf.reshape(h, rgba.bytesPerLine())[:, : 4 * w].reshape(h, w, 4)
    return Image.fromarray(arr.copy(), mode="RGBA")


def read_mime(mime: QMimeData) -> tuple[list[str], list[str], QImage | None]:
    """Local paths, web addresses and image data in ``mime`` (URLs, or text with one path per line)."""
    local: list[str] = []
    remote: list[str] = []
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile():
                local.append(url.toLocalFile())
            elif url.toString():
                remote.append(url.toString())
    elif mime.hasText() and not mime.hasImage():
        for line in mime.text().splitlines():
            line = line.strip().strip('"')
            if not line:
                continue
            url = QUrl(line)
            if url.isLocalFile():
                local.append(url.toLocalFile())
            elif Path(line).expanduser().exists():
                local.append(str(Path(line).expanduser()))
            elif url.scheme() in ("http", "https", "ftp"):
                remote.append(line)
    image = None
    if mime.hasImage():
        data = mime.imageData()
        if isinstance(data, QImage) and not data.isNull():
            image = data
    return local, remote, image


class DropOverlay(QLabel):
    """ "Drop to predict" over the whole tab while something is dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Drop to predict", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(
            "QLabel { background: rgba(31, 119, 180, 40); border: 3px dashed rgb(31, 119, 180); "
            "font-size: 22pt; font-weight: bold; color: rgb(31, 119, 180); }"
        )
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect().adjusted(4, 4, -4, -4))
        self.raise_()
        self.show()


class DropArea(QObject):
    """Makes ``widget`` (the whole tab) a drop target: an overlay while something is dragged over it,
    and ``handler(mime) -> bool`` (False: nothing usable in it) when it is dropped."""

    def __init__(self, widget: QWidget, handler: Callable[[QMimeData], bool]) -> None:
        super().__init__(widget)
        self._handler = handler
        self.overlay = DropOverlay(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()
            if mime.hasUrls() or mime.hasImage():
                event.acceptProposedAction()
                if kind == QEvent.Type.DragEnter:
                    self.overlay.cover()
            elif kind == QEvent.Type.DragEnter:
                event.ignore()
            return True
        if kind == QEvent.Type.DragLeave:
            self.overlay.hide()
        elif kind == QEvent.Type.Drop:
            self.overlay.hide()
            if self._handler(event.mimeData()):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        return False
