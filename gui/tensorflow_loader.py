"""TensorFlow and Keras, imported in a background thread so the window can show first.

TensorFlow alone takes 2.3 s to import; the window must appear within about a second. The app
starts :class:`TensorFlowLoader` after the first paint (gui/app.py) and enables Start when it
says ``ready``. :func:`import_tensorflow` is the one place the GUI process imports TensorFlow.
"""

from __future__ import annotations

import gc
import logging
import threading
import traceback

from PySide6.QtCore import QObject, Signal

from gui.workers import lower_thread_priority

log = logging.getLogger(__name__)


class TensorFlowLoader(QObject):
    """Imports TensorFlow and Keras in a background thread and says when they are ready."""

    ready = Signal(object)  # dict: tensorflow, keras versions; devices
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self.info: dict | None = None
        self.error: str | None = None

    @property
    def is_ready(self) -> bool:
        return self.info is not None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="import-tensorflow", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _load(self) -> None:
        # TensorFlow's thread pools start with the eager context, in this thread (see the end of
        # the try): they inherit its lower priority, like every job thread (gui/workers.py).
        lower_thread_priority()
        try:
            tf, keras = import_tensorflow()

            try:
                gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
            except Exception:  # noqa: BLE001 - device listing is informative only
                log.warning("could not list the GPUs", exc_info=True)
                gpus = []
            info = {"tensorflow": tf.__version__, "keras": keras.__version__, "gpus": gpus}
            try:
                from core.devices import detect

                info["devices"] = detect()  # CPU, GPUs, build: the Train tab's machine line
            except Exception:  # noqa: BLE001 - informative only
                log.warning("could not describe the devices", exc_info=True)
            tf.constant(0.0).numpy()  # start the eager context (and its thread pools) here
        except BaseException as exc:  # noqa: BLE001 - a broken install must reach the window
            log.exception("TensorFlow could not be loaded")
            self.error = f"TensorFlow could not be loaded: {type(exc).__name__}: {exc}"
            self.failed.emit(self.error, traceback.format_exc())
            return
        self.info = info
        self.ready.emit(info)


_frozen = False


def import_tensorflow():
    """Import TensorFlow and Keras (``(tf, keras)``) so that Python's garbage collector never rescans them.

    Importing them creates ~450,000 objects that live as long as the process. Each full collection
    scans them all while holding the GIL (measured: 90-310 ms, freeing nothing), and whichever
    thread triggers one freezes the window for that long: during the import, and later when the
    training thread builds a model. So the collector is paused while they are created, and they
    are then moved to the permanent generation (``gc.freeze``, once per process); later
    collections only look at what the app makes afterwards (measured: ~30 ms). Automatic collection
    is left as it was found (off once :func:`collect_garbage_in_gui_thread` has run).
    """
    global _frozen
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import keras
        import tensorflow as tf
    finally:
        if not _frozen:
            gc.freeze()
            _frozen = True
        if was_enabled:
            gc.enable()
    return tf, keras
