"""The main window's status bar: the job running, and TensorFlow once it has loaded.

:class:`StatusBar` adds two permanent labels to the window's status bar: the job the window's
runner is doing, and TensorFlow (loading, its version and devices with their description as the
tool tip, or unavailable).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from gui.workers import JobRunner


class StatusBar:
    """The permanent labels of ``bar``: ``job_label`` (``jobs``' current job) and ``tf_label``."""

    def __init__(self, bar: QStatusBar, jobs: JobRunner) -> None:
        self.job_label = QLabel("")
        self.tf_label = QLabel("Loading TensorFlow ...")
        self.tf_label.setToolTip("TensorFlow loads in the background; Start is enabled when it is ready.")
        bar.addPermanentWidget(self.job_label)
        bar.addPermanentWidget(self.tf_label)
        jobs.job_started.connect(lambda w: self.job_label.setText(f"{w.name} ..."))
        jobs.busy_changed.connect(lambda busy: busy or self.job_label.setText(""))

    def show_tensorflow(self, info: dict) -> None:
        """TensorFlow's version and devices (``info`` from :class:`~gui.tensorflow_loader.TensorFlowLoader`)."""
        gpus = info.get("gpus") or []
        device = f"{len(gpus)} GPU" if gpus else "CPU"
        found = info.get("devices")
        if found is not None:
            from core.devices import describe

            device += f", bfloat16 units: {'yes' if found.cpu.bf16 else 'no'}"
        self.tf_label.setText(f"TensorFlow {info.get('tensorflow')} ({device})")
        self.tf_label.setToolTip(
            "\n".join(describe(found))
            if found is not None
            else f"Keras {info.get('keras')}; devices: {', '.join(gpus) or 'CPU only'}"
        )

    def show_tensorflow_failed(self) -> None:
        self.tf_label.setText("TensorFlow unavailable")
