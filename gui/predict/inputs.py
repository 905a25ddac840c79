"""Where the Predict tab's images come from: Open images, Open folder, Paste, and drops.

:class:`ImageInputs` asks for files or a folder (remembering the folder), reads the clipboard, and
turns what a drop or the clipboard holds into the tab's next batch, model files to use, or a note
(:func:`gui.predict.state.plan_drop` decides which; :mod:`gui.predict.drop` reads the data).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from core.ensemble import InMemoryImage
from gui.predict.drop import IMAGE_FILTER, qimage_to_pil, read_mime
from gui.predict.state import plan_drop

if TYPE_CHECKING:
    from gui.predict.tab import PredictTab


class ImageInputs(QObject):
    """The inputs of a :class:`~gui.predict.tab.PredictTab`, each ending in its ``predict_sources``."""

    def __init__(self, tab: PredictTab) -> None:
        super().__init__(tab)
        self.tab = tab

    def open_images(self) -> None:
        tab = self.tab
        start = tab.settings.last_dir("images", str(Path.home()))
        files, _ = QFileDialog.getOpenFileNames(tab, "Images to predict", start, IMAGE_FILTER)
        if files:
            tab.settings.set_last_dir("images", str(Path(files[0]).parent))
            tab.predict_sources(files)

    def open_folder(self) -> None:
        tab = self.tab
        start = tab.settings.last_dir("images", str(Path.home()))
        folder = QFileDialog.getExistingDirectory(tab, "A folder of images to predict", start)
        if folder:
            tab.settings.set_last_dir("images", folder)
            tab.predict_sources([folder])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.handle_mime(mime, pasted=True):
            self.tab.show_notice("The clipboard holds no image and no image file: copy an image or image files first.")

    def handle_mime(self, mime: QMimeData, *, pasted: bool = False) -> bool:
        """Predict what a drop or the clipboard holds; False if it holds nothing usable."""
        tab = self.tab
        local, remote, image = read_mime(mime)
        plan = plan_drop(local, remote, image is not None)
        if plan.notice:
            tab.show_notice(plan.notice)
        elif plan.notice == "":
            tab.hide_notice()
        for m in plan.models:
            tab.use_model_file(m)
        if plan.images:
            tab.predict_sources(plan.images)
        elif plan.use_image_data:
            name = "Pasted image" if pasted else "Dropped image"
            tab.predict_sources([InMemoryImage(name, qimage_to_pil(image))])
        return plan.accepted
